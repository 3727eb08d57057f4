//! The trace's incremental record in PostgreSQL: the same tables and answers as SQLite's
//! (`trace_index.rs`, whose indexer thread drives this one through `RecordDb`), so
//! `/contributions`, `/history`, `/elements`, `/deleted`, the exports' authors and restores
//! read a record kept as the journal grows instead of replaying it per request.
//!
//! Several nodes may index one board at once: a batch is written only if the board's progress
//! is still the one it started from (the progress row is locked in the batch's transaction);
//! the other node's indexer then starts again from the new progress.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::Poll;

use deadpool_postgres::{GenericClient, Pool, Transaction};
use futures_util::future::MaybeDone;
use shared::trace::EntryReport;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error as PgError, Row as PgRow, Statement};

use super::postgres::{actor_at, actor_id};
use super::trace_index::{Indexed, RecordDb, Row, created_by, element_trace, push_event};
use super::{Actor, BoardId, Contributions, Contributor, EntryPage, StoreResult, TraceEntry};
use crate::restore::{DeletedElement, ElementKind};
use crate::trace::{ElementChange, ElementTrace};

/// The record's tables (schema version 2).
pub(super) const MIGRATION: &str = "
CREATE TABLE trace_progress (
    board_id TEXT PRIMARY KEY REFERENCES boards(id) ON DELETE CASCADE,
    upto_seq BIGINT NOT NULL
);
CREATE TABLE trace_entries (
    board_id TEXT NOT NULL REFERENCES boards(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    ts_ms BIGINT NOT NULL,
    actor_id BIGINT NOT NULL REFERENCES actors(id),
    by_server BOOLEAN NOT NULL,
    created TEXT NOT NULL,
    edited TEXT NOT NULL,
    deleted TEXT NOT NULL,
    chars BIGINT NOT NULL,
    votes BIGINT NOT NULL,
    PRIMARY KEY (board_id, seq)
);
CREATE TABLE trace_participants (
    board_id TEXT NOT NULL REFERENCES boards(id) ON DELETE CASCADE,
    pid TEXT NOT NULL,
    actor_id BIGINT NOT NULL REFERENCES actors(id),
    updates BIGINT NOT NULL,
    created BIGINT NOT NULL,
    edited BIGINT NOT NULL,
    deleted BIGINT NOT NULL,
    chars BIGINT NOT NULL,
    votes BIGINT NOT NULL,
    entered BIGINT NOT NULL,
    PRIMARY KEY (board_id, pid)
);
CREATE TABLE trace_touches (
    board_id TEXT NOT NULL REFERENCES boards(id) ON DELETE CASCADE,
    pid TEXT NOT NULL,
    element TEXT NOT NULL,
    created BOOLEAN NOT NULL,
    PRIMARY KEY (board_id, pid, element)
);
CREATE TABLE trace_elements (
    board_id TEXT NOT NULL REFERENCES boards(id) ON DELETE CASCADE,
    element TEXT NOT NULL,
    kind TEXT,
    label TEXT,
    present BOOLEAN NOT NULL DEFAULT FALSE,
    first_seq BIGINT,
    created_seq BIGINT,
    changed_seq BIGINT,
    deleted_seq BIGINT,
    last_deleted_seq BIGINT,
    PRIMARY KEY (board_id, element)
);
CREATE TABLE trace_proxies (
    board_id TEXT NOT NULL REFERENCES boards(id) ON DELETE CASCADE,
    element TEXT NOT NULL,
    seq BIGINT NOT NULL,
    actor_id BIGINT NOT NULL REFERENCES actors(id),
    PRIMARY KEY (board_id, element)
);
CREATE TABLE trace_events (
    board_id TEXT NOT NULL REFERENCES boards(id) ON DELETE CASCADE,
    element TEXT NOT NULL,
    seq BIGINT NOT NULL,
    what TEXT NOT NULL,
    PRIMARY KEY (board_id, element, seq)
);
";

/// The tables of one board's record, emptied by a reindex or an erasure.
const TRACE_TABLES: [&str; 7] = [
    "trace_progress",
    "trace_entries",
    "trace_participants",
    "trace_touches",
    "trace_elements",
    "trace_proxies",
    "trace_events",
];

/// The record as the indexer thread reaches it: the store's pool, driven by its runtime.
pub(super) struct PgRecord {
    pub handle: tokio::runtime::Handle,
    pub pool: Pool,
    /// Actor rows of the people entered by proxy, known to be committed.
    pub actor_ids: Mutex<HashMap<Actor, i64>>,
}

impl RecordDb for PgRecord {
    fn progress(&mut self, board: &BoardId) -> StoreResult<u64> {
        self.handle.block_on(async {
            let client = self.pool.get().await?;
            Ok(standing(&client, board).await?.0)
        })
    }

    fn entries_after(
        &mut self,
        board: &BoardId,
        after: u64,
        limit: usize,
    ) -> StoreResult<Vec<Row>> {
        self.handle.block_on(async {
            let client = self.pool.get().await?;
            let rows = client
                .query(
                    "SELECT j.seq, j.ts_ms, j.actor_id, a.pid, j.update_v1
                     FROM journal j JOIN actors a ON a.id = j.actor_id
                     WHERE j.board_id = $1 AND j.seq > $2 ORDER BY j.seq LIMIT $3",
                    &[&board.as_str(), &(after as i64), &(limit as i64)],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| Row {
                    seq: r.get::<_, i64>(0) as u64,
                    ts_ms: r.get(1),
                    actor_id: r.get(2),
                    pid: r.get(3),
                    update_v1: r.get(4),
                })
                .collect())
        })
    }

    fn checkpoint_at(&mut self, board: &BoardId, upto: u64) -> StoreResult<Option<(u64, Vec<u8>)>> {
        self.handle.block_on(async {
            let client = self.pool.get().await?;
            let row = client
                .query_opt(
                    "SELECT upto_seq, state_v1 FROM snapshots
                     WHERE board_id = $1 AND upto_seq <= $2 ORDER BY upto_seq DESC LIMIT 1",
                    &[&board.as_str(), &(upto as i64)],
                )
                .await?;
            Ok(row.map(|r| (r.get::<_, i64>(0) as u64, r.get(1))))
        })
    }

    fn write_batch(
        &mut self,
        board: &BoardId,
        from: u64,
        batch: &[Indexed],
        checkpoints: &[(u64, Vec<u8>)],
    ) -> StoreResult<bool> {
        let b = board.as_str();
        self.handle.block_on(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            // The progress row, locked: another node's indexer waits here, then finds it moved.
            tx.execute(
                "INSERT INTO trace_progress (board_id, upto_seq) VALUES ($1, 0)
                 ON CONFLICT (board_id) DO NOTHING",
                &[&b],
            )
            .await?;
            let progress: i64 = tx
                .query_one(
                    "SELECT upto_seq FROM trace_progress WHERE board_id = $1 FOR UPDATE",
                    &[&b],
                )
                .await?
                .get(0);
            if progress as u64 != from {
                return Ok(false);
            }
            let mut learned = Vec::new();
            write_entries(&tx, b, batch, &self.actor_ids, &mut learned).await?;
            for (seq, state) in checkpoints {
                tx.execute(
                    "INSERT INTO snapshots (board_id, upto_seq, state_v1, created_ms)
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    &[&b, &(*seq as i64), state, &crate::room::now_ms()],
                )
                .await?;
            }
            let last = batch.last().map_or(from, |i| i.row.seq);
            tx.execute(
                "UPDATE trace_progress SET upto_seq = $2 WHERE board_id = $1",
                &[&b, &(last as i64)],
            )
            .await?;
            tx.commit().await?;
            self.actor_ids.lock().unwrap().extend(learned);
            Ok(true)
        })
    }

    fn release(&mut self) {
        self.actor_ids.lock().unwrap().clear();
    }
}

