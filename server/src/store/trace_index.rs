//! The trace's incremental record in SQLite: what `GET /contributions`, `/history`,
//! `/elements`, `/deleted`, the exports' authors and restores read, kept as the journal grows
//! instead of replayed per request.
//!
//! One indexer thread per store brings a board's record up to its last journal entry: it
//! replays the entries it has not seen through `shared::trace::Tally` (from the board's state
//! at its last indexed entry: kept in memory for the last board, or rebuilt from the nearest
//! snapshot) and writes what each entry did in small transactions on the writer connection.
//! It never runs on the journal writer's thread; a request waits for it with a deadline. Every
//! `CHECKPOINT_EVERY_ENTRIES` entries it stores the board's whole state as a snapshot, so the
//! board at any past moment is at most that many applies away.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, Transaction, params};
use shared::trace::{EntryReport, Tally};
use yrs::updates::decoder::Decode;
use yrs::{ReadTxn, StateVector, Transact};

use super::sqlite::{Durability, Writer, board_exists, open_connection};
use super::{
    Actor, BoardId, Contributions, Contributor, EntryPage, StoreError, StoreResult, TraceEntry,
};
use crate::restore::{DeletedElement, ElementKind};
use crate::trace::{ElementChange, ElementTrace};

/// Journal entries at least between two checkpoints of a board's whole state (stored as
/// snapshots): rebuilding the board at an entry costs the nearest checkpoint's decoding and
/// this many applies, or the number `CHECKPOINT_STATE_PER_UPDATE_BYTES_MAX` allows.
#[cfg(not(test))]
pub const CHECKPOINT_EVERY_ENTRIES: u64 = 1_000;
/// Small in unit tests, so short random journals cross several checkpoints.
#[cfg(test)]
pub const CHECKPOINT_EVERY_ENTRIES: u64 = 7;
/// A checkpoint also waits until the entries since the last one hold at least this fraction
/// (1/N) of its size in update bytes: every checkpoint is a whole board, so without this a
/// large board typed into a letter at a time would store its whole state every thousand
/// keystrokes (at 100,000 entries of the benchmark's canvas: 19.4 MB of checkpoints for a
/// 3.0 MB journal). With it, checkpoints take at most about N times the journal's bytes.
#[cfg(not(test))]
pub const CHECKPOINT_STATE_PER_UPDATE_BYTES_MAX: u64 = 2;
/// Unit tests check the rule on its own (`checkpoint_due`); their journals checkpoint by count.
#[cfg(test)]
pub const CHECKPOINT_STATE_PER_UPDATE_BYTES_MAX: u64 = u64::MAX;

/// Whether a checkpoint is due after `entries_since` entries holding `bytes_since` update
/// bytes since the last checkpoint, whose state took `last_state_bytes`, under the rule
/// "at least `every_entries` entries, holding at least 1/`share` of its size".
fn checkpoint_due(
    entries_since: u64,
    bytes_since: u64,
    last_state_bytes: u64,
    every_entries: u64,
    share: u64,
) -> bool {
    entries_since >= every_entries && bytes_since.saturating_mul(share) >= last_state_bytes
}

/// Where the board's last checkpoint (or room snapshot) stands, for `checkpoint_due`.
#[derive(Clone, Copy, Default)]
struct SinceCheckpoint {
    seq: u64,
    state_bytes: u64,
    update_bytes: u64,
}

impl SinceCheckpoint {
    fn after(&mut self, update_bytes: usize) {
        self.update_bytes += update_bytes as u64;
    }

    fn due(&self, seq: u64) -> bool {
        checkpoint_due(
            seq - self.seq,
            self.update_bytes,
            self.state_bytes,
            CHECKPOINT_EVERY_ENTRIES,
            CHECKPOINT_STATE_PER_UPDATE_BYTES_MAX,
        )
    }

