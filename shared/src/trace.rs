//! The trace of who contributed what, computed from the journal: each journal entry is an
//! update and the participant the server bound it to. Replaying the entries in order and
//! observing what each one changed gives, per participant, the elements (nodes, notes,
//! projects) created, edited and deleted, the characters written and the votes cast.
//!
//! Attribution comes from the journal, never from the `author` fields inside the document,
//! which any client may write. The one field a client writes that the trace reads is an
//! element's `onBehalfOf` (proxy entry: someone typing for a person without a device), and
//! only in the entry that creates the element: added later, it changes nobody's credit.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

use yrs::types::{Delta, EntryChange, Event, PathSegment};
use yrs::updates::decoder::Decode;
use yrs::{
    Any, DeepObservable, Doc, GetString, Map, Out, ReadTxn, Transact, TransactionMut, Update,
};

use crate::doc::{ROOT_NODES, ROOT_NOTES, ROOT_PROJECTS, Roots};
pub use crate::proxy::Represented;

/// The participant id of the entries the server writes itself (a board's initial document, a
/// restore, a timer): they count for nobody.
pub const SERVER_PID: &str = "system";

/// What one participant did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Journal entries (updates) of this participant.
    pub updates: u64,
    pub created: u64,
    /// Distinct elements changed that this participant did not create.
    pub edited: u64,
    pub deleted: u64,
    pub chars_written: u64,
    pub votes_cast: u64,
    /// Elements this participant created on behalf of someone else (credited to them, not in
    /// `created`).
    pub entered_for_others: u64,
}

impl Counts {
    pub fn add(&mut self, other: &Counts) {
        self.updates += other.updates;
        self.created += other.created;
        self.edited += other.edited;
        self.deleted += other.deleted;
        self.chars_written += other.chars_written;
        self.votes_cast += other.votes_cast;
        self.entered_for_others += other.entered_for_others;
    }
}

/// What the entry being replayed did, filled by the observers.
#[derive(Default)]
struct EntryChanges {
    created: HashSet<String>,
    /// The characters written, per element (texts of a new element, typed into one).
    chars_by_element: BTreeMap<String, u64>,
    steps: BTreeMap<String, &'static str>,
    deleted: HashSet<String>,
    edited: HashSet<String>,
    chars: u64,
    votes: u64,
}

/// What one journal entry changed: element ids (sorted) and amounts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntryReport {
    pub created: Vec<String>,
    pub edited: Vec<String>,
    pub deleted: Vec<String>,
    pub chars_written: u64,
    pub votes_cast: u64,
    /// The created elements whose creating update named someone they were entered for, by id.
    pub proxies: Vec<Proxied>,
    /// `chars_written` per element.
    pub chars_by_element: BTreeMap<String, u64>,
    /// The steps of an idea's path this entry made, per element (see [`STEPS`]).
    pub steps: BTreeMap<String, &'static str>,
}

/// The steps of an idea's path the record names (`path`): grouped under a heading note, taken
/// out of its group, kept, set aside, decision withdrawn, turned into a project.
pub const STEPS: [&str; 6] = [
    "grouped",
    "ungrouped",
    "kept",
    "set-aside",
    "reopened",
    "project",
];

/// An element created on behalf of someone (proxy entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxied {
    pub element: String,
    pub person: Represented,
}

/// Replays journal entries and counts each participant's contributions.
pub struct Tally {
    doc: Doc,
    roots: Roots,
    changes: Rc<RefCell<EntryChanges>>,
    counts: BTreeMap<String, Counts>,
    /// Per participant, the elements they created and the others they edited: typing the text
    /// of one's own new note is writing, not editing, and many keystrokes in somebody else's
    /// node are one element edited.
    elements: BTreeMap<String, (HashSet<String>, HashSet<String>)>,
    /// The people represented by proxy entry, by their [`Represented::pid`], as last spelled.
    represented: BTreeMap<String, Represented>,
    /// Elements a participant created (the server's restores left out).
    ever_created: HashSet<String>,
    /// Elements first created on behalf of someone: their typist and the person's id.
    proxied: BTreeMap<String, (String, String)>,
}

