//! The cluster side of `turnstile serve` (joining, readiness, draining) and
//! `turnstile cluster status`.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use turnstile_cluster::{MemberState, Membership, MembershipConfig};

/// `[cluster]` in turnstile.toml; every key has a `serve` flag and a `TURNSTILE_*` variable.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterFile {
    pub node_id: Option<String>,
    pub gossip_listen: Option<SocketAddr>,
    pub advertise: Option<String>,
    #[serde(default)]
    pub seeds: Vec<String>,
    pub cluster_id: Option<String>,
    pub gossip_interval_ms: Option<u64>,
    pub phi_threshold: Option<f64>,
}

/// Resolved cluster settings (present only when a node id is configured).
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    pub node_id: String,
    /// Default: the HTTP listen address (UDP and TCP ports are separate, so the same number
    /// works for both).
    pub gossip_listen: Option<SocketAddr>,
    /// Where peers reach this node's HTTP/gRPC listener. Default: the listen address.
    pub advertise: Option<String>,
    pub seeds: Vec<String>,
    pub cluster_id: Option<String>,
    pub gossip_interval: Option<Duration>,
    pub phi_threshold: Option<f64>,
}

impl ClusterSettings {
    /// The membership configuration once the HTTP listener is bound at `listen`.
    pub fn membership(&self, listen: SocketAddr) -> anyhow::Result<MembershipConfig> {
        let advertise = match &self.advertise {
            Some(advertise) => advertise.clone(),
            None if listen.ip().is_unspecified() => bail!(
                "the node listens on {listen}: give --advertise HOST:PORT, the address other \
                 nodes reach it at"
            ),
            None => listen.to_string(),
        };
        let gossip = self.gossip_listen.unwrap_or(listen);
        let mut config = MembershipConfig::new(&self.node_id, gossip, advertise);
        config.seeds = self.seeds.clone();
        if let Some(id) = &self.cluster_id {
            config.cluster_id = id.clone();
        }
        if let Some(interval) = self.gossip_interval {
            config.gossip_interval = interval;
        }
        if let Some(phi) = self.phi_threshold {
            config.phi_threshold = phi;
        }
        Ok(config)
    }
}

/// Joins the cluster as `starting`.
pub async fn join(config: MembershipConfig) -> anyhow::Result<Membership> {
    let node = config.node_id.clone();
    Membership::start(config)
        .await
        .with_context(|| format!("node {node} cannot join the cluster"))
}

/// Announces `ready` and waits until this node's own view has it in the ring, so that the
/// first requests already route here.
pub async fn become_ready(membership: &Membership) -> anyhow::Result<()> {
    membership.set_state(MemberState::Ready).await;
    let view = membership.view();
    let me = view.self_id().to_owned();
    membership
        .wait_for(
            |v| v.ring().members().contains(&me),
            Duration::from_secs(10),
        )
        .await
        .context("this node did not become ready in its own view")?;
    Ok(())
}

/// Announces `draining` and gives the announcement time to spread, so that the others route
/// new requests elsewhere before this node stops taking them.
pub async fn drain(membership: &Membership) {
    membership.set_state(MemberState::Draining).await;
    let others = membership.view().members().len() > 1;
    if others {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// `turnstile cluster status URL`: members, states and partition counts as a table.
pub async fn status(url: &str) -> anyhow::Result<()> {
    let url = format!("{}/cluster", url.trim_end_matches('/'));
    let response = reqwest::Client::new()
        .get(&url)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .with_context(|| format!("cannot reach {url}"))?;
    if !response.status().is_success() {
        bail!("{url} answered {}", response.status());
    }
    let body = response.text().await?;
    let status: serde_json::Value =
        serde_json::from_str(&body).with_context(|| format!("{url} did not answer JSON"))?;
    print!("{}", render_status(&status));
    Ok(())
}

fn render_status(status: &serde_json::Value) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    if status["clustered"] != serde_json::Value::Bool(true) {
        out.push_str("single node (not clustered)\n");
        return out;
    }
    let members = status["members"].as_array().cloned().unwrap_or_default();
    let _ = writeln!(
        out,
        "seen from {}: {} members, {} partitions",
        status["nodeId"].as_str().unwrap_or("?"),
        members.len(),
        status["partitions"]
    );
    let _ = writeln!(
        out,
        "{:<16} {:<24} {:<10} {:>10}",
        "NODE", "ADDRESS", "STATE", "PARTITIONS"
    );
    for m in members {
        let _ = writeln!(
            out,
            "{:<16} {:<24} {:<10} {:>10}",
            m["id"].as_str().unwrap_or("?"),
            m["addr"].as_str().unwrap_or("?"),
            m["state"].as_str().unwrap_or("?"),
            m["partitions"].as_u64().unwrap_or(0)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_members_as_a_table() {
        let status = serde_json::json!({
            "clustered": true, "nodeId": "n1", "partitions": 4096,
            "members": [
                {"id": "n1", "addr": "127.0.0.1:7001", "state": "ready", "generation": 1, "partitions": 2050},
                {"id": "n2", "addr": "127.0.0.1:7002", "state": "draining", "generation": 1, "partitions": 0}
            ]
        });
        let table = render_status(&status);
        assert!(
            table.starts_with("seen from n1: 2 members, 4096 partitions\n"),
            "{table}"
        );
        assert!(
            table.contains("n2               127.0.0.1:7002           draining            0"),
            "{table}"
        );
        assert_eq!(
            render_status(&serde_json::json!({"clustered": false})),
            "single node (not clustered)\n"
        );
    }
}