    fn reset(&mut self, seq: u64, state_bytes: usize) {
        *self = SinceCheckpoint {
            seq,
            state_bytes: state_bytes as u64,
            update_bytes: 0,
        };
    }
}
/// Entries indexed per transaction: the journal writer waits at most one such transaction
/// for the writer connection.
#[cfg(not(test))]
const INDEX_BATCH_ENTRIES: usize = 128;
#[cfg(test)]
const INDEX_BATCH_ENTRIES: usize = 5;
/// Boards waiting for the indexer at most; a request beyond is answered 503.
const INDEXER_QUEUE_BOARDS_MAX: usize = 1_024;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS trace_progress (
    board_id TEXT PRIMARY KEY,
    upto_seq INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS trace_entries (
    board_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    actor_id INTEGER NOT NULL REFERENCES actors(id),
    by_server INTEGER NOT NULL,
    created TEXT NOT NULL,
    edited TEXT NOT NULL,
    deleted TEXT NOT NULL,
    chars INTEGER NOT NULL,
    votes INTEGER NOT NULL,
    PRIMARY KEY (board_id, seq)
) STRICT;
CREATE TABLE IF NOT EXISTS trace_participants (
    board_id TEXT NOT NULL,
    pid TEXT NOT NULL,
    actor_id INTEGER NOT NULL REFERENCES actors(id),
    updates INTEGER NOT NULL,
    created INTEGER NOT NULL,
    edited INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    chars INTEGER NOT NULL,
    votes INTEGER NOT NULL,
    entered INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (board_id, pid)
) STRICT;
CREATE TABLE IF NOT EXISTS trace_touches (
    board_id TEXT NOT NULL,
    pid TEXT NOT NULL,
    element TEXT NOT NULL,
    created INTEGER NOT NULL,
    PRIMARY KEY (board_id, pid, element)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS trace_elements (
    board_id TEXT NOT NULL,
    element TEXT NOT NULL,
    kind TEXT,
    label TEXT,
    present INTEGER NOT NULL DEFAULT 0,
    first_seq INTEGER,
    created_seq INTEGER,
    changed_seq INTEGER,
    deleted_seq INTEGER,
    last_deleted_seq INTEGER,
    PRIMARY KEY (board_id, element)
) STRICT;
CREATE TABLE IF NOT EXISTS trace_proxies (
    board_id TEXT NOT NULL,
    element TEXT NOT NULL,
    seq INTEGER NOT NULL,
    actor_id INTEGER NOT NULL REFERENCES actors(id),
    PRIMARY KEY (board_id, element)
) STRICT;
CREATE TABLE IF NOT EXISTS trace_events (
    board_id TEXT NOT NULL,
    element TEXT NOT NULL,
    seq INTEGER NOT NULL,
    what TEXT NOT NULL,
    PRIMARY KEY (board_id, element, seq)
) STRICT, WITHOUT ROWID;
";

/// The tables of one board's record, emptied by a reindex.
pub(super) const TRACE_TABLES: [&str; 7] = [
    "trace_progress",
    "trace_entries",
    "trace_participants",
    "trace_touches",
    "trace_elements",
    "trace_proxies",
    "trace_events",
];

enum Job {
    CatchUp(BoardId),
    /// Drop the board state kept in memory.
    Forget,
}

#[derive(Default)]
struct Progress {
    queued: HashSet<BoardId>,
    /// The last indexed seq of the boards the indexer worked on.
    upto: HashMap<BoardId, u64>,
    /// Why the last catch-up of a board failed.
    failed: HashMap<BoardId, String>,
    /// Records emptied so far (`reset`): what a job that began before the last one found is
    /// stale, and never answers a wait.
    resets: u64,
}

#[derive(Default)]
struct Shared {
    progress: Mutex<Progress>,
    changed: Condvar,
}

/// The handle on the indexer thread; the thread ends when this is dropped.
pub(super) struct Indexer {
    jobs: Mutex<SyncSender<Job>>,
    shared: Arc<Shared>,
}

impl Indexer {
    /// The indexer of SQLite's record, writing on the store's writer connection.
    pub(super) fn start(path: PathBuf, durability: Durability, writer: Arc<Mutex<Writer>>) -> Self {
        Self::start_on(Box::new(SqliteRecord {
            path,
            durability,
            writer,
            conn: None,
        }))
    }

    /// An indexer whose record lives in `db`.
    pub(super) fn start_on(db: Box<dyn RecordDb>) -> Self {
        let (jobs, rx) = std::sync::mpsc::sync_channel(INDEXER_QUEUE_BOARDS_MAX);
        let shared = Arc::new(Shared::default());
        let for_worker = shared.clone();
        std::thread::Builder::new()
            .name("trace-indexer".into())
            .spawn(move || {
                let worker = Worker {
                    db,
                    shared: for_worker,
                    kept: None,
                };
                worker.run(rx)
            })
            .expect("spawning the trace indexer thread");
        Indexer {
            jobs: Mutex::new(jobs),
            shared,
        }
    }

    /// Queues a catch-up of `board` unless one is queued; false when the queue is full.
    fn enqueue(&self, board: &BoardId) -> bool {
        let mut progress = self.shared.progress.lock().unwrap();
        progress.failed.remove(board);
        if progress.queued.contains(board) {
            return true;
        }
        let sent = self
            .jobs
            .lock()
            .unwrap()
            .try_send(Job::CatchUp(board.clone()));
        match sent {
            Ok(()) => {
                progress.queued.insert(board.clone());
                true
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }

    pub(super) fn hint(&self, board: &BoardId) {
        let _ = self.enqueue(board);
    }

    /// Forgets what the indexer knew of `board`'s progress (its record was emptied).
    ///
    /// A catch-up of the board may be under way, begun before its record was emptied: it would
    /// report the progress it saw then, and a wait would end on a record that is empty (the
    /// property test caught it once in CI). So the reset makes such answers stale, and the next
    /// wait queues a catch-up of its own.
    pub(super) fn reset(&self, board: &BoardId) {
        let mut progress = self.shared.progress.lock().unwrap();
        progress.upto.remove(board);
        progress.queued.remove(board);
        progress.resets += 1;
        drop(progress);
        self.forget();
    }

    pub(super) fn forget(&self) {
        let _ = self.jobs.lock().unwrap().try_send(Job::Forget);
    }

    /// Waits until the record of `board` reaches `target`, at most `wait`.
    pub(super) fn wait_for(&self, board: &BoardId, target: u64, wait: Duration) -> StoreResult<()> {
        if !self.enqueue(board) {
            return Err(StoreError::Overloaded(
                "the trace indexer's queue is full".into(),
            ));
        }
        let deadline = Instant::now() + wait;
        let mut progress = self.shared.progress.lock().unwrap();
        loop {
            if progress.upto.get(board).is_some_and(|upto| *upto >= target) {
                return Ok(());
            }
            if let Some(why) = progress.failed.get(board) {
                return Err(StoreError::Corrupt(format!(
                    "the trace of board {board} could not be brought up to date: {why}"
                )));
            }
            if !progress.queued.contains(board) {
                // Caught up to the journal's end as it was then, and not to `target`: another
                // process (an export from the command line) indexes the same board. Go again.
                drop(progress);
                if !self.enqueue(board) {
                    return Err(StoreError::Overloaded(
                        "the trace indexer's queue is full".into(),
                    ));
                }
                progress = self.shared.progress.lock().unwrap();
                continue;
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(StoreError::Overloaded(format!(
                    "the trace of this board is still being brought up to date after {} ms",
                    wait.as_millis()
                )));
            }
            progress = self
                .shared
                .changed
                .wait_timeout(progress, deadline - now)
                .unwrap()
                .0;
        }
    }
}

/// The board state the indexer replayed last: reused when the same board comes back.
struct Kept {
    board: BoardId,
    upto_seq: u64,
    tally: Tally,
    since: SinceCheckpoint,
}

/// Where a record lives: what the indexer reads and writes (SQLite's file, PostgreSQL).
pub(super) trait RecordDb: Send + 'static {
    /// The last seq of `board` in its record (0: none); `BoardNotFound` when the board is gone.
    fn progress(&mut self, board: &BoardId) -> StoreResult<u64>;
    /// Up to `limit` journal entries of `board` after seq `after`, in order.
    fn entries_after(&mut self, board: &BoardId, after: u64, limit: usize)
    -> StoreResult<Vec<Row>>;
    /// The board's newest stored state at or before entry `upto`.
    fn checkpoint_at(&mut self, board: &BoardId, upto: u64) -> StoreResult<Option<(u64, Vec<u8>)>>;
    /// Writes what `batch` did and the `checkpoints`, and moves the board's progress from
    /// `from` to the batch's last seq, in one transaction. `Ok(false)` (nothing written) when
    /// the progress is no longer `from`: another process indexed these entries.
    fn write_batch(
        &mut self,
        board: &BoardId,
        from: u64,
        batch: &[Indexed],
        checkpoints: &[(u64, Vec<u8>)],
    ) -> StoreResult<bool>;
    /// Lets go of connections and caches.
    fn release(&mut self);
}

struct Worker {
    db: Box<dyn RecordDb>,
    shared: Arc<Shared>,
    kept: Option<Kept>,
}

/// One journal entry as the indexer reads it.
pub(super) struct Row {
    pub seq: u64,
    pub ts_ms: i64,
    pub actor_id: i64,
    pub pid: String,
    pub update_v1: Vec<u8>,
}

/// What one entry did, with what the board showed right after it.
pub(super) struct Indexed {
    pub row: Row,
    pub report: EntryReport,
    /// For each element the entry touched: its kind and label when it is on the board.
    pub after: HashMap<String, Option<(ElementKind, String)>>,
}

impl Indexed {
    /// Who the entry's elements created for someone else are credited to (the server's
    /// restores credit nobody).
    pub(super) fn proxies(&self) -> &[shared::trace::Proxied] {
        if self.by_server() {
            &[]
        } else {
            &self.report.proxies
        }
    }

    pub(super) fn by_server(&self) -> bool {
        self.row.pid == Actor::system().pid
    }

    /// What the entry did to element `id` (one of `after`'s), as the element's story says.
    pub(super) fn step(&self, id: &str) -> &'static str {
        let has = |list: &[String]| list.iter().any(|x| x == id);
        let by_server = self.by_server();
        if has(&self.report.created) {
            if by_server { "restored" } else { "created" }
        } else if has(&self.report.deleted) {
            "deleted"
        } else if by_server {
            "restored"
        } else {
            self.report.steps.get(id).copied().unwrap_or("edited")
        }
    }
}

/// SQLite's record: read on the indexer's own connection, written on the store's writer.
struct SqliteRecord {
    path: PathBuf,
    durability: Durability,
    writer: Arc<Mutex<Writer>>,
    /// The indexer's own read connection, opened on its first job.
    conn: Option<Connection>,
}

impl SqliteRecord {
    fn conn(&mut self) -> StoreResult<&Connection> {
        if self.conn.is_none() {
            let conn = open_connection(&self.path, self.durability)?;
            conn.pragma_update(None, "cache_size", -512)?;
            self.conn = Some(conn);
        }
        Ok(self.conn.as_ref().expect("just opened"))
    }
}

impl RecordDb for SqliteRecord {
    fn progress(&mut self, board: &BoardId) -> StoreResult<u64> {
        let conn = self.conn()?;
        board_exists(conn, board)?;
        progress_of(conn, board)
    }

    fn entries_after(
        &mut self,
        board: &BoardId,
        after: u64,
        limit: usize,
    ) -> StoreResult<Vec<Row>> {
        entries_after(self.conn()?, board, after, limit)
    }

    fn checkpoint_at(&mut self, board: &BoardId, upto: u64) -> StoreResult<Option<(u64, Vec<u8>)>> {
        Ok(self
            .conn()?
            .query_row(
                "SELECT upto_seq, state_v1 FROM snapshots
                 WHERE board_id = ?1 AND upto_seq <= ?2 ORDER BY upto_seq DESC LIMIT 1",
                params![board.as_str(), upto as i64],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)),
            )
            .optional()?)
    }

    fn write_batch(
        &mut self,
        board: &BoardId,
        from: u64,
        batch: &[Indexed],
        checkpoints: &[(u64, Vec<u8>)],
    ) -> StoreResult<bool> {
        let mut writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        write_batch(&mut writer.conn, board, from, batch, checkpoints)
    }

    fn release(&mut self) {
        self.conn = None;
    }
}

