//! Times the trace on a board edited for months: 100,000 journal entries (2,000 nodes created,
//! then 98,000 keystrokes by three participants) in SQLite, with a snapshot every 2,000
//! entries as a loaded room writes them. Prints the time to compute the contributions (read
//! the journal and replay it), and to rebuild the board as it was at several moments (newest
//! snapshot before the moment plus the journal after it). Run in release:
//! `cargo run --release -p nouage-server --example trace_times`.

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use server::store::{
    Actor, BoardId, BoardRecord, Durability, JournalEntry, Snapshot, SqliteStore, Store,
};
use server::tokens::BoardTokens;
use shared::trace::Tally;
use shared::{BoardKind, Lang, OrgKind, Roots};
use yrs::updates::decoder::Decode;
use yrs::{Doc, ReadTxn, StateVector, Text, Transact, Update};

const ENTRIES: u64 = 100_000;
const SNAPSHOT_EVERY: u64 = 2_000;
const START_MS: i64 = 1_780_000_000_000;
/// One entry every 30 s: 100,000 entries span about five weeks.
const STEP_MS: i64 = 30_000;

fn main() -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("nouage-trace-times-{}", std::process::id()));
    let store = SqliteStore::open(&dir, Durability::Process)?;
    let record = BoardRecord {
        id: BoardId::new_random(),
        kind: BoardKind::MindMap,
        title: "Projet de territoire".into(),
        lang: Lang::Fr,
        created_ms: START_MS,
        token_hashes: BoardTokens::generate().hashes(),
    };
    let initial = shared::doc::initial_update(BoardKind::MindMap, &record.title, Lang::Fr);
    store.create_board(&record, &initial)?;
    let doc = Doc::new();
    doc.transact_mut()
        .apply_update(Update::decode_v1(&initial)?)?;
    let roots = Roots::new(&doc);
    let actors: Vec<Arc<Actor>> = ["Anne", "Bruno", "Zoé"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            Arc::new(Actor {
                pid: format!("p{i}"),
                name: (*name).into(),
                org: ["Commune", "Intercommunalité", "Association"][i].into(),
                org_kind: Some([OrgKind::Commune, OrgKind::Epci, OrgKind::Association][i]),
            })
        })
        .collect();
    let started = Instant::now();
    let mut batch = Vec::new();
    for seq in 2..=ENTRIES {
        let i = (seq - 2) as usize;
        let update = {
            let mut txn = doc.transact_mut();
            if i < 2_000 {
                roots.add_sample_node(&mut txn, i);
            } else {
                let id = format!("n{}", i % 2_000);
                let text = shared::doc::child_text(&roots.nodes, &txn, &id, "text").unwrap();
                text.push(&mut txn, "a");
            }
            txn.encode_update_v1()
        };
        batch.push(JournalEntry {
            board: record.id.clone(),
            seq,
            ts_ms: START_MS + seq as i64 * STEP_MS,
            actor: actors[i % 3].clone(),
            update_v1: Bytes::from(update),
        });
        if batch.len() == 1_000 {
            store.append(&batch)?;
            batch.clear();
        }
        if seq % SNAPSHOT_EVERY == 0 {
            store.append(&batch)?;
            batch.clear();
            store.write_snapshot(&Snapshot {
                board: record.id.clone(),
                upto_seq: seq,
                state_v1: doc
                    .transact()
                    .encode_state_as_update_v1(&StateVector::default()),
                created_ms: START_MS + seq as i64 * STEP_MS,
            })?;
        }
    }
    store.append(&batch)?;
    println!(
        "built {ENTRIES} journal entries in {:.1} s ({dir:?})",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let rows = store.journal(&record.id)?;
    let read_ms = started.elapsed().as_secs_f64() * 1e3;
    let mut tally = Tally::new();
    for row in &rows {
        tally.apply(&row.actor.pid, &row.update_v1);
    }
    let total_ms = started.elapsed().as_secs_f64() * 1e3;
    println!(
        "contributions: {} entries read in {read_ms:.0} ms, replayed and counted in {:.0} ms more ({total_ms:.0} ms in all)",
        rows.len(),
        total_ms - read_ms
    );
    for fraction in [0.1234, 0.5555, 0.9876, 1.0] {
        let at = START_MS + (ENTRIES as f64 * fraction) as i64 * STEP_MS;
        let started = Instant::now();
        let stored = store.load_at(&record.id, at)?;
        let replayed = stored.updates.len();
        let (past, ..) = server::room::load_doc(stored).map_err(anyhow::Error::msg)?;
        let nodes = Roots::new(&past).nodes(&past.transact()).len();
        println!(
            "board at {:>4.1} % of its history: {nodes} nodes, snapshot + {replayed} entries, {:.1} ms",
            fraction * 100.0,
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    let _ = doc.transact().state_vector();
    drop(store);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
