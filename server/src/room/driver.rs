//! The tokio task of a room: it feeds the `RoomCore` the commands of its queue, the store's
//! answers and the tick, and performs the actions it answers with. Nothing here decides
//! anything about the document; this is where the waiting happens.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesOrdered;
use tokio::sync::{mpsc, oneshot};

use super::apply::{Loaded, load_doc, now_ms};
use super::core::{Action, ConnId, Input, Now, RequestId, RoomCore};
use super::full_state::FullState;
use super::outbox::{Closer, Outbox};
use super::{JoinError, RoomCmd, RoomContext};
use crate::rooms::Rooms;
use crate::store::BoardId;

/// How often a room expires awareness and considers sleeping and unloading.
const ROOM_TICK_MS: u64 = 1_000;
/// Entries one catch-up reads from the store at most (the next check reads on).
const CATCH_UP_ENTRIES_MAX: usize = 4_096;
/// Commands handled before the room commits what they produced.
const COMMANDS_PER_BATCH_MAX: usize = 512;

type Reply = oneshot::Sender<Result<(), JoinError>>;
/// Other nodes' entries read from the store, with their seqs (`Action::CatchUp`).
type CaughtUp = Result<Vec<(u64, Bytes)>, String>;
type Commit = Pin<Box<dyn Future<Output = (u64, Result<u64, String>)> + Send>>;

/// A connection as the driver holds it.
struct Link {
    outbox: Outbox,
    closer: Closer,
    /// The answer to its join, until the core gives it.
    reply: Option<Reply>,
    /// The core let it in: broadcasts reach it.
    joined: bool,
    /// Its outbox refused a frame: nothing more is pushed until the core forgets it.
    refused: bool,
}

/// A load under way: the stored pieces' frames come first, then the decoded document.
struct Loading {
    read: Option<oneshot::Receiver<Option<FullState>>>,
    decoded: tokio::task::JoinHandle<Result<Loaded, String>>,
}

pub struct Room {
    core: RoomCore,
    room_id: u64,
    ctx: Arc<RoomContext>,
    rooms: Arc<Rooms>,
    links: HashMap<ConnId, Link>,
    edits: HashMap<RequestId, Reply>,
    next_request: RequestId,
    shutdowns: Vec<oneshot::Sender<()>>,
    commits: FuturesOrdered<Commit>,
    loading: Option<Loading>,
    /// A read of other nodes' entries under way (`Action::CatchUp`).
    catching_up: Option<tokio::task::JoinHandle<CaughtUp>>,
    asleep: bool,
}

/// What woke the room's task.
enum Woke {
    Input(Input),
    Command(Option<RoomCmd>),
}

/// The next answer of a load under way: the stored pieces' frames, then the decoded document.
async fn next_load_event(loading: &mut Option<Loading>) -> Input {
    let loading = loading.as_mut().expect("only polled while loading");
    if let Some(read) = &mut loading.read {
        let full_state = read.await.ok().flatten();
        loading.read = None;
        return Input::Read(full_state);
    }
    let decoded = (&mut loading.decoded).await;
    Input::Loaded(decoded.unwrap_or_else(|e| Err(format!("loading stopped: {e}"))))
}

/// The process's monotonic clock and the wall clock, as the core takes them.
fn now() -> Now {
    static STARTED: OnceLock<Instant> = OnceLock::new();
    let started = *STARTED.get_or_init(Instant::now);
    Now {
        mono_ms: started.elapsed().as_millis() as u64,
        wall_ms: now_ms(),
    }
}

impl Room {
    /// Starts a room task for `board`; it loads the document, then serves.
    pub fn spawn(
        board: BoardId,
        room_id: u64,
        ctx: Arc<RoomContext>,
        rooms: Arc<Rooms>,
        rx: mpsc::Receiver<RoomCmd>,
    ) {
        let core = RoomCore::new(board, ctx.limits.clone(), now());
        let room = Room {
            core,
            room_id,
            ctx,
            rooms,
            links: HashMap::new(),
            edits: HashMap::new(),
            next_request: 0,
            shutdowns: Vec::new(),
            commits: FuturesOrdered::new(),
            loading: None,
            catching_up: None,
            asleep: false,
        };
        tokio::spawn(room.run(rx));
    }

