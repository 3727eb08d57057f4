//! The trace's incremental record (SQLite) against the replay of the whole journal (today's
//! `Tally` replay, the reference): the same answers for any edit sequence, across restarts of
//! the store and after a reindex.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use shared::{BoardKind, Lang, Roots};
use yrs::updates::decoder::Decode;
use yrs::{Doc, Transact, TransactionMut};

use super::*;
use crate::tokens::BoardTokens;

/// What a participant does in one journal entry.
#[derive(Debug, Clone)]
enum Op {
    Add {
        who: usize,
        note: usize,
        text: String,
    },
    Type {
        who: usize,
        note: usize,
        text: String,
    },
    /// A note typed for someone without a device (proxy entry).
    AddFor {
        who: usize,
        note: usize,
        text: String,
        person: usize,
    },
    /// `onBehalfOf` set on a note afterwards: it must change nobody's credit.
    Claim {
        who: usize,
        note: usize,
        person: usize,
    },
    Delete {
        who: usize,
        note: usize,
    },
    /// A step of an idea's path: grouped under n0, ungrouped, kept, set aside, reopened.
    Step {
        who: usize,
        note: usize,
        step: usize,
    },
    Vote {
        who: usize,
        note: usize,
        count: i64,
    },
    /// The server puts a deleted note back (as a restore does).
    Restore {
        note: usize,
    },
    /// A participant changes the organisation they join under.
    Rename {
        who: usize,
    },
    /// The server stops and starts again (the record's state kept in memory is lost).
    Restart,
    /// `nouage reindex`.
    Reindex,
    /// A long pause: a new working session.
    Pause,
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0..4usize;
    let note = 0..6usize;
    prop_oneof![
        4 => (who.clone(), note.clone(), "[a-zé ]{0,6}").prop_map(|(who, note, text)| Op::Add { who, note, text }),
        5 => (who.clone(), note.clone(), "[a-z]{1,4}").prop_map(|(who, note, text)| Op::Type { who, note, text }),
        2 => (who.clone(), note.clone(), "[a-z]{0,4}", 0..2usize).prop_map(|(who, note, text, person)| Op::AddFor { who, note, text, person }),
        1 => (who.clone(), note.clone(), 0..2usize).prop_map(|(who, note, person)| Op::Claim { who, note, person }),
        2 => (who.clone(), note.clone()).prop_map(|(who, note)| Op::Delete { who, note }),
        2 => (who.clone(), note.clone(), 0..5usize).prop_map(|(who, note, step)| Op::Step { who, note, step }),
        2 => (who.clone(), note.clone(), 0..3i64).prop_map(|(who, note, count)| Op::Vote { who, note, count }),
        1 => note.prop_map(|note| Op::Restore { note }),
        1 => who.prop_map(|who| Op::Rename { who }),
        1 => Just(Op::Restart),
        1 => Just(Op::Reindex),
        1 => Just(Op::Pause),
    ]
}

const PIDS: [&str; 4] = ["p-anne", "p-bruno", "p-chloe", "p-dede"];

/// The people entered by proxy.
fn person(n: usize) -> shared::proxy::Represented {
    shared::proxy::Represented {
        name: ["Table des citoyens", "Marie"][n].into(),
        org: ["Saint-Camille", ""][n].into(),
        org_kind: [Some(shared::OrgKind::Citizen), None][n],
    }
}

/// A store with an incremental record, opened again by a restart.
trait Recorded: Store {
    fn reindex_board(&self, id: &BoardId) -> StoreResult<u64>;
}

impl Recorded for SqliteStore {
    fn reindex_board(&self, id: &BoardId) -> StoreResult<u64> {
        self.reindex(id, Duration::from_secs(60))
    }
}

impl Recorded for PgStore {
    fn reindex_board(&self, id: &BoardId) -> StoreResult<u64> {
        self.reindex(id, Duration::from_secs(60))
    }
}

/// Where a fixture's store lives: SQLite's directory, or a PostgreSQL database of its own.
enum Place {
    Sqlite(std::path::PathBuf),
    Postgres(TestDatabase),
}

impl Place {
    fn open(&self) -> Box<dyn Recorded> {
        match self {
            Place::Sqlite(dir) => Box::new(SqliteStore::open(dir, Durability::Process).unwrap()),
            Place::Postgres(database) => Box::new(PgStore::connect(&database.url).unwrap()),
        }
    }
}

struct Fixture {
    place: Place,
    store: Box<dyn Recorded>,
    board: BoardRecord,
    doc: Doc,
    roots: Roots,
    seq: u64,
    ts_ms: i64,
    orgs: [u32; 4],
}

