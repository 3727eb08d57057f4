//! The journal writer: one thread that owns writes to the store and commits in groups.
//!
//! Rooms hand it the updates they applied; it takes every job waiting in its queue, commits
//! them in one transaction (one fsync), then answers each job. Group commit is what lets an
//! update be durable before anybody sees it without paying one fsync per keystroke.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::store::{Append, BoardId, NewEntry, Snapshot, Store};

/// Jobs folded into one transaction at most.
const JOBS_PER_COMMIT_MAX: usize = 256;

pub type WriteResult = Result<(), String>;
/// The seq the store gave the first entry of an append, or why it failed.
pub type AppendResult = Result<u64, String>;

enum Job {
    Append {
        /// The room that asks: after one of its appends failed, its later ones fail too.
        room: u64,
        batch: Append,
        done: oneshot::Sender<AppendResult>,
    },
    Snapshot {
        snapshot: Snapshot,
        done: oneshot::Sender<WriteResult>,
    },
    /// Answered after the commit in progress: the readiness probe's sign that the writer moves.
    Ping { done: oneshot::Sender<WriteResult> },
}

/// A handle to the writer thread; cloning it shares the thread.
#[derive(Clone)]
pub struct JournalWriter {
    jobs: mpsc::Sender<Job>,
}

impl JournalWriter {
    /// Starts the writer thread. It stops once every handle is dropped and its queue is empty.
    /// With `fanout`, every committed batch is published to the other relay nodes.
    pub fn start(
        store: Arc<dyn Store>,
        queue_jobs_max: usize,
        fanout: Option<Arc<crate::fanout::Fanout>>,
    ) -> (Self, std::thread::JoinHandle<()>) {
        let (jobs, rx) = mpsc::channel(queue_jobs_max);
        let thread = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || run(store, rx, fanout))
            .expect("spawning the journal writer thread");
        (JournalWriter { jobs }, thread)
    }

    /// Queues a room's entries for the next group commit. The returned receiver answers with
    /// the seq the store gave the first once they are committed, or with the reason they are
    /// not. Once an append of `room` fails, its later appends fail too: they may build on it.
    pub async fn append(
        &self,
        board: BoardId,
        room: u64,
        entries: Vec<NewEntry>,
    ) -> oneshot::Receiver<AppendResult> {
        let (done, receiver) = oneshot::channel();
        let batch = Append { board, entries };
        // A send error means the writer is gone; dropping `done` then answers the receiver
        // with an error, which the room treats like a failed write.
        let _ = self.jobs.send(Job::Append { room, batch, done }).await;
        receiver
    }

    /// Answers once the writer has taken this from its queue, after any commit in progress:
    /// a writer that is stuck, or behind by more than `within`, fails the probe.
    pub async fn ping(&self, within: std::time::Duration) -> WriteResult {
        let (done, receiver) = oneshot::channel();
        let answered = tokio::time::timeout(within, async {
            self.jobs
                .send(Job::Ping { done })
                .await
                .map_err(|_| "the journal writer stopped".to_owned())?;
            receiver
                .await
                .unwrap_or_else(|_| Err("the journal writer stopped".into()))
        })
        .await;
        answered.unwrap_or_else(|_| {
            Err(format!(
                "the journal writer did not answer within {} ms",
                within.as_millis()
            ))
        })
    }

    pub async fn snapshot(&self, snapshot: Snapshot) -> WriteResult {
        let (done, receiver) = oneshot::channel();
        let _ = self.jobs.send(Job::Snapshot { snapshot, done }).await;
        receiver
            .await
            .unwrap_or_else(|_| Err("the journal writer stopped".into()))
    }
}

fn run(
    store: Arc<dyn Store>,
    mut rx: mpsc::Receiver<Job>,
    fanout: Option<Arc<crate::fanout::Fanout>>,
) {
    // Rooms whose append failed (a room stops after one: this only grows with failures).
    let mut failed_rooms = HashSet::new();
    while let Some(first) = rx.blocking_recv() {
        let mut jobs = vec![first];
        while jobs.len() < JOBS_PER_COMMIT_MAX {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let mut appends = Vec::new();
        for job in jobs {
            match job {
                Job::Append { room, batch, done } => appends.push(Pending { room, batch, done }),
                Job::Snapshot { snapshot, done } => {
                    let result = store.write_snapshot(&snapshot).map_err(|e| e.to_string());
                    let _ = done.send(result);
                }
                Job::Ping { done } => {
                    let _ = done.send(Ok(()));
                }
            }
        }
        commit_appends(
            store.as_ref(),
            appends,
            &mut failed_rooms,
            fanout.as_deref(),
        );
    }
}

/// An append waiting for the group commit.
struct Pending {
    room: u64,
    batch: Append,
    done: oneshot::Sender<AppendResult>,
}

/// Tells the other nodes that `batch` is committed at `first` (when there are others).
fn publish(fanout: Option<&crate::fanout::Fanout>, batch: &Append, first: u64) {
    if let Some(fanout) = fanout {
        let updates = batch.entries.iter().map(|e| e.update_v1.clone()).collect();
        fanout.committed(&batch.board, first, updates);
    }
}

fn commit_appends(
    store: &dyn Store,
    appends: Vec<Pending>,
    failed_rooms: &mut HashSet<u64>,
    fanout: Option<&crate::fanout::Fanout>,
) {
    let (refused, appends): (Vec<Pending>, Vec<Pending>) = appends
        .into_iter()
        .partition(|p| failed_rooms.contains(&p.room));
    for pending in refused {
        let _ = pending
            .done
            .send(Err("an earlier write of this room failed".to_owned()));
    }
    if appends.is_empty() {
        return;
    }
    let batches: Vec<Append> = appends.iter().map(|p| p.batch.clone()).collect();
    match store.append(&batches) {
        Ok(firsts) => {
            for (pending, first) in appends.into_iter().zip(firsts) {
                publish(fanout, &pending.batch, first);
                let _ = pending.done.send(Ok(first));
            }
        }
        Err(error) => {
            // One bad job must not fail its neighbours: retry each job on its own. A job of a
            // room whose earlier job failed fails too, so no journal holds an update without
            // the ones it builds on.
            tracing::warn!(%error, jobs = appends.len(), "group commit failed; committing jobs one by one");
            for pending in appends {
                let result = if failed_rooms.contains(&pending.room) {
                    Err("an earlier write of this room failed".to_owned())
                } else {
                    store
                        .append(std::slice::from_ref(&pending.batch))
                        .map(|firsts| firsts[0])
                        .map_err(|e| e.to_string())
                };
                match result {
                    Ok(first) => publish(fanout, &pending.batch, first),
                    Err(_) => {
                        failed_rooms.insert(pending.room);
                    }
                }
                let _ = pending.done.send(result);
            }
        }
    }
}
