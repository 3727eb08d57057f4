//! The whole document of a large board as ready frames: what a client joining with nothing
//! (an empty state vector) is sent, without the document being encoded again, and before the
//! room has even decoded the document.

use bytes::Bytes;
use shared::protocol::{self, Message};

use crate::store::StoredDoc;

/// A board whose stored pieces (its snapshot and the journal entries after it) hold at least
/// this many bytes keeps them, as frames, until its `FULL_STATE_TAIL_MAX`th change since.
const FULL_STATE_CACHE_MIN_BYTES: usize = 256 * 1024;
/// Pieces after the first (stored, then applied since the load) the cached state is kept
/// through.
const FULL_STATE_TAIL_MAX: usize = 64;

/// The whole document as it was loaded, as a ready sync step 2 frame, and the update frames of
/// the changes since, in order.
#[derive(Debug, Clone)]
pub struct FullState {
    step2: Bytes,
    tail: Vec<Bytes>,
}

impl FullState {
    /// What a client joining with nothing is sent: the step 2, then the updates since.
    pub fn frames(&self) -> Vec<Bytes> {
        std::iter::once(&self.step2)
            .chain(&self.tail)
            .cloned()
            .collect()
    }

    /// The stored pieces as frames, when they are large enough to be worth keeping and few
    /// enough.
    pub fn of(stored: &StoredDoc) -> Option<FullState> {
        let snapshot = stored.snapshot.iter().map(|s| s.state_v1.as_slice());
        let mut pieces = snapshot.chain(stored.updates.iter().map(|(_, u)| u.as_slice()));
        let first = pieces.next()?;
        let rest: Vec<&[u8]> = pieces.collect();
        let bytes = first.len() + rest.iter().map(|u| u.len()).sum::<usize>();
        if bytes < FULL_STATE_CACHE_MIN_BYTES || rest.len() > FULL_STATE_TAIL_MAX {
            return None;
        }
        Some(FullState {
            step2: Bytes::from(protocol::encode(&Message::SyncStep2(first))),
            tail: rest
                .into_iter()
                .map(|u| Bytes::from(protocol::encode(&Message::Update(u))))
                .collect(),
        })
    }

    /// Adds the frame of a change applied since; false when the state is no longer worth
    /// keeping (too many changes since), and the caller drops it.
    pub fn push(&mut self, frame: &Bytes) -> bool {
        if self.tail.len() >= FULL_STATE_TAIL_MAX {
            return false;
        }
        self.tail.push(frame.clone());
        true
    }
}
