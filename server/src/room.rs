//! A room: the live copy of one board's document and the connections editing it.
//!
//! Each room is one tokio task that owns its `Doc`, its awareness states and its peers, and
//! receives commands through a bounded queue; nothing else touches them, so there is no lock.
//!
//! Invariants:
//! - An update reaches no other client before the journal writer has committed it: outgoing
//!   frames that depend on a journal entry wait in `pending` until that entry is committed,
//!   in order. This covers live fan-out and the sync step 2 answered to a client that joins.
//! - A room unloads only when it has no peer, nothing pending and nothing being written.
//! - Client bytes are decoded and applied under `catch_unwind`: the yrs decoder may panic on
//!   hostile input, and that must close one connection, not the process.

use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use shared::protocol::{self, AwarenessEntry, Message};
use shared::{Participant, Roots};
use tokio::sync::{mpsc, oneshot, watch};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, Map, ReadTxn, StateVector, Transact, Update};

use crate::config::Limits;
use crate::journal::{JournalWriter, WriteResult};
use crate::rooms::Rooms;
use crate::store::{Actor, BoardId, JournalEntry, Snapshot, Store, StoredDoc};
use crate::tokens::Role;

/// How often a room expires awareness states and considers unloading.
const ROOM_TICK_MS: u64 = 1_000;
/// Commands handled before the room commits what they produced.
const COMMANDS_PER_BATCH_MAX: usize = 512;
/// A board whose stored pieces (its snapshot and the journal entries after it) hold at least
/// this many bytes keeps them, as frames, until its `FULL_STATE_TAIL_MAX`th change since: a
/// client joining with nothing (an empty state vector) gets them as its sync step 2 and the
/// updates after it, without the document being encoded again, and before the room has even
/// decoded the document.
const FULL_STATE_CACHE_MIN_BYTES: usize = 256 * 1024;
/// Pieces after the first (stored, then applied since the load) the cached state is kept
/// through.
const FULL_STATE_TAIL_MAX: usize = 64;
/// Commands a loading room keeps for when its document is decoded.
const LOADING_DEFERRED_MAX: usize = 1024;

/// The whole document as it was loaded, as a ready sync step 2 frame, and the update frames of
/// the changes since, in order: what a client joining with nothing needs.
struct FullState {
    step2: Bytes,
    tail: Vec<Bytes>,
}

impl FullState {
    /// What a client joining with nothing is sent: the step 2, then the updates since.
    fn frames(&self) -> Vec<Bytes> {
        std::iter::once(&self.step2)
            .chain(&self.tail)
            .cloned()
            .collect()
    }

