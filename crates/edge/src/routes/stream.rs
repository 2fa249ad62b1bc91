//! `POST /v2/project/{projectID}/user/{userID}/interact/stream`: a turn as Server-Sent Events
//! (see [`crate::sse`]).

use axum::extract::State;
use axum::response::IntoResponse;

use crate::dm::StreamBody;
use crate::error::ApiError;
use crate::extract::{AppState, IdempotencyKey, JsonBody, KeyedSession, QueryString};
use crate::sse::{StreamQuery, stream_turn};

pub async fn interact_stream(
    State(state): State<AppState>,
    KeyedSession(key): KeyedSession,
    QueryString(query): QueryString<StreamQuery>,
    idempotency: IdempotencyKey,
    JsonBody(body): JsonBody<StreamBody>,
) -> Result<impl IntoResponse, ApiError> {
    stream_turn(&state, key, query, idempotency, body).await
}
