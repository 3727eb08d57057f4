//! The room's phases and the moves between them: loading, waking up, falling asleep, snapshots,
//! unloading, failing and shutting down (see `core.rs` for the phases).

use std::collections::VecDeque;

use shared::Roots;
use shared::protocol::{self, Message};
use shared::wire::close;

use super::JoinError;
use super::apply::Loaded;
use super::core::{Action, Awake, ConnId, Input, Phase, RoomCore, encode_state};
use crate::store::Snapshot;

impl RoomCore {
    /// What a loading room does with an input: lets a join in (and greets it later), answers
    /// early what it can, keeps the rest for when the document is there.
    pub(super) fn while_loading(&mut self, input: Input) {
        match input {
            Input::Read(full_state) => {
                self.full_state = full_state;
                // The wake-up's input waited for this: it may be answered early.
                let Phase::Loading { read, deferred, .. } = &mut self.phase else {
                    unreachable!("checked by the caller")
                };
                *read = true;
                let waiting = std::mem::take(deferred);
                for input in waiting {
                    self.while_loading(input);
                }
            }
            // Presence needs no document: it expires on time while a large board decodes. The
            // rest (snapshots, sleep, unload) waits for the tick after the load.
            Input::Tick => self.expire_awareness(),
            input
                if matches!(self.phase, Phase::Loading { read: false, .. })
                    && !matches!(input, Input::Loaded(_)) =>
            {
                if let Phase::Loading { deferred, .. } = &mut self.phase {
                    deferred.push_back(input);
                }
            }
            Input::Loaded(Ok(loaded)) => self.install(loaded),
            Input::Loaded(Err(reason)) => self.fail_to_load(reason),
            Input::Join {
                conn,
                role,
                actor,
                participant,
            } => self.join(conn, role, actor, participant),
            Input::Frame { conn, frame } if self.answer_early(conn, &frame) => {}
            input => {
                if let Phase::Loading { deferred, .. } = &mut self.phase {
                    deferred.push_back(input);
                }
            }
        }
    }

    /// Answers a frame that is only a sync step 1 with an empty state vector from the stored
    /// bytes, if the room has them; false when the frame must wait for the document.
    fn answer_early(&mut self, conn: ConnId, frame: &[u8]) -> bool {
        let Some(full) = &self.full_state else {
            return false;
        };
        if !self.peers.contains_key(&conn) {
            return false;
        }
        let Ok(messages) = protocol::decode_frame(frame, 1) else {
            return false;
        };
        // An empty state vector is the single varint 0.
        if !matches!(messages.as_slice(), [Message::SyncStep1([0])]) {
            return false;
        }
        for frame in full.frames() {
            self.send(conn, frame);
        }
        true
    }

    /// Takes the decoded document in, greets who joined meanwhile and handles what waited.
    fn install(&mut self, (doc, stored_seq, snapshot_seq, document_bytes): Loaded) {
        let awake = Awake {
            roots: Roots::new(&doc),
            doc,
            document_bytes,
            used_ms: self.now.mono_ms,
        };
        let Phase::Loading {
            deferred,
            greetings,
            waking,
            ..
        } = std::mem::replace(&mut self.phase, Phase::Awake(awake))
        else {
            unreachable!("installing outside the loading phase")
        };
        if waking {
            self.emit(Action::Asleep(false));
            // Nothing was written while it slept: the same entries came back.
            if stored_seq != self.pipeline.stored_seq() {
                return self.drain(Some(format!(
                    "the board's journal moved while its room slept ({} then {stored_seq})",
                    self.pipeline.stored_seq()
                )));
            }
        } else {
            self.pipeline = super::commit::Pipeline::new(stored_seq);
        }
        self.snapshot_seq = snapshot_seq;
        self.idle_since_ms = self.now.mono_ms;
        for (conn, participant) in greetings {
            self.greet(conn, participant);
        }
        for input in deferred {
            // An input may stop the room (a shutdown, a poisoned update): the rest is refused.
            self.step(self.now, input);
        }
    }

    /// The document could not be loaded: whoever joined meanwhile is closed, whoever waits is
    /// refused.
    fn fail_to_load(&mut self, reason: String) {
        tracing::error!(board = %self.board, %reason, "could not load board");
        let Phase::Loading { deferred, .. } = std::mem::replace(&mut self.phase, Phase::Stopped)
        else {
            unreachable!("failing to load outside the loading phase")
        };
        let code = if super::is_storage_failure(&reason) {
            close::STORAGE_PAUSED
        } else {
            close::INTERNAL
        };
        self.close_all(code, "the board could not be loaded");
        let error = JoinError::Failed(reason);
        for input in deferred {
            self.refuse(input, error.clone());
        }
        self.emit(Action::Stop {
            snapshot: None,
            refuse: error,
        });
    }

    /// An input needs the document of a sleeping room: load it again.
    pub(super) fn wake_up(&mut self, input: Input) {
        self.phase = Phase::Loading {
            read: false,
            deferred: VecDeque::new(),
            greetings: Vec::new(),
            waking: true,
        };
        self.emit(Action::Load);
        self.while_loading(input);
    }

