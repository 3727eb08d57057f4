//! The registry of loaded rooms: at most one room per board in this process.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use crate::room::{JoinError, Joiner, Room, RoomCmd, RoomContext, ServerEdit};
use crate::store::{Actor, BoardId};
use crate::tokens::Role;

#[derive(Clone)]
struct RoomHandle {
    room_id: u64,
    commands: mpsc::Sender<RoomCmd>,
}

pub struct Rooms {
    ctx: Arc<RoomContext>,
    loaded: Mutex<HashMap<BoardId, RoomHandle>>,
    next_room_id: AtomicU64,
    /// A request to the allocator to give freed memory back is scheduled (`release_memory`).
    release_pending: std::sync::atomic::AtomicBool,
    /// Loaded rooms that let their document go (`Room::fall_asleep`).
    asleep: std::sync::atomic::AtomicUsize,
    /// Boards kept unloaded while their stored data is rewritten (`hold`).
    held: Mutex<std::collections::HashSet<BoardId>>,
}

/// A board kept unloaded (`Rooms::hold`) until this is dropped.
pub struct Held {
    rooms: Arc<Rooms>,
    board: BoardId,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.rooms.held.lock().unwrap().remove(&self.board);
    }
}

/// How long after an unload the allocator is asked to give freed memory back: the unloads of
/// that time are served by one request.
const RELEASE_MEMORY_AFTER_MS: u64 = 2_000;

/// How many times a join retries when it meets a room that is unloading.
const JOIN_ATTEMPTS_MAX: usize = 8;

impl Rooms {
    pub fn new(ctx: Arc<RoomContext>) -> Arc<Self> {
        Arc::new(Rooms {
            ctx,
            loaded: Mutex::new(HashMap::new()),
            next_room_id: AtomicU64::new(1),
            release_pending: std::sync::atomic::AtomicBool::new(false),
            asleep: std::sync::atomic::AtomicUsize::new(0),
            held: Mutex::new(Default::default()),
        })
    }

    /// How many loaded rooms sleep.
    pub fn asleep_count(&self) -> usize {
        self.asleep.load(Ordering::Relaxed)
    }

    /// A room fell asleep (`true`), or woke up or went away asleep (`false`).
    pub(crate) fn note_asleep(&self, asleep: bool) {
        if asleep {
            self.asleep.fetch_add(1, Ordering::Relaxed);
        } else {
            self.asleep.fetch_sub(1, Ordering::Relaxed);
        }
    }

    pub fn loaded_count(&self) -> usize {
        self.loaded.lock().unwrap().len()
    }

    /// Joins the board's room, loading it if needed. Returns the room's command queue.
    pub async fn join(
        self: &Arc<Self>,
        board: &BoardId,
        mut joiner: impl FnMut() -> Joiner,
    ) -> Result<mpsc::Sender<RoomCmd>, JoinError> {
        self.ask(board, |reply| RoomCmd::Join {
            joiner: Box::new(joiner()),
            reply,
        })
        .await
    }

    /// Makes `edit` in the board's document, loading the room if needed.
    pub async fn edit(
        self: &Arc<Self>,
        board: &BoardId,
        edit: ServerEdit,
        actor: Arc<Actor>,
    ) -> Result<(), JoinError> {
        self.ask(board, |reply| RoomCmd::Edit {
            edit: edit.clone(),
            actor: actor.clone(),
            reply,
        })
        .await
        .map(|_| ())
    }

    /// Sends the room of `board` (loaded if needed) the command `make` builds, again while the
    /// room answers that it is unloading. Returns the room's command queue.
    async fn ask(
        self: &Arc<Self>,
        board: &BoardId,
        mut make: impl FnMut(oneshot::Sender<Result<(), JoinError>>) -> RoomCmd,
    ) -> Result<mpsc::Sender<RoomCmd>, JoinError> {
        for _ in 0..JOIN_ATTEMPTS_MAX {
            let handle = self.handle(board)?;
            let (reply, answer) = oneshot::channel();
            if handle.commands.send(make(reply)).await.is_err() {
                self.remove(board, handle.room_id);
                continue;
            }
            match answer.await {
                Ok(Ok(())) => return Ok(handle.commands),
                Ok(Err(JoinError::RoomClosed)) | Err(_) => continue,
                Ok(Err(other)) => return Err(other),
            }
        }
        Err(JoinError::Failed("the board kept unloading".into()))
    }

    fn handle(self: &Arc<Self>, board: &BoardId) -> Result<RoomHandle, JoinError> {
        if self.held.lock().unwrap().contains(board) {
            // Its stored data is being rewritten: a client tries again shortly.
            return Err(JoinError::RoomClosed);
        }
        let mut loaded = self.loaded.lock().unwrap();
        if let Some(handle) = loaded.get(board) {
            return Ok(handle.clone());
        }
        if loaded.len() >= self.ctx.limits.max_rooms_loaded {
            return Err(JoinError::Full);
        }
        let room_id = self.next_room_id.fetch_add(1, Ordering::Relaxed);
        let (commands, rx) = mpsc::channel(self.ctx.limits.room_queue_commands_max);
        let handle = RoomHandle { room_id, commands };
        loaded.insert(board.clone(), handle.clone());
        Room::spawn(board.clone(), room_id, self.ctx.clone(), self.clone(), rx);
        Ok(handle)
    }

