//! Configuration: command-line flags, `TURNSTILE_*` environment variables and the config file
//! (`turnstile.toml`), in that order of precedence. Every setting is documented in
//! `docs/configuration.md`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;

/// The config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub listen: Option<SocketAddr>,
    /// gRPC on its own listener (default: on `listen`).
    pub grpc_listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
    pub store: Option<String>,
    /// Development mode: one agent, project `default`, no keys.
    pub agent: Option<PathBuf>,
    #[serde(default)]
    pub limits: LimitsFile,
    /// `[store]`: tuning of the embedded store.
    #[serde(default, rename = "store_options")]
    pub store_options: StoreFile,
    /// `[cluster]`: membership of a cluster node.
    #[serde(default)]
    pub cluster: crate::cluster::ClusterFile,
    #[serde(default)]
    pub projects: Vec<ProjectFile>,
}

/// `[limits]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    pub max_body_bytes: Option<usize>,
    pub max_queue: Option<usize>,
    pub max_resident_sessions: Option<usize>,
    pub idle_timeout_secs: Option<u64>,
    pub turn_deadline_ms: Option<u64>,
    pub max_steps: Option<u32>,
    pub shutdown_grace_secs: Option<u64>,
}

/// `[store_options]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreFile {
    /// Microseconds the writer waits to gather more commits into one fsync.
    pub batch_wait_us: Option<u64>,
    /// redb's page cache, in MiB.
    pub cache_mib: Option<usize>,
}

/// `[[projects]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectFile {
    pub id: String,
    /// The `development` version.
    pub agent: PathBuf,
    /// The `production` version (default: the same agent).
    pub production_agent: Option<PathBuf>,
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// Enables the keyless widget routes (`/public/{id}/…`) and the web chat page.
    #[serde(default)]
    pub public: bool,
    /// `[projects.channels]`: Slack, Telegram, voice (docs/channels.md).
    #[serde(default)]
    pub channels: turnstile_channels::ChannelsConfig,
}

impl FileConfig {
    /// Reads the config file; relative agent paths are resolved against its folder.
    pub fn read(path: &Path) -> anyhow::Result<FileConfig> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let mut config: FileConfig = toml::from_str(&text)
            .with_context(|| format!("invalid config file {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        if let Some(agent) = &mut config.agent {
            resolve(agent);
        }
        for project in &mut config.projects {
            resolve(&mut project.agent);
            if let Some(p) = &mut project.production_agent {
                resolve(p);
            }
        }
        Ok(config)
    }
}

/// Resolved limits.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_queue: usize,
    pub max_resident_sessions: usize,
    pub idle_timeout: Duration,
    pub turn_deadline: Duration,
    pub max_steps: u32,
    pub shutdown_grace: Duration,
}

impl From<&LimitsFile> for Limits {
    fn from(file: &LimitsFile) -> Self {
        Limits {
            max_body_bytes: file.max_body_bytes.unwrap_or(1024 * 1024),
            max_queue: file.max_queue.unwrap_or(64),
            max_resident_sessions: file.max_resident_sessions.unwrap_or(100_000),
            idle_timeout: Duration::from_secs(file.idle_timeout_secs.unwrap_or(300)),
            turn_deadline: Duration::from_millis(file.turn_deadline_ms.unwrap_or(15_000)),
            max_steps: file.max_steps.unwrap_or(1000),
            shutdown_grace: Duration::from_secs(file.shutdown_grace_secs.unwrap_or(10)),
        }
    }
}

/// Checks the rule of development mode: without API keys the server only listens on loopback.
pub fn check_open_mode(listen: SocketAddr, has_keys: bool) -> anyhow::Result<()> {
    if !has_keys && !listen.ip().is_loopback() {
        bail!(
            "refusing to listen on {listen} without API keys: anyone could reach every \
             conversation. Configure [[projects]] with api_keys in turnstile.toml (see \
             docs/configuration.md), or listen on 127.0.0.1 for development"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example in docs/configuration.md is a valid config file.
    #[test]
    fn the_documented_example_parses() {
        let doc = include_str!("../docs/configuration.md");
        let start = doc.find("```toml\n").expect("a toml block") + "```toml\n".len();
        let end = start + doc[start..].find("```").expect("closed block");
        let config: FileConfig = toml::from_str(&doc[start..end]).expect("valid config");
        assert_eq!(config.projects.len(), 2);
        assert_eq!(config.projects[0].api_keys.len(), 1);
        assert!(config.projects[0].public);
        let limits = Limits::from(&config.limits);
        assert_eq!(limits.max_queue, 64);
        assert_eq!(config.store_options.cache_mib, Some(16));
        let slack = config.projects[0]
            .channels
            .slack
            .as_ref()
            .expect("slack settings");
        assert_eq!(
            slack.commands["/recent_transactions"],
            "ShowRecentTransactions"
        );
        assert!(config.projects[0].channels.voice.is_some());
        assert!(config.projects[1].channels.telegram.is_none());
    }

    #[test]
    fn open_mode_is_for_loopback_only() {
        assert!(check_open_mode("127.0.0.1:8080".parse().unwrap(), false).is_ok());
        assert!(check_open_mode("[::1]:8080".parse().unwrap(), false).is_ok());
        assert!(check_open_mode("0.0.0.0:8080".parse().unwrap(), false).is_err());
        assert!(check_open_mode("0.0.0.0:8080".parse().unwrap(), true).is_ok());
    }
}
