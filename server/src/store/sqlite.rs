//! The embedded default store: one SQLite file in WAL mode.
//!
//! WAL without exclusive locking lets CLI commands (export, backup) read while the server
//! writes. Writes go through one connection; reads take a connection from a small pool.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};
use shared::private_round::PrivateRound;

use super::checkpoint::{Checkpointer, WRITER_AUTOCHECKPOINT_PAGES};
use super::trace_index::{self, Indexer};
use super::{
    Actor, Append, BoardId, BoardRecord, Contributions, EntryPage, JoinCode, JournalRow,
    PrivateSpace, ReadPoolStats, Snapshot, SpaceOpening, Store, StoreError, StoreResult, StoredDoc,
    TraceEntry,
};
use crate::tokens::{Role, TokenHashes};

/// What "committed" means for a journal entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Durability {
    /// Every commit is fsynced (`synchronous = FULL`): it survives a crash of the process and
    /// a loss of power.
    Fsync,
    /// Commits reach the operating system but are fsynced only at checkpoints
    /// (`synchronous = NORMAL`): they survive a crash of the process, and the last ones may be
    /// lost on a power cut.
    Process,
}

pub const DB_FILE_NAME: &str = "nouage.sqlite3";
pub(super) const SCHEMA_VERSION: i64 = 6;
const BUSY_TIMEOUT_MS: u64 = 5_000;
/// Read connections open at once; a read beyond waits for one to come back (a burst of reads —
/// 500 clients admitted at once — would otherwise open hundreds of connections, each paying
/// for its opening and contending for SQLite's locks).
const READ_POOL_CONNECTIONS_MAX: usize = 8;
/// How long a read waits for a pooled connection before it gives up with
/// [`StoreError::Overloaded`] (answered 503 with `Retry-After`): a burst of readers is told to
/// come back rather than queued without end.
pub const READ_WAIT_MS: u64 = 3_000;
/// Page cache of each read connection (SQLite's default is 2 MiB; the operating system caches
/// the file as well): nine connections' caches stay under 6.5 MiB however large the database.
const READ_CACHE_KIB: i64 = 512;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS boards (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    title TEXT NOT NULL,
    lang TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    facilitator_token_sha256 BLOB NOT NULL,
    editor_token_sha256 BLOB NOT NULL,
        viewer_token_sha256 BLOB NOT NULL,
    deleted_ms INTEGER
) STRICT;
CREATE TABLE IF NOT EXISTS actors (
    id INTEGER PRIMARY KEY,
    pid TEXT NOT NULL,
    name TEXT NOT NULL,
    org TEXT NOT NULL,
    org_kind TEXT NOT NULL,
    UNIQUE (pid, name, org, org_kind)
) STRICT;
CREATE TABLE IF NOT EXISTS journal (
    board_id TEXT NOT NULL REFERENCES boards(id),
    seq INTEGER NOT NULL,
    ts_ms INTEGER NOT NULL,
    actor_id INTEGER NOT NULL REFERENCES actors(id),
    update_v1 BLOB NOT NULL,
    PRIMARY KEY (board_id, seq)
) STRICT;
CREATE TABLE IF NOT EXISTS join_codes (
    board_id TEXT PRIMARY KEY REFERENCES boards(id),
    code TEXT NOT NULL UNIQUE,
    expires_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS code_credentials (
    board_id TEXT NOT NULL REFERENCES boards(id),
    token_sha256 BLOB NOT NULL,
    code TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER,
    PRIMARY KEY (board_id, token_sha256)
) STRICT;
CREATE TABLE IF NOT EXISTS board_options (
    board_id TEXT PRIMARY KEY REFERENCES boards(id),
    pseudonyms INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE IF NOT EXISTS private_rounds (
    board_id TEXT PRIMARY KEY REFERENCES boards(id),
    round TEXT NOT NULL,
    opened_ms INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS private_spaces (
    space_id TEXT PRIMARY KEY REFERENCES boards(id),
    board_id TEXT NOT NULL REFERENCES boards(id),
    round TEXT NOT NULL,
    secret_sha256 BLOB NOT NULL,
    pid TEXT NOT NULL,
    name TEXT NOT NULL,
    org TEXT NOT NULL,
    org_kind TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    UNIQUE (board_id, round, pid)
) STRICT;
CREATE TABLE IF NOT EXISTS snapshots (
    board_id TEXT NOT NULL REFERENCES boards(id),
    upto_seq INTEGER NOT NULL,
    state_v1 BLOB NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (board_id, upto_seq)
) STRICT;
";

pub struct SqliteStore {
    path: PathBuf,
    durability: Durability,
    /// Shared with the trace indexer, which writes the record in short transactions.
    writer: Arc<Mutex<Writer>>,
    indexer: Indexer,
    checkpointer: Checkpointer,
    readers: Mutex<ReadPool>,
    /// Signalled when a read connection comes back or closes.
    reader_returned: Condvar,
    stats: ReadPoolCounters,
}

/// What the read pool counted since the store opened.
#[derive(Default)]
struct ReadPoolCounters {
    waits: AtomicU64,
    timeouts: AtomicU64,
}

#[derive(Default)]
struct ReadPool {
    idle: Vec<Connection>,
    /// Connections open, idle or in use.
    open: usize,
}

pub(super) struct Writer {
    pub(super) conn: Connection,
    /// Actor rows already in the database, so most appends insert no actor.
    actor_ids: HashMap<Actor, i64>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database under `data_dir`.
    pub fn open(data_dir: &Path, durability: Durability) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join(DB_FILE_NAME);
        let conn = open_connection(&path, durability)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::Corrupt(format!(
                "database schema version {version} is newer than this server's {SCHEMA_VERSION}"
            )));
        }
        conn.execute_batch(SCHEMA)?;
        // Version 3 adds the trace's incremental record; a board's is built on first use.
        // Version 4 adds join codes and the credentials they minted (`SCHEMA` creates them).
        // Version 5 adds proxy entry to the record (below).
        // Version 6 adds private writing rounds and their spaces (`SCHEMA` creates them).
        conn.execute_batch(trace_index::SCHEMA)?;
        if (3..5).contains(&version) {
            // Version 5 records proxy entry: every board's record is built again on first
            // use, so that elements entered for someone before are credited to them.
            conn.execute_batch(
                "ALTER TABLE trace_participants ADD COLUMN entered INTEGER NOT NULL DEFAULT 0",
            )?;
            for table in trace_index::TRACE_TABLES {
                conn.execute(&format!("DELETE FROM {table}"), [])?;
            }
        }
        if version == 1 {
            // Version 2 keeps deleted boards (and their journals) but stops serving them.
            conn.execute_batch("ALTER TABLE boards ADD COLUMN deleted_ms INTEGER")?;
        }
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        conn.pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT_PAGES)?;
        let writer = Arc::new(Mutex::new(Writer {
            conn,
            actor_ids: HashMap::new(),
        }));
        Ok(SqliteStore {
            indexer: Indexer::start(path.clone(), durability, writer.clone()),
            checkpointer: Checkpointer::start(path.clone(), durability),
            path,
            durability,
            writer,
            readers: Mutex::new(ReadPool::default()),
            reader_returned: Condvar::new(),
            stats: ReadPoolCounters::default(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The snapshot and the journal after it, up to `upto`, in one read transaction so the two
    /// agree.
    fn load_upto(&self, id: &BoardId, upto: Upto) -> StoreResult<StoredDoc> {
        self.read(|conn| {
            conn.execute_batch("BEGIN")?;
            let result = load_in(conn, id, upto);
            conn.execute_batch("COMMIT")?;
            result
        })
    }

    /// The boards stored (deleted ones left out).
    pub fn board_ids(&self) -> StoreResult<Vec<BoardId>> {
        self.read(|conn| {
            let mut stmt =
                conn.prepare("SELECT id FROM boards WHERE deleted_ms IS NULL ORDER BY id")?;
            let ids = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ids.iter().filter_map(|id| BoardId::parse(id)).collect())
        })
    }

    /// Every board's id, deleted ones too (an erasure covers them).
    pub fn all_board_ids(&self) -> StoreResult<Vec<BoardId>> {
        self.read(|conn| {
            let mut stmt = conn.prepare("SELECT id FROM boards ORDER BY id")?;
            let ids = stmt
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(ids.iter().filter_map(|id| BoardId::parse(id)).collect())
        })
    }

    /// A board's whole journal, deleted or not, with who wrote each entry.
    pub fn any_journal(&self, id: &BoardId) -> StoreResult<Vec<JournalRow>> {
        self.read(|conn| journal_rows(conn, id))
    }

    /// Everything stored about a board, deleted or not, as `nouage migrate` moves it.
    pub fn moved_board(&self, id: &BoardId) -> StoreResult<super::MovedBoard> {
        let journal = self.any_journal(id)?;
        self.read(|conn| {
            let corrupt = |what: &str| StoreError::Corrupt(format!("board {id}: {what}"));
            let (record, deleted_ms) = conn.query_row(
                "SELECT kind, title, lang, created_ms, facilitator_token_sha256,
                     editor_token_sha256, viewer_token_sha256, deleted_ms
                 FROM boards WHERE id = ?1",
                [id.as_str()],
                |r| {
                    Ok((
                        (
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, i64>(3)?,
                            r.get::<_, Vec<u8>>(4)?,
                            r.get::<_, Vec<u8>>(5)?,
                            r.get::<_, Vec<u8>>(6)?,
                        ),
                        r.get::<_, Option<i64>>(7)?,
                    ))
                },
            )?;
            let (kind, title, lang, created_ms, f, e, v) = record;
            let record = BoardRecord {
                id: id.clone(),
                kind: kind.parse().map_err(|_| corrupt("unknown kind"))?,
                title,
                lang: lang.parse().map_err(|_| corrupt("unknown language"))?,
                created_ms,
                token_hashes: TokenHashes::from_slices(&f, &e, &v)
                    .ok_or_else(|| corrupt("token hash of the wrong length"))?,
            };
            let snapshot = conn
                .query_row(
                    "SELECT upto_seq, state_v1, created_ms FROM snapshots
                     WHERE board_id = ?1 ORDER BY upto_seq DESC LIMIT 1",
                    [id.as_str()],
                    |r| {
                        Ok(Snapshot {
                            board: id.clone(),
                            upto_seq: r.get::<_, i64>(0)? as u64,
                            state_v1: r.get(1)?,
                            created_ms: r.get(2)?,
                        })
                    },
                )
                .optional()?;
            let join_code = join_code_in(conn, id)?;
            let credentials = conn
                .prepare(
                    "SELECT token_sha256, code, created_ms, revoked_ms FROM code_credentials
                     WHERE board_id = ?1",
                )?
                .query_map([id.as_str()], |r| {
                    Ok((r.get::<_, Vec<u8>>(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })?
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .map(|(hash, code, created_ms, revoked_ms)| {
                    Ok(super::MovedCredential {
                        hash: hash
                            .try_into()
                            .map_err(|_| corrupt("credential hash of the wrong length"))?,
                        code,
                        created_ms,
                        revoked_ms,
                    })
                })
                .collect::<StoreResult<Vec<_>>>()?;
            let pseudonyms = conn
                .query_row(
                    "SELECT pseudonyms FROM board_options WHERE board_id = ?1",
                    [id.as_str()],
                    |r| r.get::<_, bool>(0),
                )
                .optional()?
                .unwrap_or(false);
            let private_round = private_round_in(conn, id)?;
            let private_spaces = conn
                .prepare(&format!(
                    "SELECT {SPACE_COLUMNS} FROM private_spaces WHERE board_id = ?1"
                ))?
                .query_map([id.as_str()], space_at)?
                .collect::<Result<_, _>>()?;
            Ok(super::MovedBoard {
                record,
                deleted_ms,
                pseudonyms,
                journal,
                snapshot,
                join_code,
                credentials,
                private_round,
                private_spaces,
            })
        })
    }

    /// Builds the board's trace again from its whole journal (`nouage reindex`): the record is
    /// emptied, then every entry is indexed; returns the entries indexed. Nothing else changes.
    pub fn reindex(&self, id: &BoardId, wait: Duration) -> StoreResult<u64> {
        self.read(|conn| board_exists(conn, id))?;
        {
            let mut writer = self.writer.lock().unwrap();
            trace_index::clear(&mut writer.conn, id)?;
        }
        self.indexer.reset(id);
        self.trace_catch_up(id, wait)?;
        self.read(|conn| trace_index::progress_of(conn, id))
    }

    /// Runs `f` on a pooled read connection, waiting for one when
    /// `READ_POOL_CONNECTIONS_MAX` are in use, at most `READ_WAIT_MS`. `f` must not read
    /// through the pool itself: holding one connection while waiting for another is how eight
    /// readers arriving together once held every connection and waited forever.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        // An idle connection, or `None` when there is room to open one.
        let idle = {
            let mut pool = self.readers.lock().unwrap();
            let mut deadline = None;
            loop {
                if let Some(conn) = pool.idle.pop() {
                    break Some(conn);
                }
                if pool.open < READ_POOL_CONNECTIONS_MAX {
                    pool.open += 1;
                    break None;
                }
                let now = Instant::now();
                let deadline = *deadline.get_or_insert_with(|| {
                    self.stats.waits.fetch_add(1, Ordering::Relaxed);
                    now + Duration::from_millis(READ_WAIT_MS)
                });
                if now >= deadline {
                    self.stats.timeouts.fetch_add(1, Ordering::Relaxed);
                    return Err(StoreError::Overloaded(format!(
                        "every database read connection stayed busy for {READ_WAIT_MS} ms"
                    )));
                }
                pool = self
                    .reader_returned
                    .wait_timeout(pool, deadline - now)
                    .unwrap()
                    .0;
            }
        };
        let conn = match idle {
            Some(conn) => conn,
            None => match open_connection(&self.path, self.durability).and_then(|conn| {
                conn.pragma_update(None, "cache_size", -READ_CACHE_KIB)?;
                Ok(conn)
            }) {
                Ok(conn) => conn,
                Err(e) => {
                    self.readers.lock().unwrap().open -= 1;
                    self.reader_returned.notify_one();
                    return Err(e);
                }
            },
        };
        let lease = Lease {
            store: self,
            conn: Some(conn),
        };
        f(lease
            .conn
            .as_ref()
            .expect("a lease holds its connection until dropped"))
    }
}

/// A read connection taken from the pool; it goes back (or closes) when dropped, even if the
/// read panicked, so the pool never loses a place.
struct Lease<'a> {
    store: &'a SqliteStore,
    conn: Option<Connection>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if !conn.is_autocommit() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        // A connection stuck in a transaction would pin the WAL: it is closed, not reused.
        let mut pool = self.store.readers.lock().unwrap_or_else(|p| p.into_inner());
        if conn.is_autocommit() {
            pool.idle.push(conn);
        } else {
            pool.open -= 1;
        }
        drop(pool);
        self.store.reader_returned.notify_one();
    }
}

pub(super) fn open_connection(path: &Path, durability: Durability) -> StoreResult<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let synchronous = match durability {
        Durability::Fsync => "FULL",
        Durability::Process => "NORMAL",
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// The board's join code, expired or not (deleted boards too).
fn join_code_in(conn: &Connection, id: &BoardId) -> StoreResult<Option<JoinCode>> {
    Ok(conn
        .query_row(
            "SELECT code, expires_ms FROM join_codes WHERE board_id = ?1",
            [id.as_str()],
            |r| {
                Ok(JoinCode {
                    code: r.get(0)?,
                    expires_ms: r.get(1)?,
                })
            },
        )
        .optional()?)
}

/// The board's open private round, if any.
fn private_round_in(conn: &Connection, id: &BoardId) -> StoreResult<Option<PrivateRound>> {
    Ok(conn
        .query_row(
            "SELECT round, opened_ms FROM private_rounds WHERE board_id = ?1",
            [id.as_str()],
            |r| {
                Ok(PrivateRound {
                    id: r.get(0)?,
                    opened_at_ms: r.get(1)?,
                })
            },
        )
        .optional()?)
}

/// The columns `space_at` reads, in its order.
const SPACE_COLUMNS: &str =
    "space_id, board_id, round, secret_sha256, pid, name, org, org_kind, created_ms";

fn space_at(r: &rusqlite::Row) -> rusqlite::Result<PrivateSpace> {
    let id = |i: usize| -> rusqlite::Result<BoardId> {
        let text: String = r.get(i)?;
        BoardId::parse(&text).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                i,
                rusqlite::types::Type::Text,
                format!("not a board id: {text:?}").into(),
            )
        })
    };
    let hash: Vec<u8> = r.get(3)?;
    Ok(PrivateSpace {
        space: id(0)?,
        board: id(1)?,
        round: r.get(2)?,
        secret_sha256: hash.try_into().map_err(|_| {
            rusqlite::Error::FromSqlConversionFailure(
                3,
                rusqlite::types::Type::Blob,
                "a secret's hash is 32 bytes".into(),
            )
        })?,
        actor: trace_index::actor_at(r, 4)?,
        created_ms: r.get(8)?,
    })
}