pub(super) async fn progress_of(client: &impl GenericClient, board: &BoardId) -> StoreResult<u64> {
    let row = client
        .query_opt(
            "SELECT upto_seq FROM trace_progress WHERE board_id = $1",
            &[&board.as_str()],
        )
        .await?;
    Ok(row.map_or(0, |r| r.get::<_, i64>(0) as u64))
}

/// Where the board's record stands against its journal, in one query: (the record's last
/// seq, the journal's); `BoardNotFound` when the board is gone.
pub(super) async fn standing(
    client: &impl GenericClient,
    board: &BoardId,
) -> StoreResult<(u64, u64)> {
    let row = client
        .query_opt(
            "SELECT coalesce((SELECT upto_seq FROM trace_progress WHERE board_id = $1), 0),
                    coalesce((SELECT max(seq) FROM journal WHERE board_id = $1), 0)
             FROM boards WHERE id = $1 AND deleted_ms IS NULL",
            &[&board.as_str()],
        )
        .await?
        .ok_or_else(|| super::StoreError::BoardNotFound(board.clone()))?;
    Ok((row.get::<_, i64>(0) as u64, row.get::<_, i64>(1) as u64))
}

/// Empties the record of `board` inside the caller's transaction.
pub(super) async fn clear_in(tx: &Transaction<'_>, board: &BoardId) -> StoreResult<()> {
    for table in TRACE_TABLES {
        tx.execute(
            &format!("DELETE FROM {table} WHERE board_id = $1"),
            &[&board.as_str()],
        )
        .await?;
    }
    Ok(())
}

