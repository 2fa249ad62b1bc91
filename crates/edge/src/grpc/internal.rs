//! The internal `Cluster` gRPC service: runs requests forwarded by other nodes, if this node
//! owns the session.

use std::pin::Pin;
use std::sync::Arc;

use futures_util::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};
use turnstile_cluster::{MAX_FORWARD_MESSAGE_BYTES, MAX_HOPS, not_owner_status};
use turnstile_proto::v1 as pb;
use turnstile_proto::v1::cluster_server::{Cluster, ClusterServer};
use turnstile_proto::v1::forward_request::Op;
use turnstile_session::SessionKey;
use turnstile_wire::forward as wire;

use crate::cluster::ClusterHandle;
use crate::extract::AppState;

/// Events of one forwarded request that may wait for the sender to read them.
const FORWARD_BUFFER: usize = 64;

/// The `Cluster` service of this node.
pub(crate) fn cluster_server(
    state: AppState,
    cluster: Arc<ClusterHandle>,
) -> ClusterServer<ClusterService> {
    ClusterServer::new(ClusterService { state, cluster })
        .max_decoding_message_size(MAX_FORWARD_MESSAGE_BYTES)
}

/// Serves requests forwarded by other nodes.
pub(crate) struct ClusterService {
    state: AppState,
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
        let dispatch = &self.state.dispatch;
        let (out, stream) = mpsc::channel(FORWARD_BUFFER);
        match request.op {
            Some(Op::Turn(turn)) => {
                let input =
                    wire::turn_from_pb(turn).map_err(|e| Status::invalid_argument(e.chain()))?;
                let started = dispatch.turn_here(key, input).await;
                self.state.tasks.spawn(async move {
                    let mut turn = match started {
                        Ok(turn) => turn,
                        Err(e) => {
                            let _ = out.send(Ok(wire::turn_end_to_pb(&Err(e)))).await;
                            return;
                        }
                    };
                    // The turn runs (and commits) whether or not the sender still listens.
                    while let Some(trace) = turn.next_trace().await {
                        let _ = out.send(Ok(wire::trace_to_pb(&trace))).await;
                    }
                    let _ = out
                        .send(Ok(wire::turn_end_to_pb(&turn.finish().await)))
                        .await;
                });
            }
            Some(Op::State(op)) => {
                let op = wire::op_from_pb(op).map_err(|e| Status::invalid_argument(e.chain()))?;
                let outcome = dispatch.state_here(key, op).await;
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
