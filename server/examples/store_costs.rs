//! What a commit costs on each store, and what keeping the trace's record costs: SQLite (the
//! embedded default, each commit flushed to disk) beside PostgreSQL (`synchronous_commit` as
//! the server has it). Run in release, PostgreSQL on the same machine:
//!
//! ```sh
//! cargo run --release -p nouage-server --example store_costs -- postgres://root@127.0.0.1:5432/test
//! ```
//!
//! Without a URL, SQLite alone. PostgreSQL's runs use a database of their own, dropped after.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use server::store::{
    Actor, Append, BoardId, BoardRecord, Durability, NewEntry, PgStore, SqliteStore, Store,
    TestDatabase, sample,
};
use shared::{BoardKind, Lang};
use yrs::{Text, Transact};

/// Commits of one entry each, one after the other.
const SINGLE_COMMITS: usize = 2_000;
/// Commits of one entry for each of `GROUP_BOARDS` boards (the journal writer's group commit).
const GROUP_COMMITS: usize = 300;
const GROUP_BOARDS: usize = 16;
/// Journal entries of the board whose record is built.
const RECORD_ENTRIES: u64 = 10_000;

fn percentiles(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3;
    (at(0.5), at(0.99))
}

fn board(store: &dyn Store) -> BoardId {
    let id = BoardId::new_random();
    let record = BoardRecord {
        id: id.clone(),
        kind: BoardKind::Diagnosis,
        title: "Mesure".into(),
        lang: Lang::Fr,
        created_ms: 0,
        token_hashes: server::tokens::BoardTokens::generate().hashes(),
    };
    let initial = shared::doc::initial_update(BoardKind::Diagnosis, "Mesure", Lang::Fr);
    store.create_board(&record, &initial).unwrap();
    id
}

/// A keystroke's update: one letter typed into a text.
fn keystrokes(count: usize) -> Vec<Bytes> {
    let doc = yrs::Doc::new();
    let text = doc.get_or_insert_text("t");
    (0..count)
        .map(|n| {
            let mut txn = doc.transact_mut();
            text.insert(&mut txn, n as u32, "a");
            Bytes::from(txn.encode_update_v1())
        })
        .collect()
}

fn measure(name: &str, store: &dyn Store) {
    let actor = Arc::new(Actor {
        pid: "p-anne".into(),
        name: "Anne".into(),
        org: "Lodève".into(),
        org_kind: None,
    });
    let entry = |update: &Bytes| NewEntry {
        ts_ms: 1,
        actor: actor.clone(),
        update_v1: update.clone(),
    };
    let one = board(store);
    let updates = keystrokes(SINGLE_COMMITS);
    let started = Instant::now();
    let single: Vec<Duration> = updates
        .iter()
        .map(|update| {
            let t = Instant::now();
            store
                .append(&[Append::new(&one, vec![entry(update)])])
                .unwrap();
            t.elapsed()
        })
        .collect();
    let single_rate = SINGLE_COMMITS as f64 / started.elapsed().as_secs_f64();
    let (p50, p99) = percentiles(single);
    println!(
        "{name:<10} one entry per commit      p50 {p50:>6.2} ms  p99 {p99:>6.2} ms  {single_rate:>7.0} commits/s"
    );

    let boards: Vec<BoardId> = (0..GROUP_BOARDS).map(|_| board(store)).collect();
    let updates = keystrokes(GROUP_COMMITS);
    let started = Instant::now();
    let grouped: Vec<Duration> = updates
        .iter()
        .map(|update| {
            let batch: Vec<Append> = boards
                .iter()
                .map(|b| Append::new(b, vec![entry(update)]))
                .collect();
            let t = Instant::now();
            store.append(&batch).unwrap();
            t.elapsed()
        })
        .collect();
    let entries_rate = (GROUP_COMMITS * GROUP_BOARDS) as f64 / started.elapsed().as_secs_f64();
    let (p50, p99) = percentiles(grouped);
    println!(
        "{name:<10} {GROUP_BOARDS} boards per commit      p50 {p50:>6.2} ms  p99 {p99:>6.2} ms  {entries_rate:>7.0} entries/s"
    );

    let (record, _) = sample::long_canvas(store, RECORD_ENTRIES).unwrap();
    let started = Instant::now();
    store
        .trace_catch_up(&record.id, Duration::from_secs(600))
        .unwrap();
    let built = started.elapsed().as_secs_f64();
    let reads: Vec<Duration> = (0..50)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(store.trace_contributions(&record.id).unwrap());
            std::hint::black_box(store.trace_elements(&record.id).unwrap());
            t.elapsed()
        })
        .collect();
    let (p50, p99) = percentiles(reads);
    println!(
        "{name:<10} record of {RECORD_ENTRIES} entries built in {:>6.2} s ({:>6.0} entries/s); contributions + elements p50 {p50:.2} ms p99 {p99:.2} ms",
        built,
        RECORD_ENTRIES as f64 / built
    );
}

fn main() {
    let dir = std::env::temp_dir().join(format!("nouage-costs-{}", uuid::Uuid::new_v4()));
    {
        let sqlite = SqliteStore::open(&dir, Durability::Fsync).unwrap();
        measure("SQLite", &sqlite);
    }
    let _ = std::fs::remove_dir_all(&dir);
    if let Some(url) = std::env::args().nth(1) {
        let database = TestDatabase::create(&url).unwrap();
        let postgres = PgStore::connect(&database.url).unwrap();
        measure("PostgreSQL", &postgres);
    }
}