fn ids_json(ids: &[String]) -> String {
    serde_json::to_string(ids).expect("a list of strings is JSON")
}

fn ids_from_json(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

/// A statement's parameter, owned by the pipeline until its answer comes.
type Param = Box<dyn ToSql + Sync>;

enum Answer {
    Count(u64),
    Row(Option<PgRow>),
}

type Pending<'a> = MaybeDone<Pin<Box<dyn Future<Output = Result<Answer, PgError>> + 'a>>>;

/// Prepared statements sent together on the transaction's connection, in the order they were
/// added (pipelined: one round trip for all of them), their answers read in that order. The
/// server runs them in order, so each sees what the ones before it wrote.
struct Pipeline<'a> {
    tx: &'a Transaction<'a>,
    pending: Vec<Pending<'a>>,
}

impl<'a> Pipeline<'a> {
    fn new(tx: &'a Transaction<'a>) -> Self {
        Pipeline {
            tx,
            pending: Vec::new(),
        }
    }

    fn execute(&mut self, statement: &Statement, params: Vec<Param>) {
        self.push(statement, params, false);
    }

    fn query_opt(&mut self, statement: &Statement, params: Vec<Param>) {
        self.push(statement, params, true);
    }

    /// Adds a statement, answered with its row (`query`) or with the rows it changed.
    fn push(&mut self, statement: &Statement, params: Vec<Param>, query: bool) {
        let (tx, statement) = (self.tx, statement.clone());
        self.pending.push(MaybeDone::Future(Box::pin(async move {
            let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| &**p).collect();
            if query {
                tx.query_opt(&statement, &params).await.map(Answer::Row)
            } else {
                tx.execute(&statement, &params).await.map(Answer::Count)
            }
        })));
    }

    /// Sends every statement, then waits for their answers, in order.
    async fn run(mut self) -> StoreResult<Vec<Answer>> {
        // A statement is sent at its first poll: all of them go out before any answer is read.
        std::future::poll_fn(|cx| {
            for pending in &mut self.pending {
                let _ = Pin::new(pending).poll(cx);
            }
            Poll::Ready(())
        })
        .await;
        let mut answers = Vec::with_capacity(self.pending.len());
        for mut pending in self.pending {
            (&mut pending).await;
            let answer = Pin::new(&mut pending)
                .take_output()
                .expect("an answer once done");
            answers.push(answer?);
        }
        Ok(answers)
    }
}