impl Default for Tally {
    fn default() -> Self {
        Self::new()
    }
}

impl Tally {
    pub fn new() -> Self {
        let doc = Doc::new();
        let roots = Roots::new(&doc);
        let changes = Rc::new(RefCell::new(EntryChanges::default()));
        for (name, root) in [
            (ROOT_NODES, &roots.nodes),
            (ROOT_NOTES, &roots.notes),
            (ROOT_PROJECTS, &roots.projects),
        ] {
            let changes = changes.clone();
            root.observe_deep(name, move |txn, events| {
                let mut changes = changes.borrow_mut();
                for event in events.iter() {
                    record(txn, event, &mut changes);
                }
            });
        }
        Tally {
            doc,
            roots,
            changes,
            counts: BTreeMap::new(),
            elements: BTreeMap::new(),
            represented: BTreeMap::new(),
            ever_created: HashSet::new(),
            proxied: BTreeMap::new(),
        }
    }

    /// A tally that starts from a whole document state (a snapshot of the board after some
    /// journal entry) instead of an empty document: the entries after it are then reported as
    /// if the ones before had been replayed. Counts start at zero. `None` when the state does
    /// not decode.
    pub fn resume(state_v1: &[u8]) -> Option<Self> {
        let tally = Tally::new();
        let applied = catch_unwind(AssertUnwindSafe(|| {
            let update = Update::decode_v1(state_v1).ok()?;
            tally.doc.transact_mut().apply_update(update).ok()
        }));
        *tally.changes.borrow_mut() = EntryChanges::default();
        matches!(applied, Ok(Some(()))).then_some(tally)
    }

    /// Replays one journal entry of `participant` and says what it changed. An entry that
    /// does not decode is counted as an update with no visible effect (the relay never stores
    /// such entries). An element created on behalf of someone is counted as created by them
    /// and as entered for others by `participant` (the server's own entries credit nobody).
    pub fn apply(&mut self, participant: &str, update_v1: &[u8]) -> EntryReport {
        *self.changes.borrow_mut() = EntryChanges::default();
        let applied = catch_unwind(AssertUnwindSafe(|| {
            let update = Update::decode_v1(update_v1).ok()?;
            self.doc.transact_mut().apply_update(update).ok()
        }));
        let changes = std::mem::take(&mut *self.changes.borrow_mut());
        self.counts
            .entry(participant.to_owned())
            .or_default()
            .updates += 1;
        if !matches!(applied, Ok(Some(()))) {
            return EntryReport::default();
        }
        let sorted = |set: &HashSet<String>| {
            let mut ids: Vec<String> = set.iter().cloned().collect();
            ids.sort();
            ids
        };
        let edited: HashSet<String> = changes
            .edited
            .difference(&changes.created)
            .cloned()
            .collect();
        let created = sorted(&changes.created);
        let proxies = self.proxies_among(&created);
        let report = EntryReport {
            created,
            edited: sorted(&edited),
            deleted: sorted(&changes.deleted),
            chars_written: changes.chars,
            votes_cast: changes.votes,
            proxies,
            chars_by_element: changes.chars_by_element,
            steps: changes.steps,
        };
        let (created, edited) = self.elements.entry(participant.to_owned()).or_default();
        created.extend(report.created.iter().cloned());
        edited.extend(
            report
                .edited
                .iter()
                .filter(|id| !created.contains(*id))
                .cloned(),
        );
        let credited = if participant == SERVER_PID {
            &[][..]
        } else {
            &report.proxies[..]
        };
        // An element's first creation on behalf of someone makes what its typist writes in
        // it theirs (the typist types; the words are the person's).
        for proxied in credited {
            if !self.ever_created.contains(&proxied.element) {
                self.proxied.insert(
                    proxied.element.clone(),
                    (participant.to_owned(), proxied.person.pid()),
                );
            }
        }
        if participant != SERVER_PID {
            self.ever_created.extend(report.created.iter().cloned());
        }
        let mut theirs: Vec<(String, u64)> = Vec::new();
        for (element, chars) in &report.chars_by_element {
            if let Some((typist, pid)) = self.proxied.get(element)
                && typist == participant
            {
                theirs.push((pid.clone(), *chars));
            }
        }
        let counts = self.counts.entry(participant.to_owned()).or_default();
        counts.created += (report.created.len() - credited.len()) as u64;
        counts.entered_for_others += credited.len() as u64;
        counts.deleted += report.deleted.len() as u64;
        counts.edited = edited.len() as u64;
        counts.chars_written += report.chars_written - theirs.iter().map(|t| t.1).sum::<u64>();
        counts.votes_cast += report.votes_cast;
        for proxied in credited {
            let pid = proxied.person.pid();
            self.counts.entry(pid.clone()).or_default().created += 1;
            self.represented.insert(pid, proxied.person.clone());
        }
        for (pid, chars) in theirs {
            self.counts.entry(pid).or_default().chars_written += chars;
        }
        report
    }

