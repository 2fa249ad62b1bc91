//! The channel routes: Slack, Telegram, telephony events and the web chat page, each turning
//! platform payloads into turns (through the same session layer and cluster routing as the DM
//! API) and the turns' traces into platform answers. Payload shapes, signatures and rendering
//! live in `turnstile-channels`.

mod slack;
mod telegram;
mod voice;
mod webchat;

use std::collections::HashMap;
use std::time::Duration;

use axum::Router;
use turnstile_channels::ChannelsConfig;

use crate::AppState;
use crate::error::ApiError;

/// The agent version channel users talk to: people on a platform are the agent's audience, so
/// they get the published version (in development mode both versions are the one agent).
pub(crate) const CHANNEL_VERSION: &str = "production";

/// The channels of every project, and the HTTP client for answers sent back to platforms
/// (Slack's `response_url`, the Telegram Bot API).
#[derive(Debug, Default)]
pub struct ChannelSettings {
    projects: HashMap<String, ChannelsConfig>,
    /// Outbound calls to the platforms.
    pub http: reqwest::Client,
    /// Telegram chats with replies in flight, so a chat's replies leave in update order.
    pub(crate) telegram_lines: std::sync::Arc<telegram::ReplyLines>,
}

impl ChannelSettings {
    /// Settings for these projects (a project not listed has no channels).
    pub fn new(projects: impl IntoIterator<Item = (String, ChannelsConfig)>) -> ChannelSettings {
        ChannelSettings {
            projects: projects.into_iter().collect(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            telegram_lines: Default::default(),
        }
    }

    /// The channels of `project` (empty when none are configured).
    pub fn project(&self, project: &str) -> Option<&ChannelsConfig> {
        self.projects.get(project)
    }
}

/// Every channel route.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .merge(slack::routes())
        .merge(telegram::routes())
        .merge(voice::routes())
        .merge(webchat::routes())
}

/// The project's channels after checking the project exists.
pub(crate) fn project_channels<'a>(
    state: &'a AppState,
    project: &str,
) -> Result<&'a ChannelsConfig, ApiError> {
    if !state.sessions.catalog().contains(project) {
        return Err(ApiError::NotFound(format!("unknown project `{project}`")));
    }
    static NONE: std::sync::OnceLock<ChannelsConfig> = std::sync::OnceLock::new();
    Ok(state
        .channels
        .project(project)
        .unwrap_or_else(|| NONE.get_or_init(ChannelsConfig::default)))
}

/// The 404 of a channel that is not configured, naming the settings that enable it.
pub(crate) fn disabled(channel: &str, project: &str, settings: &str) -> ApiError {
    ApiError::NotFound(format!(
        "the {channel} channel of project `{project}` is not enabled: set {settings}"
    ))
}
