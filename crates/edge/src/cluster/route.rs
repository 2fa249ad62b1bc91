//! Where a session request runs: here when this node owns the session, otherwise on its owner,
//! through the internal `Cluster` service.
//!
//! The sender follows `NOT_OWNER` hints and waits out a dead owner until the view drops it, at
//! most [`MAX_HOPS`] times; after that the client gets a retryable error (HTTP 503, gRPC
//! `UNAVAILABLE`).

use std::sync::Arc;
use std::time::Duration;

use turnstile_cluster::{ForwardError, MAX_HOPS, View};
use turnstile_proto::v1 as pb;
use turnstile_proto::v1::forward_request::Op;
use turnstile_session::{SessionError, SessionKey};

use super::ClusterHandle;

/// How long a sender waits for the view to change after the owner could not be reached.
const UNREACHABLE_WAIT: Duration = Duration::from_secs(2);
/// How long a sender waits before routing by its own view again after a node named in a
/// `NOT_OWNER` hint could not be reached: time for the hinting node's view to catch up.
const STALE_HINT_WAIT: Duration = Duration::from_millis(100);

/// Where one attempt goes.
enum Target {
    Local,
    Remote { id: String, addr: String },
}

/// Sends the operation `op` builds to the session's owner. `Ok(None)`: this node owns it, run
/// it here (the operation is only encoded when it has to travel).
pub(crate) async fn forward(
    cluster: &ClusterHandle,
    key: &SessionKey,
    op: impl Fn() -> Op,
) -> Result<Option<tonic::Streaming<pb::ForwardEvent>>, SessionError> {
    let mut hint: Option<(String, String)> = None;
    let mut last_error = String::from("no node is ready");
    for hops in 0..=MAX_HOPS {
        let view = cluster.view();
        let hinted = hint.as_ref().is_some_and(|(id, _)| *id != cluster.node_id);
        let target = match hint.take() {
            Some((id, addr)) if id != cluster.node_id => Target::Remote { id, addr },
            _ => {
                let route = view.route(&key.project, &key.user);
                match route.owner {
                    None => {
                        wait_for_change(cluster, &view).await;
                        continue;
                    }
                    Some(_) if route.is_local => Target::Local,
                    Some(owner) => Target::Remote {
                        id: owner.id.clone(),
                        addr: owner.addr.clone(),
                    },
                }
            }
        };
        let Target::Remote { id, addr } = target else {
            return Ok(None);
        };
        let request = pb::ForwardRequest {
            project: key.project.clone(),
            user_id: key.user.clone(),
            hops,
            from_node: cluster.node_id.clone(),
            op: Some(op()),
        };
        metrics::counter!("turnstile_forwarded_total").increment(1);
        match cluster
            .peers
            .forward(&addr, request, cluster.forward_deadline)
            .await
        {
            Ok(stream) => return Ok(Some(stream)),
            Err(ForwardError::NotOwner {
                hint: not_owner, ..
            }) => {
                tracing::debug!(node = %id, owner = %not_owner.owner_id, "NOT_OWNER");
                last_error = format!("{id} no longer owns the session");
                if not_owner.owner_id.is_empty() || not_owner.owner_id == cluster.node_id {
                    // The views disagree about this node: wait for ours to catch up.
                    wait_for_change(cluster, &view).await;
                } else {
                    hint = Some((not_owner.owner_id, not_owner.owner_addr));
                }
            }
            Err(ForwardError::Unreachable { source, .. }) => {
                tracing::debug!(node = %id, error = %source, "cannot reach the owner");
                last_error = format!("cannot reach {id}: {source}");
                if hinted {
                    // The hint came from a node whose view still has a dead node that ours
                    // may already have dropped: waiting for ours to change could take the
                    // whole UNREACHABLE_WAIT. Route by our own view again, shortly.
                    tokio::time::sleep(STALE_HINT_WAIT).await;
                } else {
                    // The owner is probably gone: once the view drops it, the session has a
                    // new owner.
                    wait_for_change(cluster, &view).await;
                }
            }
            Err(ForwardError::Refused { status, .. }) => {
                if status.code() == tonic::Code::Unauthenticated {
                    // The nodes' secrets differ: every forward to that node will fail.
                    tracing::error!(node = %id, "{}", status.message());
                }
                return Err(SessionError::unavailable(format!(
                    "{id} refused the request: {}",
                    status.message()
                )));
            }
        }
    }
    Err(SessionError::unavailable(format!(
        "{last_error}; the cluster view is changing, retry"
    )))
}

/// Waits (boundedly) for a newer view than `seen`.
async fn wait_for_change(cluster: &ClusterHandle, seen: &Arc<View>) {
    let mut views = cluster.views.clone();
    let newer = views.wait_for(|current| !Arc::ptr_eq(current, seen));
    let _ = tokio::time::timeout(UNREACHABLE_WAIT, newer).await;
}