impl Store for SqliteStore {
    fn create_board(&self, board: &BoardRecord, initial_update_v1: &[u8]) -> StoreResult<()> {
        let mut writer = self.writer.lock().unwrap();
        let system = Actor::system();
        let actor_id = writer.actor_id(&system)?;
        let tx = writer.conn.transaction()?;
        let inserted = tx.execute(
            "INSERT INTO boards (id, kind, title, lang, created_ms, facilitator_token_sha256,
                 editor_token_sha256, viewer_token_sha256)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO NOTHING",
            params![
                board.id.as_str(),
                board.kind.as_str(),
                board.title,
                board.lang.as_str(),
                board.created_ms,
                &board.token_hashes.facilitator[..],
                &board.token_hashes.editor[..],
                &board.token_hashes.viewer[..],
            ],
        )?;
        if inserted == 0 {
            return Err(StoreError::BoardExists(board.id.clone()));
        }
        tx.execute(
            "INSERT INTO journal (board_id, seq, ts_ms, actor_id, update_v1)
             VALUES (?1, 1, ?2, ?3, ?4)",
            params![
                board.id.as_str(),
                board.created_ms,
                actor_id,
                initial_update_v1
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn board(&self, id: &BoardId) -> StoreResult<Option<BoardRecord>> {
        self.read(|conn| {
            let row = conn
                .query_row(
                    "SELECT kind, title, lang, created_ms, facilitator_token_sha256,
                        editor_token_sha256, viewer_token_sha256
                                          FROM boards WHERE id = ?1 AND deleted_ms IS NULL",
                    [id.as_str()],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, String>(2)?,
                            r.get::<_, i64>(3)?,
                            r.get::<_, Vec<u8>>(4)?,
                            r.get::<_, Vec<u8>>(5)?,
                            r.get::<_, Vec<u8>>(6)?,
                        ))
                    },
                )
                .optional()?;
            let Some((kind, title, lang, created_ms, f, e, v)) = row else {
                return Ok(None);
            };
            let corrupt = |what: &str| StoreError::Corrupt(format!("board {id}: {what}"));
            Ok(Some(BoardRecord {
                id: id.clone(),
                kind: kind.parse().map_err(|_| corrupt("unknown kind"))?,
                title,
                lang: lang.parse().map_err(|_| corrupt("unknown language"))?,
                created_ms,
                token_hashes: TokenHashes::from_slices(&f, &e, &v)
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

    fn append(&self, batches: &[Append]) -> StoreResult<Vec<u64>> {
        let result = {
            let mut writer = self.writer.lock().unwrap();
            let result = writer.append(batches);
            if result.is_err() {
                // Actor rows inserted by the rolled-back transaction are gone too.
                writer.actor_ids.clear();
            }
            result
        };
        if result.is_ok() {
            self.checkpointer.committed();
        }
        result
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
        let writer = self.writer.lock().unwrap();
        let updated = writer.conn.execute(
            &format!("UPDATE boards SET {column} = ?2 WHERE id = ?1 AND deleted_ms IS NULL"),
            params![id.as_str(), &hash[..]],
        )?;
        if updated == 0 {
            return Err(StoreError::BoardNotFound(id.clone()));
        }
        Ok(())
    }

    fn join_code(&self, id: &BoardId) -> StoreResult<Option<JoinCode>> {
        self.read(|conn| {
            board_exists(conn, id)?;
            join_code_in(conn, id)
        })
    }

    fn set_join_code(&self, id: &BoardId, code: Option<&JoinCode>) -> StoreResult<()> {
        let writer = self.writer.lock().unwrap();
        board_exists(&writer.conn, id)?;
        let result = match code {
            Some(code) => writer.conn.execute(
                "INSERT INTO join_codes (board_id, code, expires_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (board_id) DO UPDATE SET code = ?2, expires_ms = ?3",
                params![id.as_str(), code.code, code.expires_ms],
            ),
            None => writer
                .conn
                .execute("DELETE FROM join_codes WHERE board_id = ?1", [id.as_str()]),
        };
        match result {
            Ok(_) => Ok(()),
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                Err(StoreError::JoinCodeTaken(
                    code.map(|c| c.code.clone()).unwrap_or_default(),
                ))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn board_of_join_code(&self, code: &str) -> StoreResult<Option<(BoardId, JoinCode)>> {
        self.read(|conn| {
            let row = conn
                .query_row(
                    "SELECT c.board_id, c.expires_ms FROM join_codes c
                     JOIN boards b ON b.id = c.board_id
                     WHERE c.code = ?1 AND b.deleted_ms IS NULL",
                    [code],
                    |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)),
                )
                .optional()?;
            Ok(row.and_then(|(board, expires_ms)| {
                Some((
                    BoardId::parse(&board)?,
                    JoinCode {
                        code: code.to_owned(),
                        expires_ms,
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
        let mut writer = self.writer.lock().unwrap();
        let txn = writer.conn.transaction()?;
        board_exists(&txn, id)?;
        let held: i64 = txn.query_row(
            "SELECT count(*) FROM code_credentials WHERE board_id = ?1 AND revoked_ms IS NULL",
            [id.as_str()],
            |r| r.get(0),
        )?;
        if held as usize >= max {
            return Ok(false);
        }
        txn.execute(
            "INSERT INTO code_credentials (board_id, token_sha256, code, created_ms)
             VALUES (?1, ?2, ?3, ?4)",
            params![id.as_str(), &hash[..], code, created_ms],
        )?;
        txn.commit()?;
        Ok(true)
    }

    fn has_code_credential(&self, id: &BoardId, hash: &[u8; 32]) -> StoreResult<bool> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT 1 FROM code_credentials
                     WHERE board_id = ?1 AND token_sha256 = ?2 AND revoked_ms IS NULL",
                    params![id.as_str(), &hash[..]],
                    |_| Ok(()),
                )
                .optional()?
                .is_some())
        })
    }

    fn revoke_code_credentials(&self, id: &BoardId, at_ms: i64) -> StoreResult<usize> {
        let writer = self.writer.lock().unwrap();
        board_exists(&writer.conn, id)?;
        Ok(writer.conn.execute(
            "UPDATE code_credentials SET revoked_ms = ?2 WHERE board_id = ?1 AND revoked_ms IS NULL",
            params![id.as_str(), at_ms],
        )?)
    }

    fn journal(&self, id: &BoardId) -> StoreResult<Vec<JournalRow>> {
        self.read(|conn| {
            // On this connection: asking `self.board` here would wait for a second one.
            board_exists(conn, id)?;
            journal_rows(conn, id)
        })
    }

    fn erase_names(&self, id: &BoardId, pid: &str, names: &[String]) -> StoreResult<usize> {
        // No indexing job of this board is left in flight to write, after the rewrite, what it
        // read before (a deleted board has none: its record is not kept up).
        let _ = self.trace_catch_up(id, Duration::from_secs(60));
        let rewritten = {
            let mut writer = self.writer.lock().unwrap();
            // Pages the rewrite frees are zeroed, not left holding the old bytes.
            writer.conn.pragma_update(None, "secure_delete", true)?;
            let tx = writer
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM boards WHERE id = ?1)",
                [id.as_str()],
                |r| r.get(0),
            )?;
            if !exists {
                return Err(StoreError::BoardNotFound(id.clone()));
            }
            // The journal's values, rewritten in place: seqs and item ids unchanged.
            let entries: Vec<(i64, Vec<u8>)> = tx
                .prepare("SELECT seq, update_v1 FROM journal WHERE board_id = ?1 ORDER BY seq")?
                .query_map([id.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            let mut rewritten = 0;
            let mut updates: Vec<(u64, Vec<u8>)> = Vec::with_capacity(entries.len());
            for (seq, update) in entries {
                let update = match crate::erase::erase_in_update(&update, names)? {
                    Some(new) => {
                        tx.execute(
                            "UPDATE journal SET update_v1 = ?3 WHERE board_id = ?1 AND seq = ?2",
                            params![id.as_str(), seq, new],
                        )?;
                        rewritten += 1;
                        new
                    }
                    None => update,
                };
                updates.push((seq as u64, update));
            }
            // The pid's identities on this board become the marker (rows other boards use
            // stay theirs: this board gets rows of its own).
            let actors: Vec<(i64, Actor)> = tx
                .prepare(
                    "SELECT DISTINCT a.id, a.pid, a.name, a.org, a.org_kind FROM journal j
                     JOIN actors a ON a.id = j.actor_id WHERE j.board_id = ?1 AND a.pid = ?2",
                )?
                .query_map(params![id.as_str(), pid], |r| {
                    Ok((r.get(0)?, trace_index::actor_at(r, 1)?))
                })?
                .collect::<Result<_, _>>()?;
            for (old, actor) in actors {
                let erased = Actor {
                    name: shared::proxy::ERASED_NAME.to_owned(),
                    ..actor
                };
                let new = actor_id_in(&tx, &erased)?;
                tx.execute(
                    "UPDATE journal SET actor_id = ?3 WHERE board_id = ?1 AND actor_id = ?2",
                    params![id.as_str(), old, new],
                )?;
            }
            // Snapshots and checkpoints held the names: one snapshot of the rewritten board.
            tx.execute("DELETE FROM snapshots WHERE board_id = ?1", [id.as_str()])?;
            if let Some((last, state)) = crate::erase::whole_state(updates)? {
                tx.execute(
                    "INSERT INTO snapshots (board_id, upto_seq, state_v1, created_ms)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![id.as_str(), last as i64, state, crate::room::now_ms()],
                )?;
            }
            trace_index::clear_in(&tx, id)?;
            // A private space's row names its writer too.
            tx.execute(
                "UPDATE private_spaces SET name = ?3
                 WHERE (board_id = ?1 OR space_id = ?1) AND pid = ?2",
                params![id.as_str(), pid, shared::proxy::ERASED_NAME],
            )?;
            // Rows of the names nothing refers to any more.
            for name in names {
                tx.execute(
                    "DELETE FROM actors WHERE name = ?1
                       AND id NOT IN (SELECT actor_id FROM journal)
                       AND id NOT IN (SELECT actor_id FROM trace_entries)
                       AND id NOT IN (SELECT actor_id FROM trace_participants)
                       AND id NOT IN (SELECT actor_id FROM trace_proxies)",
                    [name],
                )?;
            }
            tx.commit()?;
            writer.actor_ids.clear();
            // The file is written anew (no page keeps the old bytes) and the WAL emptied. A
            // reader in the middle of a read can make either wait: said, not fatal (the
            // pages were zeroed on their way out).
            if let Err(e) = writer.conn.execute_batch("VACUUM") {
                tracing::warn!(board = %id, error = %e, "erasure: VACUUM did not run");
            }
            if let Err(e) = writer
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            {
                tracing::warn!(board = %id, error = %e, "erasure: the WAL was not emptied");
            }
            writer.conn.pragma_update(None, "secure_delete", false)?;
            rewritten
        };
        self.indexer.reset(id);
        Ok(rewritten)
    }

    fn delete_board(&self, id: &BoardId) -> StoreResult<()> {
        let writer = self.writer.lock().unwrap();
        let updated = writer.conn.execute(
            "UPDATE boards SET deleted_ms = ?2 WHERE id = ?1 AND deleted_ms IS NULL",
            params![id.as_str(), crate::room::now_ms()],
        )?;
        if updated == 0 {
            return Err(StoreError::BoardNotFound(id.clone()));
        }
        Ok(())
    }

    fn private_round(&self, id: &BoardId) -> StoreResult<Option<PrivateRound>> {
        self.read(|conn| private_round_in(conn, id))
    }

    fn open_private_round(&self, id: &BoardId, round: &PrivateRound) -> StoreResult<bool> {
        let writer = self.writer.lock().unwrap();
        let inserted = writer.conn.execute(
            "INSERT INTO private_rounds (board_id, round, opened_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (board_id) DO NOTHING",
            params![id.as_str(), round.id, round.opened_at_ms],
        )?;
        Ok(inserted == 1)
    }

    fn close_private_round(&self, id: &BoardId, round_id: &str) -> StoreResult<bool> {
        let writer = self.writer.lock().unwrap();
        let deleted = writer.conn.execute(
            "DELETE FROM private_rounds WHERE board_id = ?1 AND round = ?2",
            params![id.as_str(), round_id],
        )?;
        Ok(deleted == 1)
    }

    fn private_spaces(&self, id: &BoardId, round_id: &str) -> StoreResult<Vec<PrivateSpace>> {
        self.read(|conn| {
            let spaces = conn
                .prepare(&format!(
                    "SELECT {SPACE_COLUMNS} FROM private_spaces
                     WHERE board_id = ?1 AND round = ?2 ORDER BY created_ms, space_id"
                ))?
                .query_map(params![id.as_str(), round_id], space_at)?
                .collect::<Result<_, _>>()?;
            Ok(spaces)
        })
    }

    fn open_private_space(
        &self,
        wanted: &PrivateSpace,
        record: &BoardRecord,
        initial_update_v1: &[u8],
        spaces_max: usize,
    ) -> StoreResult<SpaceOpening> {
        let mut writer = self.writer.lock().unwrap();
        let system = writer.actor_id(&Actor::system())?;
        let tx = writer
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let (board, round) = (wanted.board.as_str(), wanted.round.as_str());
        let open: Option<String> = tx
            .query_row(
                "SELECT round FROM private_rounds WHERE board_id = ?1",
                [board],
                |r| r.get(0),
            )
            .optional()?;
        if open.as_deref() != Some(round) {
            return Ok(SpaceOpening::NoRound);
        }
        let found = tx
            .query_row(
                &format!(
                    "SELECT {SPACE_COLUMNS} FROM private_spaces
                     WHERE board_id = ?1 AND round = ?2 AND pid = ?3"
                ),
                params![board, round, wanted.actor.pid],
                space_at,
            )
            .optional()?;
        if let Some(found) = found {
            return Ok(SpaceOpening::of_found(found, wanted));
        }
        let spaces: i64 = tx.query_row(
            "SELECT COUNT(*) FROM private_spaces WHERE board_id = ?1 AND round = ?2",
            params![board, round],
            |r| r.get(0),
        )?;
        if spaces as usize >= spaces_max {
            return Ok(SpaceOpening::Full);
        }
        tx.execute(
            "INSERT INTO boards (id, kind, title, lang, created_ms, facilitator_token_sha256,
                 editor_token_sha256, viewer_token_sha256)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                record.id.as_str(),
                record.kind.as_str(),
                record.title,
                record.lang.as_str(),
                record.created_ms,
                &record.token_hashes.facilitator[..],
                &record.token_hashes.editor[..],
                &record.token_hashes.viewer[..],
            ],
        )?;
        tx.execute(
            "INSERT INTO journal (board_id, seq, ts_ms, actor_id, update_v1)
             VALUES (?1, 1, ?2, ?3, ?4)",
            params![
                record.id.as_str(),
                record.created_ms,
                system,
                initial_update_v1
            ],
        )?;
        let actor = &wanted.actor;
        tx.execute(
            "INSERT INTO private_spaces (space_id, board_id, round, secret_sha256, pid, name, org,
                 org_kind, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            params![
                wanted.space.as_str(),
                board,
                round,
                &wanted.secret_sha256[..],
                actor.pid,
                actor.name,
                actor.org,
                actor.org_kind.map_or("", |k| k.as_str()),
                wanted.created_ms,
            ],
        )?;
        tx.commit()?;
        Ok(SpaceOpening::Space(wanted.clone()))
    }

    fn purge_board(&self, id: &BoardId) -> StoreResult<()> {
        // No indexing job of the board is left in flight to write after the purge.
        let _ = self.trace_catch_up(id, Duration::from_secs(60));
        {
            let mut writer = self.writer.lock().unwrap();
            writer.conn.pragma_update(None, "secure_delete", true)?;
            let tx = writer
                .conn
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            trace_index::clear_in(&tx, id)?;
            for table in [
                "snapshots",
                "journal",
                "join_codes",
                "code_credentials",
                "board_options",
                "private_rounds",
            ] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE board_id = ?1"),
                    [id.as_str()],
                )?;
            }
            tx.execute(
                "DELETE FROM private_spaces WHERE space_id = ?1",
                [id.as_str()],
            )?;
            tx.execute("DELETE FROM boards WHERE id = ?1", [id.as_str()])?;
            tx.commit()?;
            // The WAL's frames still held the pages as they were before: emptied.
            if let Err(e) = writer
                .conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            {
                tracing::warn!(board = %id, error = %e, "purge: the WAL was not emptied");
            }
            writer.conn.pragma_update(None, "secure_delete", false)?;
        }
        self.indexer.reset(id);
        Ok(())
    }

    fn all_board_ids(&self) -> StoreResult<Vec<BoardId>> {
        SqliteStore::all_board_ids(self)
    }

    fn any_journal(&self, id: &BoardId) -> StoreResult<Vec<JournalRow>> {
        SqliteStore::any_journal(self, id)
    }

    fn pseudonyms(&self, id: &BoardId) -> StoreResult<bool> {
        self.read(|conn| {
            Ok(conn
                .query_row(
                    "SELECT pseudonyms FROM board_options WHERE board_id = ?1",
                    [id.as_str()],
                    |r| r.get::<_, bool>(0),
                )
                .optional()?
                .unwrap_or(false))
        })
    }

    fn set_pseudonyms(&self, id: &BoardId, on: bool) -> StoreResult<()> {
        let writer = self.writer.lock().unwrap();
        writer.conn.execute(
            "INSERT INTO board_options (board_id, pseudonyms) VALUES (?1, ?2)
             ON CONFLICT (board_id) DO UPDATE SET pseudonyms = excluded.pseudonyms",
            params![id.as_str(), on],
        )?;
        Ok(())
    }

    fn set_title(&self, id: &BoardId, title: &str) -> StoreResult<()> {
        let writer = self.writer.lock().unwrap();
        let updated = writer.conn.execute(
            "UPDATE boards SET title = ?2 WHERE id = ?1 AND deleted_ms IS NULL",
            params![id.as_str(), title],
        )?;
        if updated == 0 {
            return Err(StoreError::BoardNotFound(id.clone()));
        }
        Ok(())
    }

    fn write_snapshot(&self, snapshot: &Snapshot) -> StoreResult<()> {
        let writer = self.writer.lock().unwrap();
        writer.conn.execute(
            "INSERT OR REPLACE INTO snapshots (board_id, upto_seq, state_v1, created_ms)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                snapshot.board.as_str(),
                snapshot.upto_seq as i64,
                snapshot.state_v1,
                snapshot.created_ms
            ],
        )?;
        Ok(())
    }

    fn trace_catch_up(&self, id: &BoardId, wait: Duration) -> StoreResult<()> {
        let (upto, last) = self.read(|conn| {
            board_exists(conn, id)?;
            Ok((
                trace_index::progress_of(conn, id)?,
                trace_index::last_seq(conn, id)?,
            ))
        })?;
        if upto >= last {
            return Ok(());
        }
        self.indexer.wait_for(id, last, wait)
    }

    fn trace_hint(&self, id: &BoardId) {
        self.indexer.hint(id);
    }

    fn trace_contributions(&self, id: &BoardId) -> StoreResult<Contributions> {
        self.read(|conn| trace_index::contributions(conn, id))
    }

    fn trace_entries(&self, id: &BoardId, page: &EntryPage) -> StoreResult<Vec<TraceEntry>> {
        self.read(|conn| trace_index::entries(conn, id, page))
    }

    fn trace_elements(&self, id: &BoardId) -> StoreResult<Vec<crate::trace::ElementTrace>> {
        self.read(|conn| trace_index::elements(conn, id))
    }

    fn trace_element(
        &self,
        id: &BoardId,
        element: &str,
    ) -> StoreResult<Vec<crate::trace::ElementChange>> {
        self.read(|conn| trace_index::element(conn, id, element))
    }

    fn trace_deleted(
        &self,
        id: &BoardId,
        limit: usize,
    ) -> StoreResult<Vec<crate::restore::DeletedElement>> {
        self.read(|conn| trace_index::deleted(conn, id, limit))
    }

    fn trace_provenance(&self, id: &BoardId) -> StoreResult<crate::export::model::Provenance> {
        self.read(|conn| trace_index::provenance(conn, id))
    }

    fn trace_last_deletion(&self, id: &BoardId, element: &str) -> StoreResult<Option<u64>> {
        self.read(|conn| trace_index::last_deletion(conn, id, element))
    }

    fn load_upto_seq(&self, id: &BoardId, seq: u64) -> StoreResult<StoredDoc> {
        self.load_upto(id, Upto::Seq(seq))
    }

    fn updates_after(
        &self,
        id: &BoardId,
        after: u64,
        limit: usize,
    ) -> StoreResult<Vec<(u64, Vec<u8>)>> {
        self.read(|conn| {
            let mut stmt = conn.prepare_cached(
                "SELECT seq, update_v1 FROM journal WHERE board_id = ?1 AND seq > ?2
                 ORDER BY seq LIMIT ?3",
            )?;
            let rows = stmt
                .query_map(params![id.as_str(), after as i64, limit as i64], |r| {
                    Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Vec<u8>>(1)?))
                })?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
    }

    fn read_pool_stats(&self) -> ReadPoolStats {
        ReadPoolStats {
            waits: self.stats.waits.load(Ordering::Relaxed),
            timeouts: self.stats.timeouts.load(Ordering::Relaxed),
        }
    }

    /// Closes the idle read connections (each keeps a page cache of up to `READ_CACHE_KIB`)
    /// and empties the writer's page cache; both fill again from the operating system's cache.
    fn release_memory(&self) {
        let closing = {
            let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
            let idle = std::mem::take(&mut pool.idle);
            pool.open -= idle.len();
            idle
        };
        self.reader_returned.notify_all();
        drop(closing);
        self.indexer.forget();
        let writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writer.conn.execute_batch("PRAGMA shrink_memory");
    }
}

/// `BoardNotFound` unless the board exists and is not deleted.
/// A board's journal, in order, with who wrote each entry (deleted boards too).
fn journal_rows(conn: &Connection, id: &BoardId) -> StoreResult<Vec<JournalRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT j.seq, j.ts_ms, a.pid, a.name, a.org, a.org_kind, j.update_v1
         FROM journal j JOIN actors a ON a.id = j.actor_id
         WHERE j.board_id = ?1 ORDER BY j.seq",
    )?;
    let rows = stmt.query_map([id.as_str()], |r| {
        Ok(JournalRow {
            seq: r.get::<_, i64>(0)? as u64,
            ts_ms: r.get(1)?,
            actor: trace_index::actor_at(r, 2)?,
            update_v1: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

pub(super) fn board_exists(conn: &Connection, id: &BoardId) -> StoreResult<()> {
    let exists: bool = conn
        .query_row(
            "SELECT 1 FROM boards WHERE id = ?1 AND deleted_ms IS NULL",
            [id.as_str()],
            |_| Ok(true),
        )
        .optional()?
        .unwrap_or(false);
    if exists {
        Ok(())
    } else {
        Err(StoreError::BoardNotFound(id.clone()))
    }
}

/// Where a load stops: at a moment, or at a journal entry.
#[derive(Clone, Copy)]
enum Upto {
    /// Entries written at or before this time (milliseconds since 1970).
    Time(i64),
    /// Entries up to this seq.
    Seq(u64),
}

/// The newest snapshot taken at or before `upto` and the journal after it, up to `upto`.
fn load_in(conn: &Connection, id: &BoardId, upto: Upto) -> StoreResult<StoredDoc> {
    board_exists(conn, id)?;
    let (snapshot_sql, journal_sql, bound) = match upto {
        Upto::Time(at_ms) => (
            "SELECT s.upto_seq, s.state_v1, s.created_ms FROM snapshots s
             JOIN journal j ON j.board_id = s.board_id AND j.seq = s.upto_seq
             WHERE s.board_id = ?1 AND j.ts_ms <= ?2 ORDER BY s.upto_seq DESC LIMIT 1",
            "SELECT seq, update_v1 FROM journal
             WHERE board_id = ?1 AND seq > ?2 AND ts_ms <= ?3 ORDER BY seq",
            at_ms,
        ),
        Upto::Seq(seq) => (
            "SELECT upto_seq, state_v1, created_ms FROM snapshots
             WHERE board_id = ?1 AND upto_seq <= ?2 ORDER BY upto_seq DESC LIMIT 1",
            "SELECT seq, update_v1 FROM journal
             WHERE board_id = ?1 AND seq > ?2 AND seq <= ?3 ORDER BY seq",
            seq.min(i64::MAX as u64) as i64,
        ),
    };
    let snapshot = conn
        .query_row(snapshot_sql, params![id.as_str(), bound], |r| {
            Ok(Snapshot {
                board: id.clone(),
                upto_seq: r.get::<_, i64>(0)? as u64,
                state_v1: r.get(1)?,
                created_ms: r.get(2)?,
            })
        })
        .optional()?;
    let after = snapshot.as_ref().map_or(0, |s| s.upto_seq) as i64;
    let mut stmt = conn.prepare_cached(journal_sql)?;
    let updates = stmt
        .query_map(params![id.as_str(), after, bound], |r| {
            Ok((r.get::<_, i64>(0)? as u64, r.get::<_, Vec<u8>>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(StoredDoc { snapshot, updates })
}

/// The row of `actor`, added if it is new.
pub(super) fn actor_id_in(conn: &Connection, actor: &Actor) -> StoreResult<i64> {
    let org_kind = actor.org_kind.map(|k| k.as_str()).unwrap_or("");
    conn.prepare_cached(
        "INSERT INTO actors (pid, name, org, org_kind) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO NOTHING",
    )?
    .execute(params![actor.pid, actor.name, actor.org, org_kind])?;
    Ok(conn
        .prepare_cached(
            "SELECT id FROM actors WHERE pid = ?1 AND name = ?2 AND org = ?3 AND org_kind = ?4",
        )?
        .query_row(params![actor.pid, actor.name, actor.org, org_kind], |r| {
            r.get(0)
        })?)
}

impl Writer {
    fn actor_id(&mut self, actor: &Actor) -> StoreResult<i64> {
        if let Some(id) = self.actor_ids.get(actor) {
            return Ok(*id);
        }
        let id = actor_id_in(&self.conn, actor)?;
        self.actor_ids.insert(actor.clone(), id);
        Ok(id)
    }

    fn append(&mut self, batches: &[Append]) -> StoreResult<Vec<u64>> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        let result = self.append_in_transaction(batches).and_then(|firsts| {
            self.conn.execute_batch("COMMIT")?;
            Ok(firsts)
        });
        if result.is_err() && !self.conn.is_autocommit() {
            // A failed COMMIT (disk full, I/O error) can leave the transaction open; every later
            // write would fail behind it.
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        result
    }

    /// Gives each entry the seq after its board's last one, inside the write transaction, so
    /// seqs follow commit order without gaps whoever appends.
    fn append_in_transaction(&mut self, batches: &[Append]) -> StoreResult<Vec<u64>> {
        let mut next_seq: HashMap<BoardId, u64> = HashMap::new();
        let mut firsts = Vec::with_capacity(batches.len());
        for batch in batches {
            let first = match next_seq.get(&batch.board) {
                Some(seq) => *seq,
                None => {
                    let last: Option<i64> = self
                        .conn
                        .query_row(
                            "SELECT (SELECT coalesce(max(seq), 0) FROM journal WHERE board_id = ?1)
                             FROM boards WHERE id = ?1",
                            [batch.board.as_str()],
                            |r| r.get(0),
                        )
                        .optional()?;
                    let last =
                        last.ok_or_else(|| StoreError::BoardNotFound(batch.board.clone()))?;
                    last as u64 + 1
                }
            };
            for (seq, entry) in (first..).zip(&batch.entries) {
                let actor_id = self.actor_id(&entry.actor)?;
                let mut stmt = self.conn.prepare_cached(
                    "INSERT INTO journal (board_id, seq, ts_ms, actor_id, update_v1)
                     VALUES (?1, ?2, ?3, ?4, ?5)",
                )?;
                let result = stmt.execute(params![
                    batch.board.as_str(),
                    seq as i64,
                    entry.ts_ms,
                    actor_id,
                    &entry.update_v1[..]
                ]);
                match result {
                    Ok(_) => {}
                    Err(rusqlite::Error::SqliteFailure(e, _))
                        if e.code == rusqlite::ErrorCode::ConstraintViolation =>
                    {
                        return Err(StoreError::SeqConflict {
                            board: batch.board.clone(),
                            seq,
                        });
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            next_seq.insert(batch.board.clone(), first + batch.entries.len() as u64);
            firsts.push(first);
        }
        Ok(firsts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_write_ahead_log_stops_growing_once_checkpoints_run_beside_the_writer() {
        use super::super::checkpoint::COMMITS_PER_CHECKPOINT;
        let dir = std::env::temp_dir().join(format!("nouage-wal-{}", uuid::Uuid::new_v4()));
        let store = SqliteStore::open(&dir, Durability::Process).unwrap();
        let record = crate::store::tests::board();
        store.create_board(&record, &[0, 0]).unwrap();
        let wal = dir.join(format!("{DB_FILE_NAME}-wal"));
        let wal_bytes = || std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        let append = |rounds: u64| {
            for _ in 0..rounds * COMMITS_PER_CHECKPOINT {
                let entry = crate::store::NewEntry {
                    ts_ms: 1,
                    actor: std::sync::Arc::new(Actor::system()),
                    update_v1: vec![7; 2_000].into(),
                };
                let batch = Append {
                    board: record.id.clone(),
                    entries: vec![entry],
                };
                store.append(&[batch]).unwrap();
            }
        };
        // A meeting's worth of keystrokes, a checkpoint's worth at a time; SQLite's own
        // checkpoint (now a backstop at 40 MiB) would let the log grow by each round.
        let mut largest = 0;
        for round in 1..=6 {
            append(1);
            let within = Duration::from_secs(30);
            assert!(
                store.checkpointer.wait_done(round, within),
                "checkpoint {round} did not run within {within:?}"
            );
            if round == 2 {
                largest = wal_bytes();
            }
        }
        append(1);
        // Later rounds touch a few more pages (a deeper index): not a round's worth.
        assert!(largest > 0);
        assert!(
            wal_bytes() <= largest * 3 / 2,
            "the log grew from {largest} to {} bytes although every frame was checkpointed",
            wal_bytes()
        );
        // Nothing lost on the way: the board's first entry and every append.
        assert_eq!(
            store.journal(&record.id).unwrap().len() as u64,
            1 + 7 * COMMITS_PER_CHECKPOINT
        );
        drop(store);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn many_journal_readers_at_once_never_wedge_the_reads_of_other_boards() {
        let dir = std::env::temp_dir().join(format!("nouage-wedge-{}", uuid::Uuid::new_v4()));
        let store = std::sync::Arc::new(SqliteStore::open(&dir, Durability::Process).unwrap());
        let (busy, other) = (crate::store::tests::board(), crate::store::tests::board());
        store.create_board(&busy, &[0, 0]).unwrap();
        store.create_board(&other, &[0, 0]).unwrap();
        // 64 trace readers of one board arrive together (a meeting opens its history panel),
        // while somebody joins another board. Each reader used to hold a pooled connection
        // while asking for a second one: eight of them held the whole pool and waited forever.
        let (done, finished) = std::sync::mpsc::channel();
        for i in 0..65 {
            let (store, done) = (store.clone(), done.clone());
            let (busy, other) = (busy.id.clone(), other.id.clone());
            std::thread::spawn(move || {
                let answer = if i == 64 {
                    store.board(&other).map(|b| b.is_some())
                } else {
                    store.journal(&busy).map(|rows| rows.len() == 1)
                };
                let _ = done.send(answer);
            });
        }
        drop(done);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut answered = 0;
        while answered < 65 {
            let left = deadline.saturating_duration_since(Instant::now());
            match finished.recv_timeout(left) {
                Ok(Ok(right)) => assert!(right, "a read answered wrongly"),
                // Sixty-five short reads share eight connections well within the wait.
                Ok(Err(e)) => panic!("a read failed: {e}"),
                Err(_) => panic!("{} of 65 reads still waiting after 30 s", 65 - answered),
            }
            answered += 1;
        }
        let pool = store.readers.lock().unwrap();
        assert_eq!(pool.idle.len(), pool.open, "every connection came back");
        drop(pool);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_burst_of_reads_shares_a_bounded_pool_of_connections() {
        let dir = std::env::temp_dir().join(format!("nouage-pool-{}", uuid::Uuid::new_v4()));
        let store = std::sync::Arc::new(SqliteStore::open(&dir, Durability::Process).unwrap());
        let record = crate::store::tests::board();
        store.create_board(&record, &[0, 0]).unwrap();
        // 64 readers at once, as 64 clients admitted at once: each read answers, and no more
        // than the pool's connections are ever opened.
        let readers: Vec<_> = (0..64)
            .map(|_| {
                let (store, id) = (store.clone(), record.id.clone());
                std::thread::spawn(move || {
                    (0..20).all(|_| {
                        store
                            .board(&id)
                            .unwrap()
                            .is_some_and(|b| b.title == "Carte")
                    })
                })
            })
            .collect();
        assert!(readers.into_iter().all(|r| r.join().unwrap()));
        let pool = store.readers.lock().unwrap();
        assert!(pool.open <= READ_POOL_CONNECTIONS_MAX, "{} open", pool.open);
        assert_eq!(pool.idle.len(), pool.open, "every connection came back");
        drop(pool);
        // Released when the server is idle: the connections close, and the next read opens
        // one again and finds the board.
        store.release_memory();
        assert_eq!(store.readers.lock().unwrap().open, 0);
        assert!(store.board(&record.id).unwrap().is_some());
        assert_eq!(store.readers.lock().unwrap().open, 1);
        let _ = std::fs::remove_dir_all(dir);
    }
}
