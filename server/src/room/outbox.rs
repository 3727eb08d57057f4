//! A connection's side of a room, as the room's driver holds it: the bounded queue of frames
//! towards the connection's write loop, and the handle that asks its tasks to close it.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use bytes::Bytes;
use shared::wire::close;
use tokio::sync::{mpsc, watch};

/// Why and how a connection is to be closed.
pub type CloseReason = (u16, String);

/// Asks a connection's tasks to close it with a code; the first reason given wins.
#[derive(Clone)]
pub struct Closer(Arc<watch::Sender<Option<CloseReason>>>);

impl Closer {
    pub fn new() -> Self {
        Closer(Arc::new(watch::Sender::new(None)))
    }

    pub fn close(&self, code: u16, reason: impl Into<String>) {
        self.0.send_if_modified(|current| {
            if current.is_some() {
                return false;
            }
            *current = Some((code, reason.into()));
            true
        });
    }

    /// A receiver to wait on in a loop: subscribing once, not on every frame.
    pub fn watch(&self) -> CloseWatch {
        CloseWatch(self.0.subscribe())
    }
}

impl Default for Closer {
    fn default() -> Self {
        Self::new()
    }
}

/// Waits for a [`Closer`] to be closed.
pub struct CloseWatch(watch::Receiver<Option<CloseReason>>);

impl CloseWatch {
    /// Waits until `close` has been called, and returns its reason.
    pub async fn closed(&mut self) -> CloseReason {
        match self.0.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().expect("wait_for returned a set value"),
            Err(_) => (close::GOING_AWAY, String::new()),
        }
    }
}

/// The queue of frames towards one connection, bounded in frames (by the channel) and in
/// bytes (by `queued_bytes`, which the connection's write loop decreases as it sends).
#[derive(Clone)]
pub struct Outbox {
    pub frames: mpsc::Sender<Bytes>,
    pub queued_bytes: Arc<AtomicUsize>,
}

impl Outbox {
    pub fn new(frames_max: usize) -> (Self, mpsc::Receiver<Bytes>) {
        let (frames, rx) = mpsc::channel(frames_max);
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        (
            Outbox {
                frames,
                queued_bytes,
            },
            rx,
        )
    }

    /// Queues a frame unless the queue is full (in frames or in bytes) or the connection's
    /// write loop has ended.
    pub fn try_push(&self, frame: Bytes, bytes_max: usize) -> Result<(), Refused> {
        let len = frame.len();
        if self.queued_bytes.load(Relaxed) + len > bytes_max {
            return Err(Refused::Full);
        }
        self.queued_bytes.fetch_add(len, Relaxed);
        self.frames.try_send(frame).map_err(|error| {
            self.queued_bytes.fetch_sub(len, Relaxed);
            match error {
                mpsc::error::TrySendError::Full(_) => Refused::Full,
                mpsc::error::TrySendError::Closed(_) => Refused::Closed,
            }
        })
    }
}

/// Why a connection's outbox did not take a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The client reads too slowly: the connection is closed.
    Full,
    /// The connection is already closing (the client left): it is forgotten, no error.
    Closed,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outbox_tells_a_slow_reader_from_a_connection_already_gone() {
        let (outbox, mut rx) = Outbox::new(2);
        let frame = || Bytes::from_static(b"0123456789");
        assert_eq!(outbox.try_push(frame(), 25), Ok(()));
        assert_eq!(outbox.try_push(frame(), 25), Ok(()));
        // Past the byte bound, then past the frame bound: the client is too slow.
        assert_eq!(outbox.try_push(frame(), 25), Err(Refused::Full));
        assert_eq!(outbox.try_push(frame(), 1_000), Err(Refused::Full));
        assert_eq!(rx.try_recv().unwrap(), frame());
        // What a refused frame had counted is given back.
        assert_eq!(outbox.queued_bytes.load(Relaxed), 20);
        // The write loop ended (the client left): not an overflow.
        drop(rx);
        assert_eq!(outbox.try_push(frame(), 1_000), Err(Refused::Closed));
    }
}
