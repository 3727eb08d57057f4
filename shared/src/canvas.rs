//! Editing a territorial diagnosis canvas: sections, notes, links between notes, dot voting.
//!
//! Every change is a small edit of the CONTRACT shape, so concurrent edits merge: moving a note
//! rewrites only its `section` key (a note is never copied, so it cannot be duplicated or
//! lost), a vote is one participant's key in the note's `votes` map.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use yrs::types::ToJson;
use yrs::{Any, Map, MapPrelim, MapRef, Out, ReadTxn, TransactionMut};

use crate::doc::{Roots, Section, get_number, get_string};

/// A link between two notes ("this stake answers that finding").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub id: String,
    pub from: String,
    pub to: String,
    pub author: String,
}

/// The dot-voting settings of a canvas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Voting {
    pub open: bool,
    pub per_participant: i64,
    pub hidden: bool,
}

impl Roots {
    pub fn add_section(
        &self,
        txn: &mut TransactionMut,
        id: &str,
        title: &str,
        hint: &str,
        order: f64,
    ) {
        let section = self.sections.insert(txn, id, MapPrelim::default());
        section.insert(txn, "title", title);
        section.insert(txn, "hint", hint);
        section.insert(txn, "order", order);
    }

    /// Sets a string field of a section (`title`, `hint`).
    pub fn set_section_field(&self, txn: &mut TransactionMut, id: &str, key: &str, value: &str) {
        if let Some(section) = child_map(&self.sections, txn, id) {
            section.insert(txn, key, value);
        }
    }

    pub fn set_section_order(&self, txn: &mut TransactionMut, id: &str, order: f64) {
        if let Some(section) = child_map(&self.sections, txn, id) {
            section.insert(txn, "order", order);
        }
    }

    /// Removes a section. Its notes move to `notes_to`, or are deleted when it is `None`.
    pub fn remove_section(&self, txn: &mut TransactionMut, id: &str, notes_to: Option<&str>) {
        let notes: Vec<String> = self
            .notes(txn)
            .into_iter()
            .filter(|n| n.section == id)
            .map(|n| n.id)
            .collect();
        for note in notes {
            match notes_to {
                Some(target) => {
                    self.move_note(txn, &note, target);
                }
                None => self.delete_note(txn, &note),
            }
        }
        self.sections.remove(txn, id);
    }

    /// The order that places a section after every other.
    pub fn next_section_order<T: ReadTxn>(&self, txn: &T) -> f64 {
        self.sections(txn)
            .iter()
            .map(|s| s.order)
            .fold(-1.0, f64::max)
            + 1.0
    }

    pub fn set_note_color(&self, txn: &mut TransactionMut, id: &str, color: &str) {
        if let Some(note) = child_map(&self.notes, txn, id) {
            note.insert(txn, "color", color);
        }
    }

    /// Deletes a note and the links that touch it. The journal keeps both.
    pub fn delete_note(&self, txn: &mut TransactionMut, id: &str) {
        let touching: Vec<String> = self
            .links(txn)
            .into_iter()
            .filter(|l| l.from == id || l.to == id)
            .map(|l| l.id)
            .collect();
        for link in touching {
            self.links.remove(txn, &link);
        }
        self.notes.remove(txn, id);
    }

    /// Sets how many votes `pid` puts on a note (0 removes the key).
    pub fn set_vote(&self, txn: &mut TransactionMut, note: &str, pid: &str, count: i64) {
        let Some(note) = child_map(&self.notes, txn, note) else {
            return;
        };
        let votes = match note.get(txn, "votes") {
            Some(Out::YMap(votes)) => votes,
            _ => note.insert(txn, "votes", MapPrelim::default()),
        };
        if count <= 0 {
            votes.remove(txn, pid);
        } else {
            votes.insert(txn, pid, count as f64);
        }
    }

    /// Votes `pid` has placed on the whole canvas.
    pub fn votes_used<T: ReadTxn>(&self, txn: &T, pid: &str) -> i64 {
        self.notes(txn)
            .iter()
            .filter_map(|n| n.votes.get(pid))
            .sum()
    }