    /// Which of the elements just created carry an `onBehalfOf` naming someone.
    fn proxies_among(&self, created: &[String]) -> Vec<Proxied> {
        if created.is_empty() {
            return Vec::new();
        }
        let txn = self.doc.transact();
        created
            .iter()
            .filter_map(|id| {
                let element = [&self.roots.nodes, &self.roots.notes, &self.roots.projects]
                    .into_iter()
                    .find_map(|root| match root.get(&txn, id) {
                        Some(Out::YMap(map)) => Some(map),
                        _ => None,
                    })?;
                Some(Proxied {
                    element: id.clone(),
                    person: Represented::of(&element, &txn)?,
                })
            })
            .collect()
    }

    /// The people represented by proxy entry so far, by their [`Represented::pid`].
    pub fn represented(&self) -> &BTreeMap<String, Represented> {
        &self.represented
    }

    /// The document as the entries replayed so far left it.
    pub fn doc(&self) -> &Doc {
        &self.doc
    }

    /// Counts per participant id.
    pub fn counts(&self) -> &BTreeMap<String, Counts> {
        &self.counts
    }
}

fn record(txn: &TransactionMut, event: &Event, changes: &mut EntryChanges) {
    let path: Vec<String> = event
        .path()
        .into_iter()
        .filter_map(|segment| match segment {
            PathSegment::Key(key) => Some(key.to_string()),
            PathSegment::Index(_) => None,
        })
        .collect();
    match event {
        Event::Map(map) if path.is_empty() => {
            // A change at the root: an element created, replaced or deleted.
            for (key, change) in map.keys(txn) {
                match change {
                    EntryChange::Inserted(value) => {
                        changes.created.insert(key.to_string());
                        changes.wrote(key, initial_chars(txn, value));
                    }
                    EntryChange::Updated(_, value) => {
                        changes.edited.insert(key.to_string());
                        changes.wrote(key, initial_chars(txn, value));
                    }
                    EntryChange::Removed(_) => {
                        changes.deleted.insert(key.to_string());
                    }
                }
            }
        }
        Event::Map(map) if path.len() == 2 && path[1] == "votes" => {
            // Votes are counted as votes, not as edits of the note.
            let placed = map
                .keys(txn)
                .values()
                .filter(|c| !matches!(c, EntryChange::Removed(_)));
            changes.votes += placed.count() as u64;
        }
        Event::Map(map) if path.len() == 1 => {
            // A field of an element: some are steps of an idea's path.
            let element = &path[0];
            changes.edited.insert(element.clone());
            for (key, change) in map.keys(txn) {
                if let Some(step) = step(key, change) {
                    changes.steps.insert(element.clone(), step);
                }
            }
        }
        Event::Text(text) => {
            let element = path.first().cloned().unwrap_or_default();
            changes.edited.insert(element.clone());
            for delta in text.delta(txn) {
                if let Delta::Inserted(Out::Any(Any::String(s)), _) = delta {
                    changes.wrote(&element, s.chars().count() as u64);
                }
            }
        }
        _ => {
            if let Some(element) = path.first() {
                changes.edited.insert(element.clone());
            }
        }
    }
}

