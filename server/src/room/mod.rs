//! A room: the live copy of one board's document and the connections editing it.
//!
//! The room is split in two. `RoomCore` (`core.rs`, with `lifecycle.rs`, `commit.rs`,
//! `awareness.rs` and `full_state.rs`) is a state machine without I/O: it takes inputs and the
//! time, and answers with actions. `driver.rs` is the tokio task that feeds it the commands of
//! its queue, the store's answers and the tick, and performs its actions on the connections'
//! outboxes (`outbox.rs`), the journal writer and the registry. The simulation (`sim.rs`, in
//! tests) drives the same core with simulated clients and a simulated store in virtual time.
//!
//! Invariants (checked by the simulation after every step):
//! - An update reaches no other client before the store has committed it: outgoing frames that
//!   carry an update wait in the commit pipeline until that update is committed, in order. This
//!   covers live fan-out and the sync step 2 answered to a client that joins.
//! - Seqs are the store's answer to a commit; a room whose batch does not follow the head it
//!   knows, or fails, stops and reloads from the journal.
//! - A room unloads only when it has no peer, nothing pending and nothing being written.
//! - Client bytes are decoded and applied under `catch_unwind` (`apply.rs`): the yrs decoder may
//!   panic on hostile input, and that must close one connection, not the process.

mod apply;
mod awareness;
mod commit;
mod core;
mod driver;
mod full_state;
mod lifecycle;
mod outbox;
#[cfg(test)]
mod sim;

use std::sync::Arc;

use bytes::Bytes;
use shared::{Participant, Roots};
use tokio::sync::oneshot;

pub use self::core::{Action, ConnId, Input, Now, RoomCore};
pub use apply::{Applied, Loaded, apply_untrusted, load_doc, now_ms};
pub use driver::Room;
pub use full_state::FullState;
pub use outbox::{CloseReason, CloseWatch, Closer, Outbox, Refused};

use crate::config::Limits;
use crate::journal::JournalWriter;
use crate::store::{Actor, Store};
use crate::tokens::Role;

/// How a failure of the storage itself (not of one board's data) is told apart: the reason
/// starts with this, and connections are closed with `close::STORAGE_PAUSED`.
const STORAGE_FAILURE: &str = "the storage does not answer: ";

/// `reason`, marked as a failure of the storage (see `close::STORAGE_PAUSED`).
pub fn storage_failure(reason: impl std::fmt::Display) -> String {
    format!("{STORAGE_FAILURE}{reason}")
}

pub fn is_storage_failure(reason: &str) -> bool {
    reason.starts_with(STORAGE_FAILURE)
}

/// The close code and reason for connections of a room that failed with `reason`.
pub fn failure_close(reason: &str) -> (u16, &'static str) {
    if is_storage_failure(reason) {
        (
            shared::wire::close::STORAGE_PAUSED,
            "saving is paused: the storage does not answer; reconnect",
        )
    } else {
        (
            shared::wire::close::INTERNAL,
            "the board is reloading, reconnect",
        )
    }
}

/// A connection as it asks to join a room.
pub struct Joiner {
    pub conn: ConnId,
    pub role: Role,
    pub actor: Arc<Actor>,
    /// Written into the document's `participants` map when the pid is new there.
    pub participant: Option<Participant>,
    pub outbox: Outbox,
    pub closer: Closer,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinError {
    /// The room was unloading; ask the registry again.
    RoomClosed,
    Full,
    Failed(String),
}

/// A change the server makes to a board's document.
/// Shared, so a command that meets an unloading room can be sent again to the next one.
pub type ServerEdit =
    Arc<dyn Fn(&Roots, &mut yrs::TransactionMut) -> Result<(), String> + Send + Sync>;

/// A room's queue holds its commands inline, in blocks of 32: the rare large ones are boxed so
/// the common ones (frames) keep every room's first block small.
pub enum RoomCmd {
    Join {
        joiner: Box<Joiner>,
        reply: oneshot::Sender<Result<(), JoinError>>,
    },
    Frame {
        conn: ConnId,
        frame: Bytes,
    },
    Leave {
        conn: ConnId,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
    /// See `Input::Edit`.
    Edit {
        edit: ServerEdit,
        actor: Arc<Actor>,
        reply: oneshot::Sender<Result<(), JoinError>>,
    },
    /// Entries other nodes committed (see `Input::Remote`).
    Remote(Vec<(u64, Bytes)>),
    /// Asks the store for entries other nodes committed (see `Input::CheckHead`).
    CheckHead,
    /// See `Input::RemoteAwareness`.
    RemoteAwareness {
        node: u64,
        frame: Bytes,
    },
    /// See `Input::ForgetNode`.
    ForgetNode {
        node: u64,
    },
    /// See `Input::CloseRole`.
    CloseRole {
        role: Option<Role>,
        code: u16,
        reason: Box<str>,
    },
}

// Kept small on purpose (see `RoomCmd`): 48 bytes, so a block of the queue takes 1.5 KiB.
const _: () = assert!(std::mem::size_of::<RoomCmd>() <= 48);

/// Everything a room needs from the server.
pub struct RoomContext {
    pub store: Arc<dyn Store>,
    pub writer: JournalWriter,
    pub limits: Limits,
    /// The other relay nodes, when there are (`--redis-url`).
    pub fanout: Option<Arc<crate::fanout::Fanout>>,
}
