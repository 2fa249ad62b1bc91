//! Cluster placement as the session layer sees it: which partition a session is in, whether
//! this node owns it, and the fence its commits carry.
//!
//! A node claims a partition in the store (a new epoch) before its first commit there, and its
//! sessions commit with that epoch. Whoever claimed last wins: the previous owner's commits fail
//! with `Fenced`, so two nodes that both believe they own a session (views disagree for a
//! moment) can never both commit it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use turnstile_store::{Fence, SessionKey, SessionStore};

use crate::SessionError;

/// How a cluster tells the session layer which sessions this node may commit.
///
/// Implemented over the membership view by the server; a single node has no placement and
/// commits unfenced.
///
/// A partition is a `u32` here as everywhere: the store's fences and claims, and the cluster's
/// `Partition`.
pub trait Placement: Send + Sync + 'static {
    /// This node's id (recorded as the owner of the partitions it claims).
    fn node_id(&self) -> &str;
    /// The partition of a session.
    fn partition(&self, key: &SessionKey) -> u32;
    /// Whether this node owns the partition in its current view.
    fn owns(&self, partition: u32) -> bool;
}

/// This node's claims: the epoch of every partition it has claimed and not lost since.
pub(crate) struct Fences {
    pub placement: Arc<dyn Placement>,
    epochs: Mutex<HashMap<u32, u64>>,
    /// One lock per partition, held while claiming it: two sessions of one partition must not
    /// claim it twice, but claims of different partitions run together. (One lock for all made
    /// a node that takes over a dead node's share claim its ~1400 partitions one round trip at
    /// a time: in the chaos test, the last session waited 2–3 s behind the others' claims.)
    /// At most one entry per partition, so it is bounded.
    claiming: Mutex<HashMap<u32, Arc<tokio::sync::Mutex<()>>>>,
}

impl Fences {
    pub fn new(placement: Arc<dyn Placement>) -> Fences {
        Fences {
            placement,
            epochs: Mutex::new(HashMap::new()),
            claiming: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, partition: u32) -> Option<u64> {
        self.lock().get(&partition).copied()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, u64>> {
        self.epochs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The fence for committing `key`: the partition's epoch, claimed now if this node holds no
    /// claim on it. Claiming needs ownership in the current view.
    pub async fn fence(
        &self,
        store: &dyn SessionStore,
        key: &SessionKey,
    ) -> Result<Fence, SessionError> {
        let partition = self.placement.partition(key);
        if let Some(epoch) = self.cached(partition) {
            return Ok(Fence { partition, epoch });
        }
        let lock = Arc::clone(
            self.claiming
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(partition)
                .or_default(),
        );
        let _claiming = lock.lock().await;
        if let Some(epoch) = self.cached(partition) {
            return Ok(Fence { partition, epoch });
        }
        if !self.placement.owns(partition) {
            return Err(SessionError::Moved);
        }
        let epoch = store
            .claim_partition(partition, self.placement.node_id())
            .await?;
        metrics::counter!("turnstile_partition_claims_total").increment(1);
        tracing::debug!(partition, epoch, "claimed partition");
        self.lock().insert(partition, epoch);
        Ok(Fence { partition, epoch })
    }

    /// A commit under `fence` was refused: the claim is stale, forget it.
    pub fn invalidate(&self, fence: Fence) {
        let mut epochs = self.lock();
        if epochs.get(&fence.partition) == Some(&fence.epoch) {
            epochs.remove(&fence.partition);
        }
    }

    /// The partitions moved to other nodes: a later return needs a new claim.
    pub fn release(&self, partitions: &[u32]) {
        let mut epochs = self.lock();
        for partition in partitions {
            epochs.remove(partition);
        }
    }
}
