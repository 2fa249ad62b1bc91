//! `/channels/voice/{project}/…`: telephony events, one per HTTP request (`POST …/events`) or
//! as the text frames of a WebSocket (`GET …/ws`, [`socket`]).
//!
//! Each event is authenticated (`Authorization: Bearer <token>`), parsed and mapped by
//! `turnstile_channels::voice`, and, when it means a turn, run in the session
//! `voice:{session.id}`; the turn's traces come back as voice actions.

mod socket;

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use turnstile_channels::voice::{self, Action, Handling, VoiceEvent};
use turnstile_session::{StateOp, TurnInput};

use super::{ChannelSettings, ChannelState, disabled, project_channels};
use crate::error::ApiError;
use crate::extract::{AppState, IdempotencyKey, read_limited, session_key, version_header};

/// What enables the channel, for the 404 of a project without it.
const ENABLED_BY: &str =
    "`token` in [projects.channels.voice] (TURNSTILE_VOICE_TOKEN in development mode)";

pub(super) fn routes() -> Router<ChannelState> {
    Router::new()
        .route("/channels/voice/{project}/events", post(events))
        .route("/channels/voice/{project}/ws", get(socket::socket))
}

/// `POST /channels/voice/{project}/events`: one event; `200 {"actions": […]}`, or
/// `204 No Content` when there is nothing to do.
async fn events(
    State(state): State<AppState>,
    State(settings): State<Arc<ChannelSettings>>,
    Path(project): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    authorize(&state, &settings, &project, &headers)?;
    let bytes = read_limited(body, state.limits.max_body_bytes).await?;
    let event = VoiceEvent::parse(&bytes).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    // The header wins over the event's `seq`.
    let idempotency_key = match IdempotencyKey::from_headers(&headers)?.0 {
        Some(key) => Some(key),
        None => event.idempotency_key(),
    };
    let call = Call {
        state: &state,
        project: &project,
        version: version_of(&headers),
    };
    let answer = call.answer(&event, idempotency_key, false).await?;
    Ok(if answer.actions.is_empty() {
        StatusCode::NO_CONTENT.into_response()
    } else {
        Json(answer).into_response()
    })
}

/// Checks that the project exists, has the voice channel, and that the caller holds its token.
/// Runs before anything is read or executed.
fn authorize(
    state: &AppState,
    settings: &ChannelSettings,
    project: &str,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let config = project_channels(state, settings, project)?
        .voice
        .as_ref()
        .ok_or_else(|| disabled("voice", project, ENABLED_BY))?;
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    voice::verify_bearer(&config.token, authorization)
        .map_err(|e| ApiError::Unauthorized(e.to_string()))
}

/// The version alias events run on: the `versionID` header when the provider sends one (as in
/// the DM API), else the published version every channel uses.
fn version_of(headers: &HeaderMap) -> String {
    version_header(headers).unwrap_or_else(|| super::CHANNEL_VERSION.to_owned())
}

/// What the relay gets for one event.
#[derive(Debug, Default, Serialize)]
struct Answer {
    actions: Vec<Action>,
    /// Answered from the session's idempotency record: the turn had already run.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    replayed: bool,
}

/// The calls of one project on one agent version.
struct Call<'a> {
    state: &'a AppState,
    project: &'a str,
    version: String,
}

impl Call<'_> {
    /// Runs what `event` means and renders the outcome. `in_progress`: the caller already knows
    /// the call has started (a WebSocket that carried its turns), so the check is skipped.
    async fn answer(
        &self,
        event: &VoiceEvent,
        idempotency_key: Option<String>,
        in_progress: bool,
    ) -> Result<Answer, ApiError> {
        let key = session_key(self.project.to_owned(), &event.user_id())?;
        match event.handling() {
            Handling::Acknowledge => {
                tracing::debug!(event = event.type_name(), user = %key.user, "voice event noted");
                Ok(Answer::default())
            }
            Handling::EndCall => {
                self.state.dispatch.state(key, StateOp::Delete).await?;
                Ok(Answer::default())
            }
            Handling::Turn {
                request,
                variables,
                opens_call,
            } => {
                // Without this, an event for a call that ended (or never began) would quietly
                // start a new conversation that nothing ever cleans up.
                if !opens_call
                    && !in_progress
                    && self
                        .state
                        .dispatch
                        .state(key.clone(), StateOp::Get)
                        .await?
                        .is_none()
                {
                    return Err(ApiError::NotFound(format!(
                        "no call in progress for session `{}`: it never started (send \
                         session_start first) or it has ended",
                        event.session.id
                    )));
                }
                let input = TurnInput {
                    request,
                    version: self.version.clone(),
                    variables,
                    idempotency_key,
                    stop_types: Vec::new(),
                    stop_all: false,
                };
                let done = self.state.dispatch.run(key, input).await?;
                let rendered = voice::render(&done.traces);
                for skipped in &rendered.skipped {
                    tracing::warn!(
                        project = self.project,
                        session = %event.session.id,
                        action = %skipped.trace,
                        "voice action left out: {}",
                        skipped.reason
                    );
                }
                Ok(Answer {
                    actions: rendered.actions,
                    replayed: done.result.replayed,
                })
            }
        }
    }
}
