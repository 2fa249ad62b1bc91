//! The cluster side of `turnstile serve` (joining, readiness, draining) and
//! `turnstile cluster status`.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use turnstile_cluster::{ClusterSecret, MemberState, Membership, MembershipConfig};

/// The environment variable of the cluster secret. It has no flag: flags show in `ps`.
pub const SECRET_ENV: &str = "TURNSTILE_CLUSTER_SECRET";

/// `[cluster]` in turnstile.toml; the membership keys have a `serve` flag and a `TURNSTILE_*`
/// variable, the secret only a variable ([`SECRET_ENV`]).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterFile {
    pub node_id: Option<String>,
    /// The secret every node shares (checked on every `Cluster/Forward` call).
    pub secret: Option<FileSecret>,
    pub gossip_listen: Option<SocketAddr>,
    pub advertise: Option<String>,
    #[serde(default)]
    pub seeds: Vec<String>,
    pub cluster_id: Option<String>,
    pub gossip_interval_ms: Option<u64>,
    pub phi_threshold: Option<f64>,
}

/// A secret as the config file holds it; `Debug` does not show it.
#[derive(Default, Deserialize)]
#[serde(transparent)]
pub struct FileSecret(pub String);

impl std::fmt::Debug for FileSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileSecret(..)")
    }
}

/// The cluster secret: [`SECRET_ENV`] (when set and not empty), else `[cluster] secret`.
pub fn secret(
    env: Option<String>,
    file: Option<&FileSecret>,
) -> anyhow::Result<Option<ClusterSecret>> {
    let (value, source) = match (env.filter(|v| !v.is_empty()), file) {
        (Some(value), _) => (value, SECRET_ENV),
        (None, Some(FileSecret(value))) => (value.clone(), "[cluster] secret"),
        (None, None) => return Ok(None),
    };
    ClusterSecret::new(&value)
        .map(Some)
        .with_context(|| format!("invalid {source}"))
}

/// Resolved cluster settings (present only when a node id is configured).
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    pub node_id: String,
    /// Shared by every node; `None` only on loopback ([`ClusterSettings::check_secret`]).
    pub secret: Option<ClusterSecret>,
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
    /// A node whose listeners or advertised address others can reach needs a secret: without
    /// one, anyone reaching its port could call the internal `Cluster` service and read or
    /// change any project's sessions.
    pub fn check_secret(&self, listeners: &[SocketAddr]) -> anyhow::Result<()> {
        if self.secret.is_some() {
            return Ok(());
        }
        let exposed = listeners
            .iter()
            .find(|l| !l.ip().is_loopback())
            .map(ToString::to_string)
            .or_else(|| self.advertise.clone().filter(|a| !is_loopback(a)));
        if let Some(address) = exposed {
            bail!(
                "refusing to join a cluster on {address} without a cluster secret: anyone who \
                 reaches the port could use the internal Cluster service to read and change \
                 every project's sessions. Give every node the same secret (at least 16 \
                 characters, e.g. `openssl rand -hex 32`) in {SECRET_ENV} or in [cluster] \
                 secret of turnstile.toml (see docs/cluster.md), or listen and advertise on \
                 127.0.0.1 for development"
            );
        }
        Ok(())
    }

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

/// Whether an advertised `HOST:PORT` is a loopback address (`localhost` counts; any other
/// name may resolve anywhere).
fn is_loopback(address: &str) -> bool {
    match address.parse::<SocketAddr>() {
        Ok(address) => address.ip().is_loopback(),
        Err(_) => address
            .rsplit_once(':')
            .is_some_and(|(host, _)| host.eq_ignore_ascii_case("localhost")),
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

    fn settings(advertise: Option<&str>, secret: Option<&str>) -> ClusterSettings {
        ClusterSettings {
            node_id: "n1".into(),
            secret: secret.map(|s| ClusterSecret::new(s).unwrap()),
            gossip_listen: None,
            advertise: advertise.map(str::to_owned),
            seeds: Vec::new(),
            cluster_id: None,
            gossip_interval: None,
            phi_threshold: None,
        }
    }

    #[test]
    fn a_reachable_node_needs_a_secret() {
        let loopback: SocketAddr = "127.0.0.1:7001".parse().unwrap();
        let open: SocketAddr = "0.0.0.0:7001".parse().unwrap();
        let check = |advertise, secret, listeners: &[SocketAddr]| {
            settings(advertise, secret).check_secret(listeners)
        };
        assert!(check(None, None, &[loopback]).is_ok());
        assert!(check(Some("localhost:7001"), None, &[loopback]).is_ok());
        assert!(check(Some("[::1]:7001"), None, &[loopback]).is_ok());
        let refused = check(None, None, &[open]).unwrap_err().to_string();
        assert!(refused.contains("0.0.0.0:7001"), "{refused}");
        assert!(refused.contains(SECRET_ENV), "{refused}");
        assert!(refused.contains("[cluster] secret"), "{refused}");
        // Any listener: a gRPC listener of its own serves the internal service too.
        assert!(check(None, None, &[loopback, open]).is_err());
        let advertised = check(Some("10.0.0.1:7001"), None, &[loopback]).unwrap_err();
        assert!(advertised.to_string().contains("10.0.0.1:7001"));
        assert!(check(Some("node1.internal:7001"), None, &[loopback]).is_err());
        let secret = Some("0123456789abcdef");
        assert!(check(Some("10.0.0.1:7001"), secret, &[open]).is_ok());
    }

    #[test]
    fn the_secret_comes_from_the_environment_then_the_file() {
        let file = FileSecret("from-the-file-0123456".into());
        assert!(secret(None, None).unwrap().is_none());
        assert!(secret(Some(String::new()), None).unwrap().is_none());
        assert!(secret(None, Some(&file)).unwrap().is_some());
        // The environment wins: a bad value there is an error even with a good file.
        let bad = secret(Some("short".into()), Some(&file)).unwrap_err();
        assert!(
            format!("{bad:#}").starts_with("invalid TURNSTILE_CLUSTER_SECRET: "),
            "{bad:#}"
        );
        let bad = secret(None, Some(&FileSecret("short".into()))).unwrap_err();
        assert!(format!("{bad:#}").contains("at least 16"), "{bad:#}");
        assert_eq!(format!("{file:?}"), "FileSecret(..)");
    }

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
