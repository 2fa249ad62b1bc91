//! The keyless routes of the web widget (`/public/{projectID}/…`) and feedback.

use std::borrow::Cow;

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use turnstile_engine::Trace;

use super::interact::interact_turn;
use crate::dm::InteractBody;
use crate::error::ApiError;
use crate::extract::{AppState, IdempotencyKey, JsonBody, PublicSession, Version, public_project};

/// `POST /public/{projectID}/state/user/{userID}/interact` → `{"trace": [...]}`.
pub async fn interact(
    State(state): State<AppState>,
    PublicSession(key): PublicSession,
    Version(version): Version,
    idempotency: IdempotencyKey,
    JsonBody(body): JsonBody<InteractBody>,
) -> Result<Response, ApiError> {
    let (input, filter) = interact_turn(&state, &key, version, idempotency, body)?;
    let collected = state.dispatch.run(key, input).await?;
    Ok(Json(PublicAnswer {
        trace: filter.apply_all(&collected.traces),
    })
    .into_response())
}

/// The widget's answer: `{"trace": [...]}`.
#[derive(Serialize)]
struct PublicAnswer<'a> {
    trace: Vec<Cow<'a, Trace>>,
}

/// `GET /public/{projectID}/publishing`: the widget's settings (none are configured: `{}`).
pub async fn publishing(
    State(state): State<AppState>,
    Path(project): Path<String>,
) -> Result<Json<Value>, ApiError> {
    public_project(&state, &project)?;
    Ok(Json(json!({})))
}

/// `POST /public/{projectID}/transcripts`: acknowledged (turnstile keeps no transcripts).
pub async fn transcripts(
    State(state): State<AppState>,
    Path(project): Path<String>,
    JsonBody(_body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    public_project(&state, &project)?;
    Ok(Json(json!({})))
}

/// `POST /feedback/{projectID}/user/{userID}`: acknowledged.
pub async fn feedback(
    PublicSession(_key): PublicSession,
    JsonBody(_body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({})))
}
