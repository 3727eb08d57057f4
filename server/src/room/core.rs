//! The room's core: one board's live document, its connections and its pending commits, as a
//! state machine without I/O. It is given inputs (a connection's frame, the store's answer to
//! a commit, the tick) with the current time, and answers with actions (frames to send to
//! which connections, entries to journal, connections to close, a snapshot to write). The
//! tokio driver (`driver.rs`) performs them; the simulation (`sim.rs`) performs them on
//! simulated clients and a simulated store, in virtual time.
//!
//! The phases (`Phase`):
//! - `Loading`: the document is being read and decoded (the room starts, or wakes up). Joins
//!   are let in and greeted once it is there; a client joining with nothing is answered from
//!   the stored bytes when they qualify (`FullState`); every other input waits, in order.
//! - `Awake`: the document is decoded; everything is served.
//! - `Asleep`: every connection only sent awareness for `room_sleep_after_ms` and storage holds
//!   everything: the document is let go, connections stay; an input that needs it loads it.
//! - `Draining`: a commit failed, an update poisoned the document, or the server stops: the
//!   connections are closed and the room waits for the commits under way, then stops.
//! - `Stopped`: the driver removes the room from the registry and refuses what comes next.

use std::collections::{BTreeMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use bytes::Bytes;
use shared::protocol::{self, Message};
use shared::wire::close;
use shared::{Participant, Roots};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, Map, ReadTxn, StateVector, Transact, Update};

use super::apply::{Applied, Loaded, apply_untrusted};
use super::awareness::{self, Awareness};
use super::commit::{Gated, Outcome, Pipeline};
use super::full_state::FullState;
use super::outbox::Refused;
use super::{JoinError, ServerEdit};
use crate::config::Limits;
use crate::store::{Actor, BoardId, NewEntry, Snapshot};
use crate::tokens::Role;

/// Identifies one websocket connection for the life of the process.
pub type ConnId = u64;
/// The connection ids that stand for other relay nodes (their clients' presence): the top
/// bit set, never reached by the process's own connection counter.
const REMOTE_NODE_CONNS: ConnId = 1 << 63;
/// The connection id that stands for another relay node's clients.
fn node_conn(node: u64) -> ConnId {
    REMOTE_NODE_CONNS | (node & !REMOTE_NODE_CONNS)
}

/// Identifies a server edit, to answer it once committed.
pub type RequestId = u64;

/// The time, given with every input: a monotonic clock for timeouts and the wall clock for
/// what is recorded (journal entries, snapshots).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Now {
    pub mono_ms: u64,
    pub wall_ms: i64,
}

/// Inputs held while the document loads, at most; then the driver stops reading its queue,
/// which in turn makes senders wait.
pub const LOADING_DEFERRED_MAX: usize = 1024;

pub enum Input {
    /// A connection asks to join (answered with `Action::Joined`).
    Join {
        conn: ConnId,
        role: Role,
        actor: Arc<Actor>,
        /// Written into the document's `participants` map when the pid is new there.
        participant: Option<Participant>,
    },
    /// A websocket message of a connection that joined.
    Frame { conn: ConnId, frame: Bytes },
    /// The connection ended.
    Leave { conn: ConnId },
    /// An edit the server makes itself (a rename, a restored element), journaled under `actor`
    /// and relayed like any other update; answered with `Action::Edited` once committed. An
    /// edit that returns an error must change nothing.
    Edit {
        request: RequestId,
        edit: ServerEdit,
        actor: Arc<Actor>,
    },
    /// Closes the connections of one role (all when `None`): a link was rotated or revoked,
    /// or the board was deleted.
    CloseRole {
        role: Option<Role>,
        code: u16,
        reason: Box<str>,
    },
    /// The server stops: close everything, commit what was applied, stop.
    Shutdown,
    /// The stored pieces were read (`Action::Load`); their frames when they qualify.
    Read(Option<FullState>),
    /// The stored pieces were decoded (`Action::Load`).
    Loaded(Result<Loaded, String>),
    /// The store's answer to `Action::Journal`: the seq of the batch's first entry.
    Committed {
        batch: u64,
        result: Result<u64, String>,
    },
    /// A connection's outbox did not take a frame.
    Refused { conn: ConnId, why: Refused },
    /// Entries of this board's journal that another relay node committed (from the fan-out),
    /// with their seqs: applied in seq order and relayed to every peer.
    Remote(Vec<(u64, Bytes)>),
    /// An awareness frame another relay node's room relayed (its own clients' presence),
    /// `node` naming that node.
    RemoteAwareness { node: u64, frame: Bytes },
    /// Another relay node is dead: the presence of its clients goes (told to this room's peers).
    ForgetNode { node: u64 },
    /// Asks the store for entries of other nodes this room lacks (this node's subscription to
    /// the fan-out came back: messages may have been missed).
    CheckHead,
    /// The store's answer to `Action::CatchUp`.
    CaughtUp(Result<Vec<(u64, Bytes)>, String>),
    /// Time passed: expire awareness, snapshot, sleep or unload when due.
    Tick,
}