fn owned<T: ToSql + Sync + 'static>(value: T) -> Param {
    Box::new(value)
}

/// The record's writing statements, prepared once per connection.
struct Statements {
    insert_entry: Statement,
    touch_created: Statement,
    touch_edited: Statement,
    add_participant: Statement,
    element_row: Statement,
    created: Statement,
    proxy: Statement,
    represented: Statement,
    add_chars: Statement,
    changed: Statement,
    deleted: Statement,
    present: Statement,
    event: Statement,
}

impl Statements {
    async fn prepare(tx: &Transaction<'_>) -> StoreResult<Self> {
        let statement = async |sql: &'static str| tx.prepare_cached(sql).await;
        Ok(Statements {
            insert_entry: statement(
                "INSERT INTO trace_entries (board_id, seq, ts_ms, actor_id, by_server, created,
                     edited, deleted, chars, votes)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .await?,
            touch_created: statement(
                "INSERT INTO trace_touches (board_id, pid, element, created)
                 VALUES ($1, $2, $3, TRUE)
                 ON CONFLICT (board_id, pid, element) DO UPDATE SET created = TRUE",
            )
            .await?,
            touch_edited: statement(
                "INSERT INTO trace_touches (board_id, pid, element, created)
                 VALUES ($1, $2, $3, FALSE) ON CONFLICT DO NOTHING",
            )
            .await?,
            add_participant: statement(
                "INSERT INTO trace_participants AS p
                     (board_id, pid, actor_id, updates, created, edited, deleted, chars, votes,
                      entered)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                 ON CONFLICT (board_id, pid) DO UPDATE SET
                     actor_id = EXCLUDED.actor_id,
                     updates = p.updates + EXCLUDED.updates,
                     created = p.created + EXCLUDED.created,
                     edited = p.edited + EXCLUDED.edited,
                     deleted = p.deleted + EXCLUDED.deleted,
                     chars = p.chars + EXCLUDED.chars,
                     votes = p.votes + EXCLUDED.votes,
                     entered = p.entered + EXCLUDED.entered",
            )
            .await?,
            element_row: statement(
                "INSERT INTO trace_elements (board_id, element) VALUES ($1, $2)
                 ON CONFLICT DO NOTHING",
            )
            .await?,
            created: statement(
                "UPDATE trace_elements SET first_seq = coalesce(first_seq, $3),
                     created_seq = CASE WHEN $4 THEN created_seq
                                        ELSE coalesce(created_seq, $3) END
                 WHERE board_id = $1 AND element = $2",
            )
            .await?,
            proxy: statement(
                "INSERT INTO trace_proxies (board_id, element, seq, actor_id)
                 SELECT $1, $2, $3, $4 WHERE EXISTS (SELECT 1 FROM trace_elements
                     WHERE board_id = $1 AND element = $2 AND created_seq = $3)
                 ON CONFLICT DO NOTHING",
            )
            .await?,
            represented: statement(
                "SELECT pa.pid FROM trace_proxies px
                 JOIN trace_entries e ON e.board_id = px.board_id AND e.seq = px.seq
                 JOIN actors ta ON ta.id = e.actor_id
                 JOIN actors pa ON pa.id = px.actor_id
                 WHERE px.board_id = $1 AND px.element = $2 AND ta.pid = $3",
            )
            .await?,
            add_chars: statement(
                "UPDATE trace_participants SET chars = chars + $3
                 WHERE board_id = $1 AND pid = $2",
            )
            .await?,
            changed: statement(
                "UPDATE trace_elements SET
                     changed_seq = CASE WHEN $4 OR created_seq IS NULL THEN changed_seq
                                        ELSE $3 END,
                     kind = coalesce($5::text, kind),
                     label = CASE WHEN $5::text IS NULL THEN label ELSE $6::text END,
                     deleted_seq = NULL
                 WHERE board_id = $1 AND element = $2",
            )
            .await?,
            deleted: statement(
                "UPDATE trace_elements SET last_deleted_seq = $3,
                     deleted_seq = CASE WHEN label IS NULL THEN deleted_seq ELSE $3 END
                 WHERE board_id = $1 AND element = $2",
            )
            .await?,
            present: statement(
                "UPDATE trace_elements SET present = $3 WHERE board_id = $1 AND element = $2",
            )
            .await?,
            event: statement(
                "INSERT INTO trace_events (board_id, element, seq, what)
                 VALUES ($1, $2, $3, $4)",
            )
            .await?,
        })
    }
}

