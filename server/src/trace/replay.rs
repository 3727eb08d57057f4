//! The trace computed by replaying a board's whole journal through `shared::trace::Tally`:
//! what a store without an incremental record answers (`MemoryStore`), and the reference the
//! SQLite record is tested against. It costs the whole journal per question.

use std::collections::BTreeMap;

use shared::trace::Tally;

use crate::store::{Actor, Contributions, Contributor, EntryPage, JournalRow, TraceEntry};

/// Each participant's counts under the latest name and organisation they used; the server's
/// own entries (the initial document, restores) count for nobody.
pub fn contributions(rows: &[JournalRow]) -> Contributions {
    let mut tally = Tally::new();
    let mut identities: BTreeMap<&str, &Actor> = BTreeMap::new();
    for row in rows {
        tally.apply(&row.actor.pid, &row.update_v1);
        identities.insert(&row.actor.pid, &row.actor);
    }
    let represented: BTreeMap<String, Actor> = tally
        .represented()
        .iter()
        .map(|(pid, person)| (pid.clone(), Actor::from(person)))
        .collect();
    for (pid, actor) in &represented {
        identities.insert(pid, actor);
    }
    let system = Actor::system().pid;
    Contributions {
        journal_entries: rows.len() as u64,
        contributors: tally
            .counts()
            .iter()
            .filter(|(pid, _)| **pid != system)
            .map(|(pid, counts)| Contributor {
                actor: identities[pid.as_str()].clone(),
                counts: *counts,
            })
            .collect(),
    }
}

/// The participants' entries of `page`, newest first, with what each changed (which depends
/// on everything before, hence the whole replay).
pub fn entries(rows: &[JournalRow], page: &EntryPage) -> Vec<TraceEntry> {
    let system = Actor::system().pid;
    let mut tally = Tally::new();
    let mut entries = Vec::new();
    for row in rows {
        let mut report = tally.apply(&row.actor.pid, &row.update_v1);
        // The history lists entries under their typist; whom an element is credited to is
        // the elements' answer.
        report.proxies.clear();
        report.chars_by_element.clear();
        report.steps.clear();
        let in_page = row.actor.pid != system
            && (page.from_ms..=page.to_ms).contains(&row.ts_ms)
            && page.before_seq.is_none_or(|before| row.seq < before);
        if in_page {
            entries.push(TraceEntry {
                seq: row.seq,
                ts_ms: row.ts_ms,
                actor: row.actor.clone(),
                report,
            });
        }
    }
    entries.reverse();
    entries.truncate(page.limit);
    entries
}

/// The seq of the last entry that deleted `element`.
pub fn last_deletion(rows: &[JournalRow], element: &str) -> Option<u64> {
    let mut tally = Tally::new();
    let mut last = None;
    for row in rows {
        let report = tally.apply(&row.actor.pid, &row.update_v1);
        if report.deleted.iter().any(|id| id == element) {
            last = Some(row.seq);
        }
    }
    last
}