#[derive(Debug)]
pub enum Action {
    Send {
        conn: ConnId,
        frame: Bytes,
    },
    Broadcast {
        except: Option<ConnId>,
        frame: Bytes,
    },
    /// The answer to `Input::Join`; a connection refused is forgotten.
    Joined {
        conn: ConnId,
        result: Result<(), JoinError>,
    },
    /// The answer to `Input::Edit`.
    Edited {
        request: RequestId,
        result: Result<(), JoinError>,
    },
    /// The room forgot the connection; its tasks are to close it with this code.
    Close {
        conn: ConnId,
        code: u16,
        reason: String,
    },
    /// The room forgot a connection that had gone (left, or its outbox closed).
    Forget {
        conn: ConnId,
    },
    /// Read the board's stored pieces, answer `Input::Read`, then decode them and answer
    /// `Input::Loaded`.
    Load,
    /// Append these entries to the board's journal, in order, answering `Input::Committed`.
    Journal {
        batch: u64,
        entries: Vec<NewEntry>,
    },
    /// Write this snapshot in the background; the journal holds everything it does.
    Snapshot(Snapshot),
    /// Tell the other relay nodes' rooms of this board (this frame of presence comes from this
    /// node's connections).
    ShareAwareness(Bytes),
    /// Read the board's journal entries after this seq from the store and answer
    /// `Input::CaughtUp` (entries other nodes committed that this room lacks).
    CatchUp {
        after: u64,
    },
    /// A good moment to bring the board's trace up to date.
    TraceHint,
    /// The room let its document go (`true`) or took it back (`false`).
    Asleep(bool),
    /// The room is done: write the snapshot if any, leave the registry, and refuse whatever
    /// comes next with `refuse`.
    Stop {
        snapshot: Option<Snapshot>,
        refuse: JoinError,
    },
}

/// A room's decoded document and its root types.
pub(super) struct Awake {
    pub(super) doc: Doc,
    pub(super) roots: Roots,
    /// An estimate of the document's size: the stored bytes, plus the updates applied since
    /// (measured again at each snapshot).
    pub(super) document_bytes: usize,
    /// When an input last needed the document.
    pub(super) used_ms: u64,
}

pub(super) enum Phase {
    Loading {
        /// The stored pieces were read (`Input::Read`): early answers are possible from now
        /// on. Until then the driver gives no input but the wake-up's, kept in `deferred`.
        read: bool,
        /// Inputs to handle once the document is there, in order.
        deferred: VecDeque<Input>,
        /// Connections let in meanwhile, to greet then.
        greetings: Vec<(ConnId, Option<Participant>)>,
        /// Waking up from `Asleep` (not the first load).
        waking: bool,
    },
    Awake(Awake),
    Asleep,
    Draining {
        /// Kept for the last snapshot of a shutdown.
        awake: Option<Awake>,
        /// Why the room fails; `None` for a shutdown.
        failure: Option<String>,
    },
    Stopped,
}

