//! PostgreSQL storage (`nouage serve --database-url postgres://...`): the same contract as
//! SQLite, for several relay nodes sharing boards.
//!
//! The [`Store`] trait is blocking; this store runs `tokio-postgres` on a small runtime of its
//! own and blocks the calling thread (a blocking-pool thread or the journal writer, never an
//! async worker) on each call. Connections come from a `deadpool-postgres` pool; queries
//! issued together on one connection are pipelined.
//!
//! **Seqs.** A board's row holds `head_seq`; an append raises it in the transaction that
//! inserts the entries (`UPDATE … RETURNING`), so the row lock orders appends of one board
//! across nodes and seqs follow commit order without gaps: a reader following `seq > last`
//! never skips a late commit (an identity column is assigned at insert, not at commit).
//!
//! **Migrations** are versioned (`nouage_schema`) and applied at start under an advisory lock,
//! so nodes starting together do not race.
//!
//! **The trace** is kept as an incremental record (`pg_trace.rs`), brought up to date by the
//! same indexer thread as SQLite's (`trace_index.rs`); several nodes may index one board, the
//! record's progress row deciding which batch lands.

use std::collections::HashMap;
use std::future::Future;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use deadpool_postgres::GenericClient;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Timeouts};
use shared::private_round::PrivateRound;
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};

use super::pg_trace::{self, PgRecord};
use super::trace_index::Indexer;
use super::{
    Actor, Append, BoardId, BoardRecord, Contributions, EntryPage, JoinCode, JournalRow,
    PrivateSpace, Snapshot, SpaceOpening, Store, StoreError, StoreResult, StoredDoc, TraceEntry,
};
use crate::tokens::{Role, TokenHashes};

/// The schema this server writes. Each entry of `MIGRATIONS` takes it one version up.
pub const PG_SCHEMA_VERSION: i32 = 2;

