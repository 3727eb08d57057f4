//! The commit pipeline: what the room applied, handed to the store in batches, and the frames
//! and answers that wait for those batches to be committed.
//!
//! The room numbers the updates it applies (1, 2, 3... over its life: `applied`), and gates
//! every outgoing effect on the number of the last update it depends on. The store answers a
//! batch with the seq it gave its first entry: seqs are the store's, never the room's, so that
//! several writers (relay nodes) can share one board's journal.
//!
//! With several writers, the seqs this room's batches get may leave holes: entries other nodes
//! committed in between. The pipeline keeps the board's head as the last seq up to which the
//! room's document holds everything, the seqs above it that it holds already (its own), and the
//! other nodes' entries that arrived ahead of a hole; the room applies those in seq order
//! (`take_next`) and asks the store for what fills the holes.

use std::collections::VecDeque;

use bytes::Bytes;

use super::core::{ConnId, RequestId};
use crate::store::NewEntry;

/// An effect that must wait until the updates it carries are committed.
pub enum Gated {
    /// An update's frame, to every peer but its sender.
    Broadcast {
        except: Option<ConnId>,
        frame: Bytes,
    },
    /// The answer to a sync step 1: a sync step 2, possibly followed by updates.
    AnswerStep1 { conn: ConnId, frames: Vec<Bytes> },
    /// Tells whoever asked for a server edit that it is committed.
    EditDone { request: RequestId },
}

struct Batch {
    id: u64,
    /// The number of the last update it holds.
    upto: u64,
    /// Its updates, to know them when the store hands them back before its answer.
    updates: Vec<Bytes>,
}

#[derive(Default)]
pub struct Pipeline {
    /// Applied, not yet handed to the store.
    unsent: Vec<NewEntry>,
    /// Number of the last update applied.
    applied: u64,
    /// Number of the last update committed.
    committed: u64,
    /// Batches handed to the store, oldest first.
    inflight: VecDeque<Batch>,
    next_batch: u64,
    /// Effects waiting for the commit of the update number they carry, in order.
    waiting: VecDeque<(u64, Gated)>,
    /// The board's head as this room knows it: its document holds every entry up to this seq
    /// (loaded, committed by the room, or applied from another node).
    stored_seq: u64,
    /// Seqs above the head whose entries the document already holds: the room's own batches,
    /// committed after entries of other nodes it has not applied yet.
    ahead: std::collections::BTreeSet<u64>,
    /// Entries of other nodes above the head, waiting for the entries before them.
    remote: std::collections::BTreeMap<u64, Bytes>,
}

/// Entries of other nodes held while the room waits for an earlier one, at most; past it, the
/// room reloads from the journal.
pub const REMOTE_WAITING_MAX: usize = 8_192;

/// An entry to apply after the head (`Pipeline::take_next`).
pub struct Next {
    pub seq: u64,
    pub update: Bytes,
    /// The room's own, read back from the store before the store's answer to its batch.
    pub own: bool,
}

/// What a committed batch releases.
pub enum Outcome {
    Released(Vec<Gated>),
    /// The store failed the batch, or gave it seqs that do not follow the room's head.
    Failed(String),
}

impl Pipeline {
    pub fn new(stored_seq: u64) -> Self {
        Pipeline {
            stored_seq,
            ..Pipeline::default()
        }
    }

    pub fn stored_seq(&self) -> u64 {
        self.stored_seq
    }

    /// Notes an applied update; returns its number, to gate effects on.
    pub fn push(&mut self, entry: NewEntry) -> u64 {
        self.unsent.push(entry);
        self.applied += 1;
        self.applied
    }

    /// The number of the last update applied: effects that depend on the whole document as it
    /// is gate on it.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Gates `effect` on update `number`: returns it when it may happen now (that update is
    /// committed and nothing earlier waits).
    pub fn gate(&mut self, number: u64, effect: Gated) -> Option<Gated> {
        if self.waiting.is_empty() && number <= self.committed {
            Some(effect)
        } else {
            self.waiting.push_back((number, effect));
            None
        }
    }