    pub fn voting<T: ReadTxn>(&self, txn: &T) -> Voting {
        Voting {
            open: matches!(
                self.voting.get(txn, "open"),
                Some(Out::Any(Any::Bool(true)))
            ),
            per_participant: get_number(&self.voting, txn, "perParticipant")
                .map_or(0, |n| n as i64),
            hidden: matches!(
                self.voting.get(txn, "hidden"),
                Some(Out::Any(Any::Bool(true)))
            ),
        }
    }

    pub fn set_voting(&self, txn: &mut TransactionMut, voting: Voting) {
        self.voting.insert(txn, "open", voting.open);
        self.voting
            .insert(txn, "perParticipant", voting.per_participant as f64);
        self.voting.insert(txn, "hidden", voting.hidden);
    }

    pub fn add_link(&self, txn: &mut TransactionMut, id: &str, from: &str, to: &str, author: &str) {
        let mut fields = HashMap::new();
        fields.insert("from".to_owned(), Any::from(from));
        fields.insert("to".to_owned(), Any::from(to));
        fields.insert("author".to_owned(), Any::from(author));
        self.links.insert(txn, id, Any::Map(Arc::new(fields)));
    }

    pub fn remove_link(&self, txn: &mut TransactionMut, id: &str) {
        self.links.remove(txn, id);
    }

    pub fn links<T: ReadTxn>(&self, txn: &T) -> Vec<Link> {
        let mut links: Vec<Link> = self
            .links
            .iter(txn)
            .filter_map(|(id, value)| {
                let Any::Map(fields) = value.to_json(txn) else {
                    return None;
                };
                let text = |key: &str| match fields.get(key) {
                    Some(Any::String(s)) => s.to_string(),
                    _ => String::new(),
                };
                Some(Link {
                    id: id.to_owned(),
                    from: text("from"),
                    to: text("to"),
                    author: text("author"),
                })
            })
            .collect();
        links.sort_by(|a, b| a.id.cmp(&b.id));
        links
    }

    /// Total votes per note id.
    pub fn vote_totals<T: ReadTxn>(&self, txn: &T) -> BTreeMap<String, i64> {
        self.notes(txn)
            .into_iter()
            .map(|n| (n.id, n.votes.values().sum()))
            .collect()
    }

    /// A section by id, if the canvas has it.
    pub fn section<T: ReadTxn>(&self, txn: &T, id: &str) -> Option<Section> {
        self.sections(txn).into_iter().find(|s| s.id == id)
    }
}

pub(crate) fn child_map<T: ReadTxn>(parent: &MapRef, txn: &T, id: &str) -> Option<MapRef> {
    match parent.get(txn, id) {
        Some(Out::YMap(map)) => Some(map),
        _ => None,
    }
}

