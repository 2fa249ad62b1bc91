//! `GET /channels/voice/{project}/ws`: one call's events as JSON text frames, answered in order,
//! one frame per event: `{"event": "<type>", "actions": […]}`. A frame that cannot be answered
//! gets `{"event": …, "actions": [], "error": {…}}` and the socket stays open; after
//! `session_end` is answered the server closes the socket.

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};
use turnstile_channels::voice::{EventKind, Handling, VoiceEvent};

use super::{Call, authorize, version_of};
use crate::channels::ChannelSettings;
use crate::error::ApiError;
use crate::extract::AppState;

/// Authenticates the upgrade request, then hands the socket to [`serve_call`].
pub(super) async fn socket(
    State(state): State<AppState>,
    State(settings): State<Arc<ChannelSettings>>,
    Path(project): Path<String>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &settings, &project, &headers)?;
    let upgrade = upgrade.map_err(|e| {
        ApiError::BadRequest(format!("this route is a WebSocket (GET with Upgrade): {e}"))
    })?;
    let version = version_of(&headers);
    let limit = state.limits.max_body_bytes;
    Ok(upgrade
        .max_message_size(limit)
        .max_frame_size(limit)
        .on_upgrade(move |socket| serve_call(socket, state, project, version)))
}

/// What the socket knows about its call.
#[derive(Default)]
struct Progress {
    /// The session id of the first event answered: one socket carries one call.
    call: Option<String>,
    /// A turn of the call ran on this socket, so the call is in progress.
    in_progress: bool,
}

async fn serve_call(mut socket: WebSocket, state: AppState, project: String, version: String) {
    let call = Call {
        state: &state,
        project: &project,
        version,
    };
    let mut progress = Progress::default();
    while let Some(Ok(message)) = socket.recv().await {
        let (reply, ended) = match message {
            Message::Text(text) => answer_frame(&call, &mut progress, text.as_bytes()).await,
            Message::Binary(_) => (
                error_frame(
                    None,
                    &ApiError::BadRequest("events are JSON text frames, not binary ones".into()),
                ),
                false,
            ),
            Message::Close(_) => break,
            // Pings are answered by the WebSocket layer.
            Message::Ping(_) | Message::Pong(_) => continue,
        };
        if socket
            .send(Message::Text(reply.to_string().into()))
            .await
            .is_err()
        {
            break;
        }
        if ended {
            let _ = socket
                .send(Message::Close(Some(CloseFrame {
                    code: close_code::NORMAL,
                    reason: "session ended".into(),
                })))
                .await;
            break;
        }
    }
}

/// The answer to one text frame, and whether it ended the call.
async fn answer_frame(call: &Call<'_>, progress: &mut Progress, frame: &[u8]) -> (Value, bool) {
    let event = match VoiceEvent::parse(frame) {
        Ok(event) => event,
        Err(e) => {
            let kind = claimed_type(frame);
            let error = ApiError::BadRequest(e.to_string());
            return (error_frame(kind.as_deref(), &error), false);
        }
    };
    let kind = event.type_name();
    if let Some(id) = &progress.call
        && *id != event.session.id
    {
        let error = ApiError::BadRequest(format!(
            "this socket carries call `{id}`; open another socket for call `{}`",
            event.session.id
        ));
        return (error_frame(Some(kind), &error), false);
    }
    let is_turn = matches!(event.handling(), Handling::Turn { .. });
    match call
        .answer(&event, event.idempotency_key(), progress.in_progress)
        .await
    {
        Ok(answer) => {
            progress.call = Some(event.session.id.clone());
            progress.in_progress |= is_turn;
            let mut frame = json!({ "event": kind, "actions": answer.actions });
            if answer.replayed {
                frame["replayed"] = Value::Bool(true);
            }
            (frame, event.kind == EventKind::SessionEnd)
        }
        Err(e) => (error_frame(Some(kind), &e), false),
    }
}

/// The `type` a refused frame claims (e.g. an unknown one), so the client can pair the error
/// with what it sent.
fn claimed_type(frame: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(frame).ok()?;
    let kind = value.get("type")?.as_str()?;
    (kind.len() <= 64).then(|| kind.to_owned())
}

/// The frame of an event that could not be answered: no actions, and the error in the DM API's
/// shape.
fn error_frame(kind: Option<&str>, error: &ApiError) -> Value {
    json!({ "event": kind, "actions": [], "error": error.body() })
}
