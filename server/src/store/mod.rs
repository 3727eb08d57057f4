//! Storage: boards, the append-only journal of applied updates, and snapshots.
//!
//! The relay only sees the [`Store`] trait. Calls are blocking: the server runs them on
//! blocking threads (reads) or on the one journal writer thread (writes, see `journal.rs`).
//! A PostgreSQL backend implements the same trait without touching the relay.

pub mod backup;
mod checkpoint;
mod memory;
pub mod migrate;
mod pg_trace;
mod postgres;
#[doc(hidden)]
pub mod sample;
mod sqlite;
mod trace_index;

pub use memory::MemoryStore;
pub use postgres::{
    MovedBoard, MovedCredential, PG_SCHEMA_VERSION, PgStore, TestDatabase, drop_database,
    ensure_database,
};
pub use sqlite::{DB_FILE_NAME, Durability, SqliteStore};
pub use trace_index::CHECKPOINT_EVERY_ENTRIES;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod trace_tests;

use bytes::Bytes;
use shared::private_round::PrivateRound;
use shared::{BoardKind, Lang, OrgKind};

use crate::tokens::{Role, TokenHashes};

/// A board's id: the random string in its links.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BoardId(String);

/// The longest id accepted from a URL; longer ones cannot name a board.
const BOARD_ID_LEN_MAX: usize = 64;

impl BoardId {
    pub fn new_random() -> Self {
        BoardId(uuid::Uuid::new_v4().simple().to_string())
    }

    /// Accepts an id from a URL. Only the shape is checked; whether it names a board is the
    /// store's answer.
    pub fn parse(text: &str) -> Option<Self> {
        let valid = !text.is_empty()
            && text.len() <= BOARD_ID_LEN_MAX
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        valid.then(|| BoardId(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for BoardId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the store knows of a board besides its document.
#[derive(Debug, Clone)]
pub struct BoardRecord {
    pub id: BoardId,
    pub kind: BoardKind,
    pub title: String,
    pub lang: Lang,
    pub created_ms: i64,
    pub token_hashes: TokenHashes,
}

/// A board's join code (see `crate::join`): six characters that mint an editor credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinCode {
    pub code: String,
    /// When it stops admitting new joins (milliseconds since the Unix epoch).
    pub expires_ms: i64,
}

/// Who made a journal entry: the participant of the connection that sent the update.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Actor {
    pub pid: String,
    pub name: String,
    pub org: String,
    pub org_kind: Option<OrgKind>,
}

impl Actor {
    /// The actor of entries the server writes itself, such as a board's initial document.
    pub fn system() -> Self {
        Actor {
            pid: shared::trace::SERVER_PID.into(),
            ..Actor::default()
        }
    }
}

impl From<&shared::proxy::Represented> for Actor {
    /// A person entered by proxy, as the record names them.
    fn from(person: &shared::proxy::Represented) -> Self {
        Actor {
            pid: person.pid(),
            name: person.name.clone(),
            org: person.org.clone(),
            org_kind: person.org_kind,
        }
    }
}

/// A participant's private space in a private writing round (`crate::private`): a document of
/// its own, stored as a board that no token opens, found by the SHA-256 of the secret its
/// browser keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrivateSpace {
    /// The space's own id (its journal, snapshots and room are those of a board of that id).
    pub space: BoardId,
    pub board: BoardId,
    pub round: String,
    pub secret_sha256: [u8; 32],
    /// Who writes in it: the identity of the connection that opened it.
    pub actor: Actor,
    pub created_ms: i64,
}

/// What opening a private space found (`Store::open_private_space`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpaceOpening {
    /// The participant's space, created now or found again with the same secret.
    Space(PrivateSpace),
    /// The participant already has a space in this round, opened with another secret.
    OtherSecret,
    /// The round is no longer open (revealed, cancelled, or another one opened).
    NoRound,
    /// The round already has its largest number of spaces.
    Full,
}

impl SpaceOpening {
    /// The participant's space `found` in the round, opened with `wanted`'s secret: theirs, or
    /// refused when the secret differs.
    pub fn of_found(found: PrivateSpace, wanted: &PrivateSpace) -> SpaceOpening {
        if found.secret_sha256 == wanted.secret_sha256 {
            SpaceOpening::Space(found)
        } else {
            SpaceOpening::OtherSecret
        }
    }
}

/// One applied update, as the journal keeps it.
#[derive(Debug, Clone)]
pub struct JournalEntry {
    pub board: BoardId,
    /// Position in the board's journal, from 1, without gaps.
    pub seq: u64,
    pub ts_ms: i64,
    pub actor: std::sync::Arc<Actor>,
    pub update_v1: Bytes,
}