/// Writes what the batch's entries did (the same rules, in the same order, as SQLite's
/// `write_entry`). Each entry takes two steps: what its counts depend on (its touches, whom
/// typed text belongs to), then the rest, which needs those answers. An entry's second step
/// and the next entry's first go out together: about one round trip per entry.
async fn write_entries(
    tx: &Transaction<'_>,
    b: &str,
    batch: &[Indexed],
    actor_ids: &Mutex<HashMap<Actor, i64>>,
    learned: &mut Vec<(Actor, i64)>,
) -> StoreResult<()> {
    let statements = Statements::prepare(tx).await?;
    let mut waiting: Option<(&Indexed, FirstStep, Vec<Answer>)> = None;
    let mut entries = batch.iter();
    loop {
        let next = entries.next();
        if waiting.is_none() && next.is_none() {
            return Ok(());
        }
        let mut pipeline = Pipeline::new(tx);
        if let Some((indexed, first, answers)) = waiting.take() {
            second_step(&mut pipeline, &statements, b, indexed, &first, &answers);
        }
        let first = match next {
            Some(indexed) => {
                let mut proxy_actors = Vec::new();
                for proxied in indexed.proxies() {
                    let person = Actor::from(&proxied.person);
                    proxy_actors.push(actor_id(tx, &person, actor_ids, learned).await?);
                }
                Some((
                    indexed,
                    first_step(&mut pipeline, &statements, b, indexed, proxy_actors),
                ))
            }
            None => None,
        };
        let answers = pipeline.run().await?;
        waiting = first.map(|(indexed, first)| (indexed, first, answers));
    }
}

/// Where the answers of an entry's first step are, in its pipeline's answers.
struct FirstStep {
    touches_from: usize,
    represented_from: usize,
    /// The elements the entry typed into, with their characters, in the order asked.
    typed: Vec<(String, u64)>,
}

