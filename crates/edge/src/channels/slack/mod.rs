//! The Slack routes, `/channels/slack/{project}/…`:
//!
//! - `commands`: slash commands. The turn's answer is the HTTP response when the turn finishes
//!   within [`FAST_ANSWER`]; otherwise Slack gets an acknowledgement at once and the answer is
//!   POSTed to the command's `response_url` when the turn is done (Slack gives up after 3 s).
//! - `interactivity`: button clicks (`block_actions`), acknowledged at once; each click's
//!   answer goes to the payload's `response_url`.
//! - `events`: the Events API. `url_verification` is answered; a person's message is
//!   acknowledged at once, run in the background and answered with `chat.postMessage`.
//!
//! Every request is signed: the signature is checked over the raw body before it is parsed, and
//! a bad one is a 401 with nothing run. Redeliveries carry the idempotency key of the first
//! delivery, so the session answers them from its record instead of running them again, and
//! nothing is posted to Slack for them.

mod actions;
mod commands;
mod events;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::HeaderMap;
use axum::routing::post;
use turnstile_channels::SlackConfig;
use turnstile_channels::slack::{self, Message};
use turnstile_engine::Request;
use turnstile_session::{CollectedTurn, SessionError, TurnInput};

use super::{ChannelSettings, ChannelState, disabled, project_channels};
use crate::error::ApiError;
use crate::extract::{AppState, read_limited};

/// How long a slash command waits for its turn before acknowledging (Slack's deadline is 3 s;
/// the rest is margin for the network).
const FAST_ANSWER: Duration = Duration::from_secs(2);

/// What enables the channel, for the 404 of a project without it.
const SETTINGS: &str = "`signing_secret` in `[projects.channels.slack]` of the config file \
                        (TURNSTILE_SLACK_SIGNING_SECRET in development mode)";

/// Shown when a turn fails after Slack was acknowledged (details go to the log).
const FAILED: &str = "Sorry, something went wrong. Please try again.";

pub(super) fn routes() -> Router<ChannelState> {
    Router::new()
        .route(
            "/channels/slack/{project}/commands",
            post(commands::command),
        )
        .route(
            "/channels/slack/{project}/interactivity",
            post(actions::interactivity),
        )
        .route("/channels/slack/{project}/events", post(events::events))
}

/// The project's Slack settings (404 when the project or the channel does not exist).
fn slack_config(
    state: &AppState,
    settings: &ChannelSettings,
    project: &str,
) -> Result<SlackConfig, ApiError> {
    project_channels(state, settings, project)?
        .slack
        .clone()
        .ok_or_else(|| disabled("Slack", project, SETTINGS))
}

/// The raw body, under the server's size limit: signatures are over these exact bytes. Read
/// only once the project is known to have the channel.
async fn read_body(state: &AppState, body: Body) -> Result<Bytes, ApiError> {
    read_limited(body, state.limits.max_body_bytes).await
}

/// Refuses a request that Slack did not sign with the project's signing secret.
fn check_signature(config: &SlackConfig, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    slack::verify(
        &config.signing_secret,
        header(slack::signature::TIMESTAMP_HEADER),
        header(slack::signature::SIGNATURE_HEADER),
        body,
        now,
    )
    .map_err(|e| ApiError::Unauthorized(format!("not a request signed by Slack: {e}")))
}

/// The project's settings and the request's body, once the body's signature is checked.
async fn signed_request(
    state: &AppState,
    settings: &ChannelSettings,
    project: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<(SlackConfig, Bytes), ApiError> {
    let config = slack_config(state, settings, project)?;
    let body = read_body(state, body).await?;
    check_signature(&config, headers, &body)?;
    Ok((config, body))
}

fn bad_request(e: slack::SlackError) -> ApiError {
    ApiError::BadRequest(e.to_string())
}

/// A turn of a Slack user.
fn turn_input(request: Request, idempotency_key: Option<String>) -> TurnInput {
    TurnInput {
        version: super::CHANNEL_VERSION.into(),
        idempotency_key,
        ..TurnInput::new(request)
    }
}

/// Sends a finished turn's answer to a `response_url` — unless the turn was a redelivery
/// (answered already) or said nothing Slack can show. A failed turn gets an apology.
async fn respond_later(
    settings: &ChannelSettings,
    response_url: &str,
    outcome: Result<CollectedTurn, SessionError>,
) {
    let message = match outcome {
        Ok(turn) if turn.result.replayed => return,
        Ok(turn) => slack::render(&turn.traces),
        Err(e) => {
            tracing::warn!(error = %e, "a Slack turn failed after it was acknowledged");
            Message::notice(FAILED)
        }
    };
    if message.is_empty() {
        return;
    }
    let message = Message {
        replace_original: Some(false),
        ..message.ephemeral()
    };
    if response_url.is_empty() {
        tracing::warn!("a Slack answer has no response_url to go to");
        return;
    }
    if let Err(e) = post_json(settings, response_url, None, &message).await {
        tracing::warn!(error = %e, "could not post to Slack's response_url");
    }
}

/// POSTs a message as JSON; `Err` says why Slack did not take it.
async fn post_json(
    settings: &ChannelSettings,
    url: &str,
    bearer: Option<&str>,
    message: &Message,
) -> Result<String, String> {
    let body = serde_json::to_vec(message).map_err(|e| e.to_string())?;
    let mut request = settings
        .http
        .post(url)
        .header("content-type", "application/json; charset=utf-8")
        .body(body);
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!(
            "{status}: {}",
            text.chars().take(200).collect::<String>()
        ));
    }
    Ok(text)
}