/// An update to append to a board's journal: the store gives it its seq.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub ts_ms: i64,
    pub actor: std::sync::Arc<Actor>,
    pub update_v1: Bytes,
}

/// Entries of one board to append after its last one, in order.
#[derive(Debug, Clone)]
pub struct Append {
    pub board: BoardId,
    pub entries: Vec<NewEntry>,
}

impl Append {
    pub fn new(board: &BoardId, entries: Vec<NewEntry>) -> Self {
        Append {
            board: board.clone(),
            entries,
        }
    }
}

/// What it takes to rebuild a board's document: the newest snapshot and the journal after it.
#[derive(Debug, Default)]
pub struct StoredDoc {
    pub snapshot: Option<Snapshot>,
    /// Entries after the snapshot, by increasing `seq`.
    pub updates: Vec<(u64, Vec<u8>)>,
}

impl StoredDoc {
    /// The `seq` of the last journal entry this holds (0 for an empty journal).
    pub fn last_seq(&self) -> u64 {
        self.updates
            .last()
            .map(|(seq, _)| *seq)
            .or(self.snapshot.as_ref().map(|s| s.upto_seq))
            .unwrap_or(0)
    }
}

/// The whole document state after journal entry `upto_seq`.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub board: BoardId,
    pub upto_seq: u64,
    pub state_v1: Vec<u8>,
    pub created_ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("a board with id {0} already exists")]
    BoardExists(BoardId),
    #[error("board {0} not found")]
    BoardNotFound(BoardId),
    #[error("journal entry {seq} of board {board} already exists")]
    SeqConflict { board: BoardId, seq: u64 },
    #[error("join code {0} is taken by another board")]
    JoinCodeTaken(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("{0}")]
    Busy(String),
    /// The store could not serve the request in time (every read connection busy, the trace
    /// still being brought up to date): the caller should come back shortly.
    #[error("{0}")]
    Overloaded(String),
    /// The embedded database (SQLite) failed.
    #[error("database error: {0}")]
    Database(String),
    /// The database server (PostgreSQL) failed or could not be reached.
    #[error("database error: {0}")]
    Postgres(String),
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Database(error.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The storage of boards. Implementations are safe to call from many threads; `append` is
/// only called from one thread at a time (the journal writer), which lets backends batch.
pub trait Store: Send + Sync + 'static {
    /// Creates a board with its initial document as journal entry 1, in one transaction.
    fn create_board(&self, board: &BoardRecord, initial_update_v1: &[u8]) -> StoreResult<()>;

    fn board(&self, id: &BoardId) -> StoreResult<Option<BoardRecord>>;

    /// The newest snapshot of the board and every journal entry after it.
    fn load(&self, id: &BoardId) -> StoreResult<StoredDoc>;

    /// The board as it was at `at_ms` (time travel): the newest snapshot taken by then and the
    /// journal entries after it, up to `at_ms`.
    fn load_at(&self, id: &BoardId, at_ms: i64) -> StoreResult<StoredDoc>;

    /// Appends each batch after its board's last entry, in the order given, all atomically:
    /// all are stored, or none. The store gives the seqs (each board's from 1, without gaps, in
    /// commit order); returns the seq of each batch's first entry, once committed under the
    /// store's durability setting.
    fn append(&self, batches: &[Append]) -> StoreResult<Vec<u64>>;

    fn write_snapshot(&self, snapshot: &Snapshot) -> StoreResult<()>;

    /// Replaces the stored hash of one role's token (rotating or revoking its link).
    fn set_token_hash(&self, id: &BoardId, role: Role, hash: [u8; 32]) -> StoreResult<()>;

    /// The board's join code, if it has one (expired or not).
    fn join_code(&self, id: &BoardId) -> StoreResult<Option<JoinCode>>;

    /// Gives the board this join code, or none; [`StoreError::JoinCodeTaken`] when another
    /// board holds the same code.
    fn set_join_code(&self, id: &BoardId, code: Option<&JoinCode>) -> StoreResult<()>;

    /// The board a join code belongs to (deleted boards' codes belong to none).
    fn board_of_join_code(&self, code: &str) -> StoreResult<Option<(BoardId, JoinCode)>>;

    /// Keeps the hash of an editor credential minted through join code `code`; false (nothing
    /// stored) when the board already holds `max` credentials not revoked.
    fn add_code_credential(
        &self,
        id: &BoardId,
        hash: [u8; 32],
        code: &str,
        created_ms: i64,
        max: usize,
    ) -> StoreResult<bool>;

    /// Whether `hash` is a credential minted through one of the board's join codes, not revoked.
    fn has_code_credential(&self, id: &BoardId, hash: &[u8; 32]) -> StoreResult<bool>;

    /// Revokes every credential minted through the board's join codes; answers how many.
    fn revoke_code_credentials(&self, id: &BoardId, at_ms: i64) -> StoreResult<usize>;

    /// Marks a board deleted: it is no longer found nor served; its journal is kept.
    fn delete_board(&self, id: &BoardId) -> StoreResult<()>;

    /// Takes `names` out of board `id`'s stored data (erasure; deleted boards too): every
    /// journal entry's plain JSON values holding one of them get [`shared::proxy::ERASED_NAME`]
    /// instead (seqs kept), the journal's actors of `pid` are renamed to it, and the board's
    /// snapshots and trace record are rebuilt from the rewritten journal. Answers the journal
    /// entries rewritten. The caller holds the board's room unloaded meanwhile.
    fn erase_names(&self, id: &BoardId, pid: &str, names: &[String]) -> StoreResult<usize>;
    /// Renames a board (its record; the document's `meta.title` is the room's to change).
    fn set_title(&self, id: &BoardId, title: &str) -> StoreResult<()>;

    /// Whether the board shows pseudonyms to everyone but the facilitator (`pseudo.rs`).
    fn pseudonyms(&self, id: &BoardId) -> StoreResult<bool>;
    fn set_pseudonyms(&self, id: &BoardId, on: bool) -> StoreResult<()>;

    /// The private writing round open on the board, if any.
    fn private_round(&self, id: &BoardId) -> StoreResult<Option<PrivateRound>>;

    /// Opens `round` on the board; false (nothing changed) when one is already open.
    fn open_private_round(&self, id: &BoardId, round: &PrivateRound) -> StoreResult<bool>;

    /// Closes the board's round `round_id`; false when it is not the open one.
    fn close_private_round(&self, id: &BoardId, round_id: &str) -> StoreResult<bool>;

    /// The private spaces of the board's round `round_id`, oldest first.
    fn private_spaces(&self, id: &BoardId, round_id: &str) -> StoreResult<Vec<PrivateSpace>>;

    /// The space of `wanted.actor.pid` in round `wanted.round`: found again when the secret's
    /// hash matches, else created (as board `record`, with `initial_update_v1` as its first
    /// journal entry) unless the round holds `spaces_max` already; all in one transaction,
    /// and only while the round is the board's open one.
    fn open_private_space(
        &self,
        wanted: &PrivateSpace,
        record: &BoardRecord,
        initial_update_v1: &[u8],
        spaces_max: usize,
    ) -> StoreResult<SpaceOpening>;

    /// Removes a board and everything stored about it, the freed pages cleared (a private
    /// space after its round: what was revealed lives in the board's own journal, what was
    /// cancelled is discarded). The caller holds its room unloaded.
    fn purge_board(&self, id: &BoardId) -> StoreResult<()>;

    /// Every board's id, deleted ones too (an erasure covers them).
    fn all_board_ids(&self) -> StoreResult<Vec<BoardId>>;

    /// A board's whole journal, deleted or not, with who wrote each entry.
    fn any_journal(&self, id: &BoardId) -> StoreResult<Vec<JournalRow>>;

    /// The whole journal of a board, in order, with who wrote each entry and when.
    fn journal(&self, id: &BoardId) -> StoreResult<Vec<JournalRow>>;

    /// Brings the board's trace (the incremental record below) up to its last journal entry,
    /// waiting at most `wait`; past it, [`StoreError::Overloaded`] (the work goes on). A
    /// store that replays the journal for every question has nothing to do.
    fn trace_catch_up(&self, id: &BoardId, wait: std::time::Duration) -> StoreResult<()> {
        let _ = (id, wait);
        Ok(())
    }

    /// Asks for the board's trace to be brought up to date in the background (a room loaded or
    /// went idle). Never waits.
    fn trace_hint(&self, id: &BoardId) {
        let _ = id;
    }

    /// Who contributed what (see `shared::trace::Tally`), per participant, as of the trace.
    /// These `trace_*` reads replay the whole journal here; `SqliteStore` answers them from
    /// its incremental record, and its tests hold the two to the same answers.
    fn trace_contributions(&self, id: &BoardId) -> StoreResult<Contributions> {
        Ok(crate::trace::replay::contributions(&self.journal(id)?))
    }

    /// Participants' journal entries (the server's own left out), newest first.
    fn trace_entries(&self, id: &BoardId, page: &EntryPage) -> StoreResult<Vec<TraceEntry>> {
        Ok(crate::trace::replay::entries(&self.journal(id)?, page))
    }

    /// Every node, note and project on the board now that a participant created, with who
    /// created it and who changed it last; by id.
    fn trace_elements(&self, id: &BoardId) -> StoreResult<Vec<crate::trace::ElementTrace>> {
        Ok(crate::trace::element_traces(&self.journal(id)?)
            .into_values()
            .collect())
    }

    /// Everything the journal records about one element, in runs (empty: never seen).
    fn trace_element(
        &self,
        id: &BoardId,
        element: &str,
    ) -> StoreResult<Vec<crate::trace::ElementChange>> {
        Ok(crate::trace::element_changes(&self.journal(id)?, element))
    }

    /// The elements deleted and absent now, newest deletion first, at most `limit`.
    fn trace_deleted(
        &self,
        id: &BoardId,
        limit: usize,
    ) -> StoreResult<Vec<crate::restore::DeletedElement>> {
        let mut list = crate::restore::deleted_elements(&self.journal(id)?);
        list.truncate(limit);
        Ok(list)
    }

    /// Who created each element first and the latest identity of each participant.
    fn trace_provenance(&self, id: &BoardId) -> StoreResult<crate::export::model::Provenance> {
        Ok(crate::export::model::Provenance::from_journal(
            &self.journal(id)?,
        ))
    }

    /// The seq of the last journal entry that deleted `element`.
    fn trace_last_deletion(&self, id: &BoardId, element: &str) -> StoreResult<Option<u64>> {
        Ok(crate::trace::replay::last_deletion(
            &self.journal(id)?,
            element,
        ))
    }

    /// What it takes to rebuild the board as it was right after journal entry `seq`: the
    /// newest snapshot at or before it and the entries after, up to `seq`.
    fn load_upto_seq(&self, id: &BoardId, seq: u64) -> StoreResult<StoredDoc> {
        let mut stored = self.load(id)?;
        if stored.snapshot.as_ref().is_some_and(|s| s.upto_seq > seq) {
            // The memory store keeps only the newest snapshot: rebuild from the journal.
            stored.snapshot = None;
            stored.updates = self
                .journal(id)?
                .into_iter()
                .map(|row| (row.seq, row.update_v1))
                .collect();
        }
        stored.updates.retain(|(s, _)| *s <= seq);
        Ok(stored)
    }

    /// The board's journal entries after seq `after`, in order, at most `limit`: what a room
    /// of another node lacks (`Input::CaughtUp`).
    fn updates_after(
        &self,
        id: &BoardId,
        after: u64,
        limit: usize,
    ) -> StoreResult<Vec<(u64, Vec<u8>)>> {
        Ok(self
            .journal(id)?
            .into_iter()
            .filter(|row| row.seq > after)
            .take(limit)
            .map(|row| (row.seq, row.update_v1))
            .collect())
    }

    /// What the read pool counted: reads that had to wait for a connection, and those that
    /// gave up.
    fn read_pool_stats(&self) -> ReadPoolStats {
        ReadPoolStats::default()
    }

    /// Gives back memory kept to go faster (caches), when the server has nothing loaded to
    /// serve. Nothing stored changes.
    fn release_memory(&self) {}
}

/// One participant's contributions, under the latest name and organisation they used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contributor {
    pub actor: Actor,
    pub counts: shared::trace::Counts,
}

/// The trace's tallies: every journal entry counted, participants by id (the server's own
/// entries left out).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Contributions {
    pub journal_entries: u64,
    pub contributors: Vec<Contributor>,
}

/// One participant's journal entry and what it changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceEntry {
    pub seq: u64,
    pub ts_ms: i64,
    pub actor: Actor,
    pub report: shared::trace::EntryReport,
}

/// Which entries a history page holds: those with `seq < before_seq` (all when `None`) and a
/// time in `[from_ms, to_ms]`, the newest `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryPage {
    pub before_seq: Option<u64>,
    pub from_ms: i64,
    pub to_ms: i64,
    pub limit: usize,
}

/// Counters of a store's read pool since it opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadPoolStats {
    pub waits: u64,
    pub timeouts: u64,
}

/// One journal entry as read back for the trace of contributions.
#[derive(Debug, Clone)]
pub struct JournalRow {
    pub seq: u64,
    pub ts_ms: i64,
    pub actor: Actor,
    pub update_v1: Vec<u8>,
}
