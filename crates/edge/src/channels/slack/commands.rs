//! `POST /channels/slack/{project}/commands`: slash commands.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio::sync::oneshot;
use turnstile_channels::slack::{self, Message, SlashCommand};

use super::{
    FAST_ANSWER, bad_request, check_signature, read_body, respond_later, slack_config, turn_input,
};
use crate::AppState;
use crate::error::ApiError;
use crate::routes::{collect_turn, session_key};

/// The acknowledgement of a command whose turn is still running.
const WORKING: &str = "Working on it…";

/// Runs the command's event; answers with the turn's Block Kit message, or acknowledges and
/// posts it to `response_url` when the turn takes longer than [`FAST_ANSWER`].
pub(super) async fn command(
    State(state): State<AppState>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let config = slack_config(&state, &project)?;
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
    let task_state = state.clone();
    let response_url = command.response_url;
    tokio::spawn(async move {
        let result = collect_turn(&task_state, key, input).await;
        if let Err(result) = done.send(result) {
            respond_later(&task_state, &response_url, result).await;
        }
    });
    let finished = match tokio::time::timeout(FAST_ANSWER, &mut outcome).await {
        Ok(received) => Some(received.map_err(|_| {
            ApiError::Internal("the turn stopped before it finished; nothing was saved".into())
        })?),
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
    let (traces, result) = result?;
    let message = slack::render(&traces);
    // A redelivery was answered the first time; an empty 200 shows nothing more.
    if result.replayed || message.is_empty() {
        return Ok(StatusCode::OK.into_response());
    }
    Ok(Json(message.ephemeral()).into_response())
}
