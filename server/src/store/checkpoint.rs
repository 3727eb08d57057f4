//! Keeps SQLite's WAL checkpoints off the commit path.
//!
//! By default SQLite checkpoints inside the `COMMIT` that takes the write-ahead log past 1,000
//! pages: that commit copies the pages into the database and syncs it before it returns, and
//! the edits waiting for it are relayed that much later (the p99 of a commit was 2.4 ms against
//! a median of 0.57 ms). Here a thread of its own, on its own connection, runs a passive
//! checkpoint every [`COMMITS_PER_CHECKPOINT`] commits; passive checkpoints never block the
//! writer, and once one has copied every frame the next commit starts the log from its
//! beginning again, so the file stops growing. The writer keeps SQLite's automatic checkpoint
//! at [`WRITER_AUTOCHECKPOINT_PAGES`] as a backstop, should this thread fall behind.

use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};

use super::sqlite::{Durability, open_connection};

/// Journal commits between two checkpoints: about 500 to 1,000 pages of log at 2 to 4 pages
/// per commit (a journal row and its index entry), as SQLite's own default of 1,000 pages.
pub(super) const COMMITS_PER_CHECKPOINT: u64 = 256;
/// The writer's own automatic checkpoint, in log pages (40 MiB of 4 KiB pages).
pub(super) const WRITER_AUTOCHECKPOINT_PAGES: i64 = 10_000;

pub(super) struct Checkpointer {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

#[derive(Default)]
struct State {
    commits_since: u64,
    /// Checkpoints run since the store opened (for tests).
    done: u64,
    stopping: bool,
}

impl Checkpointer {
    pub(super) fn start(path: PathBuf, durability: Durability) -> Self {
        let shared = Arc::new(Shared::default());
        let worker = shared.clone();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || run(&path, durability, &worker))
            .expect("spawning the checkpoint thread");
        Checkpointer { shared }
    }

    /// Counts a commit of the writer; wakes the thread once enough have been made.
    pub(super) fn committed(&self) {
        let mut state = self.shared.state.lock().unwrap();
        state.commits_since += 1;
        if state.commits_since >= COMMITS_PER_CHECKPOINT {
            self.shared.wake.notify_all();
        }
    }

    /// Waits until at least `count` checkpoints have run, or `within` has passed.
    #[cfg(test)]
    pub(super) fn wait_done(&self, count: u64, within: std::time::Duration) -> bool {
        let state = self.shared.state.lock().unwrap();
        let (state, _) = self
            .shared
            .wake
            .wait_timeout_while(state, within, |s| s.done < count)
            .unwrap();
        state.done >= count
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.shared.state.lock().unwrap().stopping = true;
        self.shared.wake.notify_all();
    }
}

fn run(path: &std::path::Path, durability: Durability, shared: &Shared) {
    let mut conn = None;
    loop {
        {
            let state = shared.state.lock().unwrap();
            let mut state = shared
                .wake
                .wait_while(state, |s| {
                    !s.stopping && s.commits_since < COMMITS_PER_CHECKPOINT
                })
                .unwrap();
            if state.stopping {
                return;
            }
            state.commits_since = 0;
        }
        if conn.is_none() {
            conn = open_connection(path, durability)
                .inspect_err(|error| tracing::warn!(%error, "checkpoint connection not opened"))
                .ok();
        }
        if let Some(c) = &conn {
            // A reader still on old frames leaves some for the next time.
            let checkpoint = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
            if let Err(error) = checkpoint {
                tracing::warn!(%error, "checkpoint failed; the next one retries");
                conn = None;
            }
        }
        shared.state.lock().unwrap().done += 1;
        shared.wake.notify_all();
    }
}