fn first_step(
    pipeline: &mut Pipeline<'_>,
    st: &Statements,
    b: &str,
    indexed: &Indexed,
    proxy_actors: Vec<i64>,
) -> FirstStep {
    let Indexed { row, report, after } = indexed;
    let seq = row.seq as i64;
    let by_server = indexed.by_server();
    let proxies = indexed.proxies();
    let board = || owned(b.to_owned());
    let text = |value: &str| owned(value.to_owned());
    pipeline.execute(
        &st.insert_entry,
        vec![
            board(),
            owned(seq),
            owned(row.ts_ms),
            owned(row.actor_id),
            owned(by_server),
            owned(ids_json(&report.created)),
            owned(ids_json(&report.edited)),
            owned(ids_json(&report.deleted)),
            owned(report.chars_written as i64),
            owned(report.votes_cast as i64),
        ],
    );
    for id in &report.created {
        pipeline.execute(&st.touch_created, vec![board(), text(&row.pid), text(id)]);
    }
    // Distinct elements edited that this participant had neither created nor edited before.
    let touches_from = pipeline.pending.len();
    for id in &report.edited {
        pipeline.execute(&st.touch_edited, vec![board(), text(&row.pid), text(id)]);
    }
    for (proxied, actor) in proxies.iter().zip(&proxy_actors) {
        let mut params = vec![board(), owned(proxied.person.pid()), owned(*actor)];
        params.extend([0i64, 1, 0, 0, 0, 0, 0].map(owned));
        pipeline.execute(&st.add_participant, params);
    }
    // `after` names every element the entry touched: each has its row before it is updated.
    for id in after.keys() {
        pipeline.execute(&st.element_row, vec![board(), text(id)]);
    }
    for id in &report.created {
        pipeline.execute(
            &st.created,
            vec![board(), text(id), owned(seq), owned(by_server)],
        );
    }
    // Only the element's first creation says whom it is credited to.
    for (proxied, actor) in proxies.iter().zip(&proxy_actors) {
        pipeline.execute(
            &st.proxy,
            vec![board(), text(&proxied.element), owned(seq), owned(*actor)],
        );
    }
    let represented_from = pipeline.pending.len();
    let typed: Vec<(String, u64)> = report
        .chars_by_element
        .iter()
        .map(|(id, chars)| (id.clone(), *chars))
        .collect();
    for (id, _) in &typed {
        pipeline.query_opt(&st.represented, vec![board(), text(id), text(&row.pid)]);
    }
    FirstStep {
        touches_from,
        represented_from,
        typed,
    }
}

fn second_step(
    pipeline: &mut Pipeline<'_>,
    st: &Statements,
    b: &str,
    indexed: &Indexed,
    first: &FirstStep,
    answers: &[Answer],
) {
    let Indexed { row, report, after } = indexed;
    let seq = row.seq as i64;
    let by_server = indexed.by_server();
    let proxies = indexed.proxies();
    let board = || owned(b.to_owned());
    let text = |value: &str| owned(value.to_owned());
    let newly_edited: i64 = answers[first.touches_from..][..report.edited.len()]
        .iter()
        .map(|answer| match answer {
            Answer::Count(n) => *n as i64,
            Answer::Row(_) => 0,
        })
        .sum();
    // What a typist writes in an element they first entered for someone is that person's.
    let mut theirs_chars = 0i64;
    for ((_, chars), answer) in first.typed.iter().zip(&answers[first.represented_from..]) {
        if let Answer::Row(Some(person)) = answer {
            theirs_chars += *chars as i64;
            let person: String = person.get(0);
            pipeline.execute(
                &st.add_chars,
                vec![board(), owned(person), owned(*chars as i64)],
            );
        }
    }
    let counts = [
        1,
        (report.created.len() - proxies.len()) as i64,
        newly_edited,
        report.deleted.len() as i64,
        report.chars_written as i64 - theirs_chars,
        report.votes_cast as i64,
        proxies.len() as i64,
    ];
    let mut params = vec![board(), text(&row.pid), owned(row.actor_id)];
    params.extend(counts.map(owned));
    pipeline.execute(&st.add_participant, params);
    for id in report.created.iter().chain(&report.edited) {
        let (kind, label) = match after.get(id).cloned().flatten() {
            Some((kind, label)) => (Some(kind.as_str().to_owned()), Some(label)),
            None => (None, None),
        };
        pipeline.execute(
            &st.changed,
            vec![
                board(),
                text(id),
                owned(seq),
                owned(by_server),
                owned(kind),
                owned(label),
            ],
        );
    }
    for id in &report.deleted {
        pipeline.execute(&st.deleted, vec![board(), text(id), owned(seq)]);
    }
    for (id, found) in after {
        pipeline.execute(&st.present, vec![board(), text(id), owned(found.is_some())]);
        pipeline.execute(
            &st.event,
            vec![board(), text(id), owned(seq), text(indexed.step(id))],
        );
    }
}

// The reads below answer from the record as it is; the store brings it up to date first.