    /// The stored pieces as frames, when they are large enough to be worth keeping and few
    /// enough.
    fn of(stored: &StoredDoc) -> Option<FullState> {
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
}

/// A connection let in while its room was loading, to be greeted once the document is there.
struct Greeting {
    conn: ConnId,
    actor: Arc<Actor>,
    participant: Option<Participant>,
}

/// What a loading room keeps for later.
enum Deferred {
    Greet(Greeting),
    Cmd(RoomCmd),
}

/// The largest integer lib0 decodes exactly on the JavaScript side.
const AWARENESS_CLOCK_MAX: u64 = (1 << 53) - 1;

pub const CLOSE_GOING_AWAY: u16 = 1001;
pub const CLOSE_MALFORMED: u16 = 1003;
pub const CLOSE_INTERNAL: u16 = 1011;
pub const CLOSE_LIMIT: u16 = 4429;

/// Identifies one websocket connection for the life of the process.
pub type ConnId = u64;

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

/// Waits for a [`Closer`] to be closed.
pub struct CloseWatch(watch::Receiver<Option<CloseReason>>);

impl CloseWatch {
    /// Waits until `close` has been called, and returns its reason.
    pub async fn closed(&mut self) -> CloseReason {
        match self.0.wait_for(Option::is_some).await {
            Ok(reason) => reason.clone().expect("wait_for returned a set value"),
            Err(_) => (CLOSE_GOING_AWAY, String::new()),
        }
    }
}

impl Default for Closer {
    fn default() -> Self {
        Self::new()
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
    /// An edit the server makes itself (a rename, a restored element), journaled under `actor`
    /// and relayed like any other update. An edit that returns an error must change nothing.
    Edit {
        edit: ServerEdit,
        actor: Arc<Actor>,
        reply: oneshot::Sender<Result<(), JoinError>>,
    },
    /// Closes the connections of one role (all when `None`): a link was rotated or revoked,
    /// or the board was deleted.
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
}

struct Peer {
    role: Role,
    actor: Arc<Actor>,
    outbox: Outbox,
    closer: Closer,
    awareness_clients: HashSet<u64>,
    /// A sync step 2 answer is waiting for its commit; further step 1 requests are ignored
    /// until it is sent, so a client cannot make the room compute many full diffs.
    step1_pending: bool,
}

/// The queue of frames towards one connection, bounded in frames (by the channel) and in
/// bytes (by `queued_bytes`, which the connection's write loop decreases as it sends).
#[derive(Clone)]
pub struct Outbox {
    pub frames: mpsc::Sender<Bytes>,
    pub queued_bytes: Arc<std::sync::atomic::AtomicUsize>,
}

impl Outbox {
    pub fn new(frames_max: usize) -> (Self, mpsc::Receiver<Bytes>) {
        let (frames, rx) = mpsc::channel(frames_max);
        let queued_bytes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
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
    fn try_push(&self, frame: Bytes, bytes_max: usize) -> Result<(), Refused> {
        use std::sync::atomic::Ordering::Relaxed;
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
enum Refused {
    /// The client reads too slowly: the connection is closed.
    Full,
    /// The connection is already closing (the client left): it is forgotten, no error.
    Closed,
}

struct AwarenessState {
    entry: AwarenessEntry,
    renewed: Instant,
    owner: ConnId,
}

enum Action {
    Broadcast {
        except: Option<ConnId>,
        frame: Bytes,
    },
    /// A sync step 2, possibly followed by updates.
    AnswerStep1 { conn: ConnId, frames: Vec<Bytes> },
    /// Tells whoever asked for a server edit that it is committed.
    Reply(oneshot::Sender<Result<(), JoinError>>),
}

type Commit = Pin<Box<dyn Future<Output = (u64, WriteResult)> + Send>>;

/// A room's decoded document and its root types.
struct Awake {
    doc: Doc,
    roots: Roots,
}

pub struct Room {
    board: BoardId,
    room_id: u64,
    ctx: Arc<RoomContext>,
    rooms: Arc<Rooms>,
    /// The decoded document; `None` while it loads and while the room sleeps.
    awake: Option<Awake>,
    /// The room let its document go (see `fall_asleep`); the next command that needs it
    /// loads it again.
    asleep: bool,
    /// When a command last needed the document.
    document_used: Instant,
    peers: HashMap<ConnId, Peer>,
    awareness: HashMap<u64, AwarenessState>,
    /// The seq the next journal entry gets.
    next_seq: u64,
    committed_seq: u64,
    snapshot_seq: u64,
    /// Entries applied but not yet handed to the journal writer.
    unsent: Vec<JournalEntry>,
    /// Commits under way, oldest first.
    inflight: FuturesOrdered<Commit>,
    /// Outgoing frames waiting for the commit of the seq they carry.
    pending: VecDeque<(u64, Action)>,
    /// Connections whose outbox refused a frame, to close or forget (`drop_refused`).
    refused: Vec<(ConnId, Refused)>,
    /// `drop_refused` is running: a broadcast made meanwhile only adds to `refused`.
    dropping: bool,
    document_bytes: usize,
    /// See `FULL_STATE_CACHE_MIN_BYTES`.
    full_state: Option<FullState>,
    idle_since: Instant,
    failed: Option<String>,
}

impl Room {
    /// Starts a room task for `board`; it loads the document (see `load`), then serves.
    pub fn spawn(
        board: BoardId,
        room_id: u64,
        ctx: Arc<RoomContext>,
        rooms: Arc<Rooms>,
        mut rx: mpsc::Receiver<RoomCmd>,
    ) {
        // The board's trace is brought up to date beside the room, off the commit path: a
        // board stored before the record existed gets its record on its first load.
        ctx.store.trace_hint(&board);
        tokio::spawn(async move {
            let mut room = Room::new(board, room_id, ctx, rooms);
            match room.load(&mut rx, None).await {
                Ok(None) => room.run(rx).await,
                Ok(Some(done)) => room.shut_down(rx, done).await,
                Err(reason) => room.fail_to_load(rx, reason).await,
            }
        });
    }

    /// Loads the document, when the room starts or wakes up. It is read and decoded on a
    /// blocking thread; meanwhile the room accepts joins, answers a client joining with nothing
    /// from the bytes read when they qualify (see `FULL_STATE_CACHE_MIN_BYTES`), and keeps every
    /// other command, `first` first, in order, for when the document is there. Returns the
    /// reply channel of a shutdown asked meanwhile.
    async fn load(
        &mut self,
        rx: &mut mpsc::Receiver<RoomCmd>,
        first: Option<RoomCmd>,
    ) -> Result<Option<oneshot::Sender<()>>, String> {
        let (read_tx, read_rx) = oneshot::channel();
        let store = self.ctx.store.clone();
        let id = self.board.clone();
        let decoding = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let stored = store.load(&id).map_err(|e| e.to_string())?;
            let read = started.elapsed();
            let _ = read_tx.send(FullState::of(&stored));
            let loaded = load_doc(stored)?;
            tracing::debug!(
                board = %id,
                bytes = loaded.3,
                read_ms = read.as_secs_f64() * 1e3,
                decode_ms = (started.elapsed() - read).as_secs_f64() * 1e3,
                "board loaded"
            );
            Ok::<_, String>(loaded)
        });
        // The read is quick; the decode is what the early answers save waiting for.
        self.full_state = read_rx.await.ok().flatten();
        let mut deferred = Vec::new();
        if let Some(cmd) = first {
            self.while_loading(cmd, &mut deferred);
        }
        let loaded = self.serve_while_loading(rx, decoding, &mut deferred).await;
        let loaded = match loaded {
            Ok(loaded) => loaded,
            Err(reason) => {
                let error = JoinError::Failed(reason.clone());
                for later in deferred {
                    if let Deferred::Cmd(cmd) = later {
                        refuse(cmd, &error);
                    }
                }
                return Err(reason);
            }
        };
        self.install(loaded);
        let mut shutdown = None;
        for later in deferred {
            match later {
                Deferred::Greet(greeting) => self.greet(greeting),
                Deferred::Cmd(cmd) => shutdown = self.handle(cmd),
            }
            if shutdown.is_some() {
                break;
            }
        }
        self.flush().await;
        Ok(shutdown)
    }

    /// Serves what can be served until the document is decoded; keeps in `deferred` the
    /// commands for later, in the order they came. At most `LOADING_DEFERRED_MAX` are kept:
    /// then the room stops reading its queue, which in turn makes senders wait.
    async fn serve_while_loading(
        &mut self,
        rx: &mut mpsc::Receiver<RoomCmd>,
        mut decoding: tokio::task::JoinHandle<Result<Loaded, String>>,
        deferred: &mut Vec<Deferred>,
    ) -> Result<Loaded, String> {
        let mut open = true;
        loop {
            tokio::select! {
                biased;
                done = &mut decoding => {
                    return done.unwrap_or_else(|e| Err(format!("loading stopped: {e}")));
                }
                cmd = rx.recv(), if open && deferred.len() < LOADING_DEFERRED_MAX => {
                    match cmd {
                        Some(cmd) => self.while_loading(cmd, deferred),
                        None => open = false,
                    }
                }
            }
        }
    }

    /// What a loading room does with a command: lets a join in (and greets it later), answers
    /// early what it can, keeps the rest.
    fn while_loading(&mut self, cmd: RoomCmd, deferred: &mut Vec<Deferred>) {
        match cmd {
            RoomCmd::Join { joiner, reply } => {
                if let Some(greeting) = self.accept(*joiner, reply) {
                    deferred.push(Deferred::Greet(greeting));
                }
            }
            RoomCmd::Frame { conn, frame } if self.answer_early(conn, &frame) => {}
            cmd => deferred.push(Deferred::Cmd(cmd)),
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

    /// Takes the decoded document in.
    fn install(&mut self, (doc, stored_seq, snapshot_seq, document_bytes): Loaded) {
        self.awake = Some(Awake {
            roots: Roots::new(&doc),
            doc,
        });
        if self.asleep {
            // Nothing was written while it slept: the same entries came back.
            debug_assert_eq!(stored_seq, self.committed_seq);
            self.asleep = false;
            self.rooms.note_asleep(false);
        }
        self.next_seq = stored_seq + 1;
        self.committed_seq = stored_seq;
        self.snapshot_seq = snapshot_seq;
        self.document_bytes = document_bytes;
        self.idle_since = Instant::now();
        self.document_used = Instant::now();
    }

    /// The decoded document: only called on commands that woke the room first.
    fn awake(&self) -> &Awake {
        self.awake
            .as_ref()
            .expect("the document is loaded before a command uses it")
    }

    /// Lets the document go: every peer was quiet (nothing but awareness) for
    /// `room_sleep_after_ms` and everything applied is committed, so storage holds it all. The
    /// connections stay; the next command that needs the document loads it again.
    fn fall_asleep(&mut self) {
        // Quiet now: a good moment to bring the trace up to date.
        self.ctx.store.trace_hint(&self.board);
        self.awake = None;
        self.full_state = None;
        self.asleep = true;
        self.rooms.note_asleep(true);
        self.rooms.release_memory();
        tracing::debug!(board = %self.board, "room asleep");
    }

    fn may_sleep(&self) -> bool {
        self.awake.is_some()
            && !self.peers.is_empty()
            && self.failed.is_none()
            && self.pending.is_empty()
            && self.inflight.is_empty()
            && self.unsent.is_empty()
            && self.document_used.elapsed()
                >= Duration::from_millis(self.ctx.limits.room_sleep_after_ms)
    }

    /// The document could not be loaded: whoever joined meanwhile is closed, whoever waits is
    /// refused.
    async fn fail_to_load(mut self, rx: mpsc::Receiver<RoomCmd>, reason: String) {
        tracing::error!(board = %self.board, %reason, "could not load board");
        for (_, peer) in self.peers.drain() {
            peer.closer
                .close(CLOSE_INTERNAL, "the board could not be loaded");
        }
        self.rooms.remove(&self.board, self.room_id);
        refuse_all(rx, JoinError::Failed(reason)).await;
    }

    fn new(board: BoardId, room_id: u64, ctx: Arc<RoomContext>, rooms: Arc<Rooms>) -> Self {
        Room {
            board,
            room_id,
            ctx,
            rooms,
            awake: None,
            asleep: false,
            document_used: Instant::now(),
            peers: HashMap::new(),
            awareness: HashMap::new(),
            next_seq: 1,
            committed_seq: 0,
            snapshot_seq: 0,
            unsent: Vec::new(),
            inflight: FuturesOrdered::new(),
            pending: VecDeque::new(),
            refused: Vec::new(),
            dropping: false,
            document_bytes: 0,
            full_state: None,
            idle_since: Instant::now(),
            failed: None,
        }
    }

    async fn run(mut self, mut rx: mpsc::Receiver<RoomCmd>) {
        let mut tick = tokio::time::interval(Duration::from_millis(ROOM_TICK_MS));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                cmd = rx.recv() => {
                    let Some(cmd) = cmd else { break };
                    let mut next = Some(cmd);
                    let mut shutdown = None;
                    let mut handled = 0;
                    while let Some(cmd) = next.take() {
                        if needs_document(&cmd) {
                            self.document_used = Instant::now();
                            if self.awake.is_none() {
                                self.flush().await;
                                match self.load(&mut rx, Some(cmd)).await {
                                    Ok(done) => shutdown = done,
                                    Err(reason) => return self.fail_to_load(rx, reason).await,
                                }
                            } else {
                                shutdown = self.handle(cmd);
                            }
                        } else {
                            shutdown = self.handle(cmd);
                        }
                        handled += 1;
                        if shutdown.is_none() && handled < COMMANDS_PER_BATCH_MAX {
                            next = rx.try_recv().ok();
                        }
                    }
                    self.flush().await;
                    if let Some(done) = shutdown {
                        self.shut_down(rx, done).await;
                        return;
                    }
                }
                Some((upto_seq, result)) = self.inflight.next(), if !self.inflight.is_empty() => {
                    self.on_committed(upto_seq, result);
                }
                _ = tick.tick() => {
                    self.expire_awareness();
                    if self.failed.is_none() && self.is_idle() {
                        self.unload(rx).await;
                        return;
                    }
                    self.snapshot_if_due();
                    if self.may_sleep() {
                        self.fall_asleep();
                    }
                }
            }
            if let Some(reason) = self.failed.take() {
                self.fail(rx, reason).await;
                return;
            }
        }
    }

    /// Handles one command; returns the reply channel of a shutdown request.
    fn handle(&mut self, cmd: RoomCmd) -> Option<oneshot::Sender<()>> {
        match cmd {
            // Once failed, the document may hold half an update: apply nothing more.
            RoomCmd::Join { reply, .. } if self.failed.is_some() => {
                let _ = reply.send(Err(JoinError::RoomClosed));
            }
            RoomCmd::Frame { .. } if self.failed.is_some() => {}
            RoomCmd::Edit { reply, .. } if self.failed.is_some() => {
                let _ = reply.send(Err(JoinError::RoomClosed));
            }
            RoomCmd::Edit { edit, actor, reply } => {
                let update = {
                    let awake = self.awake();
                    let mut txn = awake.doc.transact_mut();
                    edit(&awake.roots, &mut txn).map(|()| txn.encode_update_v1())
                };
                match update {
                    Ok(update) => {
                        self.journal_and_broadcast(actor, Bytes::from(update), None);
                        // Answered once committed, so what the caller reads next holds it.
                        let seq = self.next_seq - 1;
                        self.enqueue(seq, Action::Reply(reply));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(JoinError::Failed(e)));
                    }
                }
            }
            RoomCmd::Join { joiner, reply } => self.join(*joiner, reply),
            RoomCmd::Frame { conn, frame } => self.on_frame(conn, frame),
            RoomCmd::Leave { conn } => self.leave(conn),
            RoomCmd::CloseRole { role, code, reason } => {
                let closing: Vec<ConnId> = self
                    .peers
                    .iter()
                    .filter(|(_, peer)| role.is_none_or(|r| peer.role == r))
                    .map(|(conn, _)| *conn)
                    .collect();
                for conn in closing {
                    self.kick(conn, code, reason.clone());
                }
            }
            RoomCmd::Shutdown { done } => return Some(done),
        }
        None
    }

