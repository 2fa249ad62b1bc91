//! The group-commit writer: one thread applies every write, many per fsync.
//!
//! The thread takes the first queued request, drains whatever else is queued (up to
//! `max_batch`, waiting up to `max_wait` for more), applies the batch in arrival order inside
//! one redb write transaction, commits it once with [`Durability::Immediate`] (one fsync), then
//! answers every request. Each commit's compare-and-set is checked against what the
//! transaction sees, so two commits to one key in one batch behave as if run one after the
//! other; a conflicting commit is answered `Conflict` and the others still commit. Partition
//! claims are writes of the same queue, so a fenced commit queued after a claim sees the
//! claim's epoch, and a claim is acknowledged only once fsynced. If the transaction fails,
//! every write of the batch gets the error.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, TryRecvError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use redb::{Database, Durability};
use tokio::sync::oneshot;

use super::tables::Tables;
use crate::{Commit, SessionKey, StoreError, StoreStats};

/// A write sent to the writer thread, with the channel its answer goes back on.
pub(super) enum Request {
    Commit {
        key: SessionKey,
        commit: Commit,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    Delete {
        key: SessionKey,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Claim {
        partition: u32,
        reply: oneshot::Sender<Result<u64, StoreError>>,
    },
    /// Finish this batch and stop; requests queued after it are dropped (their callers get
    /// [`StoreError::Closed`]).
    Shutdown { reply: oneshot::Sender<()> },
}

/// What the writer has done, shared with [`EmbeddedStore::stats`](super::EmbeddedStore::stats).
#[derive(Debug, Default)]
pub(super) struct Counters {
    commits: AtomicU64,
    conflicts: AtomicU64,
    fenced: AtomicU64,
    deletes: AtomicU64,
    claims: AtomicU64,
    batches: AtomicU64,
}

impl Counters {
    pub(super) fn snapshot(&self) -> StoreStats {
        StoreStats {
            commits: self.commits.load(Ordering::Relaxed),
            conflicts: self.conflicts.load(Ordering::Relaxed),
            fenced: self.fenced.load(Ordering::Relaxed),
            deletes: self.deletes.load(Ordering::Relaxed),
            claims: self.claims.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
        }
    }
}

/// The result of one request within a batch that the transaction applied.
enum Outcome {
    Commit(Result<u64, StoreError>),
    Delete,
    Claim(Result<u64, StoreError>),
    Shutdown,
}

pub(super) struct Writer {
    pub(super) db: Arc<Database>,
    pub(super) requests: Receiver<Request>,
    pub(super) max_batch: usize,
    pub(super) max_wait: Duration,
    pub(super) counters: Arc<Counters>,
}

impl Writer {
    /// Starts the writer thread. It stops after a [`Request::Shutdown`] or when every sender
    /// is gone.
    pub(super) fn spawn(self) -> std::io::Result<JoinHandle<()>> {
        std::thread::Builder::new()
            .name("turnstile-store-writer".to_owned())
            .spawn(move || self.run())
    }

    fn run(self) {
        let mut batch = Vec::with_capacity(self.max_batch);
        while let Ok(first) = self.requests.recv() {
            batch.push(first);
            let stop = self.collect(&mut batch);
            self.process(&mut batch);
            if stop {
                break;
            }
        }
    }

    /// Adds queued requests to `batch` (which holds the first one); returns whether the
    /// writer must stop after this batch.
    pub(super) fn collect(&self, batch: &mut Vec<Request>) -> bool {
        let deadline = Instant::now() + self.max_wait;
        while batch.len() < self.max_batch {
            if matches!(batch.last(), Some(Request::Shutdown { .. })) {
                return true;
            }
            let next = match self.requests.try_recv() {
                Ok(request) => request,
                Err(TryRecvError::Disconnected) => return true,
                Err(TryRecvError::Empty) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return false;
                    }
                    match self.requests.recv_timeout(deadline - now) {
                        Ok(request) => request,
                        Err(RecvTimeoutError::Timeout) => return false,
                        Err(RecvTimeoutError::Disconnected) => return true,
                    }
                }
            };
            batch.push(next);
        }
        matches!(batch.last(), Some(Request::Shutdown { .. }))
    }

    /// Applies and answers every request of `batch`, leaving it empty.
    pub(super) fn process(&self, batch: &mut Vec<Request>) {
        match self.apply(batch) {
            Ok(outcomes) => {
                for (request, outcome) in batch.drain(..).zip(outcomes) {
                    self.answer(request, outcome);
                }
            }
            Err(error) => {
                let context = format!("committing a batch of {} writes", batch.len());
                // One cause for every write of the batch.
                let error: crate::BackendSource = std::sync::Arc::new(error);
                for request in batch.drain(..) {
                    let failure = || StoreError::Backend {
                        context: context.clone(),
                        source: Some(error.clone()),
                    };
                    // A caller that went away does not need its answer.
                    let _ = match request {
                        Request::Commit { reply, .. } => reply.send(Err(failure())).ok(),
                        Request::Delete { reply, .. } => reply.send(Err(failure())).ok(),
                        Request::Claim { reply, .. } => reply.send(Err(failure())).ok(),
                        Request::Shutdown { reply } => reply.send(()).ok(),
                    };
                }
            }
        }
    }

    /// Runs the batch in one transaction; commits it (one fsync) only if it changed something.
    fn apply(&self, batch: &[Request]) -> Result<Vec<Outcome>, redb::Error> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(Durability::Immediate)?;
        let mut changed = false;
        let mut outcomes = Vec::with_capacity(batch.len());
        {
            let mut tables = Tables::open(&txn)?;
            for request in batch {
                outcomes.push(match request {
                    Request::Commit { key, commit, .. } => {
                        let result = tables.commit(key, commit)?;
                        changed |= result.is_ok();
                        Outcome::Commit(result)
                    }
                    Request::Delete { key, .. } => {
                        changed |= tables.delete(key)?;
                        Outcome::Delete
                    }
                    Request::Claim { partition, .. } => {
                        let result = tables.claim(*partition)?;
                        changed |= result.is_ok();
                        Outcome::Claim(result)
                    }
                    Request::Shutdown { .. } => Outcome::Shutdown,
                });
            }
        }
        if changed {
            txn.commit()?;
            self.counters.batches.fetch_add(1, Ordering::Relaxed);
        } else {
            txn.abort()?;
        }
        Ok(outcomes)
    }

    fn answer(&self, request: Request, outcome: Outcome) {
        // Send failures mean the caller stopped waiting (its future was dropped): the write
        // happened all the same, nobody needs to hear about it.
        match (request, outcome) {
            (Request::Commit { reply, .. }, Outcome::Commit(result)) => {
                let counter = match result {
                    Ok(_) => &self.counters.commits,
                    Err(StoreError::Fenced { .. }) => &self.counters.fenced,
                    Err(_) => &self.counters.conflicts,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                let _ = reply.send(result);
            }
            (Request::Delete { reply, .. }, Outcome::Delete) => {
                self.counters.deletes.fetch_add(1, Ordering::Relaxed);
                let _ = reply.send(Ok(()));
            }
            (Request::Claim { reply, .. }, Outcome::Claim(result)) => {
                if result.is_ok() {
                    self.counters.claims.fetch_add(1, Ordering::Relaxed);
                }
                let _ = reply.send(result);
            }
            (Request::Shutdown { reply }, Outcome::Shutdown) => {
                let _ = reply.send(());
            }
            _ => unreachable!("outcomes are produced in request order, one per request"),
        }
    }
}
