//! Forwarding a session request to its owner over the internal `Cluster` gRPC service, and the
//! `NOT_OWNER` answer of a node that does not own the session.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use prost::Message;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use turnstile_proto::v1::cluster_client::ClusterClient;
use turnstile_proto::v1::{ForwardEvent, ForwardRequest, NotOwner};

use crate::BoxError;
use crate::secret::ClusterSecret;
use crate::view::View;

/// The status message of a `NOT_OWNER` answer.
pub const NOT_OWNER: &str = "NOT_OWNER";

/// How many times one request may be forwarded: once normally, more only while views disagree.
pub const MAX_HOPS: u32 = 3;

/// The largest forwarded message, in bytes, either way (a state or a turn's answer): both the
/// client and the internal service hold messages to it.
pub const MAX_FORWARD_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// Why a forwarded request did not start.
#[derive(Debug, thiserror::Error)]
pub enum ForwardError {
    /// The node asked does not own the session; its view says who does.
    #[error("{} does not own the session (its view says {})", .addr, .hint.owner_id)]
    NotOwner {
        /// The node that answered.
        addr: String,
        /// Its view.
        hint: NotOwner,
    },
    /// The node could not be reached, or failed before answering: it may be gone, and the
    /// connection to it has been dropped so that the next request reconnects.
    #[error("cannot reach {addr}")]
    Unreachable {
        /// The node's address.
        addr: String,
        /// What went wrong: the transport error, or the gRPC status that reported it (whose own
        /// source is the transport error, when tonic has one).
        #[source]
        source: BoxError,
    },
    /// The node answered with an error status.
    #[error("{addr} refused the request: {status}")]
    Refused {
        /// The node's address.
        addr: String,
        /// Its answer.
        status: Status,
    },
}

impl ForwardError {
    /// A [`ForwardError::Unreachable`] for the node at `addr`, caused by `cause` (an error, or a
    /// message as `&str`/`String`).
    pub fn unreachable(addr: impl Into<String>, cause: impl Into<BoxError>) -> ForwardError {
        ForwardError::Unreachable {
            addr: addr.into(),
            source: cause.into(),
        }
    }
}

/// Connections to the other nodes: one HTTP/2 channel per address, connected on first use and
/// shared by every request to that node. Every call carries the cluster secret, when there is
/// one ([`Peers::with_secret`]).
pub struct Peers {
    channels: Mutex<HashMap<String, Channel>>,
    connect_timeout: Duration,
    secret: Option<ClusterSecret>,
}

impl Default for Peers {
    fn default() -> Self {
        Peers::new(Duration::from_secs(1))
    }
}

impl Peers {
    /// Peers whose connections give up after `connect_timeout`.
    pub fn new(connect_timeout: Duration) -> Peers {
        Peers {
            channels: Mutex::new(HashMap::new()),
            connect_timeout,
            secret: None,
        }
    }

    /// These peers, sending `secret` with every call (`None`: no secret, for a cluster on
    /// loopback).
    pub fn with_secret(self, secret: Option<ClusterSecret>) -> Peers {
        Peers { secret, ..self }
    }

    fn channel(&self, addr: &str) -> Result<Channel, ForwardError> {
        let mut channels = self.channels.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(channel) = channels.get(addr) {
            return Ok(channel.clone());
        }
        let endpoint = Endpoint::from_shared(format!("http://{addr}"))
            .map_err(|e| ForwardError::unreachable(addr, e))?
            .connect_timeout(self.connect_timeout)
            .tcp_nodelay(true)
            // A peer that vanishes without closing its connections is noticed within seconds.
            .http2_keep_alive_interval(Duration::from_secs(1))
            .keep_alive_timeout(Duration::from_secs(2))
            .keep_alive_while_idle(true);
        let channel = endpoint.connect_lazy();
        channels.insert(addr.to_owned(), channel.clone());
        Ok(channel)
    }

    /// Forgets the connection to `addr` (after it failed), so the next request reconnects.
    pub fn forget(&self, addr: &str) {
        self.channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(addr);
    }

    /// Sends `request` to the node at `addr` and returns the stream of its events once the node
    /// has accepted it. `deadline` bounds the whole exchange.
    pub async fn forward(
        &self,
        addr: &str,
        request: ForwardRequest,
        deadline: Duration,
    ) -> Result<tonic::Streaming<ForwardEvent>, ForwardError> {
        let mut client = ClusterClient::new(self.channel(addr)?)
            .max_decoding_message_size(MAX_FORWARD_MESSAGE_BYTES);
        let mut request = tonic::Request::new(request);
        request.set_timeout(deadline);
        if let Some(secret) = &self.secret {
            secret.attach(request.metadata_mut());
        }
        match client.forward(request).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) => Err(self.classify(addr, status)),
        }
    }

    fn classify(&self, addr: &str, status: Status) -> ForwardError {
        if status.code() == Code::FailedPrecondition && status.message() == NOT_OWNER {
            let hint = NotOwner::decode(status.details()).unwrap_or_default();
            return ForwardError::NotOwner {
                addr: addr.to_owned(),
                hint,
            };
        }
        // Transport failures surface as UNAVAILABLE (connection refused or reset) or UNKNOWN
        // with a transport source; the node may be gone.
        if matches!(
            status.code(),
            Code::Unavailable | Code::Unknown | Code::Cancelled
        ) {
            self.forget(addr);
            return ForwardError::unreachable(addr, status);
        }
        ForwardError::Refused {
            addr: addr.to_owned(),
            status,
        }
    }
}

/// The `NOT_OWNER` answer for a request of `partition`, carrying this node's view.
pub fn not_owner_status(view: &View, partition: crate::Partition) -> Status {
    let owner = view.owner(partition);
    let hint = NotOwner {
        owner_id: owner.map(|m| m.id.clone()).unwrap_or_default(),
        owner_addr: owner.map(|m| m.addr.clone()).unwrap_or_default(),
        members: view.ring().members().to_vec(),
    };
    Status::with_details(
        Code::FailedPrecondition,
        NOT_OWNER,
        hint.encode_to_vec().into(),
    )
}
