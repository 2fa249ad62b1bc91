//! The edge in a cluster: requests for sessions owned elsewhere are forwarded to their owner
//! (`forward`, used by [`Dispatch`](crate::Dispatch)), and the session layer learns what this
//! node owns ([`ViewPlacement`]) and what it lost ([`spawn_rebalancer`]). Requests forwarded
//! here are served by the internal gRPC service (`grpc::internal`).

mod route;

pub(crate) use route::forward;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use turnstile_cluster::{ClusterSecret, Partition, Peers, View, partition_of};
use turnstile_session::SessionKey;
use turnstile_session::{Placement, Sessions};

/// What the edge of a cluster node needs: its id, its current view, its peer connections and
/// the cluster's secret.
pub struct ClusterHandle {
    /// This node's id.
    pub node_id: String,
    /// The membership views (the newest is current).
    pub views: watch::Receiver<Arc<View>>,
    /// Connections to the other nodes.
    pub peers: Peers,
    /// How long a forwarded request may take end to end (a turn's deadline plus slack).
    pub forward_deadline: Duration,
    /// The secret forwarded calls carry, and that calls to this node's internal service must
    /// carry (`None`: no secret, a cluster on loopback).
    pub secret: Option<ClusterSecret>,
}

impl ClusterHandle {
    /// A handle over the views of a `membership`-like source; forwarded calls carry `secret`.
    pub fn new(
        node_id: impl Into<String>,
        views: watch::Receiver<Arc<View>>,
        forward_deadline: Duration,
        secret: Option<ClusterSecret>,
    ) -> ClusterHandle {
        ClusterHandle {
            node_id: node_id.into(),
            views,
            peers: Peers::default().with_secret(secret.clone()),
            forward_deadline,
            secret,
        }
    }

    /// The current view.
    pub fn view(&self) -> Arc<View> {
        self.views.borrow().clone()
    }
}

/// The session layer's [`Placement`] over the membership view.
pub struct ViewPlacement {
    node_id: String,
    views: watch::Receiver<Arc<View>>,
}

impl ViewPlacement {
    /// Placement by the views of this node.
    pub fn new(node_id: impl Into<String>, views: watch::Receiver<Arc<View>>) -> ViewPlacement {
        ViewPlacement {
            node_id: node_id.into(),
            views,
        }
    }
}

impl Placement for ViewPlacement {
    fn node_id(&self) -> &str {
        &self.node_id
    }

    fn partition(&self, key: &SessionKey) -> Partition {
        partition_of(&key.project, &key.user)
    }

    fn owns(&self, partition: Partition) -> bool {
        self.views.borrow().owns(partition)
    }
}

/// On every view change, lets the sessions of partitions this node lost finish their queue and
/// stop (their new owner loads them from the store on its first request).
pub fn spawn_rebalancer(sessions: Sessions, mut views: watch::Receiver<Arc<View>>) {
    tokio::spawn(async move {
        let mut before = views.borrow_and_update().clone();
        while views.changed().await.is_ok() {
            let after = views.borrow_and_update().clone();
            let lost = after.lost_since(&before);
            let stopped = sessions.release_partitions(&lost);
            if !lost.is_empty() {
                tracing::info!(
                    partitions = lost.len(),
                    sessions = stopped,
                    members = ?after.ring().members(),
                    "partitions moved to other nodes"
                );
            }
            before = after;
        }
    });
}