pub(super) async fn contributions(
    client: &impl GenericClient,
    board: &BoardId,
) -> StoreResult<Contributions> {
    let journal_entries = progress_of(client, board).await?;
    let rows = client
        .query(
            "SELECT a.pid, a.name, a.org, a.org_kind,
                    p.updates, p.created, p.edited, p.deleted, p.chars, p.votes, p.entered
             FROM trace_participants p JOIN actors a ON a.id = p.actor_id
             WHERE p.board_id = $1 AND p.pid <> $2 ORDER BY p.pid COLLATE \"C\"",
            &[&board.as_str(), &Actor::system().pid],
        )
        .await?;
    let contributors = rows
        .iter()
        .map(|r| {
            let count = |i: usize| r.get::<_, i64>(i) as u64;
            Contributor {
                actor: actor_at(r, 0),
                counts: shared::trace::Counts {
                    updates: count(4),
                    created: count(5),
                    edited: count(6),
                    deleted: count(7),
                    chars_written: count(8),
                    votes_cast: count(9),
                    entered_for_others: count(10),
                },
            }
        })
        .collect();
    Ok(Contributions {
        journal_entries,
        contributors,
    })
}

pub(super) async fn entries(
    client: &impl GenericClient,
    board: &BoardId,
    page: &EntryPage,
) -> StoreResult<Vec<TraceEntry>> {
    let before = page.before_seq.map_or(i64::MAX, |s| s as i64);
    let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
    let rows = client
        .query(
            "SELECT e.seq, e.ts_ms, a.pid, a.name, a.org, a.org_kind,
                    e.created, e.edited, e.deleted, e.chars, e.votes
             FROM trace_entries e JOIN actors a ON a.id = e.actor_id
             WHERE e.board_id = $1 AND e.seq < $2 AND NOT e.by_server
               AND e.ts_ms BETWEEN $3 AND $4
             ORDER BY e.seq DESC LIMIT $5",
            &[&board.as_str(), &before, &page.from_ms, &page.to_ms, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| TraceEntry {
            seq: r.get::<_, i64>(0) as u64,
            ts_ms: r.get(1),
            actor: actor_at(r, 2),
            report: EntryReport {
                created: ids_from_json(r.get(6)),
                edited: ids_from_json(r.get(7)),
                deleted: ids_from_json(r.get(8)),
                chars_written: r.get::<_, i64>(9) as u64,
                votes_cast: r.get::<_, i64>(10) as u64,
                proxies: Vec::new(),
                chars_by_element: Default::default(),
                steps: Default::default(),
            },
        })
        .collect())
}

pub(super) async fn elements(
    client: &impl GenericClient,
    board: &BoardId,
) -> StoreResult<Vec<ElementTrace>> {
    let rows = client
        .query(
            "SELECT el.element, ca.name, ca.org, c.ts_ms, ga.name, ga.org, g.ts_ms, pa.name, pa.org
             FROM trace_elements el
             JOIN trace_entries c ON c.board_id = el.board_id AND c.seq = el.created_seq
             JOIN actors ca ON ca.id = c.actor_id
             JOIN trace_entries g ON g.board_id = el.board_id AND g.seq = el.changed_seq
             JOIN actors ga ON ga.id = g.actor_id
             LEFT JOIN trace_proxies px ON px.board_id = el.board_id AND px.element = el.element
             LEFT JOIN actors pa ON pa.id = px.actor_id
             WHERE el.board_id = $1 AND el.present ORDER BY el.element COLLATE \"C\"",
            &[&board.as_str()],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            element_trace(
                r.get(0),
                ((r.get(1), r.get(2)), r.get(3)),
                r.get::<_, Option<String>>(7).map(|name| (name, r.get(8))),
                ((r.get(4), r.get(5)), r.get(6)),
            )
        })
        .collect())
}