pub(super) struct Peer {
    role: Role,
    actor: Arc<Actor>,
    /// A sync step 2 answer is waiting for its commit; further step 1 requests are ignored
    /// until it is sent, so a client cannot make the room compute many full diffs.
    step1_pending: bool,
    /// The room asked this connection for changes it missed (`Applied::Gap`) and has applied
    /// nothing of it since: it does not ask again for each later update.
    asked_resync: bool,
}

pub struct RoomCore {
    pub(super) board: BoardId,
    pub(super) limits: Limits,
    pub(super) phase: Phase,
    /// Ordered, like every map here, so a run is the same every time (the simulation replays
    /// seeds).
    pub(super) peers: BTreeMap<ConnId, Peer>,
    pub(super) awareness: Awareness,
    pub(super) pipeline: Pipeline,
    /// The seq of the newest snapshot.
    pub(super) snapshot_seq: u64,
    /// See `FullState`.
    pub(super) full_state: Option<FullState>,
    /// Since when the room has had no connection.
    pub(super) idle_since_ms: u64,
    pub(super) now: Now,
    pub(super) actions: VecDeque<Action>,
    /// A `CatchUp` is under way.
    pub(super) catching_up: bool,
    /// When the room last asked the store for entries of other nodes (`head_check_interval_ms`).
    pub(super) head_checked_ms: u64,
}

impl RoomCore {
    /// A room that starts loading its board (its first action is `Load`).
    pub fn new(board: BoardId, limits: Limits, now: Now) -> Self {
        let mut core = RoomCore {
            board,
            limits,
            phase: Phase::Loading {
                read: false,
                deferred: VecDeque::new(),
                greetings: Vec::new(),
                waking: false,
            },
            peers: BTreeMap::new(),
            awareness: Awareness::default(),
            pipeline: Pipeline::new(0),
            snapshot_seq: 0,
            full_state: None,
            idle_since_ms: now.mono_ms,
            now,
            actions: VecDeque::new(),
            catching_up: false,
            head_checked_ms: now.mono_ms,
        };
        core.emit(Action::TraceHint);
        core.emit(Action::Load);
        core
    }

    pub fn board(&self) -> &BoardId {
        &self.board
    }

    /// The next action to perform.
    pub fn next_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Whether the driver should keep reading its queue (a loading room holds a bounded number
    /// of inputs).
    pub fn wants_input(&self) -> bool {
        match &self.phase {
            Phase::Loading { read, deferred, .. } => *read && deferred.len() < LOADING_DEFERRED_MAX,
            // Refused in one go once the room stops.
            Phase::Draining { .. } | Phase::Stopped => false,
            _ => true,
        }
    }

    pub fn is_stopped(&self) -> bool {
        matches!(self.phase, Phase::Stopped)
    }

    /// The decoded document, when awake (for the simulation's checks).
    #[cfg(test)]
    pub(super) fn doc(&self) -> Option<&Doc> {
        match &self.phase {
            Phase::Awake(awake) => Some(&awake.doc),
            _ => None,
        }
    }

    #[cfg(test)]
    pub(super) fn peer_ids(&self) -> impl Iterator<Item = ConnId> + '_ {
        self.peers.keys().copied()
    }

