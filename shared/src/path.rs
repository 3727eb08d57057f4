//! From idea to project, traced: a canvas note is proposed (created), grouped under a heading
//! note (`groupedUnder`), voted on, kept or set aside by the facilitator (`decision`, with an
//! optional reason), and a kept one turned into a project of a portfolio board (`project` on
//! the note, and the project's `stakes` entry `{board, note, label}` pointing back).
//!
//! `decision` and `project` are plain JSON the server writes (on the facilitator's request,
//! journaled under the facilitator's identity); `groupedUnder` is any editor's. The record
//! (`trace`) sees each step in the entry that makes it, with who and when.

use std::collections::HashMap;

use yrs::{Any, Map, MapRef, Out, ReadTxn, TransactionMut};

use crate::canvas::child_map;
use crate::doc::{Note, Roots, get_string};

/// A note's field naming the note it is grouped under (its heading).
pub const GROUPED_UNDER: &str = "groupedUnder";
/// A note's field holding the facilitator's decision.
pub const DECISION: &str = "decision";
/// A note's field naming the project it became.
pub const PROJECT: &str = "project";
/// Characters a decision's reason keeps at most.
pub const REASON_CHARS_MAX: usize = 500;

/// What the facilitator decided about an idea.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Kept,
    SetAside,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Kept => "kept",
            Status::SetAside => "setAside",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "kept" => Some(Status::Kept),
            "setAside" => Some(Status::SetAside),
            _ => None,
        }
    }
}

/// A decision as the note keeps it: `{status, reason, atMs, byPid, byName}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub status: Status,
    pub reason: String,
    /// Server milliseconds.
    pub at_ms: i64,
    pub by_pid: String,
    pub by_name: String,
}

/// The project a note became: `{board, project, title, atMs, byName}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectLink {
    /// The portfolio board's id.
    pub board: String,
    /// The project's id in it.
    pub project: String,
    pub title: String,
    pub at_ms: i64,
    pub by_name: String,
}

fn field<'a>(map: &'a HashMap<String, Any>, key: &str) -> &'a str {
    match map.get(key) {
        Some(Any::String(s)) => s,
        _ => "",
    }
}

fn number(map: &HashMap<String, Any>, key: &str) -> i64 {
    match map.get(key) {
        Some(Any::Number(n)) => n.as_f64().filter(|f| f.is_finite()).map_or(0, |f| f as i64),
        _ => 0,
    }
}

fn object(pairs: Vec<(&str, Any)>) -> Any {
    Any::from(
        pairs
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect::<HashMap<String, Any>>(),
    )
}

impl Decision {
    pub fn to_any(&self) -> Any {
        object(vec![
            ("status", Any::from(self.status.as_str())),
            ("reason", Any::from(self.reason.as_str())),
            ("atMs", Any::Number(self.at_ms.into())),
            ("byPid", Any::from(self.by_pid.as_str())),
            ("byName", Any::from(self.by_name.as_str())),
        ])
    }

    pub fn from_any(value: &Any) -> Option<Self> {
        let Any::Map(map) = value else { return None };
        Some(Decision {
            status: Status::parse(field(map, "status"))?,
            reason: field(map, "reason").to_owned(),
            at_ms: number(map, "atMs"),
            by_pid: field(map, "byPid").to_owned(),
            by_name: field(map, "byName").to_owned(),
        })
    }
}

impl ProjectLink {
    pub fn to_any(&self) -> Any {
        object(vec![
            ("board", Any::from(self.board.as_str())),
            ("project", Any::from(self.project.as_str())),
            ("title", Any::from(self.title.as_str())),
            ("atMs", Any::Number(self.at_ms.into())),
            ("byName", Any::from(self.by_name.as_str())),
        ])
    }

    pub fn from_any(value: &Any) -> Option<Self> {
        let Any::Map(map) = value else { return None };
        let link = ProjectLink {
            board: field(map, "board").to_owned(),
            project: field(map, "project").to_owned(),
            title: field(map, "title").to_owned(),
            at_ms: number(map, "atMs"),
            by_name: field(map, "byName").to_owned(),
        };
        (!link.board.is_empty() && !link.project.is_empty()).then_some(link)
    }
}

/// A note's path fields, read from its map.
pub(crate) fn read<T: ReadTxn>(
    note: &MapRef,
    txn: &T,
) -> (Option<String>, Option<Decision>, Option<ProjectLink>) {
    let any = |key: &str| match note.get(txn, key) {
        Some(Out::Any(any)) => Some(any),
        _ => None,
    };
    (
        get_string(note, txn, GROUPED_UNDER).filter(|s| !s.is_empty()),
        any(DECISION).and_then(|a| Decision::from_any(&a)),
        any(PROJECT).and_then(|a| ProjectLink::from_any(&a)),
    )
}

