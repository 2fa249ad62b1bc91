//! The internal `Cluster` gRPC service: runs requests forwarded by other nodes, if this node
//! owns the session.

use std::pin::Pin;
use std::sync::Arc;

use futures_util::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use turnstile_cluster::{MAX_HOPS, not_owner_status};
use turnstile_proto::v1 as pb;
use turnstile_proto::v1::cluster_server::{Cluster, ClusterServer};
use turnstile_proto::v1::forward_request::Op;
use turnstile_session::SessionKey;
use turnstile_session::{Sessions, TurnEvent};

use super::ClusterHandle;
use super::wire;

/// The `Cluster` service as axum routes (served on the node's HTTP/gRPC listener).
pub fn cluster_service_router(sessions: Sessions, cluster: Arc<ClusterHandle>) -> axum::Router {
    tonic::service::Routes::new(cluster_server(sessions, cluster)).into_axum_router()
}

/// The `Cluster` service, to add to other gRPC services.
pub fn cluster_server(
    sessions: Sessions,
    cluster: Arc<ClusterHandle>,
) -> ClusterServer<ClusterService> {
    ClusterServer::new(ClusterService { sessions, cluster })
        .max_decoding_message_size(64 * 1024 * 1024)
}

/// Serves requests forwarded by other nodes.
pub struct ClusterService {
    sessions: Sessions,
    cluster: Arc<ClusterHandle>,
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::ForwardEvent, Status>> + Send>>;

#[tonic::async_trait]
impl Cluster for ClusterService {
    type ForwardStream = EventStream;

    async fn forward(
        &self,
        request: Request<pb::ForwardRequest>,
    ) -> Result<Response<EventStream>, Status> {
        let request = request.into_inner();
        if request.hops > MAX_HOPS {
            return Err(Status::unavailable(format!(
                "forwarded {} times: the cluster view is changing; retry",
                request.hops
            )));
        }
        let view = self.cluster.view();
        let route = view.route(&request.project, &request.user_id);
        if !route.is_local {
            return Err(not_owner_status(&view, route.partition));
        }
        let key = SessionKey::new(request.project, request.user_id);
        let (out, stream) = mpsc::channel(64);
        match request.op {
            Some(Op::Turn(turn)) => {
                let input = wire::turn_from_pb(turn)
                    .map_err(|e| Status::invalid_argument(e.to_string()))?;
                let events = self.sessions.turn(key, input).await;
                tokio::spawn(async move {
                    let mut events = match events {
                        Ok(events) => events,
                        Err(e) => {
                            let _ = out
                                .send(Ok(wire::turn_event_to_pb(&TurnEvent::Failed(e))))
                                .await;
                            return;
                        }
                    };
                    // The turn runs (and commits) whether or not the sender still listens.
                    while let Some(event) = events.recv().await {
                        let _ = out.send(Ok(wire::turn_event_to_pb(&event))).await;
                    }
                });
            }
            Some(Op::State(op)) => {
                let op =
                    wire::op_from_pb(op).map_err(|e| Status::invalid_argument(e.to_string()))?;
                let outcome = self.sessions.state(key, op).await;
                let _ = out.send(Ok(wire::state_outcome_to_pb(&outcome))).await;
            }
            None => {
                return Err(Status::invalid_argument(
                    "a forwarded request needs an operation",
                ));
            }
        }
        Ok(Response::new(Box::pin(ReceiverStream::new(stream))))
    }
}
