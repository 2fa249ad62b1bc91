//! `POST /channels/slack/{project}/events`: the Events API.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use turnstile_channels::slack::{self, EventsCallback, MessageEvent};

use super::{bad_request, post_json, signed_request, turn_input};
use crate::channels::ChannelSettings;
use crate::error::ApiError;
use crate::extract::{AppState, session_key};

/// Answers `url_verification`; acknowledges a person's message at once and runs it in the
/// background (Slack retries after 3 s without an answer), replying with `chat.postMessage`
/// when the project has a bot token.
pub(super) async fn events(
    State(state): State<AppState>,
    State(settings): State<Arc<ChannelSettings>>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (config, body) = signed_request(&state, &settings, &project, &headers, body).await?;
    let message = match EventsCallback::parse(&body).map_err(bad_request)? {
        EventsCallback::UrlVerification { challenge } => {
            return Ok(Json(json!({ "challenge": challenge })).into_response());
        }
        EventsCallback::Ignored => return Ok(StatusCode::OK.into_response()),
        EventsCallback::Message(message) => message,
    };
    let key = session_key(project, &message.user_id())?;
    if let Some(retry) = headers.get("x-slack-retry-num") {
        // Nothing special to do: the retry shares the first delivery's idempotency key.
        tracing::debug!(retry = ?retry, event = %message.event_id, "Slack redelivered an event");
    }
    let input = turn_input(message.request(), message.idempotency_key());
    let dispatch = state.dispatch.clone();
    state.tasks.spawn(async move {
        match dispatch.run(key, input).await {
            Ok(turn) if turn.result.replayed => {}
            Ok(turn) => {
                if !config.bot_token.is_empty() {
                    reply(&settings, &config, &message, &turn.traces).await;
                }
            }
            Err(e) => tracing::warn!(error = %e, "a Slack message's turn failed"),
        }
    });
    Ok(StatusCode::OK.into_response())
}

/// `chat.postMessage` into the message's channel (and thread).
async fn reply(
    settings: &ChannelSettings,
    config: &turnstile_channels::SlackConfig,
    message: &MessageEvent,
    traces: &[turnstile_engine::Trace],
) {
    let answer = slack::render(traces);
    if answer.is_empty() {
        return;
    }
    let answer = answer.to_channel(&message.channel, message.thread_ts.as_deref());
    let url = format!("{}/chat.postMessage", config.api_base.trim_end_matches('/'));
    match post_json(settings, &url, Some(&config.bot_token), &answer).await {
        // The Web API answers 200 with `ok: false` for its own errors.
        Ok(body) => {
            let reply: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            if reply["ok"] != true {
                tracing::warn!(error = %reply["error"], "chat.postMessage refused the reply");
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not call chat.postMessage"),
    }
}
