//! `POST /state/user/{userID}/interact`: one turn, answered with the bare array of traces.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use std::borrow::Cow;

use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use turnstile_engine::{SessionState, Trace};
use turnstile_session::TurnInput;

use super::{collect_turn, idempotency_key, session_key, version_of};
use crate::AppState;
use crate::body::JsonBody;
use crate::dm::{InteractBody, TraceFilter, parse_action};
use crate::error::ApiError;

#[derive(Debug, Default, Deserialize)]
pub struct InteractQuery {
    #[serde(default)]
    verbose: Option<String>,
}

pub async fn interact(
    State(state): State<AppState>,
    Path(user): Path<String>,
    Query(query): Query<InteractQuery>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<InteractBody>,
) -> Result<Response, ApiError> {
    let project = state.auth.project_of(&headers)?;
    let key = session_key(project, &user)?;
    let version = version_of(&headers);
    let agent = state.sessions.catalog().agent(&key.project, &version)?;
    let action = body.action.as_ref().or(body.request.as_ref());
    let request = parse_action(action, &agent)?;
    let request_json = request.to_json();
    let filter = TraceFilter::new(&body.config);
    let input = TurnInput {
        request,
        version,
        variables: body.state.map(|s| s.variables).unwrap_or_default(),
        idempotency_key: idempotency_key(&headers, body.turn_id)?,
        stop_types: body.config.stop_types,
        stop_all: body.config.stop_all,
    };
    let (traces, result) = collect_turn(&state, key, input).await?;
    let traces = filter.apply_all(&traces);
    // Serialized straight from the typed traces: no intermediate JSON values.
    let verbose = matches!(query.verbose.as_deref(), Some("true" | "1"));
    Ok(if verbose {
        Json(Verbose {
            state: &result.state,
            trace: traces,
            request: request_json,
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