impl Worker {
    fn run(mut self, jobs: Receiver<Job>) {
        while let Ok(job) = jobs.recv() {
            let board = match job {
                Job::CatchUp(board) => board,
                Job::Forget => {
                    self.kept = None;
                    self.db.release();
                    continue;
                }
            };
            let epoch = self.shared.progress.lock().unwrap().resets;
            let result = self.catch_up(&board, epoch);
            let mut progress = self.shared.progress.lock().unwrap();
            if progress.resets != epoch {
                // A record was emptied while this ran: what it found is stale, and the
                // catch-up queued since answers the waits.
                drop(progress);
                self.kept = None;
                continue;
            }
            progress.queued.remove(&board);
            match result {
                Ok(upto) => {
                    progress.upto.insert(board, upto);
                }
                Err(error) => {
                    tracing::error!(%board, %error, "bringing the trace up to date failed");
                    self.kept = None;
                    progress.failed.insert(board, error.to_string());
                }
            }
            drop(progress);
            self.shared.changed.notify_all();
        }
    }

    /// Indexes every entry of `board` not yet in its record; returns the last indexed seq.
    fn catch_up(&mut self, board: &BoardId, epoch: u64) -> StoreResult<u64> {
        loop {
            let upto = self.db.progress(board)?;
            let rows = self.db.entries_after(board, upto, INDEX_BATCH_ENTRIES)?;
            if rows.is_empty() {
                return Ok(upto);
            }
            let (mut tally, mut since) = self.tally_at(board, upto)?;
            let roots = shared::Roots::new(tally.doc());
            let mut batch = Vec::with_capacity(rows.len());
            let mut checkpoints = Vec::new();
            for row in rows {
                let report = tally.apply(&row.pid, &row.update_v1);
                let after = elements_after(&tally, &roots, &report);
                since.after(row.update_v1.len());
                if since.due(row.seq)
                    && let Some(state) = checkpoint(&tally)
                {
                    since.reset(row.seq, state.len());
                    checkpoints.push((row.seq, state));
                }
                batch.push(Indexed { row, report, after });
            }
            let last = batch.last().map_or(upto, |i| i.row.seq);
            match self.db.write_batch(board, upto, &batch, &checkpoints) {
                Ok(true) => {
                    self.kept = Some(Kept {
                        board: board.clone(),
                        upto_seq: last,
                        tally,
                        since,
                    });
                    let mut progress = self.shared.progress.lock().unwrap();
                    if progress.resets == epoch {
                        progress.upto.insert(board.clone(), last);
                    }
                    drop(progress);
                    self.shared.changed.notify_all();
                }
                // Another process indexed these entries first: start again from its progress.
                Ok(false) => self.kept = None,
                Err(e) => return Err(e),
            }
        }
    }