    async fn run(mut self, mut rx: mpsc::Receiver<RoomCmd>) {
        let mut tick = tokio::time::interval(Duration::from_millis(ROOM_TICK_MS));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut queue_open = true;
        let refuse = loop {
            if let Some(refuse) = self.perform().await {
                break refuse;
            }
            let woke = {
                let loading = &mut self.loading;
                let commits = &mut self.commits;
                let catching_up = &mut self.catching_up;
                let wants_input = queue_open && self.core.wants_input();
                tokio::select! {
                    biased;
                    input = next_load_event(loading), if loading.is_some() => Woke::Input(input),
                    read = async { catching_up.as_mut().expect("polled while set").await },
                        if catching_up.is_some() =>
                    {
                        *catching_up = None;
                        Woke::Input(Input::CaughtUp(
                            read.unwrap_or_else(|e| Err(format!("the read stopped: {e}"))),
                        ))
                    }
                    // Commits first: what they release is what peers wait for.
                    Some((batch, result)) = commits.next(), if !commits.is_empty() => {
                        Woke::Input(Input::Committed { batch, result })
                    }
                    cmd = rx.recv(), if wants_input => Woke::Command(cmd),
                    _ = tick.tick() => Woke::Input(Input::Tick),
                }
            };
            match woke {
                Woke::Input(input) => {
                    if matches!(input, Input::Loaded(_)) {
                        self.loading = None;
                    }
                    self.core.step(now(), input);
                }
                // Every handle is gone (the registry holds one while the room is listed):
                // nobody can reach this room any more.
                Woke::Command(None) => {
                    queue_open = false;
                    self.core.step(now(), Input::Shutdown);
                }
                Woke::Command(Some(cmd)) => {
                    let now = now();
                    self.command(now, cmd);
                    let mut handled = 1;
                    while handled < COMMANDS_PER_BATCH_MAX && self.core.wants_input() {
                        let Ok(cmd) = rx.try_recv() else { break };
                        self.command(now, cmd);
                        handled += 1;
                    }
                }
            }
            self.core.flush();
        };
        self.stop(rx, refuse).await;
    }

    /// Hands a command to the core, keeping what it will answer through.
    fn command(&mut self, now: Now, cmd: RoomCmd) {
        let input = match cmd {
            RoomCmd::Join { joiner, reply } => {
                let joiner = *joiner;
                self.links.insert(
                    joiner.conn,
                    Link {
                        outbox: joiner.outbox,
                        closer: joiner.closer,
                        reply: Some(reply),
                        joined: false,
                        refused: false,
                    },
                );
                Input::Join {
                    conn: joiner.conn,
                    role: joiner.role,
                    actor: joiner.actor,
                    participant: joiner.participant,
                }
            }
            RoomCmd::Frame { conn, frame } => Input::Frame { conn, frame },
            RoomCmd::Leave { conn } => Input::Leave { conn },
            RoomCmd::Edit { edit, actor, reply } => {
                self.next_request += 1;
                self.edits.insert(self.next_request, reply);
                Input::Edit {
                    request: self.next_request,
                    edit,
                    actor,
                }
            }
            RoomCmd::CloseRole { role, code, reason } => Input::CloseRole { role, code, reason },
            RoomCmd::Remote(entries) => Input::Remote(entries),
            RoomCmd::CheckHead => Input::CheckHead,
            RoomCmd::RemoteAwareness { node, frame } => Input::RemoteAwareness { node, frame },
            RoomCmd::ForgetNode { node } => Input::ForgetNode { node },
            RoomCmd::Shutdown { done } => {
                self.shutdowns.push(done);
                Input::Shutdown
            }
        };
        self.core.step(now, input);
    }

    /// Performs the core's actions until it has none; returns how to refuse what comes next
    /// once the room stopped.
    async fn perform(&mut self) -> Option<JoinError> {
        while let Some(action) = self.core.next_action() {
            match action {
                Action::Send { conn, frame } => self.push(conn, frame),
                Action::Broadcast { except, frame } => self.broadcast(except, frame),
                Action::Joined { conn, result } => self.joined(conn, result),
                Action::Edited { request, result } => {
                    if let Some(reply) = self.edits.remove(&request) {
                        let _ = reply.send(result);
                    }
                }
                Action::Close { conn, code, reason } => {
                    if let Some(link) = self.links.remove(&conn) {
                        link.closer.close(code, reason);
                    }
                }
                Action::Forget { conn } => {
                    self.links.remove(&conn);
                }
                Action::Load => self.load(),
                Action::Journal { batch, entries } => {
                    let board = self.core.board().clone();
                    let answer = self.ctx.writer.append(board, self.room_id, entries).await;
                    self.commits.push_back(Box::pin(async move {
                        let result = answer
                            .await
                            .unwrap_or_else(|_| Err("the journal writer stopped".into()));
                        (batch, result)
                    }));
                }
                Action::Snapshot(snapshot) => {
                    let writer = self.ctx.writer.clone();
                    tokio::spawn(async move {
                        if let Err(reason) = writer.snapshot(snapshot).await {
                            tracing::warn!(%reason, "snapshot not written; the journal still has everything");
                        }
                    });
                }
                Action::CatchUp { after } => {
                    let (store, board) = (self.ctx.store.clone(), self.core.board().clone());
                    self.catching_up = Some(tokio::task::spawn_blocking(move || {
                        store
                            .updates_after(&board, after, CATCH_UP_ENTRIES_MAX)
                            .map(|entries| {
                                entries
                                    .into_iter()
                                    .map(|(seq, update)| (seq, Bytes::from(update)))
                                    .collect()
                            })
                            .map_err(|e| e.to_string())
                    }));
                }
                Action::ShareAwareness(frame) => {
                    if let Some(fanout) = &self.ctx.fanout {
                        fanout.awareness(self.core.board(), frame);
                    }
                }
                Action::TraceHint => self.ctx.store.trace_hint(self.core.board()),
                Action::Asleep(asleep) => self.note_asleep(asleep),
                Action::Stop { snapshot, refuse } => {
                    if let Some(snapshot) = snapshot
                        && let Err(reason) = self.ctx.writer.snapshot(snapshot).await
                    {
                        tracing::warn!(board = %self.core.board(), %reason, "last snapshot not written");
                    }
                    return Some(refuse);
                }
            }
        }
        None
    }

