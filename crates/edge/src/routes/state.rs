//! The state routes: read, replace, reset, delete a session, and merge variables into it.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use turnstile_engine::SessionState;
use turnstile_session::StateOp;

use crate::dm::parse_state;
use crate::error::ApiError;
use crate::extract::{AppState, JsonBody, KeyedSession, Version};

/// `GET /state/user/{userID}`: the state, or `{}` when there is none.
pub async fn get_state(
    State(state): State<AppState>,
    KeyedSession(key): KeyedSession,
) -> Result<Json<Value>, ApiError> {
    let found = state.dispatch.state(key, StateOp::Get).await?;
    Ok(state_json(found))
}

/// `PUT /state/user/{userID}`: replaces the state (`stack`, `storage`, `variables` required).
pub async fn put_state(
    State(state): State<AppState>,
    KeyedSession(key): KeyedSession,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let new_state = parse_state(body)?;
    let saved = state.dispatch.state(key, StateOp::Put(new_state)).await?;
    Ok(state_json(saved))
}

/// `POST /state/user/{userID}`: a new session at the start of the agent.
pub async fn reset_state(
    State(state): State<AppState>,
    KeyedSession(key): KeyedSession,
    Version(version): Version,
) -> Result<Json<Value>, ApiError> {
    let saved = state
        .dispatch
        .state(key, StateOp::Reset { version })
        .await?;
    Ok(state_json(saved))
}

/// `DELETE /state/user/{userID}`: 200 with an empty body.
pub async fn delete_state(
    State(state): State<AppState>,
    KeyedSession(key): KeyedSession,
) -> Result<Response, ApiError> {
    state.dispatch.state(key, StateOp::Delete).await?;
    Ok(StatusCode::OK.into_response())
}

/// `PATCH /state/user/{userID}/variables`: merges the body into the variables.
pub async fn patch_variables(
    State(state): State<AppState>,
    KeyedSession(key): KeyedSession,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let Value::Object(variables) = body else {
        return Err(ApiError::BadRequest(
            "the body must be an object of variables".into(),
        ));
    };
    let saved = state
        .dispatch
        .state(key, StateOp::PatchVariables(variables))
        .await?;
    Ok(state_json(saved))
}

/// A state as the DM API returns it: `{}` when there is none.
fn state_json(state: Option<SessionState>) -> Json<Value> {
    Json(
        state
            .and_then(|s| serde_json::to_value(s).ok())
            .unwrap_or_else(|| json!({})),
    )
}