const MIGRATIONS: [&str; 2] = [
    "
CREATE TABLE boards (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    lang TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    facilitator_token_sha256 BYTEA NOT NULL,
    editor_token_sha256 BYTEA NOT NULL,
    viewer_token_sha256 BYTEA NOT NULL,
    deleted_ms BIGINT,
    head_seq BIGINT NOT NULL DEFAULT 0,
    pseudonyms BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE TABLE actors (
    id BIGSERIAL PRIMARY KEY,
    pid TEXT NOT NULL,
    name TEXT NOT NULL,
    org TEXT NOT NULL,
    org_kind TEXT NOT NULL,
    UNIQUE (pid, name, org, org_kind)
);
CREATE TABLE journal (
    board_id TEXT NOT NULL REFERENCES boards(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    ts_ms BIGINT NOT NULL,
    actor_id BIGINT NOT NULL REFERENCES actors(id),
    update_v1 BYTEA NOT NULL,
    PRIMARY KEY (board_id, seq)
);
CREATE TABLE snapshots (
    board_id TEXT NOT NULL REFERENCES boards(id) ON DELETE CASCADE,
    upto_seq BIGINT NOT NULL,
    state_v1 BYTEA NOT NULL,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (board_id, upto_seq)
);
CREATE TABLE join_codes (
    board_id TEXT PRIMARY KEY REFERENCES boards(id) ON DELETE CASCADE,
    code TEXT NOT NULL UNIQUE,
    expires_ms BIGINT NOT NULL
);
CREATE TABLE code_credentials (
    board_id TEXT NOT NULL REFERENCES boards(id) ON DELETE CASCADE,
    token_sha256 BYTEA NOT NULL,
    code TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    revoked_ms BIGINT,
    PRIMARY KEY (board_id, token_sha256)
);
CREATE TABLE private_rounds (
    board_id TEXT PRIMARY KEY REFERENCES boards(id) ON DELETE CASCADE,
    round TEXT NOT NULL,
    opened_ms BIGINT NOT NULL
);
CREATE TABLE private_spaces (
    space_id TEXT PRIMARY KEY REFERENCES boards(id) ON DELETE CASCADE,
    board_id TEXT NOT NULL REFERENCES boards(id) ON DELETE CASCADE,
    round TEXT NOT NULL,
    secret_sha256 BYTEA NOT NULL,
    pid TEXT NOT NULL,
    name TEXT NOT NULL,
    org TEXT NOT NULL,
    org_kind TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    UNIQUE (board_id, round, pid)
);
",
    super::pg_trace::MIGRATION,
];

/// The advisory lock under which migrations run (any constant all nodes share).
const MIGRATION_LOCK: i64 = 0x6e6f_7561_6765;
/// How long a call waits for a pooled connection before it answers
/// [`StoreError::Overloaded`] (503 with `Retry-After`), as SQLite's read pool does.
const POOL_WAIT_MS: u64 = 3_000;
/// Connections of the pool: enough for the journal writer, the reads and the private rounds.
const POOL_CONNECTIONS_MAX: usize = 16;
/// Threads of the store's own runtime (they only drive the sockets).
const RUNTIME_THREADS: usize = 2;

pub struct PgStore {
    /// Taken out when the store is dropped (see `Drop`).
    runtime: Option<tokio::runtime::Runtime>,
    pool: Pool,
    /// Actor rows known to be committed, so most appends insert no actor.
    actor_ids: Mutex<HashMap<Actor, i64>>,
    /// Brings the trace's record up to date; dropped first (see `Drop`).
    indexer: Option<Indexer>,
    /// A test's own database, dropped with the store (`connect_fresh`).
    _database: Option<TestDatabase>,
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // The last holder may be an async task (the server stopping): a runtime dropped there
        // would block it, so its threads are let go without waiting. The indexer's thread
        // ends with its queue.
        drop(self.indexer.take());
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> Self {
        // The server's own words and code (`db error` alone says nothing).
        StoreError::Postgres(match error.as_db_error() {
            Some(db) => format!("{} ({})", db.message(), db.code().code()),
            None => error.to_string(),
        })
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        match error {
            deadpool_postgres::PoolError::Timeout(_) => {
                StoreError::Overloaded("every database connection is busy".into())
            }
            other => StoreError::Postgres(other.to_string()),
        }
    }
}

fn is_unique_violation(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/database`) and brings the schema to this
    /// server's version.
    pub fn connect(url: &str) -> StoreResult<Self> {
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|e| StoreError::Postgres(format!("database url: {e}")))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(RUNTIME_THREADS)
            .thread_name("postgres")
            .enable_all()
            .build()?;
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let wait = Duration::from_millis(POOL_WAIT_MS);
        let pool = Pool::builder(manager)
            .max_size(POOL_CONNECTIONS_MAX)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .timeouts(Timeouts {
                wait: Some(wait),
                create: Some(wait),
                recycle: Some(wait),
            })
            .build()
            .map_err(|e| StoreError::Postgres(e.to_string()))?;
        let indexer = Indexer::start_on(Box::new(PgRecord {
            handle: runtime.handle().clone(),
            pool: pool.clone(),
            actor_ids: Mutex::new(HashMap::new()),
        }));
        let store = PgStore {
            runtime: Some(runtime),
            pool,
            actor_ids: Mutex::new(HashMap::new()),
            indexer: Some(indexer),
            _database: None,
        };
        store.run(async { migrate(&store.pool).await })?;
        Ok(store)
    }

    /// A store on a new, empty database of the server `base_url` names, dropped with the store
    /// (tests: each gets a database of its own).
    pub fn connect_fresh(base_url: &str) -> StoreResult<Self> {
        let database = TestDatabase::create(base_url)?;
        let mut store = Self::connect(&database.url)?;
        store._database = Some(database);
        Ok(store)
    }

    /// Runs `call` on the store's runtime and waits for it.
    fn run<T>(&self, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        self.runtime
            .as_ref()
            .expect("the runtime lives as long as the store")
            .handle()
            .block_on(call)
    }

    fn indexer(&self) -> &Indexer {
        self.indexer
            .as_ref()
            .expect("the indexer lives as long as the store")
    }

    /// Builds the board's trace again from its whole journal (`nouage reindex`): the record is
    /// emptied, then every entry is indexed; returns the entries indexed. Nothing else changes.
    pub fn reindex(&self, id: &BoardId, wait: Duration) -> StoreResult<u64> {
        self.run(async {
            let mut client = self.pool.get().await?;
            board_exists(&client, id).await?;
            let tx = client.transaction().await?;
            pg_trace::clear_in(&tx, id).await?;
            tx.commit().await?;
            Ok(())
        })?;
        self.indexer().reset(id);
        self.trace_catch_up(id, wait)?;
        self.with_client(async |client| pg_trace::progress_of(client, id).await)
    }

    /// Runs `read` with a pooled connection.
    fn with_client<T>(
        &self,
        read: impl AsyncFnOnce(&deadpool_postgres::Client) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.run(async {
            let client = self.pool.get().await?;
            read(&client).await
        })
    }

    /// Every board's id, deleted ones too.
    pub fn all_board_ids(&self) -> StoreResult<Vec<BoardId>> {
        self.with_client(async |client| {
            let rows = client
                .query("SELECT id FROM boards ORDER BY id", &[])
                .await?;
            Ok(rows
                .iter()
                .filter_map(|r| BoardId::parse(r.get::<_, &str>(0)))
                .collect())
        })
    }

    /// A board's whole journal, deleted or not, with who wrote each entry.
    pub fn any_journal(&self, id: &BoardId) -> StoreResult<Vec<JournalRow>> {
        self.with_client(async |client| journal_rows(client, id).await)
    }

    /// Stores a board moved from another store whole (`nouage migrate`): its record, whether
    /// and when it was deleted, every journal entry with its seq, time and actor, its newest
    /// snapshot, join code, credentials and options, in one transaction. A board already here
    /// is left as it is (`false`).
    pub fn import_board(&self, moved: &MovedBoard) -> StoreResult<bool> {
        self.run(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let b = &moved.record;
            let head = moved.journal.last().map_or(0, |row| row.seq) as i64;
            let inserted = tx
                .execute(
                    "INSERT INTO boards (id, kind, title, lang, created_ms,
                         facilitator_token_sha256, editor_token_sha256, viewer_token_sha256,
                         deleted_ms, head_seq, pseudonyms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                     ON CONFLICT (id) DO NOTHING",
                    &[
                        &b.id.as_str(),
                        &b.kind.as_str(),
                        &b.title,
                        &b.lang.as_str(),
                        &b.created_ms,
                        &&b.token_hashes.facilitator[..],
                        &&b.token_hashes.editor[..],
                        &&b.token_hashes.viewer[..],
                        &moved.deleted_ms,
                        &head,
                        &moved.pseudonyms,
                    ],
                )
                .await?;
            if inserted == 0 {
                return Ok(false);
            }
            let mut learned = Vec::new();
            for row in &moved.journal {
                let actor = actor_id(&tx, &row.actor, &self.actor_ids, &mut learned).await?;
                tx.execute(
                    "INSERT INTO journal (board_id, seq, ts_ms, actor_id, update_v1)
                     VALUES ($1, $2, $3, $4, $5)",
                    &[
                        &b.id.as_str(),
                        &(row.seq as i64),
                        &row.ts_ms,
                        &actor,
                        &row.update_v1,
                    ],
                )
                .await?;
            }
            if let Some(s) = &moved.snapshot {
                tx.execute(
                    "INSERT INTO snapshots (board_id, upto_seq, state_v1, created_ms)
                     VALUES ($1, $2, $3, $4)",
                    &[
                        &b.id.as_str(),
                        &(s.upto_seq as i64),
                        &s.state_v1,
                        &s.created_ms,
                    ],
                )
                .await?;
            }
            if let Some(code) = &moved.join_code {
                tx.execute(
                    "INSERT INTO join_codes (board_id, code, expires_ms) VALUES ($1, $2, $3)",
                    &[&b.id.as_str(), &code.code, &code.expires_ms],
                )
                .await?;
            }
            for c in &moved.credentials {
                tx.execute(
                    "INSERT INTO code_credentials (board_id, token_sha256, code, created_ms,
                         revoked_ms) VALUES ($1, $2, $3, $4, $5)",
                    &[
                        &b.id.as_str(),
                        &&c.hash[..],
                        &c.code,
                        &c.created_ms,
                        &c.revoked_ms,
                    ],
                )
                .await?;
            }
            tx.commit().await?;
            self.remember(learned);
            Ok(true)
        })
    }

    /// Stores a moved board's open private round and its spaces' rows, once every board
    /// (the spaces among them) is here.
    pub fn import_private_round(&self, moved: &MovedBoard) -> StoreResult<()> {
        let Some(round) = &moved.private_round else {
            return Ok(());
        };
        self.run(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            tx.execute(
                "INSERT INTO private_rounds (board_id, round, opened_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (board_id) DO NOTHING",
                &[&moved.record.id.as_str(), &round.id, &round.opened_at_ms],
            )
            .await?;
            for space in &moved.private_spaces {
                let actor = &space.actor;
                tx.execute(
                    "INSERT INTO private_spaces (space_id, board_id, round, secret_sha256, pid,
                         name, org, org_kind, created_ms)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
                    &[
                        &space.space.as_str(),
                        &space.board.as_str(),
                        &space.round,
                        &&space.secret_sha256[..],
                        &actor.pid,
                        &actor.name,
                        &actor.org,
                        &actor.org_kind.map_or("", |k| k.as_str()),
                        &space.created_ms,
                    ],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn remember(&self, learned: Vec<(Actor, i64)>) {
        if !learned.is_empty() {
            self.actor_ids.lock().unwrap().extend(learned);
        }
    }
}

/// A board as `nouage migrate` moves it from SQLite (`SqliteStore::moved_board`).
#[derive(Debug, Clone)]
pub struct MovedBoard {
    pub record: BoardRecord,
    pub deleted_ms: Option<i64>,
    pub pseudonyms: bool,
    pub journal: Vec<JournalRow>,
    pub snapshot: Option<Snapshot>,
    pub join_code: Option<JoinCode>,
    pub credentials: Vec<MovedCredential>,
    /// The board's open private round and its spaces (the spaces are boards moved too).
    pub private_round: Option<PrivateRound>,
    pub private_spaces: Vec<PrivateSpace>,
}

#[derive(Debug, Clone)]
pub struct MovedCredential {
    pub hash: [u8; 32],
    pub code: String,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
}

/// Brings the schema to `PG_SCHEMA_VERSION`, one version per transaction, holding the
/// migration lock (nodes starting together take turns; the later ones find it done).
async fn migrate(pool: &Pool) -> StoreResult<()> {
    let mut client = pool.get().await?;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let result = async {
        client
            .batch_execute("CREATE TABLE IF NOT EXISTS nouage_schema (version INT NOT NULL)")
            .await?;
        let version: i32 = client
            .query_opt("SELECT version FROM nouage_schema", &[])
            .await?
            .map_or(0, |r| r.get(0));
        if version > PG_SCHEMA_VERSION {
            return Err(StoreError::Corrupt(format!(
                "database schema version {version} is newer than this server's {PG_SCHEMA_VERSION}"
            )));
        }
        for (to, sql) in (version + 1..).zip(&MIGRATIONS[version as usize..]) {
            let tx = client.transaction().await?;
            tx.batch_execute(sql).await?;
            tx.execute("DELETE FROM nouage_schema", &[]).await?;
            tx.execute("INSERT INTO nouage_schema (version) VALUES ($1)", &[&to])
                .await?;
            tx.commit().await?;
            tracing::info!(version = to, "database schema migrated");
        }
        Ok(())
    }
    .await;
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    result
}

/// The row of `actor`, added if it is new. Rows added here are `learned` and cached only once
/// their transaction commits (a rolled-back row would be a dangling id).
pub(super) async fn actor_id(
    client: &impl GenericClient,
    actor: &Actor,
    cache: &Mutex<HashMap<Actor, i64>>,
    learned: &mut Vec<(Actor, i64)>,
) -> StoreResult<i64> {
    if let Some(id) = cache.lock().unwrap().get(actor) {
        return Ok(*id);
    }
    if let Some((_, id)) = learned.iter().find(|(a, _)| a == actor) {
        return Ok(*id);
    }
    let org_kind = actor.org_kind.map(|k| k.as_str()).unwrap_or("");
    let row = client
        .query_one(
            "INSERT INTO actors (pid, name, org, org_kind) VALUES ($1, $2, $3, $4)
             ON CONFLICT (pid, name, org, org_kind) DO UPDATE SET pid = EXCLUDED.pid
             RETURNING id",
            &[&actor.pid, &actor.name, &actor.org, &org_kind],
        )
        .await?;
    let id: i64 = row.get(0);
    learned.push((actor.clone(), id));
    Ok(id)
}

pub(super) fn actor_at(row: &Row, first: usize) -> Actor {
    Actor {
        pid: row.get(first),
        name: row.get(first + 1),
        org: row.get(first + 2),
        org_kind: row.get::<_, &str>(first + 3).parse().ok(),
    }
}

pub(super) async fn board_exists(client: &impl GenericClient, id: &BoardId) -> StoreResult<()> {
    let found = client
        .query_opt(
            "SELECT 1 FROM boards WHERE id = $1 AND deleted_ms IS NULL",
            &[&id.as_str()],
        )
        .await?;
    match found {
        Some(_) => Ok(()),
        None => Err(StoreError::BoardNotFound(id.clone())),
    }
}

async fn journal_rows(client: &impl GenericClient, id: &BoardId) -> StoreResult<Vec<JournalRow>> {
    let rows = client
        .query(
            "SELECT j.seq, j.ts_ms, a.pid, a.name, a.org, a.org_kind, j.update_v1
             FROM journal j JOIN actors a ON a.id = j.actor_id
             WHERE j.board_id = $1 ORDER BY j.seq",
            &[&id.as_str()],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| JournalRow {
            seq: r.get::<_, i64>(0) as u64,
            ts_ms: r.get(1),
            actor: actor_at(r, 2),
            update_v1: r.get(6),
        })
        .collect())
}

fn hash32(bytes: &[u8], what: &str) -> StoreResult<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| StoreError::Corrupt(format!("{what} is not 32 bytes")))
}

fn space_at(row: &Row) -> StoreResult<PrivateSpace> {
    let id = |i: usize| {
        let text: &str = row.get(i);
        BoardId::parse(text).ok_or_else(|| StoreError::Corrupt(format!("not a board id: {text:?}")))
    };
    Ok(PrivateSpace {
        space: id(0)?,
        board: id(1)?,
        round: row.get(2),
        secret_sha256: hash32(row.get(3), "a secret's hash")?,
        actor: actor_at(row, 4),
        created_ms: row.get(8),
    })
}

const SPACE_COLUMNS: &str =
    "space_id, board_id, round, secret_sha256, pid, name, org, org_kind, created_ms";

/// Which entries a load reads: up to a time, or up to a seq.
enum Upto {
    Time(i64),
    Seq(u64),
}

impl PgStore {
    fn load_upto(&self, id: &BoardId, upto: Upto) -> StoreResult<StoredDoc> {
        self.run(async {
            let mut client = self.pool.get().await?;
            // One snapshot of the database for the three reads.
            let tx = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await?;
            board_exists(&tx, id).await?;
            let (snapshot_sql, journal_sql, bound) = match upto {
                Upto::Time(at_ms) => (
                    "SELECT s.upto_seq, s.state_v1, s.created_ms FROM snapshots s
                     JOIN journal j ON j.board_id = s.board_id AND j.seq = s.upto_seq
                     WHERE s.board_id = $1 AND j.ts_ms <= $2 ORDER BY s.upto_seq DESC LIMIT 1",
                    "SELECT seq, update_v1 FROM journal
                     WHERE board_id = $1 AND seq > $2 AND ts_ms <= $3 ORDER BY seq",
                    at_ms,
                ),
                Upto::Seq(seq) => (
                    "SELECT upto_seq, state_v1, created_ms FROM snapshots
                     WHERE board_id = $1 AND upto_seq <= $2 ORDER BY upto_seq DESC LIMIT 1",
                    "SELECT seq, update_v1 FROM journal
                     WHERE board_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
                    seq.min(i64::MAX as u64) as i64,
                ),
            };
            let snapshot = tx
                .query_opt(snapshot_sql, &[&id.as_str(), &bound])
                .await?
                .map(|r| Snapshot {
                    board: id.clone(),
                    upto_seq: r.get::<_, i64>(0) as u64,
                    state_v1: r.get(1),
                    created_ms: r.get(2),
                });
            let after = snapshot.as_ref().map_or(0, |s| s.upto_seq) as i64;
            let updates = tx
                .query(journal_sql, &[&id.as_str(), &after, &bound])
                .await?
                .iter()
                .map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, Vec<u8>>(1)))
                .collect();
            tx.commit().await?;
            Ok(StoredDoc { snapshot, updates })
        })
    }

    /// Runs `statement` with `params` on a pooled connection; answers the rows it changed.
    fn execute(
        &self,
        statement: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> StoreResult<u64> {
        self.with_client(async |client| Ok(client.execute(statement, params).await?))
    }
}

impl Store for PgStore {
    fn create_board(&self, board: &BoardRecord, initial_update_v1: &[u8]) -> StoreResult<()> {
        self.run(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let mut learned = Vec::new();
            let system = actor_id(&tx, &Actor::system(), &self.actor_ids, &mut learned).await?;
            let inserted = tx
                .execute(
                    "INSERT INTO boards (id, kind, title, lang, created_ms,
                         facilitator_token_sha256, editor_token_sha256, viewer_token_sha256,
                         head_seq)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1) ON CONFLICT (id) DO NOTHING",
                    &[
                        &board.id.as_str(),
                        &board.kind.as_str(),
                        &board.title,
                        &board.lang.as_str(),
                        &board.created_ms,
                        &&board.token_hashes.facilitator[..],
                        &&board.token_hashes.editor[..],
                        &&board.token_hashes.viewer[..],
                    ],
                )
                .await?;
            if inserted == 0 {
                return Err(StoreError::BoardExists(board.id.clone()));
            }
            tx.execute(
                "INSERT INTO journal (board_id, seq, ts_ms, actor_id, update_v1)
                 VALUES ($1, 1, $2, $3, $4)",
                &[
                    &board.id.as_str(),
                    &board.created_ms,
                    &system,
                    &initial_update_v1,
                ],
            )
            .await?;
            tx.commit().await?;
            self.remember(learned);
            Ok(())
        })
    }

    fn board(&self, id: &BoardId) -> StoreResult<Option<BoardRecord>> {
        self.with_client(async |client| {
            let Some(r) = client
                .query_opt(
                    "SELECT kind, title, lang, created_ms, facilitator_token_sha256,
                         editor_token_sha256, viewer_token_sha256
                     FROM boards WHERE id = $1 AND deleted_ms IS NULL",
                    &[&id.as_str()],
                )
                .await?
            else {
                return Ok(None);
            };
            let corrupt = |what: &str| StoreError::Corrupt(format!("board {id}: {what}"));
            Ok(Some(BoardRecord {
                id: id.clone(),
                kind: r
                    .get::<_, &str>(0)
                    .parse()
                    .map_err(|_| corrupt("unknown kind"))?,
                title: r.get(1),
                lang: r
                    .get::<_, &str>(2)
                    .parse()
                    .map_err(|_| corrupt("unknown language"))?,
                created_ms: r.get(3),
                token_hashes: TokenHashes::from_slices(r.get(4), r.get(5), r.get(6))
                    .ok_or_else(|| corrupt("token hash of the wrong length"))?,
            }))
        })
    }

    fn load(&self, id: &BoardId) -> StoreResult<StoredDoc> {
        self.load_upto(id, Upto::Time(i64::MAX))
    }

    fn load_at(&self, id: &BoardId, at_ms: i64) -> StoreResult<StoredDoc> {
        self.load_upto(id, Upto::Time(at_ms))
    }

    fn load_upto_seq(&self, id: &BoardId, seq: u64) -> StoreResult<StoredDoc> {
        self.load_upto(id, Upto::Seq(seq))
    }

    fn append(&self, batches: &[Append]) -> StoreResult<Vec<u64>> {
        use futures_util::future::try_join_all;
        self.run(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let raise_head = tx
                .prepare_cached(
                    "UPDATE boards SET head_seq = head_seq + $2 WHERE id = $1 RETURNING head_seq",
                )
                .await?;
            let insert = tx
                .prepare_cached(
                    "INSERT INTO journal (board_id, seq, ts_ms, actor_id, update_v1)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .await?;
            // Each board's row, locked until the commit: appends of one board from any node
            // take turns, and their seqs follow commit order. The rows are locked in the order
            // of their ids, whatever the batches' order, so two nodes committing the same
            // boards never wait for each other in a circle. The statements go out together
            // (pipelined on the connection) and run in that order.
            let mut order: Vec<usize> = (0..batches.len()).collect();
            order.sort_by(|a, b| batches[*a].board.as_str().cmp(batches[*b].board.as_str()));
            let heads = try_join_all(order.iter().map(|&i| {
                let batch = &batches[i];
                let count = batch.entries.len() as i64;
                let (tx, raise_head) = (&tx, &raise_head);
                async move {
                    tx.query_opt(raise_head, &[&batch.board.as_str(), &count])
                        .await
                }
            }))
            .await?;
            let mut firsts = vec![0i64; batches.len()];
            for (&i, head) in order.iter().zip(heads) {
                let batch = &batches[i];
                let head: i64 = head
                    .ok_or_else(|| StoreError::BoardNotFound(batch.board.clone()))?
                    .get(0);
                firsts[i] = head - batch.entries.len() as i64 + 1;
            }
            let mut learned = Vec::new();
            let mut rows = Vec::new();
            for (batch, first) in batches.iter().zip(&firsts) {
                for (entry, seq) in batch.entries.iter().zip(*first..) {
                    let actor = actor_id(&tx, &entry.actor, &self.actor_ids, &mut learned).await?;
                    rows.push((batch, seq, entry, actor));
                }
            }
            // Every insert of the commit goes out together too.
            let inserts = rows.iter().map(|(batch, seq, entry, actor)| {
                let update: &[u8] = &entry.update_v1;
                let (insert, tx) = (&insert, &tx);
                let board = batch.board.as_str();
                async move {
                    tx.execute(insert, &[&board, seq, &entry.ts_ms, actor, &update])
                        .await
                        .map_err(|e| (batch, e))
                }
            });
            if let Err((batch, e)) = try_join_all(inserts).await {
                if is_unique_violation(&e) {
                    let at = batches
                        .iter()
                        .position(|b| std::ptr::eq(b, *batch))
                        .map_or(0, |i| firsts[i]);
                    return Err(StoreError::SeqConflict {
                        board: batch.board.clone(),
                        seq: at as u64,
                    });
                }
                return Err(e.into());
            }
            tx.commit().await?;
            self.remember(learned);
            Ok(firsts.into_iter().map(|f| f as u64).collect())
        })
    }

    fn write_snapshot(&self, snapshot: &Snapshot) -> StoreResult<()> {
        self.run(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            // One node at a time writes a board's snapshots; another one busy with it already
            // writes one as good.
            let locked: bool = tx
                .query_one(
                    "SELECT pg_try_advisory_xact_lock(hashtext($1))",
                    &[&snapshot.board.as_str()],
                )
                .await?
                .get(0);
            if locked {
                tx.execute(
                    "INSERT INTO snapshots (board_id, upto_seq, state_v1, created_ms)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (board_id, upto_seq) DO UPDATE
                     SET state_v1 = EXCLUDED.state_v1, created_ms = EXCLUDED.created_ms",
                    &[
                        &snapshot.board.as_str(),
                        &(snapshot.upto_seq as i64),
                        &snapshot.state_v1,
                        &snapshot.created_ms,
                    ],
                )
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    fn set_token_hash(&self, id: &BoardId, role: Role, hash: [u8; 32]) -> StoreResult<()> {
        let column = match role {
            Role::Viewer => "viewer_token_sha256",
            Role::Editor => "editor_token_sha256",
            Role::Facilitator => "facilitator_token_sha256",
            Role::CodeEditor => {
                return Err(StoreError::Corrupt(
                    "credentials minted through a join code have no link to replace".into(),
                ));
            }
        };
        let updated = self.execute(
            &format!("UPDATE boards SET {column} = $2 WHERE id = $1 AND deleted_ms IS NULL"),
            &[&id.as_str(), &&hash[..]],
        )?;
        if updated == 0 {
            return Err(StoreError::BoardNotFound(id.clone()));
        }
        Ok(())
    }

    fn join_code(&self, id: &BoardId) -> StoreResult<Option<JoinCode>> {
        self.with_client(async |client| {
            board_exists(client, id).await?;
            Ok(client
                .query_opt(
                    "SELECT code, expires_ms FROM join_codes WHERE board_id = $1",
                    &[&id.as_str()],
                )
                .await?
                .map(|r| JoinCode {
                    code: r.get(0),
                    expires_ms: r.get(1),
                }))
        })
    }

    fn set_join_code(&self, id: &BoardId, code: Option<&JoinCode>) -> StoreResult<()> {
        self.with_client(async |client| {
            board_exists(client, id).await?;
            let result = match code {
                Some(code) => {
                    client
                        .execute(
                            "INSERT INTO join_codes (board_id, code, expires_ms)
                             VALUES ($1, $2, $3)
                             ON CONFLICT (board_id) DO UPDATE
                             SET code = EXCLUDED.code, expires_ms = EXCLUDED.expires_ms",
                            &[&id.as_str(), &code.code, &code.expires_ms],
                        )
                        .await
                }
                None => {
                    client
                        .execute(
                            "DELETE FROM join_codes WHERE board_id = $1",
                            &[&id.as_str()],
                        )
                        .await
                }
            };
            match result {
                Ok(_) => Ok(()),
                Err(e) if is_unique_violation(&e) => Err(StoreError::JoinCodeTaken(
                    code.map(|c| c.code.clone()).unwrap_or_default(),
                )),
                Err(e) => Err(e.into()),
            }
        })
    }

    fn board_of_join_code(&self, code: &str) -> StoreResult<Option<(BoardId, JoinCode)>> {
        self.with_client(async |client| {
            let row = client
                .query_opt(
                    "SELECT c.board_id, c.expires_ms FROM join_codes c
                     JOIN boards b ON b.id = c.board_id
                     WHERE c.code = $1 AND b.deleted_ms IS NULL",
                    &[&code],
                )
                .await?;
            Ok(row.and_then(|r| {
                Some((
                    BoardId::parse(r.get::<_, &str>(0))?,
                    JoinCode {
                        code: code.to_owned(),
                        expires_ms: r.get(1),
                    },
                ))
            }))
        })
    }

    fn add_code_credential(
        &self,
        id: &BoardId,
        hash: [u8; 32],
        code: &str,
        created_ms: i64,
        max: usize,
    ) -> StoreResult<bool> {
        self.run(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            // The board's row, locked: two joins at once count each other.
            let found = tx
                .query_opt(
                    "SELECT 1 FROM boards WHERE id = $1 AND deleted_ms IS NULL FOR UPDATE",
                    &[&id.as_str()],
                )
                .await?;
            if found.is_none() {
                return Err(StoreError::BoardNotFound(id.clone()));
            }
            let held: i64 = tx
                .query_one(
                    "SELECT count(*) FROM code_credentials
                     WHERE board_id = $1 AND revoked_ms IS NULL",
                    &[&id.as_str()],
                )
                .await?
                .get(0);
            if held as usize >= max {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO code_credentials (board_id, token_sha256, code, created_ms)
                 VALUES ($1, $2, $3, $4)",
                &[&id.as_str(), &&hash[..], &code, &created_ms],
            )
            .await?;
            tx.commit().await?;
            Ok(true)
        })
    }

    fn has_code_credential(&self, id: &BoardId, hash: &[u8; 32]) -> StoreResult<bool> {
        self.with_client(async |client| {
            Ok(client
                .query_opt(
                    "SELECT 1 FROM code_credentials
                     WHERE board_id = $1 AND token_sha256 = $2 AND revoked_ms IS NULL",
                    &[&id.as_str(), &&hash[..]],
                )
                .await?
                .is_some())
        })
    }

    fn revoke_code_credentials(&self, id: &BoardId, at_ms: i64) -> StoreResult<usize> {
        self.with_client(async |client| {
            board_exists(client, id).await?;
            Ok(client
                .execute(
                    "UPDATE code_credentials SET revoked_ms = $2
                     WHERE board_id = $1 AND revoked_ms IS NULL",
                    &[&id.as_str(), &at_ms],
                )
                .await? as usize)
        })
    }

    fn delete_board(&self, id: &BoardId) -> StoreResult<()> {
        let updated = self.execute(
            "UPDATE boards SET deleted_ms = $2 WHERE id = $1 AND deleted_ms IS NULL",
            &[&id.as_str(), &crate::room::now_ms()],
        )?;
        if updated == 0 {
            return Err(StoreError::BoardNotFound(id.clone()));
        }
        Ok(())
    }

    fn erase_names(&self, id: &BoardId, pid: &str, names: &[String]) -> StoreResult<usize> {
        let rewritten = self.run(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let found = tx
                .query_opt(
                    "SELECT 1 FROM boards WHERE id = $1 FOR UPDATE",
                    &[&id.as_str()],
                )
                .await?;
            if found.is_none() {
                return Err(StoreError::BoardNotFound(id.clone()));
            }
            let entries = tx
                .query(
                    "SELECT seq, update_v1 FROM journal WHERE board_id = $1 ORDER BY seq",
                    &[&id.as_str()],
                )
                .await?;
            let mut rewritten = 0;
            let mut updates: Vec<(u64, Vec<u8>)> = Vec::with_capacity(entries.len());
            for row in entries {
                let (seq, update): (i64, Vec<u8>) = (row.get(0), row.get(1));
                let update = match crate::erase::erase_in_update(&update, names)? {
                    Some(new) => {
                        tx.execute(
                            "UPDATE journal SET update_v1 = $3 WHERE board_id = $1 AND seq = $2",
                            &[&id.as_str(), &seq, &new],
                        )
                        .await?;
                        rewritten += 1;
                        new
                    }
                    None => update,
                };
                updates.push((seq as u64, update));
            }
            // The pid's identities on this board become the marker (rows other boards use
            // stay theirs: this board gets rows of its own).
            let actors = tx
                .query(
                    "SELECT DISTINCT a.id, a.pid, a.name, a.org, a.org_kind FROM journal j
                     JOIN actors a ON a.id = j.actor_id WHERE j.board_id = $1 AND a.pid = $2",
                    &[&id.as_str(), &pid],
                )
                .await?;
            let mut learned = Vec::new();
            for row in actors {
                let old: i64 = row.get(0);
                let erased = Actor {
                    name: shared::proxy::ERASED_NAME.to_owned(),
                    ..actor_at(&row, 1)
                };
                let new = actor_id(&tx, &erased, &self.actor_ids, &mut learned).await?;
                tx.execute(
                    "UPDATE journal SET actor_id = $3 WHERE board_id = $1 AND actor_id = $2",
                    &[&id.as_str(), &old, &new],
                )
                .await?;
            }
            tx.execute(
                "UPDATE private_spaces SET name = $3
                 WHERE (board_id = $1 OR space_id = $1) AND pid = $2",
                &[&id.as_str(), &pid, &shared::proxy::ERASED_NAME],
            )
            .await?;
            // The record and the snapshots held the names: it is built again from the
            // rewritten journal, from one snapshot of the rewritten board.
            pg_trace::clear_in(&tx, id).await?;
            tx.execute("DELETE FROM snapshots WHERE board_id = $1", &[&id.as_str()])
                .await?;
            if let Some((last, state)) = crate::erase::whole_state(updates)? {
                tx.execute(
                    "INSERT INTO snapshots (board_id, upto_seq, state_v1, created_ms)
                     VALUES ($1, $2, $3, $4)",
                    &[&id.as_str(), &(last as i64), &state, &crate::room::now_ms()],
                )
                .await?;
            }
            for name in names {
                tx.execute(
                    "DELETE FROM actors WHERE name = $1
                       AND id NOT IN (SELECT actor_id FROM journal)
                       AND id NOT IN (SELECT actor_id FROM trace_proxies)
                       AND id NOT IN (SELECT actor_id FROM trace_participants)",
                    &[name],
                )
                .await?;
            }
            tx.commit().await?;
            // Rows of the old names may be gone: the cache forgets them.
            self.actor_ids.lock().unwrap().clear();
            Ok(rewritten)
        })?;
        self.indexer().reset(id);
        self.indexer().forget();
        Ok(rewritten)
    }

    fn set_title(&self, id: &BoardId, title: &str) -> StoreResult<()> {
        let updated = self.execute(
            "UPDATE boards SET title = $2 WHERE id = $1 AND deleted_ms IS NULL",
            &[&id.as_str(), &title],
        )?;
        if updated == 0 {
            return Err(StoreError::BoardNotFound(id.clone()));
        }
        Ok(())
    }

    fn pseudonyms(&self, id: &BoardId) -> StoreResult<bool> {
        self.with_client(async |client| {
            Ok(client
                .query_opt(
                    "SELECT pseudonyms FROM boards WHERE id = $1",
                    &[&id.as_str()],
                )
                .await?
                .is_some_and(|r| r.get(0)))
        })
    }

    fn set_pseudonyms(&self, id: &BoardId, on: bool) -> StoreResult<()> {
        self.execute(
            "UPDATE boards SET pseudonyms = $2 WHERE id = $1",
            &[&id.as_str(), &on],
        )
        .map(drop)
    }

    fn private_round(&self, id: &BoardId) -> StoreResult<Option<PrivateRound>> {
        self.with_client(async |client| {
            Ok(client
                .query_opt(
                    "SELECT round, opened_ms FROM private_rounds WHERE board_id = $1",
                    &[&id.as_str()],
                )
                .await?
                .map(|r| PrivateRound {
                    id: r.get(0),
                    opened_at_ms: r.get(1),
                }))
        })
    }

    fn open_private_round(&self, id: &BoardId, round: &PrivateRound) -> StoreResult<bool> {
        let inserted = self.execute(
            "INSERT INTO private_rounds (board_id, round, opened_ms) VALUES ($1, $2, $3)
             ON CONFLICT (board_id) DO NOTHING",
            &[&id.as_str(), &round.id, &round.opened_at_ms],
        )?;
        Ok(inserted == 1)
    }

    fn close_private_round(&self, id: &BoardId, round_id: &str) -> StoreResult<bool> {
        let deleted = self.execute(
            "DELETE FROM private_rounds WHERE board_id = $1 AND round = $2",
            &[&id.as_str(), &round_id],
        )?;
        Ok(deleted == 1)
    }

    fn private_spaces(&self, id: &BoardId, round_id: &str) -> StoreResult<Vec<PrivateSpace>> {
        self.with_client(async |client| {
            let rows = client
                .query(
                    &format!(
                        "SELECT {SPACE_COLUMNS} FROM private_spaces
                         WHERE board_id = $1 AND round = $2 ORDER BY created_ms, space_id"
                    ),
                    &[&id.as_str(), &round_id],
                )
                .await?;
            rows.iter().map(space_at).collect()
        })
    }

    fn open_private_space(
        &self,
        wanted: &PrivateSpace,
        record: &BoardRecord,
        initial_update_v1: &[u8],
        spaces_max: usize,
    ) -> StoreResult<SpaceOpening> {
        self.run(async {
            let mut client = self.pool.get().await?;
            let tx = client.transaction().await?;
            let (board, round) = (wanted.board.as_str(), wanted.round.as_str());
            // The round's row, locked: spaces open one at a time per board, across nodes.
            let open = tx
                .query_opt(
                    "SELECT round FROM private_rounds WHERE board_id = $1 FOR UPDATE",
                    &[&board],
                )
                .await?;
            if open.is_none_or(|r| r.get::<_, &str>(0) != round) {
                return Ok(SpaceOpening::NoRound);
            }
            let found = tx
                .query_opt(
                    &format!(
                        "SELECT {SPACE_COLUMNS} FROM private_spaces
                         WHERE board_id = $1 AND round = $2 AND pid = $3"
                    ),
                    &[&board, &round, &wanted.actor.pid],
                )
                .await?;
            if let Some(found) = found {
                return Ok(SpaceOpening::of_found(space_at(&found)?, wanted));
            }
            let spaces: i64 = tx
                .query_one(
                    "SELECT count(*) FROM private_spaces WHERE board_id = $1 AND round = $2",
                    &[&board, &round],
                )
                .await?
                .get(0);
            if spaces as usize >= spaces_max {
                return Ok(SpaceOpening::Full);
            }
            let mut learned = Vec::new();
            let system = actor_id(&tx, &Actor::system(), &self.actor_ids, &mut learned).await?;
            tx.execute(
                "INSERT INTO boards (id, kind, title, lang, created_ms, facilitator_token_sha256,
                     editor_token_sha256, viewer_token_sha256, head_seq)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1)",
                &[
                    &record.id.as_str(),
                    &record.kind.as_str(),
                    &record.title,
                    &record.lang.as_str(),
                    &record.created_ms,
                    &&record.token_hashes.facilitator[..],
                    &&record.token_hashes.editor[..],
                    &&record.token_hashes.viewer[..],
                ],
            )
            .await?;
            tx.execute(
                "INSERT INTO journal (board_id, seq, ts_ms, actor_id, update_v1)
                 VALUES ($1, 1, $2, $3, $4)",
                &[
                    &record.id.as_str(),
                    &record.created_ms,
                    &system,
                    &initial_update_v1,
                ],
            )
            .await?;
            let actor = &wanted.actor;
            tx.execute(
                "INSERT INTO private_spaces (space_id, board_id, round, secret_sha256, pid, name,
                     org, org_kind, created_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[
                    &wanted.space.as_str(),
                    &board,
                    &round,
                    &&wanted.secret_sha256[..],
                    &actor.pid,
                    &actor.name,
                    &actor.org,
                    &actor.org_kind.map_or("", |k| k.as_str()),
                    &wanted.created_ms,
                ],
            )
            .await?;
            tx.commit().await?;
            self.remember(learned);
            Ok(SpaceOpening::Space(wanted.clone()))
        })
    }

    fn all_board_ids(&self) -> StoreResult<Vec<BoardId>> {
        PgStore::all_board_ids(self)
    }

    fn any_journal(&self, id: &BoardId) -> StoreResult<Vec<JournalRow>> {
        PgStore::any_journal(self, id)
    }

    fn purge_board(&self, id: &BoardId) -> StoreResult<()> {
        // Every row of the board goes with it (`ON DELETE CASCADE`), its record too.
        self.execute("DELETE FROM boards WHERE id = $1", &[&id.as_str()])?;
        self.indexer().reset(id);
        Ok(())
    }

    fn trace_catch_up(&self, id: &BoardId, wait: Duration) -> StoreResult<()> {
        let (upto, last) = self.with_client(async |client| pg_trace::standing(client, id).await)?;
        if upto >= last {
            return Ok(());
        }
        self.indexer().wait_for(id, last, wait)
    }

    fn trace_hint(&self, id: &BoardId) {
        self.indexer().hint(id);
    }

    fn trace_contributions(&self, id: &BoardId) -> StoreResult<Contributions> {
        self.with_client(async |client| pg_trace::contributions(client, id).await)
    }

    fn trace_entries(&self, id: &BoardId, page: &EntryPage) -> StoreResult<Vec<TraceEntry>> {
        self.with_client(async |client| pg_trace::entries(client, id, page).await)
    }

    fn trace_elements(&self, id: &BoardId) -> StoreResult<Vec<crate::trace::ElementTrace>> {
        self.with_client(async |client| pg_trace::elements(client, id).await)
    }

    fn trace_element(
        &self,
        id: &BoardId,
        element: &str,
    ) -> StoreResult<Vec<crate::trace::ElementChange>> {
        self.with_client(async |client| pg_trace::element(client, id, element).await)
    }

    fn trace_deleted(
        &self,
        id: &BoardId,
        limit: usize,
    ) -> StoreResult<Vec<crate::restore::DeletedElement>> {
        self.with_client(async |client| pg_trace::deleted(client, id, limit).await)
    }

    fn trace_provenance(&self, id: &BoardId) -> StoreResult<crate::export::model::Provenance> {
        self.with_client(async |client| pg_trace::provenance(client, id).await)
    }

    fn trace_last_deletion(&self, id: &BoardId, element: &str) -> StoreResult<Option<u64>> {
        self.with_client(async |client| pg_trace::last_deletion(client, id, element).await)
    }

    fn release_memory(&self) {
        self.indexer().forget();
    }

    fn updates_after(
        &self,
        id: &BoardId,
        after: u64,
        limit: usize,
    ) -> StoreResult<Vec<(u64, Vec<u8>)>> {
        self.with_client(async |client| {
            let rows = client
                .query(
                    "SELECT seq, update_v1 FROM journal WHERE board_id = $1 AND seq > $2
                     ORDER BY seq LIMIT $3",
                    &[&id.as_str(), &(after as i64), &(limit as i64)],
                )
                .await?;
            Ok(rows
                .iter()
                .map(|r| (r.get::<_, i64>(0) as u64, r.get(1)))
                .collect())
        })
    }

    fn journal(&self, id: &BoardId) -> StoreResult<Vec<JournalRow>> {
        self.with_client(async |client| {
            board_exists(client, id).await?;
            journal_rows(client, id).await
        })
    }
}

/// A database of its own on a PostgreSQL server, for one test: created empty, dropped when
/// this is dropped. `base_url` names a database the user may connect to (to create others).
pub struct TestDatabase {
    pub url: String,
    base_url: String,
    name: String,
}

impl TestDatabase {
    pub fn create(base_url: &str) -> StoreResult<Self> {
        let name = format!("nouage_t_{}", uuid::Uuid::new_v4().simple());
        let url = ensure_database(base_url, &name)?;
        Ok(TestDatabase {
            url,
            base_url: base_url.to_owned(),
            name,
        })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = drop_database(&self.base_url, &self.name);
    }
}

/// Creates database `name` (letters, digits and `_`) on the server of `base_url` unless it
/// exists; answers its URL.
pub fn ensure_database(base_url: &str, name: &str) -> StoreResult<String> {
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(StoreError::Postgres(format!(
            "not a database name: {name:?}"
        )));
    }
    match admin(base_url, &format!("CREATE DATABASE {name}")) {
        Err(StoreError::Postgres(e)) if e.contains(SqlState::DUPLICATE_DATABASE.code()) => {}
        other => other?,
    }
    let (without_query, query) = base_url.split_once('?').unwrap_or((base_url, ""));
    let root = without_query
        .rsplit_once('/')
        .map_or(without_query, |(r, _)| r);
    Ok(if query.is_empty() {
        format!("{root}/{name}")
    } else {
        format!("{root}/{name}?{query}")
    })
}

/// Drops database `name` of the server of `base_url`, closing its connections.
pub fn drop_database(base_url: &str, name: &str) -> StoreResult<()> {
    if !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(StoreError::Postgres(format!(
            "not a database name: {name:?}"
        )));
    }
    admin(
        base_url,
        &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
    )
}

/// Runs one statement on a connection of its own (on a thread of its own: callers may be
/// inside an async runtime).
fn admin(url: &str, statement: &str) -> StoreResult<()> {
    let (url, statement) = (url.to_owned(), statement.to_owned());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        runtime.block_on(async {
            let (client, connection) = tokio_postgres::connect(&url, NoTls).await?;
            let driver = tokio::spawn(connection);
            client.batch_execute(&statement).await?;
            drop(client);
            let _ = driver.await;
            Ok(())
        })
    })
    .join()
    .map_err(|_| StoreError::Postgres("the admin connection's thread panicked".into()))?
}