impl Roots {
    /// Groups note `id` under note `heading`, or takes it out of its group (`None`). False
    /// when either note is not on the board, or `heading` is `id`.
    pub fn group_note(&self, txn: &mut TransactionMut, id: &str, heading: Option<&str>) -> bool {
        let Some(note) = child_map(&self.notes, txn, id) else {
            return false;
        };
        match heading {
            Some(heading) if heading == id || child_map(&self.notes, txn, heading).is_none() => {
                false
            }
            Some(heading) => {
                note.insert(txn, GROUPED_UNDER, heading);
                true
            }
            None => {
                note.remove(txn, GROUPED_UNDER);
                true
            }
        }
    }

    /// Writes (or, with `None`, withdraws) the facilitator's decision on note `id`; false when
    /// the note is not on the board.
    pub fn set_decision(
        &self,
        txn: &mut TransactionMut,
        id: &str,
        decision: Option<&Decision>,
    ) -> bool {
        let Some(note) = child_map(&self.notes, txn, id) else {
            return false;
        };
        match decision {
            Some(d) => drop(note.insert(txn, DECISION, d.to_any())),
            None => drop(note.remove(txn, DECISION)),
        }
        true
    }

    /// Records on note `id` the project it became; false when the note is not on the board.
    pub fn set_project_link(&self, txn: &mut TransactionMut, id: &str, link: &ProjectLink) -> bool {
        let Some(note) = child_map(&self.notes, txn, id) else {
            return false;
        };
        note.insert(txn, PROJECT, link.to_any());
        true
    }
}

/// Where a board's ideas stand: how many there are, kept, set aside, turned into projects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Summary {
    pub ideas: usize,
    pub kept: usize,
    pub set_aside: usize,
    pub projects: usize,
    /// Notes grouped under a heading note that is on the board.
    pub grouped: usize,
}

impl Summary {
    pub fn of(notes: &[Note]) -> Self {
        let present = |id: &str| notes.iter().any(|n| n.id == id);
        let mut summary = Summary {
            ideas: notes.len(),
            ..Summary::default()
        };
        for note in notes {
            match note.decision.as_ref().map(|d| d.status) {
                Some(Status::Kept) => summary.kept += 1,
                Some(Status::SetAside) => summary.set_aside += 1,
                None => {}
            }
            summary.projects += usize::from(note.project.is_some());
            summary.grouped += usize::from(note.grouped_under.as_deref().is_some_and(present));
        }
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::{Doc, Transact};

    #[test]
    fn a_note_goes_from_idea_to_project_and_the_board_counts_it() {
        let doc = Doc::new();
        let roots = Roots::new(&doc);
        let mut txn = doc.transact_mut();
        for (id, text) in [("h", "Mobilités"), ("a", "Navette"), ("b", "Covoiturage")] {
            roots.add_note(&mut txn, id, "s1", text, "#fff", "p1");
        }
        assert!(roots.group_note(&mut txn, "a", Some("h")));
        assert!(roots.group_note(&mut txn, "b", Some("h")));
        assert!(
            !roots.group_note(&mut txn, "a", Some("a")),
            "not under itself"
        );
        assert!(!roots.group_note(&mut txn, "a", Some("gone")));
        let kept = Decision {
            status: Status::Kept,
            reason: String::new(),
            at_ms: 1_800_000_000_000,
            by_pid: "p-anim".into(),
            by_name: "Animatrice".into(),
        };
        assert!(roots.set_decision(&mut txn, "a", Some(&kept)));
        let aside = Decision {
            status: Status::SetAside,
            reason: "Déjà porté par la région".into(),
            ..kept.clone()
        };
        assert!(roots.set_decision(&mut txn, "b", Some(&aside)));
        let link = ProjectLink {
            board: "portfolio".into(),
            project: "p9".into(),
            title: "Navette".into(),
            at_ms: 1_800_000_100_000,
            by_name: "Animatrice".into(),
        };
        assert!(roots.set_project_link(&mut txn, "a", &link));
        let notes = roots.notes(&txn);
        let a = notes.iter().find(|n| n.id == "a").unwrap();
        assert_eq!(a.grouped_under.as_deref(), Some("h"));
        assert_eq!(a.decision.as_ref(), Some(&kept));
        assert_eq!(a.project.as_ref(), Some(&link));
        assert_eq!(
            Summary::of(&notes),
            Summary {
                ideas: 3,
                kept: 1,
                set_aside: 1,
                projects: 1,
                grouped: 2
            }
        );
        assert!(roots.set_decision(&mut txn, "b", None));
        assert!(roots.group_note(&mut txn, "b", None));
        let notes = roots.notes(&txn);
        let b = notes.iter().find(|n| n.id == "b").unwrap();
        assert_eq!(
            (b.decision.as_ref(), b.grouped_under.as_ref()),
            (None, None)
        );
    }
}