/// A string field of a section, note or project.
pub fn string_field<T: ReadTxn>(map: &MapRef, txn: &T, key: &str) -> String {
    get_string(map, txn, key).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::{BoardKind, Lang};
    use crate::doc::initial_update;
    use yrs::updates::decoder::Decode;
    use yrs::{Doc, Transact, Update};

    fn canvas() -> (Doc, Roots) {
        let doc = Doc::new();
        let roots = Roots::new(&doc);
        let update = initial_update(BoardKind::Diagnosis, "Diagnostic", Lang::Fr);
        doc.transact_mut()
            .apply_update(Update::decode_v1(&update).unwrap())
            .unwrap();
        (doc, roots)
    }

    /// Brings two replicas to the same state, as the relay does.
    fn sync(a: &Doc, b: &Doc) {
        let a_state = a.transact().encode_diff_v1(&b.transact().state_vector());
        let b_state = b.transact().encode_diff_v1(&a.transact().state_vector());
        a.transact_mut()
            .apply_update(Update::decode_v1(&b_state).unwrap())
            .unwrap();
        b.transact_mut()
            .apply_update(Update::decode_v1(&a_state).unwrap())
            .unwrap();
    }

    fn replica_of(source: &Doc) -> (Doc, Roots) {
        let doc = Doc::new();
        let roots = Roots::new(&doc);
        sync(source, &doc);
        (doc, roots)
    }

    #[test]
    fn concurrent_moves_of_one_note_leave_it_in_one_section_once() {
        let (a, roots_a) = canvas();
        roots_a.add_note(
            &mut a.transact_mut(),
            "n1",
            "s1",
            "Vieillissement",
            "#fde68a",
            "p1",
        );
        let (b, roots_b) = replica_of(&a);
        let (c, roots_c) = replica_of(&a);
        roots_a.move_note(&mut a.transact_mut(), "n1", "s3");
        roots_b.move_note(&mut b.transact_mut(), "n1", "s5");
        roots_c.remove_section(&mut c.transact_mut(), "s1", Some("s2"));
        sync(&a, &b);
        sync(&b, &c);
        sync(&a, &c);
        let notes: Vec<_> = [(&a, &roots_a), (&b, &roots_b), (&c, &roots_c)]
            .iter()
            .map(|(doc, roots)| roots.notes(&doc.transact()))
            .collect();
        assert_eq!(notes[0].len(), 1, "the note is neither lost nor duplicated");
        assert_eq!(notes[0], notes[1]);
        assert_eq!(notes[1], notes[2]);
        assert!(["s2", "s3", "s5"].contains(&notes[0][0].section.as_str()));
        assert_eq!(notes[0][0].text, "Vieillissement");
    }

    #[test]
    fn many_concurrent_moves_and_edits_never_lose_or_duplicate_notes() {
        let (a, roots_a) = canvas();
        {
            let mut txn = a.transact_mut();
            for i in 0..30 {
                roots_a.add_note(
                    &mut txn,
                    &format!("n{i:02}"),
                    "s1",
                    &format!("note {i}"),
                    "#fff",
                    "p",
                );
            }
        }
        let (b, roots_b) = replica_of(&a);
        for i in 0..30 {
            let id = format!("n{i:02}");
            roots_a.move_note(&mut a.transact_mut(), &id, &format!("s{}", 1 + i % 7));
            roots_b.move_note(&mut b.transact_mut(), &id, &format!("s{}", 1 + (i * 3) % 7));
            roots_b.set_vote(&mut b.transact_mut(), &id, "pb", 1);
        }
        sync(&a, &b);
        let (na, nb) = (roots_a.notes(&a.transact()), roots_b.notes(&b.transact()));
        assert_eq!(na, nb);
        assert_eq!(na.len(), 30);
        assert!(na.iter().all(|n| n.votes["pb"] == 1));
    }

    #[test]
    fn removing_a_section_moves_or_deletes_its_notes_and_their_links() {
        let (doc, roots) = canvas();
        let mut txn = doc.transact_mut();
        roots.add_note(&mut txn, "keep", "s6", "désaccord", "#fff", "p");
        roots.add_note(&mut txn, "gone", "s7", "orientation", "#fff", "p");
        roots.add_note(&mut txn, "other", "s1", "territoire", "#fff", "p");
        roots.add_link(&mut txn, "l1", "gone", "other", "p");
        roots.remove_section(&mut txn, "s6", Some("s5"));
        roots.remove_section(&mut txn, "s7", None);
        let notes = roots.notes(&txn);
        let ids: Vec<(&str, &str)> = notes
            .iter()
            .map(|n| (n.id.as_str(), n.section.as_str()))
            .collect();
        assert_eq!(ids, [("keep", "s5"), ("other", "s1")]);
        assert!(roots.links(&txn).is_empty());
        assert_eq!(roots.sections(&txn).len(), 5);
    }

    #[test]
    fn votes_are_counted_per_participant_and_per_note() {
        let (doc, roots) = canvas();
        let mut txn = doc.transact_mut();
        roots.add_note(&mut txn, "a", "s5", "mobilité", "#fff", "p");
        roots.add_note(&mut txn, "b", "s5", "logement", "#fff", "p");
        roots.set_vote(&mut txn, "a", "p1", 2);
        roots.set_vote(&mut txn, "b", "p1", 1);
        roots.set_vote(&mut txn, "a", "p2", 1);
        roots.set_vote(&mut txn, "b", "p1", 0);
        assert_eq!(roots.votes_used(&txn, "p1"), 2);
        assert_eq!(
            roots.vote_totals(&txn),
            BTreeMap::from([("a".into(), 3), ("b".into(), 0)])
        );
        roots.set_voting(
            &mut txn,
            Voting {
                open: true,
                per_participant: 3,
                hidden: true,
            },
        );
        assert_eq!(
            roots.voting(&txn),
            Voting {
                open: true,
                per_participant: 3,
                hidden: true
            }
        );
    }
}
