//! `POST /state/user/{userID}/interact`: one turn, answered with the bare array of traces.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use std::borrow::Cow;

use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use turnstile_engine::{SessionState, Trace};

use super::{collect_turn, interact_turn, session_key};
use crate::AppState;
use crate::body::JsonBody;
use crate::dm::InteractBody;
use crate::error::ApiError;
use crate::query::QueryString;

#[derive(Debug, Default, Deserialize)]
pub struct InteractQuery {
    #[serde(default)]
    verbose: Option<String>,
}

pub async fn interact(
    State(state): State<AppState>,
    Path(user): Path<String>,
    QueryString(query): QueryString<InteractQuery>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<InteractBody>,
) -> Result<Response, ApiError> {
    let key = session_key(state.auth.project_of(&headers)?, &user)?;
    let (input, filter) = interact_turn(&state, &key, &headers, body)?;
    let verbose = matches!(query.verbose.as_deref(), Some("true" | "1"));
    // Only the verbose answer shows the request; don't build it for every turn.
    let request_json = verbose.then(|| input.request.to_json());
    let (traces, result) = collect_turn(&state, key, input).await?;
    let traces = filter.apply_all(&traces);
    // Serialized straight from the typed traces: no intermediate JSON values.
    Ok(if let Some(request) = request_json {
        Json(Verbose {
            state: &result.state,
            trace: traces,
            request,
        })
        .into_response()
    } else {
        Json(traces).into_response()
    })
}

/// `?verbose=true`: the state after the turn, the traces, and the request as understood.
#[derive(Serialize)]
struct Verbose<'a> {
    state: &'a SessionState,
    trace: Vec<Cow<'a, Trace>>,
    request: Value,
}