    #[cfg(test)]
    pub(super) fn phase_name(&self) -> &'static str {
        match self.phase {
            Phase::Loading { .. } => "loading",
            Phase::Awake(_) => "awake",
            Phase::Asleep => "asleep",
            Phase::Draining { .. } => "draining",
            Phase::Stopped => "stopped",
        }
    }

    /// Handles one input at time `now`.
    pub fn step(&mut self, now: Now, input: Input) {
        self.now = now;
        let needs_document = match self.phase {
            Phase::Awake(_) | Phase::Asleep => needs_document(&input),
            _ => false,
        };
        if let Phase::Awake(awake) = &mut self.phase
            && needs_document
        {
            awake.used_ms = now.mono_ms;
        }
        match (&mut self.phase, input) {
            (_, Input::Refused { conn, why }) => self.refused(conn, why),
            (_, Input::Committed { batch, result }) => self.committed(batch, result),
            (Phase::Stopped | Phase::Draining { .. }, input) => {
                self.refuse(input, JoinError::RoomClosed)
            }
            (Phase::Loading { .. }, input) => self.while_loading(input),
            (Phase::Asleep, input) if needs_document => self.wake_up(input),
            (_, input) => self.handle(input),
        }
    }

    /// Hands what was applied since the last call to the store (one group commit). The driver
    /// calls it once it has handled the inputs at hand.
    pub fn flush(&mut self) {
        if let Some((batch, entries)) = self.pipeline.flush() {
            self.emit(Action::Journal { batch, entries });
        }
    }

    pub(super) fn emit(&mut self, action: Action) {
        self.actions.push_back(action);
    }

    /// Inputs of an awake room (or a sleeping one that does not need its document).
    pub(super) fn handle(&mut self, input: Input) {
        match input {
            Input::Join {
                conn,
                role,
                actor,
                participant,
            } => self.join(conn, role, actor, participant),
            Input::Frame { conn, frame } => self.on_frame(conn, frame),
            Input::Leave { conn } => self.leave(conn),
            Input::Edit {
                request,
                edit,
                actor,
            } => self.edit(request, edit, actor),
            Input::CloseRole { role, code, reason } => {
                let closing: Vec<ConnId> = self
                    .peers
                    .iter()
                    .filter(|(_, peer)| role.is_none_or(|r| peer.role == r))
                    .map(|(conn, _)| *conn)
                    .collect();
                for conn in closing {
                    self.kick(conn, code, reason.to_string());
                }
            }
            Input::Shutdown => self.drain(None),
            Input::Tick => self.tick(),
            Input::Remote(entries) => self.remote(entries),
            Input::CheckHead => self.catch_up(),
            Input::RemoteAwareness { node, frame } => self.remote_awareness(node, &frame),
            Input::ForgetNode { node } => {
                if let Some(frame) = self.awareness.forget(node_conn(node)) {
                    self.broadcast(None, frame);
                }
            }
            Input::CaughtUp(result) => {
                self.catching_up = false;
                match result {
                    Ok(entries) => self.remote(entries),
                    Err(reason) => {
                        tracing::warn!(board = %self.board, %reason, "catching up failed; tried again at the next check");
                    }
                }
            }
            Input::Read(_) | Input::Loaded(_) => {
                tracing::warn!(board = %self.board, "a load answered while none was under way");
            }
            Input::Committed { .. } | Input::Refused { .. } => unreachable!("handled in step"),
        }
    }

    /// Lets a connection in (its frames may come from now on) and greets it, at once when the
    /// document is there, once it is loaded otherwise.
    pub(super) fn join(
        &mut self,
        conn: ConnId,
        role: Role,
        actor: Arc<Actor>,
        participant: Option<Participant>,
    ) {
        if !self.accept(conn, role, actor) {
            return;
        }
        match &mut self.phase {
            Phase::Loading { greetings, .. } => greetings.push((conn, participant)),
            _ => self.greet(conn, participant),
        }
    }

    /// Lets a connection in; false if it was refused.
    fn accept(&mut self, conn: ConnId, role: Role, actor: Arc<Actor>) -> bool {
        if self.peers.len() >= self.limits.max_clients_per_board {
            self.emit(Action::Joined {
                conn,
                result: Err(JoinError::Full),
            });
            return false;
        }
        self.peers.insert(
            conn,
            Peer {
                role,
                actor,
                step1_pending: false,
                asked_resync: false,
            },
        );
        self.emit(Action::Joined {
            conn,
            result: Ok(()),
        });
        true
    }

    /// What the room tells a connection it let in, once the document is there: its own sync
    /// step 1, the awareness states it knows; and it records the participant.
    pub(super) fn greet(&mut self, conn: ConnId, participant: Option<Participant>) {
        let Some(peer) = self.peers.get(&conn) else {
            return;
        };
        let actor = peer.actor.clone();
        let state_vector = self.awake().doc.transact().state_vector().encode_v1();
        self.send(
            conn,
            Bytes::from(protocol::encode(&Message::SyncStep1(&state_vector))),
        );
        if !self.awareness.is_empty() {
            let frame = self.awareness.frame_of_all();
            self.send(conn, frame);
        }
        if let Some(participant) = participant {
            self.record_participant(actor, &participant);
        }
    }

    fn record_participant(&mut self, actor: Arc<Actor>, participant: &Participant) {
        let limits = &self.limits;
        let awake = self.awake();
        if awake.document_bytes >= limits.max_document_bytes {
            return;
        }
        let update = {
            let mut txn = awake.doc.transact_mut();
            if awake.roots.participants.len(&txn) as usize >= limits.max_participants_per_board {
                return;
            }
            // On a board showing pseudonyms the document never holds the name.
            let shown = if shared::pseudonym::is_on(&awake.roots, &txn) {
                let lang = awake.roots.meta(&txn).lang.unwrap_or_default();
                let n = awake.roots.participants.len(&txn) as usize + 1;
                std::borrow::Cow::Owned(shared::pseudonym::pseudonym(lang, n, participant))
            } else {
                std::borrow::Cow::Borrowed(participant)
            };
            if !awake.roots.add_participant(&mut txn, &actor.pid, &shown) {
                return;
            }
            txn.encode_update_v1()
        };
        self.journal_and_broadcast(actor, Bytes::from(update), None);
    }

    fn edit(&mut self, request: RequestId, edit: ServerEdit, actor: Arc<Actor>) {
        let update = {
            let awake = self.awake();
            let mut txn = awake.doc.transact_mut();
            edit(&awake.roots, &mut txn).map(|()| txn.encode_update_v1())
        };
        match update {
            Ok(update) => {
                let number = self.journal_and_broadcast(actor, Bytes::from(update), None);
                // Answered once committed, so what the caller reads next holds it.
                self.gate(number, Gated::EditDone { request });
            }
            Err(e) => self.emit(Action::Edited {
                request,
                result: Err(JoinError::Failed(e)),
            }),
        }
    }

    fn on_frame(&mut self, conn: ConnId, frame: Bytes) {
        let Some(peer) = self.peers.get(&conn) else {
            return;
        };
        let role = peer.role;
        let messages = match protocol::decode_frame(&frame, self.limits.max_messages_per_frame) {
            Ok(messages) => messages,
            Err(e) => return self.kick(conn, close::MALFORMED, e.to_string()),
        };
        let mut answered_step1 = false;
        for message in messages {
            // A message may have closed the connection or stopped the room (a poisoned update).
            if !self.peers.contains_key(&conn)
                || !matches!(self.phase, Phase::Awake(_) | Phase::Asleep)
            {
                return;
            }
            match message {
                // One answer per frame: a frame of many step 1 requests would otherwise make
                // the room compute as many full diffs.
                Message::SyncStep1(state_vector) if !answered_step1 => {
                    answered_step1 = true;
                    self.answer_step1(conn, state_vector);
                }
                Message::SyncStep1(_) => {}
                Message::SyncStep2(update) | Message::Update(update) => {
                    // A viewer's updates are dropped: never applied, stored nor relayed.
                    if role.can_edit() {
                        self.apply_client_update(conn, frame.slice_ref(update));
                    }
                }
                Message::Awareness(payload) => {
                    self.apply_awareness(conn, payload, role == Role::Facilitator)
                }
                Message::QueryAwareness => {
                    let frame = self.awareness.frame_of_all();
                    self.send(conn, frame);
                }
                Message::Auth(_) => {}
            }
        }
    }

    fn answer_step1(&mut self, conn: ConnId, state_vector: &[u8]) {
        match self.peers.get_mut(&conn) {
            Some(peer) if !peer.step1_pending => peer.step1_pending = true,
            _ => return,
        }
        let full_state = self.full_state.as_ref();
        let awake = self.awake();
        let frames = catch_unwind(AssertUnwindSafe(|| {
            let state_vector = StateVector::decode_v1(state_vector).ok()?;
            if state_vector.is_empty()
                && let Some(full) = full_state
            {
                return Some(full.frames());
            }
            let diff = awake.doc.transact().encode_diff_v1(&state_vector);
            Some(vec![Bytes::from(protocol::encode(&Message::SyncStep2(
                &diff,
            )))])
        }));
        let Ok(Some(frames)) = frames else {
            return self.kick(conn, close::MALFORMED, "malformed state vector".into());
        };
        // The answer may hold updates still being written: it waits for their commit.
        let number = self.pipeline.applied();
        self.gate(number, Gated::AnswerStep1 { conn, frames });
    }

    fn apply_client_update(&mut self, conn: ConnId, update_v1: Bytes) {
        let document_bytes_max = self.limits.max_document_bytes;
        if self.awake().document_bytes + update_v1.len() > document_bytes_max {
            // The size is an estimate that only grows between snapshots: measure the real size
            // (by writing a snapshot) before refusing, so deletions count.
            self.snapshot_now();
        }
        if self.awake().document_bytes + update_v1.len() > document_bytes_max {
            let reason = format!("the board reached its size limit of {document_bytes_max} bytes");
            return self.kick(conn, close::LIMIT, reason);
        }
        match apply_untrusted(&self.awake().doc, &update_v1) {
            Applied::Changed => {
                if let Some(peer) = self.peers.get_mut(&conn) {
                    peer.asked_resync = false;
                }
            }
            Applied::Empty => return,
            Applied::Gap => {
                // Sharing the board, the missing changes may be another node's, committed and
                // not yet here: the store has them (the client's answer brings its own).
                if self.limits.head_check_interval_ms > 0 {
                    self.catch_up();
                }
                return self.ask_resync(conn);
            }
            Applied::Refused(reason) => return self.kick(conn, close::MALFORMED, reason),
            Applied::Poisoned(reason) => {
                // The document may hold part of the update: reload it from the journal,
                // which does not have it.
                self.kick(conn, close::MALFORMED, reason.clone());
                return self.drain(Some(reason));
            }
        }
        let actor = self.peers[&conn].actor.clone();
        self.journal_and_broadcast(actor, update_v1, Some(conn));
    }

    /// A connection sent a change that continues changes the room does not hold (a client that
    /// reconnected sends a new change before its sync brought the older ones): the room asks
    /// it once, with its own sync step 1, for everything it misses; the client's answer (a
    /// sync step 2) carries the dropped change too.
    fn ask_resync(&mut self, conn: ConnId) {
        let Some(peer) = self.peers.get_mut(&conn) else {
            return;
        };
        if std::mem::replace(&mut peer.asked_resync, true) {
            return;
        }
        let state_vector = self.awake().doc.transact().state_vector().encode_v1();
        self.send(
            conn,
            Bytes::from(protocol::encode(&Message::SyncStep1(&state_vector))),
        );
    }

    /// Journals an applied update and relays it, once committed, to every peer but `except`;
    /// returns the update's number in the pipeline.
    fn journal_and_broadcast(
        &mut self,
        actor: Arc<Actor>,
        update_v1: Bytes,
        except: Option<ConnId>,
    ) -> u64 {
        let frame = Bytes::from(protocol::encode(&Message::Update(&update_v1)));
        if let Some(full) = &mut self.full_state
            && !full.push(&frame)
        {
            self.full_state = None;
        }
        if let Phase::Awake(awake) = &mut self.phase {
            awake.document_bytes += update_v1.len();
        }
        let number = self.pipeline.push(NewEntry {
            ts_ms: self.now.wall_ms,
            actor,
            update_v1,
        });
        self.gate(number, Gated::Broadcast { except, frame });
        number
    }

    /// Entries other nodes committed: kept, then applied in seq order from the head.
    fn remote(&mut self, entries: Vec<(u64, Bytes)>) {
        for (seq, update) in entries {
            if !self.pipeline.hold_remote(seq, update) {
                let reason = "too many entries of other nodes wait for an earlier one".to_owned();
                return self.drain(Some(reason));
            }
        }
        self.apply_remote();
    }

    /// Applies the entries of other nodes that follow the head, in seq order, and relays each
    /// to every peer (they are committed: nothing waits but the effects before them); asks the
    /// store for what is missing when a hole remains.
    pub(super) fn apply_remote(&mut self) {
        while let Some(super::commit::Next { seq, update, own }) = self.pipeline.take_next() {
            if own {
                continue;
            }
            match apply_untrusted(&self.awake().doc, &update) {
                Applied::Changed | Applied::Empty => {}
                other => {
                    let reason = format!("journal entry {seq} does not apply: {other:?}");
                    return self.drain(Some(reason));
                }
            }
            let frame = Bytes::from(protocol::encode(&Message::Update(&update)));
            if let Some(full) = &mut self.full_state
                && !full.push(&frame)
            {
                self.full_state = None;
            }
            if let Phase::Awake(awake) = &mut self.phase {
                awake.document_bytes += update.len();
            }
            self.gate(
                0,
                Gated::Broadcast {
                    except: None,
                    frame,
                },
            );
        }
        if self.pipeline.has_hole() {
            self.catch_up();
        }
    }

    /// Asks the store for the board's entries after the head, unless that is under way.
    pub(super) fn catch_up(&mut self) {
        if !self.catching_up {
            self.catching_up = true;
            self.head_checked_ms = self.now.mono_ms;
            self.emit(Action::CatchUp {
                after: self.pipeline.stored_seq(),
            });
        }
    }

    /// `may_summon`: the connection is the facilitator's, whose `summon` brings everybody to
    /// their view; anybody else's is taken out of their state before it is kept or relayed.
    fn apply_awareness(&mut self, conn: ConnId, payload: &[u8], may_summon: bool) {
        match self
            .awareness
            .apply(conn, payload, self.now.mono_ms, &self.limits, may_summon)
        {
            Ok(Some(frame)) => {
                self.emit(Action::ShareAwareness(frame.clone()));
                self.broadcast(None, frame);
            }
            Ok(None) => {}
            Err(awareness::Refusal::Malformed(reason)) => self.kick(conn, close::MALFORMED, reason),
            Err(awareness::Refusal::Limit(reason)) => self.kick(conn, close::LIMIT, reason),
        }
    }

    /// Another node's presence: kept under a connection id of that node's own (above every
    /// real one), relayed to this room's peers, expired like the rest when not renewed.
    fn remote_awareness(&mut self, node: u64, frame: &[u8]) {
        let conn = node_conn(node);
        let Ok(messages) = protocol::decode_frame(frame, usize::MAX) else {
            return;
        };
        for message in messages {
            if let Message::Awareness(payload) = message {
                let applied = self.awareness.apply_from(
                    conn,
                    payload,
                    self.now.mono_ms,
                    &self.limits,
                    true,
                    true,
                );
                if let Ok(Some(out)) = applied {
                    self.broadcast(None, out);
                }
            }
        }
    }

    /// Performs `effect` once update `number` is committed, after every earlier effect.
    fn gate(&mut self, number: u64, effect: Gated) {
        if let Some(effect) = self.pipeline.gate(number, effect) {
            self.perform(effect);
        }
    }

    fn committed(&mut self, batch: u64, result: Result<u64, String>) {
        let draining = matches!(self.phase, Phase::Draining { .. });
        match self.pipeline.committed(batch, result) {
            // Draining, the peers are gone: what is released is the answers to server edits,
            // which are committed and must not be made again.
            Outcome::Released(effects) => {
                for effect in effects {
                    self.perform(effect);
                }
                // Other nodes' entries may lie before this batch: applied, or asked for.
                if matches!(self.phase, Phase::Awake(_)) {
                    self.apply_remote();
                }
            }
            Outcome::Failed(reason) if !draining => self.drain(Some(reason)),
            Outcome::Failed(_) => {}
        }
        if matches!(self.phase, Phase::Draining { .. }) {
            self.stop_when_drained();
        }
    }

    fn perform(&mut self, effect: Gated) {
        match effect {
            Gated::Broadcast { except, frame } => self.broadcast(except, frame),
            Gated::AnswerStep1 { conn, frames } => {
                if let Some(peer) = self.peers.get_mut(&conn) {
                    peer.step1_pending = false;
                    for frame in frames {
                        self.send(conn, frame);
                    }
                }
            }
            Gated::EditDone { request } => self.emit(Action::Edited {
                request,
                result: Ok(()),
            }),
        }
    }

    pub(super) fn broadcast(&mut self, except: Option<ConnId>, frame: Bytes) {
        if self.peers.len() > usize::from(except.is_some_and(|c| self.peers.contains_key(&c))) {
            self.emit(Action::Broadcast { except, frame });
        }
    }

    pub(super) fn send(&mut self, conn: ConnId, frame: Bytes) {
        if self.peers.contains_key(&conn) {
            self.emit(Action::Send { conn, frame });
        }
    }

    /// A connection's outbox refused a frame: a slow reader is closed, a closed one forgotten.
    fn refused(&mut self, conn: ConnId, why: Refused) {
        match why {
            Refused::Full => self.kick(
                conn,
                close::LIMIT,
                "send queue full: the client reads too slowly".into(),
            ),
            Refused::Closed => self.leave(conn),
        }
    }

    fn leave(&mut self, conn: ConnId) {
        if self.peers.remove(&conn).is_some() {
            self.emit(Action::Forget { conn });
            self.forgotten(conn);
        }
    }

    /// Closes one connection and forgets it.
    pub(super) fn kick(&mut self, conn: ConnId, code: u16, reason: String) {
        if self.peers.remove(&conn).is_some() {
            tracing::info!(board = %self.board, conn, code, %reason, "closing connection");
            self.emit(Action::Close { conn, code, reason });
            self.forgotten(conn);
        }
    }

    /// Tells the others a connection's presence is gone.
    fn forgotten(&mut self, conn: ConnId) {
        if let Some(frame) = self.awareness.forget(conn) {
            self.emit(Action::ShareAwareness(frame.clone()));
            self.broadcast(None, frame);
        }
        if self.peers.is_empty() {
            self.idle_since_ms = self.now.mono_ms;
        }
    }

    /// The decoded document: only called in the `Awake` phase.
    fn awake(&self) -> &Awake {
        match &self.phase {
            Phase::Awake(awake) => awake,
            _ => unreachable!("the document is loaded before an input uses it"),
        }
    }

    /// Answers an input the room will not carry out.
    pub(super) fn refuse(&mut self, input: Input, error: JoinError) {
        match input {
            Input::Join { conn, .. } => self.emit(Action::Joined {
                conn,
                result: Err(error),
            }),
            Input::Edit { request, .. } => self.emit(Action::Edited {
                request,
                result: Err(error),
            }),
            Input::Leave { conn } => self.leave(conn),
            _ => {}
        }
    }
}

/// Whether an input reads or changes the document (so a sleeping room must wake up for it):
/// everything but awareness, leaving, closing and stopping.
pub(super) fn needs_document(input: &Input) -> bool {
    match input {
        Input::Join { .. }
        | Input::Edit { .. }
        | Input::Remote(_)
        | Input::CheckHead
        | Input::CaughtUp(_) => true,
        Input::Frame { frame, .. } => {
            protocol::decode_frame(frame, usize::MAX).is_ok_and(|messages| {
                messages.iter().any(|m| {
                    !matches!(
                        m,
                        Message::Awareness(_) | Message::QueryAwareness | Message::Auth(_)
                    )
                })
            })
        }
        _ => false,
    }
}

/// Encodes a document's whole state, checking that it decodes.
pub(super) fn encode_state(doc: &Doc) -> Option<Vec<u8>> {
    let state_v1 = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    Update::decode_v1(&state_v1).is_ok().then_some(state_v1)
}
