//! Membership by gossip ([chitchat](https://docs.rs/chitchat)): who is alive, where it listens
//! and whether it is ready, turned into a [`View`] on every change.
//!
//! Each node gossips two keys: `addr` (where its HTTP/gRPC listener is reached) and `state`
//! (`starting`, `ready`, `draining`). Failure detection is chitchat's phi-accrual detector; with
//! the default 100 ms gossip interval and phi threshold 8, a node that stops answering is out of
//! the view in about a second on a LAN.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chitchat::transport::UdpTransport;
use chitchat::{ChitchatConfig, ChitchatHandle, ChitchatId, FailureDetectorConfig, NodeState};
use tokio::sync::watch;

use crate::error::ClusterError;
use crate::view::{Member, MemberState, View};

const ADDR_KEY: &str = "addr";
const STATE_KEY: &str = "state";

/// How a node joins the cluster. Every field is documented in `docs/cluster.md`.
#[derive(Debug, Clone)]
pub struct MembershipConfig {
    /// This node's id: unique in the cluster and stable across restarts (it decides which
    /// partitions the node owns).
    pub node_id: String,
    /// Nodes gossip only with nodes of the same cluster id.
    pub cluster_id: String,
    /// The UDP address gossip listens on.
    pub gossip_listen: SocketAddr,
    /// The gossip address other nodes use (default: `gossip_listen`).
    pub gossip_advertise: Option<SocketAddr>,
    /// Gossip addresses (`host:port`) of nodes to join through; may include this node's own.
    pub seeds: Vec<String>,
    /// Where other nodes reach this node's HTTP/gRPC listener (`host:port`).
    pub advertise_addr: String,
    /// How often a node gossips.
    pub gossip_interval: Duration,
    /// The phi-accrual threshold: a node is declared dead once the silence since its last
    /// heartbeat exceeds `phi_threshold` mean heartbeat intervals.
    pub phi_threshold: f64,
    /// How long a dead node's gossip state is kept.
    pub dead_node_grace_period: Duration,
}

impl MembershipConfig {
    /// A configuration with the defaults: cluster id `turnstile`, gossip every 100 ms, phi 8.
    pub fn new(
        node_id: impl Into<String>,
        gossip_listen: SocketAddr,
        advertise_addr: impl Into<String>,
    ) -> MembershipConfig {
        MembershipConfig {
            node_id: node_id.into(),
            cluster_id: "turnstile".into(),
            gossip_listen,
            gossip_advertise: None,
            seeds: Vec::new(),
            advertise_addr: advertise_addr.into(),
            gossip_interval: Duration::from_millis(100),
            phi_threshold: 8.0,
            dead_node_grace_period: Duration::from_secs(3600),
        }
    }
}

/// This node's membership: its gossip and its current [`View`] of the cluster.
pub struct Membership {
    handle: ChitchatHandle,
    views: watch::Receiver<Arc<View>>,
    task: tokio::task::JoinHandle<()>,
}

impl Membership {
    /// Starts gossiping (as `starting`: the node owns nothing until [`Membership::set_state`]
    /// makes it ready).
    pub async fn start(config: MembershipConfig) -> Result<Membership, ClusterError> {
        if config.node_id.is_empty() {
            return Err(ClusterError::Config("the node id must not be empty".into()));
        }
        let generation = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let advertise = config.gossip_advertise.unwrap_or(config.gossip_listen);
        let chitchat_id = ChitchatId::new(config.node_id.clone(), generation, advertise);
        let interval = config.gossip_interval;
        let chitchat_config = ChitchatConfig {
            chitchat_id,
            cluster_id: config.cluster_id.clone(),
            gossip_interval: interval,
            listen_addr: config.gossip_listen,
            seed_nodes: config.seeds.clone(),
            failure_detector_config: FailureDetectorConfig {
                phi_threshold: config.phi_threshold,
                sampling_window_size: 1000,
                // Silences longer than this are not learnt as "normal" intervals.
                max_interval: interval * 20,
                initial_interval: interval,
                dead_node_grace_period: config.dead_node_grace_period,
            },
            marked_for_deletion_grace_period: Duration::from_secs(3600),
            catchup_callback: None,
            extra_liveness_predicate: None,
            protocol_version: chitchat::ProtocolVersion::V0,
        };
        let initial = vec![
            (ADDR_KEY.to_owned(), config.advertise_addr.clone()),
            (
                STATE_KEY.to_owned(),
                MemberState::Starting.as_str().to_owned(),
            ),
        ];
        let handle = chitchat::spawn_chitchat(chitchat_config, initial, &UdpTransport)
            .await
            .map_err(|e| ClusterError::Gossip {
                addr: config.gossip_listen,
                source: e.into(),
            })?;
        let mut live = handle.with_chitchat(|c| c.live_nodes_watcher()).await;
        let self_id = config.node_id.clone();
        let first = Arc::new(to_view(&self_id, &live.borrow_and_update()));
        let (publish, views) = watch::channel(first);
        let task = tokio::spawn(async move {
            while live.changed().await.is_ok() {
                let view = to_view(&self_id, &live.borrow_and_update());
                let changed = {
                    let current = publish.borrow();
                    current.members() != view.members()
                };
                if changed && publish.send(Arc::new(view)).is_err() {
                    return;
                }
            }
        });
        Ok(Membership {
            handle,
            views,
            task,
        })
    }

    /// The current view.
    pub fn view(&self) -> Arc<View> {
        self.views.borrow().clone()
    }

    /// A receiver that sees every new view.
    pub fn watch(&self) -> watch::Receiver<Arc<View>> {
        self.views.clone()
    }

    /// Announces this node's state (`ready` once it serves, `draining` when it shuts down).
    pub async fn set_state(&self, state: MemberState) {
        self.handle
            .with_chitchat(|c| c.self_node_state().set(STATE_KEY, state.as_str()))
            .await;
    }

    /// Waits until the view satisfies `predicate` (for startup and tests).
    pub async fn wait_for(
        &self,
        predicate: impl Fn(&View) -> bool,
        timeout: Duration,
    ) -> Result<Arc<View>, ClusterError> {
        let mut views = self.views.clone();
        let waited = tokio::time::timeout(timeout, views.wait_for(|v| predicate(v))).await;
        match waited {
            Ok(Ok(view)) => Ok(view.clone()),
            _ => Err(ClusterError::Timeout(timeout)),
        }
    }

    /// Stops gossiping. The others see this node die (after their failure detection time)
    /// unless it announced `draining` first.
    pub async fn shutdown(self) {
        self.task.abort();
        let _ = self.handle.shutdown().await;
    }
}

fn to_view(self_id: &str, live: &std::collections::BTreeMap<ChitchatId, NodeState>) -> View {
    let members = live
        .iter()
        .filter_map(|(id, state)| {
            Some(Member {
                id: id.node_id.to_string(),
                addr: state.get(ADDR_KEY)?.to_owned(),
                state: MemberState::parse(state.get(STATE_KEY)?)?,
                generation: id.generation_id,
            })
        })
        .collect();
    View::new(self_id, members)
}
