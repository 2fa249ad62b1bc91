//! The internal `Cluster` gRPC service: runs requests forwarded by other nodes, if this node
//! owns the session.
//!
//! It answers on the public port, so it trusts nothing the call says:
//! 1. the call must carry the cluster's secret (`UNAUTHENTICATED` otherwise), checked before
//!    its message is even read;
//! 2. the request passes the public APIs' checks — the user id, the project, the agent version,
//!    the action type — with the same rules and answers (`INVALID_ARGUMENT`, `NOT_FOUND`);
//! 3. only then is it routed: a node that does not own the session answers `NOT_OWNER`.

use std::pin::Pin;
use std::sync::Arc;

use futures_util::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::{Request, Response, Status};
use turnstile_cluster::{ClusterSecret, MAX_FORWARD_MESSAGE_BYTES, MAX_HOPS, not_owner_status};
use turnstile_proto::v1 as pb;
use turnstile_proto::v1::cluster_server::{Cluster, ClusterServer};
use turnstile_proto::v1::forward_request::Op;
use turnstile_session::{SessionError, SessionKey, StateOp, TurnInput};
use turnstile_wire::forward as wire;

use crate::cluster::ClusterHandle;
use crate::dm::check_request;
use crate::error::status_of;
use crate::extract::{AppState, session_key};

/// Events of one forwarded request that may wait for the sender to read them.
const FORWARD_BUFFER: usize = 64;

/// The `Cluster` service of this node, behind its secret check.
pub(crate) type InternalService = InterceptedService<ClusterServer<ClusterService>, SecretCheck>;

/// The `Cluster` service of this node.
pub(crate) fn cluster_server(state: AppState, cluster: Arc<ClusterHandle>) -> InternalService {
    let check = SecretCheck(cluster.secret.clone());
    let server = ClusterServer::new(ClusterService { state, cluster })
        .max_decoding_message_size(MAX_FORWARD_MESSAGE_BYTES);
    InterceptedService::new(server, check)
}

/// Refuses calls without the cluster's secret, before their message is decoded. `None`: the
/// node has no secret (a cluster on loopback) and takes every call.
#[derive(Clone)]
pub(crate) struct SecretCheck(Option<ClusterSecret>);

impl Interceptor for SecretCheck {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let Some(secret) = &self.0 else {
            return Ok(request);
        };
        match secret.verify(request.metadata()) {
            Ok(()) => Ok(request),
            Err(refused) => {
                tracing::debug!("refused a Cluster/Forward call: {refused}");
                Err(Status::unauthenticated(refused.to_string()))
            }
        }
    }
}

/// Serves requests forwarded by other nodes.
pub(crate) struct ClusterService {
    state: AppState,
    cluster: Arc<ClusterHandle>,
}

type EventStream = Pin<Box<dyn Stream<Item = Result<pb::ForwardEvent, Status>> + Send>>;

/// A forwarded operation, decoded and checked.
enum Forwarded {
    Turn(TurnInput),
    State(StateOp),
}

impl ClusterService {
    /// The session and operation a forwarded request names, checked as the public APIs check
    /// theirs.
    fn check(&self, request: pb::ForwardRequest) -> Result<(SessionKey, Forwarded), Status> {
        let key = session_key(request.project, &request.user_id)?;
        let catalog = self.state.dispatch.catalog();
        let op = match request.op {
            Some(Op::Turn(turn)) => {
                let input =
                    wire::turn_from_pb(turn).map_err(|e| Status::invalid_argument(e.chain()))?;
                // The project and the version (NOT_FOUND), then the action type.
                let agent = catalog
                    .agent(&key.project, &input.version)
                    .map_err(status_of)?;
                check_request(&input.request, &agent)?;
                Forwarded::Turn(input)
            }
            Some(Op::State(op)) => {
                if !catalog.contains(&key.project) {
                    return Err(status_of(SessionError::UnknownProject(key.project)));
                }
                let op = wire::op_from_pb(op).map_err(|e| Status::invalid_argument(e.chain()))?;
                Forwarded::State(op)
            }
            None => {
                return Err(Status::invalid_argument(
                    "a forwarded request needs an operation",
                ));
            }
        };
        Ok((key, op))
    }
}

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
        let (key, op) = self.check(request)?;
        let view = self.cluster.view();
        let route = view.route(&key.project, &key.user);
        if !route.is_local {
            return Err(not_owner_status(&view, route.partition));
        }
        let dispatch = &self.state.dispatch;
        let (out, stream) = mpsc::channel(FORWARD_BUFFER);
        match op {
            Forwarded::Turn(input) => {
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
            Forwarded::State(op) => {
                let outcome = dispatch.state_here(key, op).await;
                let _ = out.send(Ok(wire::state_outcome_to_pb(&outcome))).await;
            }
        }
        Ok(Response::new(Box::pin(ReceiverStream::new(stream))))
    }
}