    /// Expires awareness; then unloads, snapshots or falls asleep when due.
    pub(super) fn tick(&mut self) {
        if let Some(frame) = self
            .awareness
            .expire(self.now.mono_ms, self.limits.awareness_timeout_ms)
        {
            self.broadcast(None, frame);
        }
        let idle_for_ms = self.now.mono_ms.saturating_sub(self.idle_since_ms);
        if self.peers.is_empty()
            && self.pipeline.idle()
            && idle_for_ms >= self.limits.room_idle_unload_ms
        {
            return self.unload();
        }
        let Phase::Awake(awake) = &self.phase else {
            return;
        };
        let unused_for_ms = self.now.mono_ms.saturating_sub(awake.used_ms);
        if self.pipeline.stored_seq() >= self.snapshot_seq + self.limits.snapshot_every_updates {
            self.snapshot_now();
        }
        // Sharing the board with other nodes, the room checks now and then that it missed
        // none of their entries (a fan-out message lost) and never sleeps (their entries
        // arrive without its peers asking).
        let clustered = self.limits.head_check_interval_ms > 0;
        if clustered
            && self.now.mono_ms.saturating_sub(self.head_checked_ms)
                >= self.limits.head_check_interval_ms
        {
            self.catch_up();
        }
        if !clustered
            && !self.peers.is_empty()
            && self.pipeline.idle()
            && unused_for_ms >= self.limits.room_sleep_after_ms
        {
            self.fall_asleep();
        }
    }

    fn expire_awareness(&mut self) {
        let timeout_ms = self.limits.awareness_timeout_ms;
        if let Some(frame) = self.awareness.expire(self.now.mono_ms, timeout_ms) {
            self.broadcast(None, frame);
        }
    }

    /// Lets the document go: every peer was quiet (nothing but awareness) for
    /// `room_sleep_after_ms` and everything applied is committed, so storage holds it all. The
    /// connections stay; the next input that needs the document loads it again.
    fn fall_asleep(&mut self) {
        self.phase = Phase::Asleep;
        self.full_state = None;
        // Quiet now: a good moment to bring the trace up to date.
        self.emit(Action::TraceHint);
        self.emit(Action::Asleep(true));
        tracing::debug!(board = %self.board, "room asleep");
    }

    fn unload(&mut self) {
        let snapshot = self.take_snapshot();
        if matches!(self.phase, Phase::Asleep) {
            self.emit(Action::Asleep(false));
        }
        self.phase = Phase::Stopped;
        self.emit(Action::TraceHint);
        tracing::debug!(board = %self.board, "room unloaded");
        self.emit(Action::Stop {
            snapshot,
            refuse: JoinError::RoomClosed,
        });
    }

    /// Stops serving: after an error (`failure`; the next join reloads the document from the
    /// journal) or for a shutdown. Every peer is closed; the room stops once the commits under
    /// way have ended, so the next room of the board loads everything this one wrote.
    pub(super) fn drain(&mut self, failure: Option<String>) {
        let (code, reason) = match &failure {
            Some(failure) => {
                tracing::error!(board = %self.board, %failure, "room failed; it will reload from storage");
                super::failure_close(failure)
            }
            None => (close::GOING_AWAY, "server shutting down"),
        };
        let previous = std::mem::replace(&mut self.phase, Phase::Stopped);
        if matches!(previous, Phase::Asleep) {
            self.emit(Action::Asleep(false));
        }
        let awake = match previous {
            Phase::Awake(awake) if failure.is_none() => Some(awake),
            _ => None,
        };
        self.phase = Phase::Draining { awake, failure };
        self.close_all(code, reason);
        // Applied but not handed to the store: a failed room drops it (its senders still have
        // it and send it again when they reconnect); a shutdown commits it.
        self.flush_if_shutting_down();
        self.stop_when_drained();
    }

    fn flush_if_shutting_down(&mut self) {
        if let Phase::Draining { failure: None, .. } = self.phase {
            self.flush();
        } else {
            self.pipeline.discard_unsent();
        }
    }

    pub(super) fn stop_when_drained(&mut self) {
        if self.pipeline.in_flight() > 0 {
            return;
        }
        let Phase::Draining { awake, failure } = std::mem::replace(&mut self.phase, Phase::Stopped)
        else {
            return;
        };
        let snapshot = match (awake, failure) {
            (Some(awake), None) => {
                self.phase = Phase::Awake(awake);
                let snapshot = self.take_snapshot();
                self.phase = Phase::Stopped;
                snapshot
            }
            _ => None,
        };
        self.emit(Action::Stop {
            snapshot,
            refuse: JoinError::RoomClosed,
        });
    }

    fn close_all(&mut self, code: u16, reason: &str) {
        let conns: Vec<ConnId> = self.peers.keys().copied().collect();
        for conn in conns {
            self.kick(conn, code, reason.to_owned());
        }
    }

    /// Writes a snapshot in the background if everything applied is committed.
    pub(super) fn snapshot_now(&mut self) {
        if !self.pipeline.settled() {
            return;
        }
        if let Some(snapshot) = self.take_snapshot() {
            self.emit(Action::Snapshot(snapshot));
        }
    }

    /// Encodes the document as of the last committed entry (when awake and everything applied
    /// is committed, and something was since the last snapshot).
    fn take_snapshot(&mut self) -> Option<Snapshot> {
        let upto_seq = self.pipeline.stored_seq();
        if upto_seq == self.snapshot_seq || !self.pipeline.settled() {
            return None;
        }
        let Phase::Awake(awake) = &mut self.phase else {
            // Asleep, the room applied nothing since storage held it all.
            return None;
        };
        let Some(state_v1) = encode_state(&awake.doc) else {
            tracing::error!(board = %self.board, "encoded state does not decode; snapshot skipped");
            return None;
        };
        awake.document_bytes = state_v1.len();
        self.snapshot_seq = upto_seq;
        Some(Snapshot {
            board: self.board.clone(),
            upto_seq,
            state_v1,
            created_ms: self.now.wall_ms,
        })
    }
}
