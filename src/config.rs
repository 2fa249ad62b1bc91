//! Configuration: command-line flags, `TURNSTILE_*` environment variables and the config file
//! (`turnstile.toml`), in that order of precedence. Every setting is documented in
//! `docs/configuration.md`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use turnstile_edge::EdgeLimits;
use turnstile_session::SessionConfig;

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
    pub max_text_chars: Option<usize>,
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
    pub max_text_chars: usize,
    pub shutdown_grace: Duration,
}

/// How long a stopping server waits for running turns and pending deliveries, by default.
const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

impl From<&LimitsFile> for Limits {
    /// What the file sets; the rest from the defaults of the layer each limit belongs to.
    fn from(file: &LimitsFile) -> Self {
        let sessions = SessionConfig::default();
        let edge = EdgeLimits::default();
        Limits {
            max_body_bytes: file.max_body_bytes.unwrap_or(edge.max_body_bytes),
            max_queue: file.max_queue.unwrap_or(sessions.max_queue),
            max_resident_sessions: file.max_resident_sessions.unwrap_or(sessions.max_resident),
            idle_timeout: file
                .idle_timeout_secs
                .map_or(sessions.idle_timeout, Duration::from_secs),
            turn_deadline: file
                .turn_deadline_ms
                .map_or(sessions.turn_deadline, Duration::from_millis),
            max_steps: file.max_steps.unwrap_or(sessions.max_steps),
            max_text_chars: file.max_text_chars.unwrap_or(sessions.max_text_chars),
            shutdown_grace: file
                .shutdown_grace_secs
                .map_or(DEFAULT_SHUTDOWN_GRACE, Duration::from_secs),
        }
    }
}

impl Limits {
    /// The session layer's part.
    pub fn sessions(&self) -> SessionConfig {
        SessionConfig {
            max_queue: self.max_queue,
            max_resident: self.max_resident_sessions,
            idle_timeout: self.idle_timeout,
            turn_deadline: self.turn_deadline,
            max_steps: self.max_steps,
            max_text_chars: self.max_text_chars,
        }
    }

    /// The edge's part.
    pub fn edge(&self) -> EdgeLimits {
        EdgeLimits {
            max_body_bytes: self.max_body_bytes,
            max_text_chars: self.max_text_chars,
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
