//! What the trace's read paths cost on boards with long journals: each endpoint's store work
//! (p50 / p99) answered from the incremental record, beside the replay of the whole journal
//! that answered them before, and the board at a past moment with and without the record's
//! checkpoints. Run in release:
//!
//! ```sh
//! cargo run --release -p nouage-server --example trace_times -- 10000 100000 1000000
//! ```

use std::time::{Duration, Instant};

use server::store::{
    BoardId, Durability, EntryPage, JournalRow, SqliteStore, Store, StoredDoc, sample,
};

fn percentiles(mut times: Vec<Duration>) -> String {
    times.sort();
    let at = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    format!(
        "{:>9.2} / {:>9.2}",
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3
    )
}

/// The database's size on disk, its write-ahead log included.
fn database_bytes(dir: &std::path::Path) -> u64 {
    ["", "-wal"]
        .iter()
        .filter_map(|suffix| {
            std::fs::metadata(dir.join(format!("{}{suffix}", server::store::DB_FILE_NAME))).ok()
        })
        .map(|m| m.len())
        .sum()
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Vec<Duration> {
    (0..runs)
        .map(|_| {
            let started = Instant::now();
            std::hint::black_box(f());
            started.elapsed()
        })
        .collect()
}

const PAGE: EntryPage = EntryPage {
    before_seq: None,
    from_ms: i64::MIN,
    to_ms: i64::MAX,
    limit: 500,
};

fn main() {
    let sizes: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000]
    } else {
        sizes
    };
    println!("store work per request, ms (p50 / p99); before = read the journal and replay it");
    for entries in sizes {
        let dir = std::env::temp_dir().join(format!("nouage-trace-bench-{entries}"));
        let _ = std::fs::remove_dir_all(&dir);
        let store = SqliteStore::open(&dir, Durability::Process).unwrap();
        let started = Instant::now();
        let (record, _) = sample::long_canvas(&store, entries).unwrap();
        let id = record.id.clone();
        println!(
            "\n{entries} entries (written in {:.1} s)",
            started.elapsed().as_secs_f64()
        );
        let journal_bytes = database_bytes(&dir);
        let started = Instant::now();
        let indexed = store.reindex(&id, Duration::from_secs(3_600)).unwrap();
        println!(
            "  record built from nothing: {indexed} entries in {:.1} s; database {:.1} MB -> {:.1} MB",
            started.elapsed().as_secs_f64(),
            journal_bytes as f64 / 1e6,
            database_bytes(&dir) as f64 / 1e6
        );
        let db = rusqlite::Connection::open(dir.join(server::store::DB_FILE_NAME)).unwrap();
        for (what, sql) in [
            (
                "journal",
                "SELECT count(*), coalesce(sum(length(update_v1)), 0) FROM journal",
            ),
            (
                "checkpoints",
                "SELECT count(*), coalesce(sum(length(state_v1)), 0) FROM snapshots",
            ),
            (
                "record entries",
                "SELECT count(*), coalesce(sum(length(created) + length(edited) + length(deleted) + 40), 0) FROM trace_entries",
            ),
            (
                "record events",
                "SELECT count(*), coalesce(sum(length(element) + 20), 0) FROM trace_events",
            ),
        ] {
            let (rows, bytes): (i64, i64) = db
                .query_row(sql, [], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap();
            println!("  {what}: {rows} rows, {:.1} MB", bytes as f64 / 1e6);
        }
        let runs_after = 50;
        let runs_before = if entries >= 1_000_000 { 3 } else { 10 };
        let journal = || store.journal(&id).unwrap();
        let element = "n7";
        type Before<'a> = Box<dyn Fn(&[JournalRow]) + 'a>;
        type After<'a> = Box<dyn Fn(&SqliteStore, &BoardId) + 'a>;
        let cases: Vec<(&str, Before, After)> = vec![
            (
                "contributions",
                Box::new(|rows| drop(server::trace::replay::contributions(rows))),
                Box::new(|s, id| drop(s.trace_contributions(id).unwrap())),
            ),
            (
                "history (500)",
                Box::new(|rows| drop(server::trace::replay::entries(rows, &PAGE))),
                Box::new(|s, id| drop(s.trace_entries(id, &PAGE).unwrap())),
            ),
            (
                "elements",
                Box::new(|rows| drop(server::trace::element_traces(rows))),
                Box::new(|s, id| drop(s.trace_elements(id).unwrap())),
            ),
            (
                "elements/{id}",
                Box::new(move |rows| drop(server::trace::element_changes(rows, element))),
                Box::new(move |s, id| drop(s.trace_element(id, element).unwrap())),
            ),
            (
                "deleted",
                Box::new(|rows| drop(server::restore::deleted_elements(rows))),
                Box::new(|s, id| drop(s.trace_deleted(id, 201).unwrap())),
            ),
        ];
        println!("  {:<16} {:>21} {:>21}", "endpoint", "before", "after");
        for (name, before, after) in &cases {
            let before = time(runs_before, || before(&journal()));
            let after = time(runs_after, || {
                store.trace_catch_up(&id, Duration::from_secs(10)).unwrap();
                after(&store, &id)
            });
            println!(
                "  {name:<16} {:>21} {:>21}",
                percentiles(before),
                percentiles(after)
            );
        }
        // The board at a past moment: with the record's checkpoints, and from the whole
        // journal as before (no snapshot written by a room on this board).
        let moments: Vec<u64> = (1..=runs_before as u64)
            .map(|i| entries * i / (runs_before as u64 + 1))
            .collect();
        let (store, id) = (&store, &id);
        let with = time(moments.len(), {
            let mut m = moments.iter();
            move || {
                let seq = *m.next().unwrap();
                let at = sample::START_MS + seq as i64 * 1_000;
                server::room::load_doc(store.load_at(id, at).unwrap()).unwrap()
            }
        });
        let without = time(moments.len(), {
            let mut m = moments.iter();
            move || {
                let seq = *m.next().unwrap();
                let updates = store
                    .journal(id)
                    .unwrap()
                    .into_iter()
                    .filter(|r| r.seq <= seq)
                    .map(|r| (r.seq, r.update_v1))
                    .collect();
                server::room::load_doc(StoredDoc {
                    snapshot: None,
                    updates,
                })
                .unwrap()
            }
        });
        println!(
            "  {:<16} {:>21} {:>21}",
            "board at a time",
            percentiles(without),
            percentiles(with)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
