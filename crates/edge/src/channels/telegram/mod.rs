//! `POST /channels/telegram/{project}/webhook`: a Telegram bot's webhook.
//!
//! The secret header is checked first (401, nothing read further). An update becomes a turn of
//! the chat's session, keyed by the update id so that a redelivery is answered from the
//! session's record and sends nothing. The answer waits for the turn at most
//! [`ANSWER_WITHIN`]: a single reply rides in the webhook response as a Bot API method,
//! several go out through the Bot API before the response, and a slower turn is answered at once
//! and its reply sent through the Bot API when it is done.

mod outbox;

pub(crate) use outbox::ReplyLines;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::Value;
use tokio::sync::oneshot;
use turnstile_channels::telegram::{self, BotMethod, Inbound, TurnRequest};
use turnstile_session::{CollectedTurn, SessionError, TurnInput};

use super::{ChannelSettings, ChannelState, disabled, project_channels};
use crate::error::ApiError;
use crate::extract::{AppState, read_limited, session_key};
use outbox::{Bot, Slot};

/// How long the webhook waits for a turn before answering Telegram without it.
const ANSWER_WITHIN: Duration = Duration::from_secs(2);
/// What a user sees on a button that no longer maps to anything.
const DEAD_BUTTON_NOTICE: &str = "This button no longer works.";
const SETTINGS: &str = "`secret_token` in [projects.channels.telegram] \
     (TURNSTILE_TELEGRAM_SECRET_TOKEN in development mode)";

pub(super) fn routes() -> Router<ChannelState> {
    Router::new().route("/channels/telegram/{project}/webhook", post(webhook))
}

/// A finished turn, and the update's place in its chat's line of replies.
type Finished = (Result<CollectedTurn, SessionError>, Slot);

async fn webhook(
    State(state): State<AppState>,
    State(settings): State<Arc<ChannelSettings>>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let config = project_channels(&state, &settings, &project)?
        .telegram
        .clone()
        .ok_or_else(|| disabled("Telegram", &project, SETTINGS))?;
    let secret = headers.get(telegram::SECRET_HEADER).map(|v| v.as_bytes());
    telegram::verify_secret(&config.secret_token, secret)
        .map_err(|e| ApiError::Unauthorized(e.to_string()))?;
    let bytes = read_limited(body, state.limits.max_body_bytes).await?;
    // Telegram always sends JSON: a body that is not JSON comes from a misconfigured client, who
    // is better told. JSON that is not an update is acknowledged, so that nothing redelivers it.
    let json: Value = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::BadRequest(format!("the body is not JSON: {e}")))?;
    let Some(update) = telegram::parse_update(&json) else {
        tracing::debug!("Telegram webhook: a body that is not an update, ignored");
        return Ok(StatusCode::OK.into_response());
    };
    let agent = state
        .dispatch
        .catalog()
        .agent(&project, super::CHANNEL_VERSION)?;
    let turn = match telegram::inbound(&update, &agent, &config.commands) {
        Inbound::Turn(turn) => turn,
        Inbound::Ignore(why) => {
            tracing::debug!(
                update_id = update.update_id,
                "Telegram update ignored: {why}"
            );
            return Ok(StatusCode::OK.into_response());
        }
        Inbound::DeadButton {
            callback_query_id,
            reason,
        } => {
            tracing::debug!(
                update_id = update.update_id,
                "dead Telegram button: {reason}"
            );
            let answer = BotMethod::answer_callback(&callback_query_id, Some(DEAD_BUTTON_NOTICE));
            return Ok(in_body(&answer));
        }
    };
    let key = session_key(project.clone(), &turn.user_id)?;
    let input = TurnInput {
        version: super::CHANNEL_VERSION.to_owned(),
        idempotency_key: Some(turn.idempotency_key.clone()),
        ..TurnInput::new(turn.request.clone())
    };
    let slot = Slot::take(&settings.telegram_lines, &project, turn.reply_to.chat_id);
    let started = state.dispatch.turn(key, input).await?;
    let bot = Bot::new(&settings.http, &config);
    let (handed, mut waiting) = oneshot::channel::<Finished>();
    let late = (bot.clone(), turn.clone());
    state.tasks.spawn(async move {
        let finished = (started.collect().await, slot);
        // Nobody waits any more: the webhook was answered, the reply goes out on its own.
        if let Err((result, slot)) = handed.send(finished) {
            let (bot, turn) = late;
            deliver_late(bot, turn, result, slot).await;
        }
    });
    let finished = match tokio::time::timeout(ANSWER_WITHIN, &mut waiting).await {
        Ok(finished) => finished.ok(),
        Err(_) => {
            // Closing first makes the hand-over exact: whatever was not received by now is
            // delivered by the turn's task.
            waiting.close();
            waiting.try_recv().ok()
        }
    };
    match finished {
        Some((result, slot)) => answer(bot, &turn, result, slot).await,
        None => Ok(match &turn.callback_query_id {
            // The spinner on the pressed button stops now; the reply follows.
            Some(id) => in_body(&BotMethod::answer_callback(id, None)),
            None => StatusCode::OK.into_response(),
        }),
    }
}

/// The webhook's answer to a turn that finished in time.
async fn answer(
    bot: Bot,
    turn: &TurnRequest,
    result: Result<CollectedTurn, SessionError>,
    mut slot: Slot,
) -> Result<Response, ApiError> {
    // An error status makes Telegram deliver the update again later: right for a turn that
    // did not run (nothing was saved).
    let done = result?;
    if done.result.replayed {
        // Answered the first time it came.
        return Ok(StatusCode::OK.into_response());
    }
    let mut methods = telegram::render(&done.traces, turn.reply_to);
    if let Some(id) = &turn.callback_query_id {
        methods.insert(0, BotMethod::answer_callback(id, None));
    }
    slot.wait_turn().await;
    match methods.as_slice() {
        [] => Ok(StatusCode::OK.into_response()),
        [only] => Ok(in_body(only)),
        _ if !bot.has_token() => {
            // Without a token only the webhook answer is available: the first message.
            let first = methods
                .iter()
                .position(|m| !matches!(m, BotMethod::AnswerCallbackQuery(_)))
                .unwrap_or(0);
            let answer = methods.remove(first);
            bot.send_all(&methods).await;
            Ok(in_body(&answer))
        }
        _ => {
            bot.send_all(&methods).await;
            Ok(StatusCode::OK.into_response())
        }
    }
}

/// Sends the reply of a turn that outlasted the webhook's answer.
async fn deliver_late(
    bot: Bot,
    turn: TurnRequest,
    result: Result<CollectedTurn, SessionError>,
    mut slot: Slot,
) {
    match result {
        Ok(done) if done.result.replayed => {}
        Ok(done) => {
            let methods = telegram::render(&done.traces, turn.reply_to);
            slot.wait_turn().await;
            bot.send_all(&methods).await;
        }
        Err(e) => tracing::warn!(
            user = %turn.user_id,
            error = %e,
            "a slow Telegram turn failed after the webhook was answered"
        ),
    }
}

/// A Bot API method as the webhook's response body (Telegram performs it).
fn in_body(method: &BotMethod) -> Response {
    axum::Json(method.webhook_answer()).into_response()
}