    /// The board's state right after entry `upto` (nothing for 0), ready to replay the next,
    /// and where its last checkpoint stands.
    fn tally_at(&mut self, board: &BoardId, upto: u64) -> StoreResult<(Tally, SinceCheckpoint)> {
        if let Some(kept) = self.kept.take()
            && kept.board == *board
            && kept.upto_seq == upto
        {
            return Ok((kept.tally, kept.since));
        }
        let mut since = SinceCheckpoint::default();
        if upto == 0 {
            return Ok((Tally::new(), since));
        }
        let (mut tally, mut from) = match self.db.checkpoint_at(board, upto)? {
            Some((seq, state)) => match Tally::resume(&state) {
                Some(tally) => {
                    since.reset(seq, state.len());
                    (tally, seq)
                }
                None => (Tally::new(), 0),
            },
            None => (Tally::new(), 0),
        };
        while from < upto {
            let rows = self
                .db
                .entries_after(board, from, (upto - from).min(512) as usize)?;
            let Some(last) = rows.last().map(|r| r.seq) else {
                break;
            };
            for row in rows.iter().filter(|r| r.seq <= upto) {
                tally.apply(&row.pid, &row.update_v1);
                since.after(row.update_v1.len());
            }
            from = last;
        }
        Ok((tally, since))
    }
}

/// Each touched element's kind and label on the board after the entry (`None`: not there).
pub(super) fn elements_after(
    tally: &Tally,
    roots: &shared::Roots,
    report: &EntryReport,
) -> HashMap<String, Option<(ElementKind, String)>> {
    let txn = tally.doc().transact();
    report
        .created
        .iter()
        .chain(&report.edited)
        .chain(&report.deleted)
        .map(|id| {
            let found = ElementKind::of(roots, &txn, id)
                .map(|(kind, map)| (kind, crate::restore::label(&map, &txn)));
            (id.clone(), found)
        })
        .collect()
}

/// The board's whole state, checked to decode, as a snapshot would hold it.
fn checkpoint(tally: &Tally) -> Option<Vec<u8>> {
    let state = tally
        .doc()
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    yrs::Update::decode_v1(&state).ok().map(|_| state)
}

