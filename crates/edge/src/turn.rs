//! [`Dispatch`]: the one way into a turn or a state operation, for every API and channel.
//!
//! On a single node it hands the request to this node's [`Sessions`]; on a cluster node it
//! first finds the session's owner and, when that is another node, forwards the request over
//! the internal `Cluster` service and streams the owner's answer back as the same [`Turn`].
//! Callers see one contract either way (see [`turnstile_session::Turn`]).

use std::sync::Arc;

use tokio_util::task::TaskTracker;
use turnstile_engine::SessionState;
use turnstile_proto::v1::forward_request::Op;
use turnstile_session::{
    AgentCatalog, CollectedTurn, SessionError, SessionKey, Sessions, StateOp, Turn, TurnInput,
};
use turnstile_wire::forward::{self as wire, TurnMessage};

use crate::cluster::{ClusterHandle, forward};

/// Runs session requests where their session lives. Cloning is cheap.
#[derive(Clone)]
pub struct Dispatch {
    sessions: Sessions,
    /// On a cluster node: the membership view and peers. `None`: a single node.
    cluster: Option<Arc<ClusterHandle>>,
    /// Readers of forwarded turns run on their own task; shutdown waits for them.
    tasks: TaskTracker,
}

impl Dispatch {
    /// Dispatch on a single node: every session is here.
    pub fn local(sessions: Sessions, tasks: TaskTracker) -> Dispatch {
        Dispatch {
            sessions,
            cluster: None,
            tasks,
        }
    }

    /// Dispatch on a cluster node: a session owned by another node is forwarded to it.
    pub fn clustered(
        sessions: Sessions,
        cluster: Arc<ClusterHandle>,
        tasks: TaskTracker,
    ) -> Dispatch {
        Dispatch {
            sessions,
            cluster: Some(cluster),
            tasks,
        }
    }

    /// The projects and their agents.
    pub fn catalog(&self) -> &AgentCatalog {
        self.sessions.catalog()
    }

    /// This node's sessions.
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }

    /// The cluster this node is part of (`None`: a single node).
    pub fn cluster(&self) -> Option<&Arc<ClusterHandle>> {
        self.cluster.as_ref()
    }

    /// Starts a turn where the session lives. `Err`: the turn was not started (nothing ran).
    pub async fn turn(&self, key: SessionKey, input: TurnInput) -> Result<Turn, SessionError> {
        let Some(cluster) = &self.cluster else {
            return self.sessions.turn(key, input).await;
        };
        match forward(cluster, &key, || Op::Turn(wire::turn_to_pb(&input))).await? {
            None => self.sessions.turn(key, input).await,
            Some(mut stream) => {
                let (sender, turn) = Turn::channel();
                self.tasks.spawn(async move {
                    let mut outcome = None;
                    // Read to the end (the owner's status) rather than dropping the stream
                    // after the last event: each dropped stream is a reset, and a peer that
                    // sees many resets closes the whole connection.
                    while let Ok(Some(message)) = stream.message().await {
                        match wire::turn_message_from_pb(message) {
                            TurnMessage::Trace(trace) => sender.trace(trace),
                            TurnMessage::End(end) => outcome = Some(end),
                        }
                    }
                    sender.finish(outcome.unwrap_or_else(|| {
                        Err(SessionError::unavailable(
                            "the session's node failed during the turn, which may or may not \
                             have been saved; retry with the same idempotency key",
                        ))
                    }));
                });
                Ok(turn)
            }
        }
    }

    /// Runs a turn where the session lives and reads it to its end.
    pub async fn run(
        &self,
        key: SessionKey,
        input: TurnInput,
    ) -> Result<CollectedTurn, SessionError> {
        self.turn(key, input).await?.collect().await
    }

    /// Reads or changes a session's state where the session lives, in order with its turns.
    pub async fn state(
        &self,
        key: SessionKey,
        op: StateOp,
    ) -> Result<Option<SessionState>, SessionError> {
        let Some(cluster) = &self.cluster else {
            return self.sessions.state(key, op).await;
        };
        match forward(cluster, &key, || Op::State(wire::op_to_pb(&op))).await? {
            None => self.sessions.state(key, op).await,
            Some(mut stream) => {
                let outcome = stream.message().await.ok().flatten();
                // To the end of the stream, not dropped early (see `turn`).
                while let Ok(Some(_)) = stream.message().await {}
                wire::state_outcome_from_pb(outcome)
            }
        }
    }

    /// Starts a turn of a session this node owns (a request forwarded here by another node).
    pub(crate) async fn turn_here(
        &self,
        key: SessionKey,
        input: TurnInput,
    ) -> Result<Turn, SessionError> {
        self.sessions.turn(key, input).await
    }

    /// A state operation on a session this node owns (forwarded here by another node).
    pub(crate) async fn state_here(
        &self,
        key: SessionKey,
        op: StateOp,
    ) -> Result<Option<SessionState>, SessionError> {
        self.sessions.state(key, op).await
    }
}
