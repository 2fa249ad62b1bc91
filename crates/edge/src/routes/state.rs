//! The state routes: read, replace, reset, delete a session, and merge variables into it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use turnstile_engine::SessionState;
use turnstile_session::{SessionKey, StateOp};

use super::{session_key, version_of};
use crate::AppState;
use crate::body::JsonBody;
use crate::error::ApiError;

/// `GET /state/user/{userID}`: the state, or `{}` when there is none.
pub async fn get_state(
    State(state): State<AppState>,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let key = key_of(&state, &headers, &user)?;
    let found = state.state_op(key, StateOp::Get).await?;
    Ok(state_json(found))
}

/// `PUT /state/user/{userID}`: replaces the state (`stack`, `storage`, `variables` required).
pub async fn put_state(
    State(state): State<AppState>,
    Path(user): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let key = key_of(&state, &headers, &user)?;
    let new_state = parse_state(body)?;
    let saved = state.state_op(key, StateOp::Put(new_state)).await?;
    Ok(state_json(saved))
}

/// `POST /state/user/{userID}`: a new session at the start of the agent.
pub async fn reset_state(
    State(state): State<AppState>,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let key = key_of(&state, &headers, &user)?;
    let version = version_of(&headers);
    let saved = state.state_op(key, StateOp::Reset { version }).await?;
    Ok(state_json(saved))
}

/// `DELETE /state/user/{userID}`: 200 with an empty body.
pub async fn delete_state(
    State(state): State<AppState>,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let key = key_of(&state, &headers, &user)?;
    state.state_op(key, StateOp::Delete).await?;
    Ok(StatusCode::OK.into_response())
}

/// `PATCH /state/user/{userID}/variables`: merges the body into the variables.
pub async fn patch_variables(
    State(state): State<AppState>,
    Path(user): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let key = key_of(&state, &headers, &user)?;
    let Value::Object(variables) = body else {
        return Err(ApiError::BadRequest(
            "the body must be an object of variables".into(),
        ));
    };
    let saved = state
        .state_op(key, StateOp::PatchVariables(variables))
        .await?;
    Ok(state_json(saved))
}

/// Checks a state body the way the DM API does: `stack` (frames with `diagramID`), `storage`
/// and `variables` are required objects.
pub(crate) fn parse_state(body: Value) -> Result<SessionState, ApiError> {
    let invalid = |why: &str| ApiError::BadRequest(format!("invalid state: {why}"));
    let object: &Map<String, Value> = body.as_object().ok_or_else(|| invalid("not an object"))?;
    for field in ["stack", "storage", "variables"] {
        if !object.contains_key(field) {
            return Err(invalid(&format!("`{field}` is required")));
        }
    }
    let frames = object["stack"]
        .as_array()
        .ok_or_else(|| invalid("`stack` must be an array"))?;
    for (i, frame) in frames.iter().enumerate() {
        if !frame.get("diagramID").is_some_and(Value::is_string) {
            return Err(invalid(&format!("stack[{i}].diagramID must be a string")));
        }
    }
    serde_json::from_value(body).map_err(|e| invalid(&e.to_string()))
}

/// The session these routes address: the key's project, the path's user.
fn key_of(state: &AppState, headers: &HeaderMap, user: &str) -> Result<SessionKey, ApiError> {
    session_key(state.auth.project_of(headers)?, user)
}

/// A state as the DM API returns it: `{}` when there is none.
fn state_json(state: Option<SessionState>) -> Json<Value> {
    Json(
        state
            .and_then(|s| serde_json::to_value(s).ok())
            .unwrap_or_else(|| json!({})),
    )
}
