//! The journal writer: one thread that owns writes to the store and commits in groups.
//!
//! Rooms hand it the updates they applied; it takes every job waiting in its queue, commits
//! them in one transaction (one fsync), then answers each job. Group commit is what lets an
//! update be durable before anybody sees it without paying one fsync per keystroke.

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use std::collections::HashSet;

use crate::store::{BoardId, JournalEntry, Snapshot, Store};

/// Jobs folded into one transaction at most.
const JOBS_PER_COMMIT_MAX: usize = 256;

pub type WriteResult = Result<(), String>;

enum Job {
    Append {
        entries: Vec<JournalEntry>,
        done: oneshot::Sender<WriteResult>,
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
    pub fn start(
        store: Arc<dyn Store>,
        queue_jobs_max: usize,
    ) -> (Self, std::thread::JoinHandle<()>) {
        let (jobs, rx) = mpsc::channel(queue_jobs_max);
        let thread = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || run(store, rx))
            .expect("spawning the journal writer thread");
        (JournalWriter { jobs }, thread)
    }

    /// Queues entries for the next group commit. The returned receiver answers once they are
    /// committed, or with the reason they are not.
    pub async fn append(&self, entries: Vec<JournalEntry>) -> oneshot::Receiver<WriteResult> {
        let (done, receiver) = oneshot::channel();
        // A send error means the writer is gone; dropping `done` then answers the receiver
        // with an error, which the room treats like a failed write.
        let _ = self.jobs.send(Job::Append { entries, done }).await;
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

fn run(store: Arc<dyn Store>, mut rx: mpsc::Receiver<Job>) {
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
                Job::Append { entries, done } => appends.push((entries, done)),
                Job::Snapshot { snapshot, done } => {
                    let result = store.write_snapshot(&snapshot).map_err(|e| e.to_string());
                    let _ = done.send(result);
                }
                Job::Ping { done } => {
                    let _ = done.send(Ok(()));
                }
            }
        }
        commit_appends(store.as_ref(), appends);
    }
}

fn commit_appends(
    store: &dyn Store,
    appends: Vec<(Vec<JournalEntry>, oneshot::Sender<WriteResult>)>,
) {
    if appends.is_empty() {
        return;
    }
    let all: Vec<JournalEntry> = appends
        .iter()
        .flat_map(|(e, _)| e.iter().cloned())
        .collect();
    match store.append(&all) {
        Ok(()) => {
            for (_, done) in appends {
                let _ = done.send(Ok(()));
            }
        }
        Err(error) => {
            // One bad job must not fail its neighbours: retry each job on its own. A job of a
            // board whose earlier job failed fails too, so no board's journal gets a gap.
            tracing::warn!(%error, jobs = appends.len(), "group commit failed; committing jobs one by one");
            let mut failed_boards: HashSet<BoardId> = HashSet::new();
            for (entries, done) in appends {
                let result = if entries.iter().any(|e| failed_boards.contains(&e.board)) {
                    Err("an earlier write of this board failed".to_owned())
                } else {
                    store.append(&entries).map_err(|e| e.to_string())
                };
                if result.is_err() {
                    failed_boards.extend(entries.iter().map(|e| e.board.clone()));
                }
                let _ = done.send(result);
            }
        }
    }
}