    fn join(&mut self, joiner: Joiner, reply: oneshot::Sender<Result<(), JoinError>>) {
        if let Some(greeting) = self.accept(joiner, reply) {
            self.greet(greeting);
        }
    }

    /// Lets a connection in (its frames may come from now on); `None` if it was refused or
    /// went away.
    fn accept(
        &mut self,
        joiner: Joiner,
        reply: oneshot::Sender<Result<(), JoinError>>,
    ) -> Option<Greeting> {
        if self.peers.len() >= self.ctx.limits.max_clients_per_board {
            let _ = reply.send(Err(JoinError::Full));
            return None;
        }
        let conn = joiner.conn;
        self.peers.insert(
            conn,
            Peer {
                role: joiner.role,
                actor: joiner.actor.clone(),
                outbox: joiner.outbox,
                closer: joiner.closer,
                awareness_clients: HashSet::new(),
                step1_pending: false,
            },
        );
        if reply.send(Ok(())).is_err() {
            self.peers.remove(&conn);
            return None;
        }
        Some(Greeting {
            conn,
            actor: joiner.actor,
            participant: joiner.participant,
        })
    }

    /// What the room tells a connection it let in, once the document is there: its own sync
    /// step 1, the awareness states it knows; and it records the participant.
    fn greet(&mut self, greeting: Greeting) {
        let conn = greeting.conn;
        if !self.peers.contains_key(&conn) {
            return;
        }
        let state_vector = self.awake().doc.transact().state_vector().encode_v1();
        self.send(
            conn,
            Bytes::from(protocol::encode(&Message::SyncStep1(&state_vector))),
        );
        if !self.awareness.is_empty() {
            let frame = self.awareness_frame(self.awareness.values().map(|s| &s.entry));
            self.send(conn, frame);
        }
        if let Some(participant) = greeting.participant {
            self.record_participant(&greeting.actor, &participant);
        }
    }