impl Fixture {
    fn new(postgres: Option<&str>) -> Self {
        let place = match postgres {
            Some(url) => Place::Postgres(TestDatabase::create(url).unwrap()),
            None => Place::Sqlite(
                std::env::temp_dir().join(format!("nouage-trace-{}", uuid::Uuid::new_v4())),
            ),
        };
        let store = place.open();
        let board = BoardRecord {
            id: BoardId::new_random(),
            kind: BoardKind::Diagnosis,
            title: "Diagnostic".into(),
            lang: Lang::Fr,
            created_ms: 1_000,
            token_hashes: BoardTokens::generate().hashes(),
        };
        let initial = shared::doc::initial_update(BoardKind::Diagnosis, "Diagnostic", Lang::Fr);
        store.create_board(&board, &initial).unwrap();
        let doc = Doc::new();
        doc.transact_mut()
            .apply_update(yrs::Update::decode_v1(&initial).unwrap())
            .unwrap();
        let roots = Roots::new(&doc);
        Fixture {
            place,
            store,
            board,
            doc,
            roots,
            seq: 1,
            ts_ms: 1_000,
            orgs: [0; 4],
        }
    }

    fn actor(&self, who: Option<usize>) -> Actor {
        match who {
            None => Actor::system(),
            Some(who) => Actor {
                pid: PIDS[who].into(),
                name: format!("Nom {who}"),
                org: format!("Org {}-{}", who % 2, self.orgs[who]),
                org_kind: Some(shared::OrgKind::Association),
            },
        }
    }

    /// Makes one edit and journals it as `who`'s (the server's when `None`).
    fn journal(&mut self, who: Option<usize>, edit: impl FnOnce(&Roots, &mut TransactionMut)) {
        let update = {
            let mut txn = self.doc.transact_mut();
            edit(&self.roots, &mut txn);
            txn.encode_update_v1()
        };
        self.seq += 1;
        self.ts_ms += 7_000;
        let entry = NewEntry {
            ts_ms: self.ts_ms,
            actor: Arc::new(self.actor(who)),
            update_v1: Bytes::from(update),
        };
        let first = self
            .store
            .append(&[Append::new(&self.board.id, vec![entry])]);
        assert_eq!(first.unwrap(), [self.seq]);
    }

    fn apply(&mut self, op: &Op) {
        use yrs::{Map, Out};
        let note_id = |n: &usize| format!("n{n}");
        match op {
            Op::Add { who, note, text } => {
                let id = note_id(note);
                let pid = PIDS[*who];
                self.journal(Some(*who), |r, t| {
                    r.add_note(t, &id, "s1", text, "#fff", pid)
                });
            }
            Op::AddFor {
                who,
                note,
                text,
                person: n,
            } => {
                let id = note_id(note);
                let pid = PIDS[*who];
                self.journal(Some(*who), |r, t| {
                    r.add_note(t, &id, "s1", text, "#fff", pid);
                    r.mark_entered_for(t, &id, &person(*n));
                });
            }
            Op::Claim {
                who,
                note,
                person: n,
            } => {
                let id = note_id(note);
                self.journal(Some(*who), |r, t| r.mark_entered_for(t, &id, &person(*n)));
            }
            Op::Type { who, note, text } => {
                let id = note_id(note);
                self.journal(Some(*who), |r, t| {
                    if let Some(field) = shared::doc::child_text(&r.notes, t, &id, "text") {
                        yrs::Text::insert(&field, t, 0, text);
                    }
                });
            }
            Op::Step { who, note, step } => {
                let id = note_id(note);
                let decision = |status| shared::path::Decision {
                    status,
                    reason: "raison".into(),
                    at_ms: 5,
                    by_pid: PIDS[*who].into(),
                    by_name: "Nom".into(),
                };
                self.journal(Some(*who), |r, t| match step {
                    0 => drop(r.group_note(t, &id, Some("n0"))),
                    1 => drop(r.group_note(t, &id, None)),
                    2 => drop(r.set_decision(t, &id, Some(&decision(shared::path::Status::Kept)))),
                    3 => drop(r.set_decision(
                        t,
                        &id,
                        Some(&decision(shared::path::Status::SetAside)),
                    )),
                    _ => drop(r.set_decision(t, &id, None)),
                });
            }
            Op::Delete { who, note } => {
                let id = note_id(note);
                self.journal(Some(*who), |r, t| r.delete_note(t, &id));
            }
            Op::Vote { who, note, count } => {
                let id = note_id(note);
                let pid = PIDS[*who];
                self.journal(Some(*who), |r, t| {
                    if matches!(r.notes.get(t, &id), Some(Out::YMap(_))) {
                        r.set_vote(t, &id, pid, *count)
                    }
                });
            }
            Op::Restore { note } => {
                let id = note_id(note);
                self.journal(None, |r, t| {
                    if r.notes.get(t, &id).is_none() {
                        r.add_note(t, &id, "s2", "rétabli", "#eee", "p-anne");
                    }
                });
            }
            Op::Rename { who } => self.orgs[*who] += 1,
            Op::Restart => {
                drop(std::mem::replace(&mut self.store, self.place.open()));
            }
            Op::Reindex => {
                self.store.reindex_board(&self.board.id).unwrap();
            }
            Op::Pause => self.ts_ms += 3_600_000,
        }
    }