    fn push(&mut self, conn: ConnId, frame: Bytes) {
        let bytes_max = self.ctx.limits.send_queue_bytes_max;
        let Some(link) = self.links.get_mut(&conn).filter(|l| !l.refused) else {
            return;
        };
        if let Err(why) = link.outbox.try_push(frame, bytes_max) {
            link.refused = true;
            self.core.step(now(), Input::Refused { conn, why });
        }
    }

    fn broadcast(&mut self, except: Option<ConnId>, frame: Bytes) {
        let bytes_max = self.ctx.limits.send_queue_bytes_max;
        let mut refused = Vec::new();
        for (conn, link) in &mut self.links {
            if Some(*conn) == except || !link.joined || link.refused {
                continue;
            }
            if let Err(why) = link.outbox.try_push(frame.clone(), bytes_max) {
                link.refused = true;
                refused.push((*conn, why));
            }
        }
        for (conn, why) in refused {
            self.core.step(now(), Input::Refused { conn, why });
        }
    }

    fn joined(&mut self, conn: ConnId, result: Result<(), JoinError>) {
        let Some(link) = self.links.get_mut(&conn) else {
            return;
        };
        let reply = link.reply.take();
        let accepted = result.is_ok();
        if accepted {
            link.joined = true;
        } else {
            self.links.remove(&conn);
        }
        let delivered = reply.is_some_and(|reply| reply.send(result).is_ok());
        if accepted && !delivered {
            // The connection went away while it waited.
            self.links.remove(&conn);
            self.core.step(now(), Input::Leave { conn });
        }
    }

    /// Reads and decodes the board on a blocking thread; the stored pieces' frames are handed
    /// over as soon as they are read (the decode is what early answers save waiting for).
    fn load(&mut self) {
        let (read_tx, read_rx) = oneshot::channel();
        let store = self.ctx.store.clone();
        let board = self.core.board().clone();
        let delay = self
            .ctx
            .fanout
            .as_ref()
            .map_or(Duration::ZERO, |f| f.failpoints.load_delay());
        let decoded = tokio::task::spawn_blocking(move || {
            if !delay.is_zero() {
                std::thread::sleep(delay);
            }
            let started = Instant::now();
            let stored = store.load(&board).map_err(|e| match e {
                crate::store::StoreError::Corrupt(_)
                | crate::store::StoreError::BoardNotFound(_) => e.to_string(),
                unavailable => super::storage_failure(unavailable),
            })?;
            let read = started.elapsed();
            let _ = read_tx.send(FullState::of(&stored));
            let loaded = load_doc(stored)?;
            tracing::debug!(
                %board,
                bytes = loaded.3,
                read_ms = read.as_secs_f64() * 1e3,
                decode_ms = (started.elapsed() - read).as_secs_f64() * 1e3,
                "board loaded"
            );
            Ok::<_, String>(loaded)
        });
        self.loading = Some(Loading {
            read: Some(read_rx),
            decoded,
        });
    }

    fn note_asleep(&mut self, asleep: bool) {
        if asleep != self.asleep {
            self.asleep = asleep;
            self.rooms.note_asleep(asleep);
        }
        if asleep {
            self.rooms.release_memory();
        }
    }

    /// The room is done: it leaves the registry, answers whoever waits, and refuses the
    /// commands still queued (their senders ask the registry again and get a fresh room).
    async fn stop(mut self, mut rx: mpsc::Receiver<RoomCmd>, refuse: JoinError) {
        self.note_asleep(false);
        for (_, link) in self.links.drain() {
            if let Some(reply) = link.reply {
                let _ = reply.send(Err(refuse.clone()));
            }
        }
        for (_, reply) in self.edits.drain() {
            let _ = reply.send(Err(refuse.clone()));
        }
        self.rooms.remove(self.core.board(), self.room_id);
        for done in self.shutdowns.drain(..) {
            let _ = done.send(());
        }
        rx.close();
        while let Some(cmd) = rx.recv().await {
            match cmd {
                RoomCmd::Join { reply, .. } | RoomCmd::Edit { reply, .. } => {
                    let _ = reply.send(Err(refuse.clone()));
                }
                RoomCmd::Shutdown { done } => {
                    let _ = done.send(());
                }
                RoomCmd::Frame { .. }
                | RoomCmd::Leave { .. }
                | RoomCmd::CloseRole { .. }
                | RoomCmd::Remote(_)
                | RoomCmd::CheckHead
                | RoomCmd::RemoteAwareness { .. }
                | RoomCmd::ForgetNode { .. } => {}
            }
        }
    }
}