/// The step of an idea's path that a change of one of its note's fields makes, if any.
fn step(key: &str, change: &EntryChange) -> Option<&'static str> {
    use crate::path::{DECISION, Decision, GROUPED_UNDER, PROJECT, Status};
    let set = match change {
        EntryChange::Inserted(value) | EntryChange::Updated(_, value) => Some(value),
        EntryChange::Removed(_) => None,
    };
    match (key, set) {
        (GROUPED_UNDER, Some(Out::Any(Any::String(s)))) if !s.is_empty() => Some("grouped"),
        (GROUPED_UNDER, _) => Some("ungrouped"),
        (DECISION, Some(Out::Any(value))) => match Decision::from_any(value)?.status {
            Status::Kept => Some("kept"),
            Status::SetAside => Some("set-aside"),
        },
        (DECISION, None) => Some("reopened"),
        (PROJECT, Some(_)) => Some("project"),
        _ => None,
    }
}

impl EntryChanges {
    fn wrote(&mut self, element: &str, chars: u64) {
        self.chars += chars;
        if chars > 0 {
            *self.chars_by_element.entry(element.to_owned()).or_default() += chars;
        }
    }
}

/// Characters in the texts of an element as it was written (a new node's or note's text, a
/// project's title and description).
fn initial_chars<T: ReadTxn>(txn: &T, value: &Out) -> u64 {
    let Out::YMap(map) = value else { return 0 };
    map.iter(txn)
        .map(|(_, field)| match field {
            Out::YText(text) => text.get_string(txn).chars().count() as u64,
            _ => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::board::{BoardKind, Lang};
    use crate::doc::initial_update;
    use yrs::Text;

    /// A participant's replica: edits made there become journal entries.
    struct Replica {
        doc: Doc,
        roots: Roots,
    }

    impl Replica {
        fn new() -> Self {
            let doc = Doc::new();
            let roots = Roots::new(&doc);
            Replica { doc, roots }
        }

        fn edit(&self, f: impl FnOnce(&Roots, &mut TransactionMut)) -> Vec<u8> {
            let mut txn = self.doc.transact_mut();
            f(&self.roots, &mut txn);
            txn.encode_update_v1()
        }

        fn receive(&self, update: &[u8]) {
            self.doc
                .transact_mut()
                .apply_update(Update::decode_v1(update).unwrap())
                .unwrap();
        }
    }

    #[test]
    fn each_participant_is_credited_with_exactly_what_they_did() {
        let initial = initial_update(BoardKind::Diagnosis, "Diagnostic", Lang::Fr);
        let (anne, bruno) = (Replica::new(), Replica::new());
        anne.receive(&initial);
        bruno.receive(&initial);
        let mut journal: Vec<(&str, Vec<u8>)> = vec![("system", initial)];
        let mut log = |who: &'static str, update: Vec<u8>, replicas: &[&Replica]| {
            for replica in replicas {
                replica.receive(&update);
            }
            journal.push((who, update));
        };
        let u = anne.edit(|r, t| r.add_note(t, "n1", "s1", "Écoles", "#fff", "anne"));
        log("anne", u, &[&bruno]);
        let u = anne.edit(|r, t| r.add_note(t, "n2", "s1", "Bus", "#fff", "anne"));
        log("anne", u, &[&bruno]);
        // Bruno writes in Anne's note and claims his own note is Anne's.
        let u = bruno.edit(|r, t| {
            let text = crate::doc::child_text(&r.notes, t, "n1", "text").unwrap();
            text.insert(t, 6, " rurales");
        });
        log("bruno", u, &[&anne]);
        let u = bruno.edit(|r, t| r.add_note(t, "n3", "s5", "Santé", "#fff", "anne"));
        log("bruno", u, &[&anne]);
        let u = bruno.edit(|r, t| r.set_vote(t, "n1", "bruno", 2));
        log("bruno", u, &[&anne]);
        let u = anne.edit(|r, t| r.delete_note(t, "n2"));
        log("anne", u, &[&bruno]);

        let mut tally = Tally::new();
        for (who, update) in &journal {
            tally.apply(who, update);
        }
        let counts = tally.counts();
        assert_eq!(
            counts["anne"],
            Counts {
                updates: 3,
                created: 2,
                edited: 0,
                deleted: 1,
                chars_written: 9,
                votes_cast: 0,
                entered_for_others: 0,
            }
        );
        assert_eq!(
            counts["bruno"],
            Counts {
                updates: 3,
                created: 1,
                edited: 1,
                deleted: 0,
                chars_written: 13,
                votes_cast: 1,
                entered_for_others: 0,
            }
        );
    }

    #[test]
    fn an_idea_entered_for_someone_is_theirs_and_a_later_claim_changes_nothing() {
        let initial = initial_update(BoardKind::Diagnosis, "Diagnostic", Lang::Fr);
        let anne = Replica::new();
        anne.receive(&initial);
        let table = Represented {
            name: "  Table des   citoyens ".into(),
            org: "Saint-Camille".into(),
            org_kind: Some(crate::board::OrgKind::Citizen),
        };
        let mut tally = Tally::new();
        tally.apply(SERVER_PID, &initial);
        // Anne types two ideas for the citizens' table, in the updates that create them.
        for (id, text) in [("n1", "Une navette"), ("n2", "Un café")] {
            let u = anne.edit(|r, t| {
                r.add_note(t, id, "s1", text, "#fff", "anne");
                r.mark_entered_for(t, id, &table);
            });
            let report = tally.apply("anne", &u);
            assert_eq!(report.proxies.len(), 1, "{id} is entered for the table");
        }
        // What she types in a note she entered for the table is the table's too.
        let u = anne.edit(|r, t| {
            let text = crate::doc::child_text(&r.notes, t, "n2", "text").unwrap();
            text.insert(t, 0, "Grand ");
        });
        tally.apply("anne", &u);
        // Her own idea, then a claim added later: the record keeps it hers.
        let u = anne.edit(|r, t| r.add_note(t, "n3", "s1", "Un marché", "#fff", "anne"));
        tally.apply("anne", &u);
        let u = anne.edit(|r, t| r.mark_entered_for(t, "n3", &table));
        let report = tally.apply("anne", &u);
        assert!(report.proxies.is_empty());

        let counts = tally.counts();
        assert_eq!(counts["anne"].created, 1);
        assert_eq!(counts["anne"].entered_for_others, 2);
        assert_eq!(counts["anne"].chars_written, 9, "her own note's text only");
        let pid = "proxy:table des citoyens|saint-camille";
        assert_eq!(counts[pid].created, 2);
        assert_eq!(
            counts[pid].chars_written, 24,
            "the texts typed for the table"
        );
        assert_eq!(counts[pid].updates, 0);
        let person = &tally.represented()[pid];
        assert_eq!(person.name, "Table des citoyens", "blanks are tidied");
        assert_eq!(person.org_kind, Some(crate::board::OrgKind::Citizen));
    }

    #[test]
    fn an_on_behalf_of_without_a_name_or_not_a_map_names_nobody() {
        use std::collections::HashMap;
        assert_eq!(Represented::from_any(&Any::from("Marie")), None);
        let mut map = HashMap::new();
        map.insert("name".to_owned(), Any::from("   "));
        assert_eq!(Represented::from_any(&Any::from(map.clone())), None);
        map.insert("name".to_owned(), Any::from("Marie"));
        map.insert("orgKind".to_owned(), Any::from("martian"));
        let marie = Represented::from_any(&Any::from(map)).unwrap();
        assert_eq!((marie.org.as_str(), marie.org_kind), ("", None));
    }
}