    /// Every question of the trace, asked of the record and of the replay.
    fn check(&self) {
        let id = &self.board.id;
        let store: &dyn Store = &*self.store;
        store.trace_catch_up(id, Duration::from_secs(60)).unwrap();
        let journal = store.journal(id).unwrap();
        assert_eq!(
            store.trace_contributions(id).unwrap(),
            crate::trace::replay::contributions(&journal)
        );
        let all = EntryPage {
            before_seq: None,
            from_ms: i64::MIN,
            to_ms: i64::MAX,
            limit: usize::MAX >> 2,
        };
        let mut pages = vec![all];
        for before in [2, self.seq / 2 + 1, self.seq] {
            for limit in [1, 3, 1_000] {
                pages.push(EntryPage {
                    before_seq: Some(before),
                    limit,
                    ..all
                });
            }
        }
        pages.push(EntryPage {
            from_ms: 1_000 + 7_000 * 3,
            to_ms: self.ts_ms - 7_000,
            ..all
        });
        for page in &pages {
            assert_eq!(
                store.trace_entries(id, page).unwrap(),
                crate::trace::replay::entries(&journal, page),
                "{page:?}"
            );
        }
        let replayed: Vec<_> = crate::trace::element_traces(&journal)
            .into_values()
            .collect();
        assert_eq!(store.trace_elements(id).unwrap(), replayed);
        let mut deleted = crate::restore::deleted_elements(&journal);
        deleted.truncate(50);
        assert_eq!(store.trace_deleted(id, 50).unwrap(), deleted);
        assert_eq!(
            store.trace_provenance(id).unwrap(),
            crate::export::model::Provenance::from_journal(&journal)
        );
        let memory = MemoryStore::default();
        memory
            .create_board(&self.board, &journal[0].update_v1)
            .unwrap();
        let rest: Vec<NewEntry> = journal[1..]
            .iter()
            .map(|row| NewEntry {
                ts_ms: row.ts_ms,
                actor: Arc::new(row.actor.clone()),
                update_v1: Bytes::from(row.update_v1.clone()),
            })
            .collect();
        memory.append(&[Append::new(id, rest)]).unwrap();
        for n in 0..6 {
            let element = format!("n{n}");
            assert_eq!(
                store.trace_element(id, &element).unwrap(),
                crate::trace::element_changes(&journal, &element),
                "{element}"
            );
            assert_eq!(
                store.trace_last_deletion(id, &element).unwrap(),
                crate::trace::replay::last_deletion(&journal, &element),
                "{element}"
            );
            // What a restore would write back: the note just before its last deletion,
            // rebuilt from the nearest checkpoint, and from the whole journal.
            let from_record =
                crate::restore::element_before_last_deletion(store, id, &element).unwrap();
            let from_replay =
                crate::restore::element_before_last_deletion(&memory, id, &element).unwrap();
            assert_eq!(from_record, from_replay, "{element}");
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Place::Sqlite(dir) = &self.place {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Runs `ops` on a fixture, checking after the ones `checks` marks, then after a reindex.
fn run_ops(postgres: Option<&str>, ops: &[Op], checks: &[bool]) {
    let mut fixture = Fixture::new(postgres);
    for (op, check) in ops.iter().zip(checks) {
        fixture.apply(op);
        if *check {
            fixture.check();
        }
    }
    fixture.check();
    // Rebuilt from nothing, the record is the same again.
    fixture.apply(&Op::Reindex);
    fixture.check();
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_record_answers_what_the_replay_of_the_journal_answers(
        ops in proptest::collection::vec(op(), 1..60),
        checks in proptest::collection::vec(any::<bool>(), 60),
    ) {
        run_ops(None, &ops, &checks);
    }

    /// The same on PostgreSQL, when `NOUAGE_TEST_DATABASE_URL` names a server (a database
    /// per case).
    #[test]
    fn postgres_keeps_the_same_record(
        ops in proptest::collection::vec(op(), 1..60),
        checks in proptest::collection::vec(any::<bool>(), 60),
    ) {
        if let Ok(url) = std::env::var("NOUAGE_TEST_DATABASE_URL") {
            run_ops(Some(&url), &ops, &checks);
        }
    }
}
