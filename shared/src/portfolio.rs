//! The project portfolio: projects with the CONTRACT fields, plus what a steering committee
//! follows (budget, co-financers, working group, next step, due date) and the diagnosis stakes
//! each project answers, possibly on another board.

use std::collections::HashMap;
use std::sync::Arc;

use yrs::types::ToJson;
use yrs::{
    Any, Array, ArrayPrelim, ArrayRef, Map, MapPrelim, MapRef, Out, ReadTxn, TextPrelim,
    TransactionMut,
};

use crate::canvas::child_map;
use crate::doc::{Roots, get_string, get_text};

/// The cooperation stages, in order (co-diagnose → co-evaluate).
pub const STAGES: [&str; 6] = [
    "codiagnose",
    "codesign",
    "cofund",
    "coproduce",
    "costeer",
    "coevaluate",
];
/// How a project is led.
pub const LEAD_MODES: [&str; 4] = ["epci", "commune", "colead", "rotating"];

/// A diagnosis note a project answers; `label` keeps the note's text as it was when linked, so
/// the portfolio reads without opening the other board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stake {
    pub board: String,
    pub note: String,
    pub label: String,
}

/// A portfolio project as read from the document.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Project {
    pub id: String,
    pub title: String,
    pub description: String,
    pub stage: String,
    pub status: String,
    pub lead_mode: String,
    pub lead: String,
    pub partners: Vec<String>,
    pub author: String,
    pub budget: String,
    pub cofinancers: Vec<String>,
    pub working_group: String,
    pub next_step: String,
    pub due_date: String,
    pub stakes: Vec<Stake>,
    /// Locked by the facilitator: the web app lets only the facilitator change it.
    pub locked: bool,
    /// The person it was entered for (proxy entry), as the document says.
    pub on_behalf_of: Option<crate::proxy::Represented>,
}

/// The plain string fields of a project, by their key in the document.
pub const PROJECT_STRING_FIELDS: [&str; 8] = [
    "stage",
    "status",
    "leadMode",
    "lead",
    "budget",
    "workingGroup",
    "nextStep",
    "dueDate",
];

impl Roots {
    /// Adds a project to a portfolio.
    pub fn add_project(&self, txn: &mut TransactionMut, id: &str, project: &Project) {
        let map = self.projects.insert(txn, id, MapPrelim::default());
        map.insert(txn, "title", TextPrelim::new(project.title.as_str()));
        map.insert(
            txn,
            "description",
            TextPrelim::new(project.description.as_str()),
        );
        let strings = [
            ("stage", &project.stage),
            ("status", &project.status),
            ("leadMode", &project.lead_mode),
            ("lead", &project.lead),
            ("author", &project.author),
            ("budget", &project.budget),
            ("workingGroup", &project.working_group),
            ("nextStep", &project.next_step),
            ("dueDate", &project.due_date),
        ];
        for (key, value) in strings {
            map.insert(txn, key, value.as_str());
        }
        map.insert(
            txn,
            "partners",
            ArrayPrelim::from(strings_any(&project.partners)),
        );
        map.insert(
            txn,
            "cofinancers",
            ArrayPrelim::from(strings_any(&project.cofinancers)),
        );
        let stakes: Vec<Any> = project.stakes.iter().map(stake_any).collect();
        map.insert(txn, "stakes", ArrayPrelim::from(stakes));
        if let Some(person) = &project.on_behalf_of {
            person.mark(&map, txn);
        }
    }

    /// Sets one of [`PROJECT_STRING_FIELDS`].
    pub fn set_project_field(&self, txn: &mut TransactionMut, id: &str, key: &str, value: &str) {
        debug_assert!(
            PROJECT_STRING_FIELDS.contains(&key),
            "{key} is not a string field"
        );
        if let Some(project) = child_map(&self.projects, txn, id) {
            project.insert(txn, key, value);
        }
    }

    /// Replaces a list of organisations (`partners`, `cofinancers`).
    pub fn set_project_list(
        &self,
        txn: &mut TransactionMut,
        id: &str,
        key: &str,
        values: &[String],
    ) {
        let Some(project) = child_map(&self.projects, txn, id) else {
            return;
        };
        let array = list(&project, txn, key);
        let len = array.len(txn);
        if len > 0 {
            array.remove_range(txn, 0, len);
        }
        for value in values {
            array.push_back(txn, value.as_str());
        }
    }

    pub fn add_stake(&self, txn: &mut TransactionMut, id: &str, stake: &Stake) {
        if let Some(project) = child_map(&self.projects, txn, id) {
            list(&project, txn, "stakes").push_back(txn, stake_any(stake));
        }
    }

    pub fn remove_stake(&self, txn: &mut TransactionMut, id: &str, index: u32) {
        if let Some(project) = child_map(&self.projects, txn, id) {
            let stakes = list(&project, txn, "stakes");
            if index < stakes.len(txn) {
                stakes.remove(txn, index);
            }
        }
    }

