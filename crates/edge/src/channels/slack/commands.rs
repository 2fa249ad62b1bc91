//! `POST /channels/slack/{project}/commands`: slash commands.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::oneshot;
use turnstile_channels::slack::{self, Message, SlashCommand};
use turnstile_session::SessionError;

use super::{
    FAST_ANSWER, bad_request, check_signature, read_body, respond_later, slack_config, turn_input,
};
use crate::channels::ChannelSettings;
use crate::error::ApiError;
use crate::extract::{AppState, session_key};

/// The acknowledgement of a command whose turn is still running.
const WORKING: &str = "Working on it…";

/// Runs the command's event; answers with the turn's Block Kit message, or acknowledges and
/// posts it to `response_url` when the turn takes longer than [`FAST_ANSWER`].
pub(super) async fn command(
    State(state): State<AppState>,
    State(settings): State<Arc<ChannelSettings>>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let config = slack_config(&state, &settings, &project)?;
    let body = read_body(&state, body).await?;
    // Slack's probe of the URL carries no signature (bolt answers it the same way).
    if slack::is_ssl_check(&body) {
        return Ok(StatusCode::OK.into_response());
    }
    check_signature(&config, &headers, &body)?;
    let command = SlashCommand::parse(&body).map_err(bad_request)?;
    let request = command.request(&config.commands).map_err(bad_request)?;
    let key = session_key(project, &command.user_id())?;
    let input = turn_input(request, command.idempotency_key());

    // The turn runs on its own task so that it finishes (and its answer is posted) even when
    // this response has long been sent.
    let (done, mut outcome) = oneshot::channel();
    let dispatch = state.dispatch.clone();
    let response_url = command.response_url;
    state.tasks.spawn(async move {
        let result = dispatch.run(key, input).await;
        if let Err(result) = done.send(result) {
            respond_later(&settings, &response_url, result).await;
        }
    });
    let finished = match tokio::time::timeout(FAST_ANSWER, &mut outcome).await {
        Ok(received) => Some(received.map_err(|_| SessionError::Interrupted)?),
        Err(_) => {
            // Closing first makes the hand-over exact: either the result is already here, or
            // the task sees the channel closed and posts it to response_url.
            outcome.close();
            outcome.try_recv().ok()
        }
    };
    let Some(result) = finished else {
        return Ok(Json(Message::notice(WORKING).ephemeral()).into_response());
    };
    let turn = result?;
    let message = slack::render(&turn.traces);
    // A redelivery was answered the first time; an empty 200 shows nothing more.
    if turn.result.replayed || message.is_empty() {
        return Ok(StatusCode::OK.into_response());
    }
    Ok(Json(message.ephemeral()).into_response())
}