    /// Forgets a room, unless the board already has a newer one.
    pub fn remove(self: &Arc<Self>, board: &BoardId, room_id: u64) {
        let mut loaded = self.loaded.lock().unwrap();
        if loaded.get(board).is_some_and(|h| h.room_id == room_id) {
            loaded.remove(board);
        }
        drop(loaded);
        self.release_memory();
    }

    /// glibc's allocator keeps what unloaded rooms freed inside its heaps, so an idle server
    /// would stay at its peak: `RELEASE_MEMORY_AFTER_MS` after an unload (or a room falling
    /// asleep), it is asked to return its free pages to the system (`malloc_trim`), on a
    /// blocking thread. When no room is awake then, the store gives back its caches first.
    pub(crate) fn release_memory(self: &Arc<Self>) {
        use std::sync::atomic::Ordering;
        if self.release_pending.swap(true, Ordering::AcqRel) {
            return;
        }
        let rooms = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(RELEASE_MEMORY_AFTER_MS)).await;
            let Some(rooms) = rooms.upgrade() else {
                return;
            };
            rooms.release_pending.store(false, Ordering::Release);
            let store =
                (rooms.loaded_count() == rooms.asleep_count()).then(|| rooms.ctx.store.clone());
            drop(rooms);
            let _ = tokio::task::spawn_blocking(move || {
                if let Some(store) = store {
                    store.release_memory();
                }
                #[cfg(all(target_os = "linux", target_env = "gnu"))]
                // SAFETY: malloc_trim only gives free memory back; it may be called at any time.
                unsafe {
                    libc::malloc_trim(0);
                }
            })
            .await;
        });
    }

    /// Hands entries another node committed to the board's room, if it is loaded (a board
    /// loaded later reads them from the store). Never waits: a full queue drops them, and the
    /// room's next check of the store brings them.
    pub fn remote(&self, board: &BoardId, entries: Vec<(u64, bytes::Bytes)>) {
        self.offer(board, RoomCmd::Remote(entries));
    }

    /// Hands another node's presence frame to the board's room, if it is loaded (never waits:
    /// a state dropped is renewed within seconds).
    pub fn remote_awareness(&self, board: &BoardId, node: u64, frame: bytes::Bytes) {
        self.offer(board, RoomCmd::RemoteAwareness { node, frame });
    }

    /// Every loaded room removes the presence of another node's clients (that node is dead).
    pub fn forget_node(&self, node: u64) {
        self.offer_all(|| RoomCmd::ForgetNode { node });
    }

    /// Every loaded room asks the store for what other nodes committed (after the fan-out's
    /// subscription came back).
    pub fn catch_up_all(&self) {
        self.offer_all(|| RoomCmd::CheckHead);
    }

    /// Sends `command` to the board's room if it is loaded and its queue has room.
    fn offer(&self, board: &BoardId, command: RoomCmd) {
        let handle = self.loaded.lock().unwrap().get(board).cloned();
        if let Some(handle) = handle {
            let _ = handle.commands.try_send(command);
        }
    }

    /// Sends a `command` to every loaded room whose queue has room.
    fn offer_all(&self, command: impl Fn() -> RoomCmd) {
        let handles: Vec<RoomHandle> = self.loaded.lock().unwrap().values().cloned().collect();
        for handle in handles {
            let _ = handle.commands.try_send(command());
        }
    }

    /// Closes the board's connections of `role` (all when `None`), if the board is loaded.
    pub async fn close_connections(
        &self,
        board: &BoardId,
        role: Option<Role>,
        code: u16,
        reason: &str,
    ) {
        let handle = self.loaded.lock().unwrap().get(board).cloned();
        if let Some(handle) = handle {
            let cmd = RoomCmd::CloseRole {
                role,
                code,
                reason: reason.into(),
            };
            let _ = handle.commands.send(cmd).await;
        }
    }

    /// Unloads the board's room, if it is loaded (its connections closed, what it applied
    /// committed and its snapshot written), and keeps the board unloaded until the answer is
    /// dropped: joins and server edits meanwhile are refused as for a room unloading (clients
    /// try again). For a rewrite of the board's stored data (erasure).
    pub async fn hold(self: &Arc<Self>, board: &BoardId) -> Held {
        self.held.lock().unwrap().insert(board.clone());
        let held = Held {
            rooms: self.clone(),
            board: board.clone(),
        };
        let handle = self.loaded.lock().unwrap().get(board).cloned();
        if let Some(handle) = handle {
            stop(&handle).await;
            self.remove(board, handle.room_id);
        }
        held
    }

    /// Closes every connection and waits until each room has committed what it applied.
    pub async fn shut_down(&self) {
        let handles: Vec<RoomHandle> = self.loaded.lock().unwrap().values().cloned().collect();
        // All rooms at once: a service manager's stop timeout is for the whole server.
        let stops = handles.iter().map(stop);
        futures_util::future::join_all(stops).await;
    }
}

/// Stops a room: its connections closed, what it applied committed, its snapshot written.
async fn stop(handle: &RoomHandle) {
    let (done, finished) = oneshot::channel();
    if handle
        .commands
        .send(RoomCmd::Shutdown { done })
        .await
        .is_ok()
    {
        let _ = finished.await;
    }
}
