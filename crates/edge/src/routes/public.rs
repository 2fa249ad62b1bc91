//! The keyless routes of the web widget (`/public/{projectID}/…`) and feedback.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use std::borrow::Cow;

use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use turnstile_engine::Trace;

use super::{collect_turn, interact_turn, session_key};
use crate::AppState;
use crate::body::JsonBody;
use crate::dm::InteractBody;
use crate::error::ApiError;

fn public_project(state: &AppState, project: &str) -> Result<(), ApiError> {
    if !state.sessions.catalog().contains(project) {
        return Err(ApiError::NotFound(format!("unknown project `{project}`")));
    }
    if !state.auth.is_public(project) {
        return Err(ApiError::Unauthorized("no access to project".into()));
    }
    Ok(())
}

/// `POST /public/{projectID}/state/user/{userID}/interact` → `{"trace": [...]}`.
pub async fn interact(
    State(state): State<AppState>,
    Path((project, user)): Path<(String, String)>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<InteractBody>,
) -> Result<Response, ApiError> {
    public_project(&state, &project)?;
    let key = session_key(project, &user)?;
    let (input, filter) = interact_turn(&state, &key, &headers, body)?;
    let (traces, _) = collect_turn(&state, key, input).await?;
    Ok(Json(PublicAnswer {
        trace: filter.apply_all(&traces),
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
    State(state): State<AppState>,
    Path((project, user)): Path<(String, String)>,
    JsonBody(_body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    public_project(&state, &project)?;
    session_key(project, &user)?;
    Ok(Json(json!({})))
}