    /// Hands what was applied since the last call to the store, as one batch.
    pub fn flush(&mut self) -> Option<(u64, Vec<NewEntry>)> {
        if self.unsent.is_empty() {
            return None;
        }
        let entries = std::mem::take(&mut self.unsent);
        self.next_batch += 1;
        self.inflight.push_back(Batch {
            id: self.next_batch,
            upto: self.applied,
            updates: entries.iter().map(|e| e.update_v1.clone()).collect(),
        });
        Some((self.next_batch, entries))
    }

    /// The store's answer to batch `id`: the seq of its first entry, or why it failed.
    pub fn committed(&mut self, id: u64, result: Result<u64, String>) -> Outcome {
        let Some(batch) = self.inflight.pop_front() else {
            return Outcome::Failed(format!("batch {id} answered while none was under way"));
        };
        if batch.id != id {
            return Outcome::Failed(format!("batch {id} answered before batch {}", batch.id));
        }
        let first_seq = match result {
            Ok(first_seq) => first_seq,
            Err(reason) => {
                return Outcome::Failed(super::storage_failure(format!(
                    "the journal could not be written: {reason}"
                )));
            }
        };
        let seqs = first_seq..first_seq + batch.updates.len() as u64;
        if seqs.clone().any(|seq| self.ahead.contains(&seq)) {
            return Outcome::Failed(format!(
                "the journal gave seq {first_seq} again (head {})",
                self.stored_seq
            ));
        }
        // Seqs at or below the head were read back from the store before this answer came
        // (a catch-up that ran meanwhile: `take_next` knew them as the room's own). Other
        // writers' entries may lie between the head and the rest: held as `ahead` until they
        // are applied.
        self.ahead.extend(seqs.filter(|seq| *seq > self.stored_seq));
        self.advance();
        self.committed = batch.upto;
        let mut released = Vec::new();
        while self
            .waiting
            .front()
            .is_some_and(|(number, _)| *number <= self.committed)
        {
            released.push(self.waiting.pop_front().unwrap().1);
        }
        Outcome::Released(released)
    }

    /// Moves the head over the seqs the document already holds.
    fn advance(&mut self) {
        while self.ahead.remove(&(self.stored_seq + 1)) {
            self.stored_seq += 1;
        }
        // Another node's copy of an entry that is the room's own, or already applied.
        while self
            .remote
            .first_key_value()
            .is_some_and(|(seq, _)| *seq <= self.stored_seq || self.ahead.contains(seq))
        {
            self.remote.pop_first();
        }
    }

    /// Keeps another node's committed entry `seq` (from the fan-out or the store), unless the
    /// document holds it already; false when too many wait (the room should reload).
    pub fn hold_remote(&mut self, seq: u64, update: Bytes) -> bool {
        if seq > self.stored_seq && !self.ahead.contains(&seq) {
            self.remote.insert(seq, update);
        }
        self.remote.len() <= REMOTE_WAITING_MAX
    }

    /// The next entry read from the store or another node, in seq order, when it follows the
    /// head; the head moves past it. The caller applies and relays it, unless it is one of the
    /// room's own batches still waiting for the store's answer (`Next::own`: a catch-up read it
    /// back first; the document holds it, and its relay waits for that answer).
    pub fn take_next(&mut self) -> Option<Next> {
        self.advance();
        let seq = self.stored_seq + 1;
        let update = self.remote.remove(&seq)?;
        self.stored_seq = seq;
        self.advance();
        let own = self
            .inflight
            .iter()
            .any(|batch| batch.updates.contains(&update));
        Some(Next { seq, update, own })
    }

    /// Entries are missing between the head and what the room holds or was sent.
    pub fn has_hole(&self) -> bool {
        !self.ahead.is_empty() || !self.remote.is_empty()
    }

    /// Forgets what was applied and not handed to the store (a failed room: its senders still
    /// have it, and send it again when they reconnect). Nothing gated on it was performed.
    pub fn discard_unsent(&mut self) {
        self.unsent.clear();
    }

    /// Everything applied is committed (storage holds it all).
    pub fn settled(&self) -> bool {
        self.unsent.is_empty() && self.inflight.is_empty()
    }

    /// Settled, and no effect waits.
    pub fn idle(&self) -> bool {
        self.settled() && self.waiting.is_empty()
    }

    /// Batches handed to the store and not answered yet.
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }
}