    fn record_participant(&mut self, actor: &Arc<Actor>, participant: &Participant) {
        let limits = &self.ctx.limits;
        if self.document_bytes >= limits.max_document_bytes {
            return;
        }
        let update = {
            let awake = self.awake();
            let mut txn = awake.doc.transact_mut();
            if awake.roots.participants.len(&txn) as usize >= limits.max_participants_per_board {
                return;
            }
            if !awake
                .roots
                .add_participant(&mut txn, &actor.pid, participant)
            {
                return;
            }
            txn.encode_update_v1()
        };
        self.journal_and_broadcast(actor.clone(), Bytes::from(update), None);
    }

    fn leave(&mut self, conn: ConnId) {
        if let Some(peer) = self.peers.remove(&conn) {
            self.forget_awareness_of(peer);
        }
        if self.peers.is_empty() {
            self.idle_since = Instant::now();
        }
    }

    fn on_frame(&mut self, conn: ConnId, frame: Bytes) {
        let Some(peer) = self.peers.get(&conn) else {
            return;
        };
        let role = peer.role;
        let messages = match protocol::decode_frame(&frame, self.ctx.limits.max_messages_per_frame)
        {
            Ok(messages) => messages,
            Err(e) => return self.kick(conn, CLOSE_MALFORMED, e.to_string()),
        };
        let mut answered_step1 = false;
        for message in messages {
            if !self.peers.contains_key(&conn) {
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
                Message::Awareness(payload) => self.apply_awareness(conn, payload),
                Message::QueryAwareness => {
                    let frame = self.awareness_frame(self.awareness.values().map(|s| &s.entry));
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
        let frames = catch_unwind(AssertUnwindSafe(|| {
            let state_vector = StateVector::decode_v1(state_vector).ok()?;
            if state_vector.is_empty()
                && let Some(full) = full_state
            {
                return Some(full.frames());
            }
            let diff = self.awake().doc.transact().encode_diff_v1(&state_vector);
            Some(vec![Bytes::from(protocol::encode(&Message::SyncStep2(
                &diff,
            )))])
        }));
        let Ok(Some(frames)) = frames else {
            return self.kick(conn, CLOSE_MALFORMED, "malformed state vector");
        };
        // The answer may hold updates still being written: it waits for their commit.
        self.enqueue(self.next_seq - 1, Action::AnswerStep1 { conn, frames });
    }

    fn apply_client_update(&mut self, conn: ConnId, update_v1: Bytes) {
        if self.document_bytes + update_v1.len() > self.ctx.limits.max_document_bytes {
            // The size is an estimate that only grows between snapshots: measure the real size
            // (by writing a snapshot) before refusing, so deletions count.
            self.snapshot_now();
        }
        if self.document_bytes + update_v1.len() > self.ctx.limits.max_document_bytes {
            let reason = format!(
                "the board reached its size limit of {} bytes",
                self.ctx.limits.max_document_bytes
            );
            return self.kick(conn, CLOSE_LIMIT, reason);
        }
        match apply_untrusted(&self.awake().doc, &update_v1) {
            Applied::Changed => {}
            Applied::Empty => return,
            Applied::Refused(reason) => return self.kick(conn, CLOSE_MALFORMED, reason),
            Applied::Poisoned(reason) => {
                // The document may hold part of the update: reload it from the journal,
                // which does not have it.
                self.kick(conn, CLOSE_MALFORMED, reason.clone());
                self.failed = Some(reason);
                return;
            }
        }
        let actor = self.peers[&conn].actor.clone();
        self.journal_and_broadcast(actor, update_v1, Some(conn));
    }

    /// Journals an applied update and relays it, once committed, to every peer but `except`.
    fn journal_and_broadcast(
        &mut self,
        actor: Arc<Actor>,
        update_v1: Bytes,
        except: Option<ConnId>,
    ) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.document_bytes += update_v1.len();
        let frame = Bytes::from(protocol::encode(&Message::Update(&update_v1)));
        match &mut self.full_state {
            Some(full) if full.tail.len() < FULL_STATE_TAIL_MAX => full.tail.push(frame.clone()),
            Some(_) => self.full_state = None,
            None => {}
        }
        self.unsent.push(JournalEntry {
            board: self.board.clone(),
            seq,
            ts_ms: now_ms(),
            actor,
            update_v1,
        });
        self.enqueue(seq, Action::Broadcast { except, frame });
    }

    fn apply_awareness(&mut self, conn: ConnId, payload: &[u8]) {
        let limits = &self.ctx.limits;
        let entries = match protocol::decode_awareness(payload, limits.max_awareness_entries) {
            Ok(entries) => entries,
            Err(e) => return self.kick(conn, CLOSE_MALFORMED, format!("malformed awareness: {e}")),
        };
        let state_bytes_max = limits.max_awareness_state_bytes;
        if entries.iter().any(|e| e.state.len() > state_bytes_max) {
            let reason = format!("an awareness state is over {state_bytes_max} bytes");
            return self.kick(conn, CLOSE_LIMIT, reason);
        }
        let clients_max = limits.max_awareness_clients_per_connection;
        let now = Instant::now();
        let mut accepted = Vec::new();
        for entry in entries {
            let newer = match self.awareness.get(&entry.client_id) {
                None => true,
                Some(current) => {
                    entry.clock > current.entry.clock
                        || (entry.clock == current.entry.clock && entry.is_removal())
                }
            };
            if !newer {
                continue;
            }
            let client_id = entry.client_id;
            let Some(peer) = self.peers.get(&conn) else {
                return;
            };
            if !entry.is_removal()
                && !peer.awareness_clients.contains(&client_id)
                && peer.awareness_clients.len() >= clients_max
            {
                let reason = format!("more than {clients_max} awareness clients on one connection");
                return self.kick(conn, CLOSE_LIMIT, reason);
            }
            let previous_owner = if entry.is_removal() {
                self.awareness.remove(&client_id).map(|s| s.owner)
            } else {
                let state = AwarenessState {
                    entry: entry.clone(),
                    renewed: now,
                    owner: conn,
                };
                self.awareness.insert(client_id, state).map(|s| s.owner)
            };
            if let Some(peer) = previous_owner.and_then(|owner| self.peers.get_mut(&owner)) {
                peer.awareness_clients.remove(&client_id);
            }
            if self.awareness.contains_key(&client_id)
                && let Some(peer) = self.peers.get_mut(&conn)
            {
                peer.awareness_clients.insert(client_id);
            }
            accepted.push(entry);
        }
        if accepted.is_empty() {
            return;
        }
        // Relayed to everybody, the sender included: stock clients count the echo of their
        // own renewals as the sign that the connection is alive. Only accepted entries go out.
        let frame = self.awareness_frame(accepted.iter());
        self.broadcast(None, &frame);
    }

    fn expire_awareness(&mut self) {
        let timeout = Duration::from_millis(self.ctx.limits.awareness_timeout_ms);
        let expired: Vec<u64> = self
            .awareness
            .iter()
            .filter(|(_, s)| s.renewed.elapsed() >= timeout)
            .map(|(id, _)| *id)
            .collect();
        self.remove_awareness(&expired);
    }

    fn forget_awareness_of(&mut self, peer: Peer) {
        let clients: Vec<u64> = peer.awareness_clients.into_iter().collect();
        self.remove_awareness(&clients);
    }

    /// Removes awareness states and tells every peer they are gone.
    fn remove_awareness(&mut self, client_ids: &[u64]) {
        let removals: Vec<AwarenessEntry> = client_ids
            .iter()
            .filter_map(|id| self.awareness.remove(id))
            .map(|state| {
                if let Some(peer) = self.peers.get_mut(&state.owner) {
                    peer.awareness_clients.remove(&state.entry.client_id);
                }
                AwarenessEntry {
                    client_id: state.entry.client_id,
                    // lib0 clients read clocks as 53-bit integers.
                    clock: (state.entry.clock + 1).min(AWARENESS_CLOCK_MAX),
                    state: "null".into(),
                }
            })
            .collect();
        if !removals.is_empty() {
            let frame = self.awareness_frame(removals.iter());
            self.broadcast(None, &frame);
        }
    }

    fn awareness_frame<'a>(&self, entries: impl IntoIterator<Item = &'a AwarenessEntry>) -> Bytes {
        let payload = protocol::encode_awareness(entries);
        Bytes::from(protocol::encode(&Message::Awareness(&payload)))
    }

    /// Performs `action` once journal entry `seq` is committed, after every earlier action.
    fn enqueue(&mut self, seq: u64, action: Action) {
        if self.pending.is_empty() && seq <= self.committed_seq {
            self.perform(action);
        } else {
            self.pending.push_back((seq, action));
        }
    }

    fn on_committed(&mut self, upto_seq: u64, result: WriteResult) {
        if let Err(reason) = result {
            self.failed = Some(format!("the journal could not be written: {reason}"));
            return;
        }
        self.committed_seq = upto_seq;
        while let Some((seq, _)) = self.pending.front() {
            if *seq > self.committed_seq {
                break;
            }
            let (_, action) = self.pending.pop_front().unwrap();
            self.perform(action);
        }
    }

    fn perform(&mut self, action: Action) {
        match action {
            Action::Broadcast { except, frame } => self.broadcast(except, &frame),
            Action::AnswerStep1 { conn, frames } => {
                if let Some(peer) = self.peers.get_mut(&conn) {
                    peer.step1_pending = false;
                }
                for frame in frames {
                    self.send(conn, frame);
                }
            }
            Action::Reply(reply) => {
                let _ = reply.send(Ok(()));
            }
        }
    }

    fn broadcast(&mut self, except: Option<ConnId>, frame: &Bytes) {
        let bytes_max = self.ctx.limits.send_queue_bytes_max;
        for (conn, peer) in &self.peers {
            if Some(*conn) != except
                && let Err(why) = peer.outbox.try_push(frame.clone(), bytes_max)
            {
                self.refused.push((*conn, why));
            }
        }
        self.drop_refused();
    }

    fn send(&mut self, conn: ConnId, frame: Bytes) {
        let Some(peer) = self.peers.get(&conn) else {
            return;
        };
        if let Err(why) = peer
            .outbox
            .try_push(frame, self.ctx.limits.send_queue_bytes_max)
        {
            self.refused.push((conn, why));
            self.drop_refused();
        }
    }

    /// Closes the connections whose outbox was full and forgets those already gone. Forgetting
    /// one tells the others its presence is gone, a broadcast that may find more such
    /// connections: they join the list this loop works through, so when thousands of clients
    /// drop at once the calls do not nest one level per client.
    fn drop_refused(&mut self) {
        if self.dropping {
            return;
        }
        self.dropping = true;
        while let Some((conn, why)) = self.refused.pop() {
            match why {
                Refused::Full => self.kick(
                    conn,
                    CLOSE_LIMIT,
                    "send queue full: the client reads too slowly",
                ),
                Refused::Closed => self.leave(conn),
            }
        }
        self.dropping = false;
    }

    /// Closes one connection and forgets it.
    fn kick(&mut self, conn: ConnId, code: u16, reason: impl Into<String>) {
        if let Some(peer) = self.peers.remove(&conn) {
            let reason = reason.into();
            tracing::info!(board = %self.board, conn, code, %reason, "closing connection");
            peer.closer.close(code, reason);
            self.forget_awareness_of(peer);
            if self.peers.is_empty() {
                self.idle_since = Instant::now();
            }
        }
    }

    /// Hands what was applied since the last flush to the journal writer.
    async fn flush(&mut self) {
        if self.unsent.is_empty() {
            return;
        }
        let entries = std::mem::take(&mut self.unsent);
        let upto_seq = entries.last().expect("not empty").seq;
        let receiver = self.ctx.writer.append(entries).await;
        self.inflight.push_back(Box::pin(async move {
            let result = receiver
                .await
                .unwrap_or_else(|_| Err("the journal writer stopped".into()));
            (upto_seq, result)
        }));
    }

    fn is_idle(&self) -> bool {
        self.peers.is_empty()
            && self.pending.is_empty()
            && self.inflight.is_empty()
            && self.unsent.is_empty()
            && self.idle_since.elapsed()
                >= Duration::from_millis(self.ctx.limits.room_idle_unload_ms)
    }

    /// Writes a snapshot in the background when enough entries are committed since the last.
    fn snapshot_if_due(&mut self) {
        if self.committed_seq >= self.snapshot_seq + self.ctx.limits.snapshot_every_updates {
            self.snapshot_now();
        }
    }

    /// Writes a snapshot in the background if everything applied is committed.
    fn snapshot_now(&mut self) {
        if !(self.inflight.is_empty() && self.unsent.is_empty()) {
            return;
        }
        if let Some(snapshot) = self.take_snapshot() {
            let writer = self.ctx.writer.clone();
            tokio::spawn(async move {
                if let Err(reason) = writer.snapshot(snapshot).await {
                    tracing::warn!(%reason, "snapshot not written; the journal still has everything");
                }
            });
        }
    }

    /// Encodes the document as of `committed_seq` and checks that it decodes.
    fn take_snapshot(&mut self) -> Option<Snapshot> {
        debug_assert!(self.inflight.is_empty() && self.unsent.is_empty());
        if self.committed_seq == self.snapshot_seq {
            return None;
        }
        // Asleep, the room applied nothing since storage held it all.
        let awake = self.awake.as_ref()?;
        let state_v1 = awake
            .doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        if Update::decode_v1(&state_v1).is_err() {
            tracing::error!(board = %self.board, "encoded state does not decode; snapshot skipped");
            return None;
        }
        self.snapshot_seq = self.committed_seq;
        self.document_bytes = state_v1.len();
        Some(Snapshot {
            board: self.board.clone(),
            upto_seq: self.committed_seq,
            state_v1,
            created_ms: now_ms(),
        })
    }

    async fn unload(mut self, rx: mpsc::Receiver<RoomCmd>) {
        if let Some(snapshot) = self.take_snapshot()
            && let Err(reason) = self.ctx.writer.snapshot(snapshot).await
        {
            tracing::warn!(board = %self.board, %reason, "snapshot on unload failed");
        }
        self.rooms.remove(&self.board, self.room_id);
        self.ctx.store.trace_hint(&self.board);
        tracing::debug!(board = %self.board, "room unloaded");
        refuse_all(rx, JoinError::RoomClosed).await;
    }

    /// Stops serving after an error: every peer is closed and the room is dropped, so the
    /// next join reloads the document from the journal.
    async fn fail(mut self, rx: mpsc::Receiver<RoomCmd>, reason: String) {
        tracing::error!(board = %self.board, %reason, "room failed; it will reload from storage");
        for (_, peer) in self.peers.drain() {
            peer.closer
                .close(CLOSE_INTERNAL, "the board is reloading, reconnect");
        }
        // Writes already handed to the journal end before another room may load the board,
        // so the next room starts after the last stored entry and never reuses a seq.
        while self.inflight.next().await.is_some() {}
        self.rooms.remove(&self.board, self.room_id);
        refuse_all(rx, JoinError::RoomClosed).await;
    }

    async fn shut_down(mut self, rx: mpsc::Receiver<RoomCmd>, done: oneshot::Sender<()>) {
        for (_, peer) in self.peers.drain() {
            peer.closer.close(CLOSE_GOING_AWAY, "server shutting down");
        }
        while let Some((upto_seq, result)) = self.inflight.next().await {
            self.on_committed(upto_seq, result);
        }
        if self.failed.is_none()
            && let Some(snapshot) = self.take_snapshot()
        {
            let _ = self.ctx.writer.snapshot(snapshot).await;
        }
        self.rooms.remove(&self.board, self.room_id);
        let _ = done.send(());
        refuse_all(rx, JoinError::RoomClosed).await;
    }
}

impl Drop for Room {
    fn drop(&mut self) {
        if self.asleep {
            self.rooms.note_asleep(false);
        }
    }
}

/// What applying a client's update did to the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The update was integrated whole.
    Changed,
    /// The update holds nothing.
    Empty,
    /// The bytes are not an update; the document is untouched.
    Refused(String),
    /// Applying failed part-way or left structures that cannot be integrated; the document may
    /// hold part of the update and must be reloaded from storage.
    Poisoned(String),
}

/// Decodes and applies update bytes from a client. The yrs decoder may panic on hostile
/// input: a panic becomes `Refused` or `Poisoned`, never a crash. (The fuzz target
/// `fuzz/fuzz_targets/relay_input.rs` drives this function.)
pub fn apply_untrusted(doc: &Doc, update_v1: &[u8]) -> Applied {
    let update = match catch_unwind(|| Update::decode_v1(update_v1)) {
        Ok(Ok(update)) => update,
        _ => return Applied::Refused("malformed update".into()),
    };
    if update.is_empty() {
        return Applied::Empty;
    }
    let applied = catch_unwind(AssertUnwindSafe(|| {
        let mut txn = doc.transact_mut();
        txn.apply_update(update)?;
        Ok::<_, yrs::error::UpdateError>(txn.has_missing_updates())
    }));
    match applied {
        Ok(Ok(false)) => Applied::Changed,
        // Through this relay a client only builds on what the server has, so a dependency on
        // unknown changes is hostile or broken; stored, it would poison every later load.
        Ok(Ok(true)) => {
            Applied::Poisoned("update depends on changes the server does not have".into())
        }
        Ok(Err(e)) => Applied::Poisoned(format!("update refused: {e}")),
        Err(_) => Applied::Poisoned("update refused".into()),
    }
}

/// Whether a command reads or changes the document (so a sleeping room must wake up for it):
/// everything but awareness, leaving, closing and stopping.
fn needs_document(cmd: &RoomCmd) -> bool {
    match cmd {
        RoomCmd::Join { .. } | RoomCmd::Edit { .. } => true,
        RoomCmd::Frame { frame, .. } => {
            protocol::decode_frame(frame, usize::MAX).is_ok_and(|messages| {
                messages.iter().any(|m| {
                    !matches!(
                        m,
                        Message::Awareness(_) | Message::QueryAwareness | Message::Auth(_)
                    )
                })
            })
        }
        RoomCmd::Leave { .. } | RoomCmd::Shutdown { .. } | RoomCmd::CloseRole { .. } => false,
    }
}

/// Closes the queue and refuses the joins still in it; their connections ask the registry
/// again and get a fresh room.
async fn refuse_all(mut rx: mpsc::Receiver<RoomCmd>, error: JoinError) {
    rx.close();
    while let Some(cmd) = rx.recv().await {
        refuse(cmd, &error);
    }
}

/// Answers a command the room will not carry out.
fn refuse(cmd: RoomCmd, error: &JoinError) {
    match cmd {
        RoomCmd::Join { reply, .. } | RoomCmd::Edit { reply, .. } => {
            let _ = reply.send(Err(error.clone()));
        }
        RoomCmd::Shutdown { done } => {
            let _ = done.send(());
        }
        RoomCmd::Frame { .. } | RoomCmd::Leave { .. } | RoomCmd::CloseRole { .. } => {}
    }
}

/// A board as loaded: its document, the last seq stored, the seq of its snapshot, and the
/// bytes read.
pub type Loaded = (Doc, u64, u64, usize);

/// Rebuilds a document from storage. Stored bytes are decoded under `catch_unwind` too: a
/// restored or damaged file is not trusted.
pub fn load_doc(stored: StoredDoc) -> Result<Loaded, String> {
    let doc = Doc::new();
    let last_seq = stored.last_seq();
    let snapshot_seq = stored.snapshot.as_ref().map_or(0, |s| s.upto_seq);
    let mut bytes = 0;
    let snapshot = stored
        .snapshot
        .as_ref()
        .map(|s| (s.upto_seq, s.state_v1.as_slice()));
    let updates = stored.updates.iter().map(|(seq, u)| (*seq, u.as_slice()));
    for (seq, update) in snapshot.into_iter().chain(updates) {
        bytes += update.len();
        let applied = catch_unwind(AssertUnwindSafe(|| {
            let update = Update::decode_v1(update).map_err(|e| e.to_string())?;
            doc.transact_mut()
                .apply_update(update)
                .map_err(|e| e.to_string())
        }));
        match applied {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(format!("stored update {seq} does not apply: {e}")),
            Err(_) => return Err(format!("stored update {seq} made the decoder panic")),
        }
    }
    Ok((doc, last_seq, snapshot_seq, bytes))
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_that_make_the_yrs_decoder_panic_are_refused_without_crashing() {
        // Inputs the fuzz target found; each panics inside yrs 0.28's decoder.
        let inputs: [&[u8]; 3] = [
            &[0, 1, 135, 255, 255, 255, 255, 255, 254, 255, 0, 0],
            &[51, 16, 255, 255, 255, 255, 255, 255, 255, 51, 231],
            &[86, 85, 1, 255, 1, 0, 255, 255, 255, 255, 255, 5],
        ];
        for input in inputs {
            let doc = Doc::new();
            let outcome = apply_untrusted(&doc, input);
            assert!(
                matches!(outcome, Applied::Refused(_)),
                "{input:?}: {outcome:?}"
            );
        }
    }

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
        assert_eq!(
            outbox
                .queued_bytes
                .load(std::sync::atomic::Ordering::Relaxed),
            20
        );
        // The write loop ended (the client left): not an overflow.
        drop(rx);
        assert_eq!(outbox.try_push(frame(), 1_000), Err(Refused::Closed));
    }

    #[test]
    fn a_valid_update_is_applied_and_an_empty_one_is_noted() {
        let doc = Doc::new();
        let update =
            shared::doc::initial_update(shared::BoardKind::MindMap, "Carte", shared::Lang::Fr);
        assert_eq!(apply_untrusted(&doc, &update), Applied::Changed);
        assert_eq!(apply_untrusted(&doc, &[0, 0]), Applied::Empty);
    }
}