pub(super) fn progress_of(conn: &Connection, board: &BoardId) -> StoreResult<u64> {
    Ok(conn
        .query_row(
            "SELECT upto_seq FROM trace_progress WHERE board_id = ?1",
            [board.as_str()],
            |r| r.get::<_, i64>(0),
        )
        .optional()?
        .unwrap_or(0) as u64)
}

pub(super) fn last_seq(conn: &Connection, board: &BoardId) -> StoreResult<u64> {
    Ok(conn.query_row(
        "SELECT coalesce(max(seq), 0) FROM journal WHERE board_id = ?1",
        [board.as_str()],
        |r| r.get::<_, i64>(0),
    )? as u64)
}

fn entries_after(
    conn: &Connection,
    board: &BoardId,
    after: u64,
    limit: usize,
) -> StoreResult<Vec<Row>> {
    let mut stmt = conn.prepare_cached(
        "SELECT j.seq, j.ts_ms, j.actor_id, a.pid, j.update_v1
         FROM journal j JOIN actors a ON a.id = j.actor_id
         WHERE j.board_id = ?1 AND j.seq > ?2 ORDER BY j.seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![board.as_str(), after as i64, limit as i64], |r| {
        Ok(Row {
            seq: r.get::<_, i64>(0)? as u64,
            ts_ms: r.get(1)?,
            actor_id: r.get(2)?,
            pid: r.get(3)?,
            update_v1: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Writes what `batch` did, and moves the board's progress from `from` to the batch's last
/// seq, in one transaction. `Ok(false)` (nothing written) when the progress is no longer
/// `from`: another process indexed these entries.
fn write_batch(
    conn: &mut Connection,
    board: &BoardId,
    from: u64,
    batch: &[Indexed],
    checkpoints: &[(u64, Vec<u8>)],
) -> StoreResult<bool> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    if progress_of(&tx, board)? != from {
        return Ok(false);
    }
    for indexed in batch {
        write_entry(&tx, board, indexed)?;
    }
    for (seq, state) in checkpoints {
        tx.execute(
            "INSERT OR IGNORE INTO snapshots (board_id, upto_seq, state_v1, created_ms)
             VALUES (?1, ?2, ?3, ?4)",
            params![board.as_str(), *seq as i64, state, crate::room::now_ms()],
        )?;
    }
    let last = batch.last().map_or(from, |i| i.row.seq);
    tx.execute(
        "INSERT INTO trace_progress (board_id, upto_seq) VALUES (?1, ?2)
         ON CONFLICT (board_id) DO UPDATE SET upto_seq = excluded.upto_seq",
        params![board.as_str(), last as i64],
    )?;
    tx.commit()?;
    Ok(true)
}

fn ids_json(ids: &[String]) -> String {
    serde_json::to_string(ids).expect("a list of strings is JSON")
}

fn ids_from_json(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

fn write_entry(tx: &Transaction, board: &BoardId, indexed: &Indexed) -> StoreResult<()> {
    let Indexed { row, report, after } = indexed;
    let b = board.as_str();
    let seq = row.seq as i64;
    let by_server = indexed.by_server();
    // Elements created on behalf of someone are theirs.
    let proxies = indexed.proxies();
    tx.prepare_cached(
        "INSERT INTO trace_entries
             (board_id, seq, ts_ms, actor_id, by_server, created, edited, deleted, chars, votes)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        b,
        seq,
        row.ts_ms,
        row.actor_id,
        by_server,
        ids_json(&report.created),
        ids_json(&report.edited),
        ids_json(&report.deleted),
        report.chars_written as i64,
        report.votes_cast as i64
    ])?;
    // Distinct elements edited that this participant had neither created nor edited before.
    for id in &report.created {
        tx.prepare_cached(
            "INSERT INTO trace_touches (board_id, pid, element, created) VALUES (?1, ?2, ?3, 1)
             ON CONFLICT DO UPDATE SET created = 1",
        )?
        .execute(params![b, row.pid, id])?;
    }
    let mut newly_edited = 0i64;
    for id in &report.edited {
        newly_edited += tx
            .prepare_cached(
                "INSERT INTO trace_touches (board_id, pid, element, created)
                 VALUES (?1, ?2, ?3, 0) ON CONFLICT DO NOTHING",
            )?
            .execute(params![b, row.pid, id])? as i64;
    }
    let participant = |pid: &str, actor_id: i64, counts: [i64; 7]| -> StoreResult<()> {
        let [updates, created, edited, deleted, chars, votes, entered] = counts;
        tx.prepare_cached(
            "INSERT INTO trace_participants
                 (board_id, pid, actor_id, updates, created, edited, deleted, chars, votes, entered)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (board_id, pid) DO UPDATE SET
                 actor_id = excluded.actor_id,
                 updates = updates + excluded.updates,
                 created = created + excluded.created,
                 edited = edited + excluded.edited,
                 deleted = deleted + excluded.deleted,
                 chars = chars + excluded.chars,
                 votes = votes + excluded.votes,
                 entered = entered + excluded.entered",
        )?
        .execute(params![
            b, pid, actor_id, updates, created, edited, deleted, chars, votes, entered
        ])?;
        Ok(())
    };
    let mut proxy_actors = Vec::with_capacity(proxies.len());
    for proxied in proxies {
        let actor_id = super::sqlite::actor_id_in(tx, &Actor::from(&proxied.person))?;
        participant(&proxied.person.pid(), actor_id, [0, 1, 0, 0, 0, 0, 0])?;
        proxy_actors.push((&proxied.element, actor_id));
    }
    // `after` names every element the entry touched: each has its row before it is updated.
    for id in after.keys() {
        tx.prepare_cached(
            "INSERT INTO trace_elements (board_id, element) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
        )?
        .execute(params![b, id])?;
    }
    for id in &report.created {
        tx.prepare_cached(
            "UPDATE trace_elements SET first_seq = coalesce(first_seq, ?3),
                 created_seq = CASE WHEN ?4 THEN created_seq ELSE coalesce(created_seq, ?3) END
             WHERE board_id = ?1 AND element = ?2",
        )?
        .execute(params![b, id, seq, by_server])?;
    }
    // Only the element's first creation says whom it is credited to.
    for (id, actor_id) in proxy_actors {
        tx.prepare_cached(
            "INSERT INTO trace_proxies (board_id, element, seq, actor_id)
             SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM trace_elements
                 WHERE board_id = ?1 AND element = ?2 AND created_seq = ?3)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![b, id, seq, actor_id])?;
    }
    // What a typist writes in an element they first entered for someone is that person's.
    let mut theirs_chars = 0i64;
    for (id, chars) in &report.chars_by_element {
        let person: Option<String> = tx
            .prepare_cached(
                "SELECT pa.pid FROM trace_proxies px
                 JOIN trace_entries e ON e.board_id = px.board_id AND e.seq = px.seq
                 JOIN actors ta ON ta.id = e.actor_id
                 JOIN actors pa ON pa.id = px.actor_id
                 WHERE px.board_id = ?1 AND px.element = ?2 AND ta.pid = ?3",
            )?
            .query_row(params![b, id, row.pid], |r| r.get(0))
            .optional()?;
        if let Some(person) = person {
            theirs_chars += *chars as i64;
            tx.prepare_cached(
                "UPDATE trace_participants SET chars = chars + ?3 WHERE board_id = ?1 AND pid = ?2",
            )?
            .execute(params![b, person, *chars as i64])?;
        }
    }
    participant(
        &row.pid,
        row.actor_id,
        [
            1,
            (report.created.len() - proxies.len()) as i64,
            newly_edited,
            report.deleted.len() as i64,
            report.chars_written as i64 - theirs_chars,
            report.votes_cast as i64,
            proxies.len() as i64,
        ],
    )?;
    for id in report.created.iter().chain(&report.edited) {
        let (kind, label) = match after.get(id).cloned().flatten() {
            Some((kind, label)) => (Some(kind.as_str()), Some(label)),
            None => (None, None),
        };
        tx.prepare_cached(
            "UPDATE trace_elements SET
                 changed_seq = CASE WHEN ?4 OR created_seq IS NULL THEN changed_seq ELSE ?3 END,
                 kind = coalesce(?5, kind),
                 label = CASE WHEN ?5 IS NULL THEN label ELSE ?6 END,
                 deleted_seq = NULL
             WHERE board_id = ?1 AND element = ?2",
        )?
        .execute(params![b, id, seq, by_server, kind, label])?;
    }
    for id in &report.deleted {
        tx.prepare_cached(
            "UPDATE trace_elements SET last_deleted_seq = ?3,
                 deleted_seq = CASE WHEN label IS NULL THEN deleted_seq ELSE ?3 END
             WHERE board_id = ?1 AND element = ?2",
        )?
        .execute(params![b, id, seq])?;
    }
    for (id, found) in after {
        tx.prepare_cached(
            "UPDATE trace_elements SET present = ?3 WHERE board_id = ?1 AND element = ?2",
        )?
        .execute(params![b, id, found.is_some()])?;
        let what = indexed.step(id);
        tx.prepare_cached(
            "INSERT INTO trace_events (board_id, element, seq, what) VALUES (?1, ?2, ?3, ?4)",
        )?
        .execute(params![b, id, seq, what])?;
    }
    Ok(())
}

/// Empties the record of `board` (a reindex builds it again from the journal).
pub(super) fn clear(conn: &mut Connection, board: &BoardId) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    clear_in(&tx, board)?;
    tx.commit()?;
    Ok(())
}

/// Empties the record of `board` inside the caller's transaction.
pub(super) fn clear_in(tx: &Transaction, board: &BoardId) -> StoreResult<()> {
    for table in TRACE_TABLES {
        tx.execute(
            &format!("DELETE FROM {table} WHERE board_id = ?1"),
            [board.as_str()],
        )?;
    }
    Ok(())
}

pub(super) fn actor_at(r: &rusqlite::Row, first: usize) -> rusqlite::Result<Actor> {
    Ok(Actor {
        pid: r.get(first)?,
        name: r.get(first + 1)?,
        org: r.get(first + 2)?,
        org_kind: r.get::<_, String>(first + 3)?.parse().ok(),
    })
}

// What the records' rows say, read the same from SQLite and PostgreSQL.

/// An element on the board, credited to the person it was entered for when there is one
/// (`represented`), its typist then named as who entered it.
pub(super) fn element_trace(
    id: String,
    (typist, created_ms): ((String, String), i64),
    represented: Option<(String, String)>,
    ((changed_by, changed_org), changed_ms): ((String, String), i64),
) -> ElementTrace {
    let ((created_by, created_org), entered) = match represented {
        Some(person) => (person, Some(typist)),
        None => (typist, None),
    };
    let (entered_by, entered_org) = entered.unzip();
    ElementTrace {
        id,
        created_by,
        created_org,
        created_ms,
        changed_by,
        changed_org,
        changed_ms,
        entered_by,
        entered_org,
    }
}

/// One event of an element's story (`what` as stored), by `actor` (name, org) or by the person
/// they entered it for; the server's own events name nobody.
pub(super) fn push_event(
    changes: &mut Vec<ElementChange>,
    what: &str,
    ts_ms: i64,
    by_server: bool,
    actor: (String, String),
    represented: Option<(String, String)>,
) {
    let what = match what {
        "created" => "created",
        "deleted" => "deleted",
        "restored" => "restored",
        step => shared::trace::STEPS
            .into_iter()
            .find(|s| *s == step)
            .unwrap_or("edited"),
    };
    let (name, org, entered_by) = match represented {
        Some((name, org)) => (name, org, Some(actor.0)),
        None if by_server => (String::new(), String::new(), None),
        None => (actor.0, actor.1, None),
    };
    crate::trace::push_change(changes, ts_ms, name, org, what, entered_by);
}

/// Who created an element first: the person it was entered for, or its typist.
pub(super) fn created_by(
    typist: String,
    ts_ms: i64,
    represented: Option<String>,
) -> crate::export::model::Created {
    match represented {
        Some(pid) => crate::export::model::Created {
            pid,
            ts_ms,
            entered_by: Some(typist),
        },
        None => crate::export::model::Created {
            pid: typist,
            ts_ms,
            entered_by: None,
        },
    }
}

// The reads below answer from the record as it is; the store brings it up to date first.

pub(super) fn contributions(conn: &Connection, board: &BoardId) -> StoreResult<Contributions> {
    let journal_entries = progress_of(conn, board)?;
    let mut stmt = conn.prepare_cached(
        "SELECT a.pid, a.name, a.org, a.org_kind,
                p.updates, p.created, p.edited, p.deleted, p.chars, p.votes, p.entered
         FROM trace_participants p JOIN actors a ON a.id = p.actor_id
         WHERE p.board_id = ?1 AND p.pid <> ?2 ORDER BY p.pid",
    )?;
    let rows = stmt.query_map(params![board.as_str(), Actor::system().pid], |r| {
        let count = |i: usize| r.get::<_, i64>(i).map(|n| n as u64);
        Ok(Contributor {
            actor: actor_at(r, 0)?,
            counts: shared::trace::Counts {
                updates: count(4)?,
                created: count(5)?,
                edited: count(6)?,
                deleted: count(7)?,
                chars_written: count(8)?,
                votes_cast: count(9)?,
                entered_for_others: count(10)?,
            },
        })
    })?;
    Ok(Contributions {
        journal_entries,
        contributors: rows.collect::<Result<Vec<_>, _>>()?,
    })
}

pub(super) fn entries(
    conn: &Connection,
    board: &BoardId,
    page: &EntryPage,
) -> StoreResult<Vec<TraceEntry>> {
    let before = page.before_seq.map_or(i64::MAX, |s| s as i64);
    let mut stmt = conn.prepare_cached(
        "SELECT e.seq, e.ts_ms, a.pid, a.name, a.org, a.org_kind,
                e.created, e.edited, e.deleted, e.chars, e.votes
         FROM trace_entries e JOIN actors a ON a.id = e.actor_id
         WHERE e.board_id = ?1 AND e.seq < ?2 AND e.by_server = 0
           AND e.ts_ms BETWEEN ?3 AND ?4
         ORDER BY e.seq DESC LIMIT ?5",
    )?;
    let rows = stmt.query_map(
        params![
            board.as_str(),
            before,
            page.from_ms,
            page.to_ms,
            page.limit as i64
        ],
        |r| {
            Ok(TraceEntry {
                seq: r.get::<_, i64>(0)? as u64,
                ts_ms: r.get(1)?,
                actor: actor_at(r, 2)?,
                report: EntryReport {
                    created: ids_from_json(&r.get::<_, String>(6)?),
                    edited: ids_from_json(&r.get::<_, String>(7)?),
                    deleted: ids_from_json(&r.get::<_, String>(8)?),
                    chars_written: r.get::<_, i64>(9)? as u64,
                    votes_cast: r.get::<_, i64>(10)? as u64,
                    proxies: Vec::new(),
                    chars_by_element: Default::default(),
                    steps: Default::default(),
                },
            })
        },
    )?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn elements(conn: &Connection, board: &BoardId) -> StoreResult<Vec<ElementTrace>> {
    let mut stmt = conn.prepare_cached(
        "SELECT el.element, ca.name, ca.org, c.ts_ms, ga.name, ga.org, g.ts_ms, pa.name, pa.org
         FROM trace_elements el
         JOIN trace_entries c ON c.board_id = el.board_id AND c.seq = el.created_seq
         JOIN actors ca ON ca.id = c.actor_id
         JOIN trace_entries g ON g.board_id = el.board_id AND g.seq = el.changed_seq
         JOIN actors ga ON ga.id = g.actor_id
         LEFT JOIN trace_proxies px ON px.board_id = el.board_id AND px.element = el.element
         LEFT JOIN actors pa ON pa.id = px.actor_id
         WHERE el.board_id = ?1 AND el.present = 1 ORDER BY el.element",
    )?;
    let rows = stmt.query_map([board.as_str()], |r| {
        let represented: Option<(String, String)> = match r.get::<_, Option<String>>(7)? {
            Some(name) => Some((name, r.get(8)?)),
            None => None,
        };
        Ok(element_trace(
            r.get(0)?,
            ((r.get(1)?, r.get(2)?), r.get(3)?),
            represented,
            ((r.get(4)?, r.get(5)?), r.get(6)?),
        ))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn element(
    conn: &Connection,
    board: &BoardId,
    element: &str,
) -> StoreResult<Vec<ElementChange>> {
    let mut stmt = conn.prepare_cached(
        "SELECT ev.what, e.ts_ms, e.by_server, a.name, a.org, pa.name, pa.org
         FROM trace_events ev
         JOIN trace_entries e ON e.board_id = ev.board_id AND e.seq = ev.seq
         JOIN actors a ON a.id = e.actor_id
         LEFT JOIN trace_proxies px
             ON px.board_id = ev.board_id AND px.element = ev.element AND px.seq = ev.seq
         LEFT JOIN actors pa ON pa.id = px.actor_id
         WHERE ev.board_id = ?1 AND ev.element = ?2 ORDER BY ev.seq",
    )?;
    let mut rows = stmt.query(params![board.as_str(), element])?;
    let mut changes = Vec::new();
    while let Some(r) = rows.next()? {
        let represented = match r.get::<_, Option<String>>(5)? {
            Some(name) => Some((name, r.get(6)?)),
            None => None,
        };
        push_event(
            &mut changes,
            r.get_ref(0)?.as_str().unwrap_or(""),
            r.get(1)?,
            r.get(2)?,
            (r.get(3)?, r.get(4)?),
            represented,
        );
    }
    Ok(changes)
}

pub(super) fn deleted(
    conn: &Connection,
    board: &BoardId,
    limit: usize,
) -> StoreResult<Vec<DeletedElement>> {
    let mut stmt = conn.prepare_cached(
        "SELECT el.element, el.kind, el.label, d.ts_ms, a.name, a.org
         FROM trace_elements el
         JOIN trace_entries d ON d.board_id = el.board_id AND d.seq = el.deleted_seq
         JOIN actors a ON a.id = d.actor_id
         WHERE el.board_id = ?1 AND el.present = 0 AND el.label IS NOT NULL
         ORDER BY d.ts_ms DESC, el.element LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![board.as_str(), limit as i64], |r| {
        let kind: String = r.get(1)?;
        Ok(DeletedElement {
            id: r.get(0)?,
            kind: ElementKind::parse(&kind).unwrap_or(ElementKind::Node),
            text: r.get(2)?,
            deleted_ms: r.get(3)?,
            deleted_by: r.get(4)?,
            deleted_by_org: r.get(5)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn provenance(
    conn: &Connection,
    board: &BoardId,
) -> StoreResult<crate::export::model::Provenance> {
    use crate::export::model::Provenance;
    let mut created = HashMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT el.element, a.pid, e.ts_ms, pa.pid FROM trace_elements el
         JOIN trace_entries e ON e.board_id = el.board_id AND e.seq = el.first_seq
         JOIN actors a ON a.id = e.actor_id
         LEFT JOIN trace_proxies px
             ON px.board_id = el.board_id AND px.element = el.element AND px.seq = el.first_seq
         LEFT JOIN actors pa ON pa.id = px.actor_id
         WHERE el.board_id = ?1",
    )?;
    let mut rows = stmt.query([board.as_str()])?;
    while let Some(r) = rows.next()? {
        created.insert(r.get(0)?, created_by(r.get(1)?, r.get(2)?, r.get(3)?));
    }
    let mut actors = HashMap::new();
    let mut stmt = conn.prepare_cached(
        "SELECT a.pid, a.name, a.org, a.org_kind FROM trace_participants p
         JOIN actors a ON a.id = p.actor_id WHERE p.board_id = ?1",
    )?;
    let mut rows = stmt.query([board.as_str()])?;
    while let Some(r) = rows.next()? {
        let actor = actor_at(r, 0)?;
        actors.insert(actor.pid.clone(), actor);
    }
    Ok(Provenance::new(created, actors))
}

pub(super) fn last_deletion(
    conn: &Connection,
    board: &BoardId,
    element: &str,
) -> StoreResult<Option<u64>> {
    Ok(conn
        .query_row(
            "SELECT last_deleted_seq FROM trace_elements WHERE board_id = ?1 AND element = ?2",
            params![board.as_str(), element],
            |r| r.get::<_, Option<i64>>(0),
        )
        .optional()?
        .flatten()
        .map(|s| s as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_waits_for_its_entries_and_for_a_share_of_its_size_in_updates() {
        // The server's rule (1,000 entries, half the state's size): a 200 KB board typed into
        // a letter (30 bytes) at a time waits for 100 KB of updates, not for 1,000 entries;
        // a small board checkpoints every 1,000 entries.
        let due = |entries, bytes, state| checkpoint_due(entries, bytes, state, 1_000, 2);
        assert!(!due(999, 1 << 40, 0), "never before 1,000 entries");
        assert!(!due(1_000, 30_000, 200_000));
        assert!(!due(3_333, 99_990, 200_000));
        assert!(due(3_334, 100_020, 200_000));
        assert!(due(1_000, 5_000, 8_000));
    }
}
