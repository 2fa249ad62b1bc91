//! The channel routes: Slack, Telegram, telephony events and the web chat page, each turning
//! platform payloads into turns (through the same session layer and cluster routing as the DM
//! API) and the turns' traces into platform answers. Payload shapes, signatures and rendering
//! live in `turnstile-channels`.

mod slack;
mod telegram;
mod voice;
mod webchat;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use turnstile_channels::ChannelsConfig;

use crate::error::ApiError;
use crate::extract::AppState;

/// The agent version channel users talk to: people on a platform are the agent's audience, so
/// they get the published version (in development mode both versions are the one agent).
pub(crate) const CHANNEL_VERSION: &str = turnstile_session::PUBLISHED_VERSION;

/// What the channel routes share: the server's state and the channels' settings.
#[derive(Clone)]
pub(crate) struct ChannelState {
    app: AppState,
    settings: Arc<ChannelSettings>,
}

impl FromRef<ChannelState> for AppState {
    fn from_ref(state: &ChannelState) -> AppState {
        state.app.clone()
    }
}

impl FromRef<ChannelState> for Arc<ChannelSettings> {
    fn from_ref(state: &ChannelState) -> Arc<ChannelSettings> {
        state.settings.clone()
    }
}

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
    /// Settings for these projects (a project not listed has no channels). Fails when the HTTP
    /// client for the platforms cannot be built (e.g. no TLS crypto provider is installed).
    pub fn new(
        projects: impl IntoIterator<Item = (String, ChannelsConfig)>,
    ) -> Result<ChannelSettings, turnstile_session::EffectsError> {
        turnstile_session::EffectsError::check_crypto_provider()?;
        Ok(ChannelSettings {
            projects: projects.into_iter().collect(),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()?,
            telegram_lines: Default::default(),
        })
    }

    /// The channels of `project` (empty when none are configured).
    pub fn project(&self, project: &str) -> Option<&ChannelsConfig> {
        self.projects.get(project)
    }
}

/// Every channel route, over the server's state and the channels' settings.
pub(crate) fn routes(app: AppState, settings: Arc<ChannelSettings>) -> Router {
    Router::new()
        .merge(slack::routes())
        .merge(telegram::routes())
        .merge(voice::routes())
        .merge(webchat::routes())
        .with_state(ChannelState { app, settings })
}

/// The project's channels after checking the project exists.
pub(crate) fn project_channels<'a>(
    app: &AppState,
    settings: &'a ChannelSettings,
    project: &str,
) -> Result<&'a ChannelsConfig, ApiError> {
    if !app.dispatch.catalog().contains(project) {
        return Err(ApiError::NotFound(format!("unknown project `{project}`")));
    }
    static NONE: std::sync::OnceLock<ChannelsConfig> = std::sync::OnceLock::new();
    Ok(settings
        .project(project)
        .unwrap_or_else(|| NONE.get_or_init(ChannelsConfig::default)))
}

/// The 404 of a channel that is not configured, naming the settings that enable it.
pub(crate) fn disabled(channel: &str, project: &str, settings: &str) -> ApiError {
    ApiError::NotFound(format!(
        "the {channel} channel of project `{project}` is not enabled: set {settings}"
    ))
}