pub(super) async fn element(
    client: &impl GenericClient,
    board: &BoardId,
    element: &str,
) -> StoreResult<Vec<ElementChange>> {
    let rows = client
        .query(
            "SELECT ev.what, e.ts_ms, e.by_server, a.name, a.org, pa.name, pa.org
             FROM trace_events ev
             JOIN trace_entries e ON e.board_id = ev.board_id AND e.seq = ev.seq
             JOIN actors a ON a.id = e.actor_id
             LEFT JOIN trace_proxies px
                 ON px.board_id = ev.board_id AND px.element = ev.element AND px.seq = ev.seq
             LEFT JOIN actors pa ON pa.id = px.actor_id
             WHERE ev.board_id = $1 AND ev.element = $2 ORDER BY ev.seq",
            &[&board.as_str(), &element],
        )
        .await?;
    let mut changes = Vec::new();
    for r in &rows {
        push_event(
            &mut changes,
            r.get(0),
            r.get(1),
            r.get(2),
            (r.get(3), r.get(4)),
            r.get::<_, Option<String>>(5).map(|name| (name, r.get(6))),
        );
    }
    Ok(changes)
}

pub(super) async fn deleted(
    client: &impl GenericClient,
    board: &BoardId,
    limit: usize,
) -> StoreResult<Vec<DeletedElement>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = client
        .query(
            "SELECT el.element, el.kind, el.label, d.ts_ms, a.name, a.org
             FROM trace_elements el
             JOIN trace_entries d ON d.board_id = el.board_id AND d.seq = el.deleted_seq
             JOIN actors a ON a.id = d.actor_id
             WHERE el.board_id = $1 AND NOT el.present AND el.label IS NOT NULL
             ORDER BY d.ts_ms DESC, el.element COLLATE \"C\" LIMIT $2",
            &[&board.as_str(), &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r: &PgRow| DeletedElement {
            id: r.get(0),
            kind: ElementKind::parse(r.get(1)).unwrap_or(ElementKind::Node),
            text: r.get(2),
            deleted_ms: r.get(3),
            deleted_by: r.get(4),
            deleted_by_org: r.get(5),
        })
        .collect())
}

pub(super) async fn provenance(
    client: &impl GenericClient,
    board: &BoardId,
) -> StoreResult<crate::export::model::Provenance> {
    use crate::export::model::Provenance;
    let rows = client
        .query(
            "SELECT el.element, a.pid, e.ts_ms, pa.pid FROM trace_elements el
             JOIN trace_entries e ON e.board_id = el.board_id AND e.seq = el.first_seq
             JOIN actors a ON a.id = e.actor_id
             LEFT JOIN trace_proxies px
                 ON px.board_id = el.board_id AND px.element = el.element
                 AND px.seq = el.first_seq
             LEFT JOIN actors pa ON pa.id = px.actor_id
             WHERE el.board_id = $1",
            &[&board.as_str()],
        )
        .await?;
    let created = rows
        .iter()
        .map(|r| (r.get(0), created_by(r.get(1), r.get(2), r.get(3))))
        .collect();
    let rows = client
        .query(
            "SELECT a.pid, a.name, a.org, a.org_kind FROM trace_participants p
             JOIN actors a ON a.id = p.actor_id WHERE p.board_id = $1",
            &[&board.as_str()],
        )
        .await?;
    let actors = rows
        .iter()
        .map(|r| {
            let actor = actor_at(r, 0);
            (actor.pid.clone(), actor)
        })
        .collect();
    Ok(Provenance::new(created, actors))
}

pub(super) async fn last_deletion(
    client: &impl GenericClient,
    board: &BoardId,
    element: &str,
) -> StoreResult<Option<u64>> {
    let row = client
        .query_opt(
            "SELECT last_deleted_seq FROM trace_elements WHERE board_id = $1 AND element = $2",
            &[&board.as_str(), &element],
        )
        .await?;
    Ok(row
        .and_then(|r| r.get::<_, Option<i64>>(0))
        .map(|s| s as u64))
}