    pub fn delete_project(&self, txn: &mut TransactionMut, id: &str) {
        self.projects.remove(txn, id);
    }

    pub fn projects<T: ReadTxn>(&self, txn: &T) -> Vec<Project> {
        let mut projects: Vec<Project> = self
            .projects
            .iter(txn)
            .filter_map(|(id, value)| {
                let Out::YMap(map) = value else { return None };
                let text = |key: &str| get_string(&map, txn, key).unwrap_or_default();
                Some(Project {
                    id: id.to_owned(),
                    title: get_text(&map, txn, "title"),
                    description: get_text(&map, txn, "description"),
                    stage: text("stage"),
                    status: text("status"),
                    lead_mode: text("leadMode"),
                    lead: text("lead"),
                    partners: strings(&map, txn, "partners"),
                    author: text("author"),
                    budget: text("budget"),
                    cofinancers: strings(&map, txn, "cofinancers"),
                    working_group: text("workingGroup"),
                    next_step: text("nextStep"),
                    due_date: text("dueDate"),
                    stakes: stakes(&map, txn),
                    locked: crate::doc::get_bool(&map, txn, "locked"),
                    on_behalf_of: crate::proxy::Represented::of(&map, txn),
                })
            })
            .collect();
        projects.sort_by(|a, b| a.id.cmp(&b.id));
        projects
    }
}

fn strings_any(values: &[String]) -> Vec<Any> {
    values.iter().map(|v| Any::from(v.as_str())).collect()
}

fn stake_any(stake: &Stake) -> Any {
    let mut fields = HashMap::new();
    fields.insert("board".to_owned(), Any::from(stake.board.as_str()));
    fields.insert("note".to_owned(), Any::from(stake.note.as_str()));
    fields.insert("label".to_owned(), Any::from(stake.label.as_str()));
    Any::Map(Arc::new(fields))
}

/// The array under `key`, created when a client wrote none.
fn list(project: &MapRef, txn: &mut TransactionMut, key: &str) -> ArrayRef {
    match project.get(txn, key) {
        Some(Out::YArray(array)) => array,
        _ => project.insert(txn, key, ArrayPrelim::default()),
    }
}

fn strings<T: ReadTxn>(map: &MapRef, txn: &T, key: &str) -> Vec<String> {
    match map.get(txn, key) {
        Some(Out::YArray(array)) => array
            .iter(txn)
            .filter_map(|v| match v {
                Out::Any(Any::String(s)) => Some(s.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn stakes<T: ReadTxn>(map: &MapRef, txn: &T) -> Vec<Stake> {
    let Some(Out::YArray(array)) = map.get(txn, "stakes") else {
        return Vec::new();
    };
    array
        .iter(txn)
        .filter_map(|v| {
            let Any::Map(fields) = v.to_json(txn) else {
                return None;
            };
            let text = |key: &str| match fields.get(key) {
                Some(Any::String(s)) => s.to_string(),
                _ => String::new(),
            };
            Some(Stake {
                board: text("board"),
                note: text("note"),
                label: text("label"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{Doc, Transact};

    #[test]
    fn a_project_round_trips_with_every_field() {
        let doc = Doc::new();
        let roots = Roots::new(&doc);
        let project = Project {
            id: "p1".into(),
            title: "Navette estivale".into(),
            description: "Relier les villages aux plages".into(),
            stage: "cofund".into(),
            status: "en cours".into(),
            lead_mode: "colead".into(),
            lead: "MRC de Charlevoix".into(),
            partners: vec!["Baie-Saint-Paul".into(), "Les Éboulements".into()],
            author: "pid-1".into(),
            budget: "120000".into(),
            cofinancers: vec!["Région".into()],
            working_group: "Mobilités".into(),
            next_step: "Appel d'offres".into(),
            due_date: "2027-03-01".into(),
            stakes: vec![Stake {
                board: "b1".into(),
                note: "n1".into(),
                label: "Isolement".into(),
            }],
            locked: false,
            on_behalf_of: Some(crate::proxy::Represented {
                name: "Table des citoyens".into(),
                org: "Saint-Camille".into(),
                org_kind: Some(crate::board::OrgKind::Citizen),
            }),
        };
        let mut txn = doc.transact_mut();
        roots.add_project(&mut txn, "p1", &project);
        assert_eq!(roots.projects(&txn), vec![project.clone()]);
        roots.set_project_field(&mut txn, "p1", "stage", "coproduce");
        roots.set_project_list(&mut txn, "p1", "partners", &["Saint-Urbain".into()]);
        roots.remove_stake(&mut txn, "p1", 0);
        let read = &roots.projects(&txn)[0];
        assert_eq!(read.stage, "coproduce");
        assert_eq!(read.partners, ["Saint-Urbain"]);
        assert!(read.stakes.is_empty());
    }
}
