//! `POST /state/user/{userID}/interact`: one turn, answered with the bare array of traces.

use std::borrow::Cow;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use turnstile_engine::{SessionState, Trace};
use turnstile_session::{CollectedTurn, SessionKey, TurnInput};

use crate::dm::{DmTurn, InteractBody, TraceFilter};
use crate::error::ApiError;
use crate::extract::{AppState, IdempotencyKey, JsonBody, KeyedSession, QueryString, Version};

#[derive(Debug, Default, Deserialize)]
pub struct InteractQuery {
    #[serde(default)]
    verbose: Option<String>,
}

pub async fn interact(
    State(state): State<AppState>,
    KeyedSession(key): KeyedSession,
    Version(version): Version,
    idempotency: IdempotencyKey,
    QueryString(query): QueryString<InteractQuery>,
    JsonBody(body): JsonBody<InteractBody>,
) -> Result<Response, ApiError> {
    let (input, filter) = interact_turn(&state, &key, version, idempotency, body)?;
    let verbose = matches!(query.verbose.as_deref(), Some("true" | "1"));
    // Only the verbose answer shows the request; don't build it for every turn.
    let request_json = verbose.then(|| input.request.to_json());
    let CollectedTurn { traces, result } = state.dispatch.run(key, input).await?;
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

/// The turn an interact body asks for (the private and the public route share it): the parsed,
/// agent-checked request and the trace filter its `config` selects.
pub(super) fn interact_turn(
    state: &AppState,
    key: &SessionKey,
    version: String,
    idempotency: IdempotencyKey,
    body: InteractBody,
) -> Result<(TurnInput, TraceFilter), ApiError> {
    let input = DmTurn {
        version,
        action: body.action.as_ref().or(body.request.as_ref()),
        config: &body.config,
        variables: body.state.map(|s| s.variables).unwrap_or_default(),
        idempotency_key: idempotency.or_body(body.turn_id)?,
    }
    .input(state.dispatch.catalog(), &key.project, &state.limits)?;
    Ok((input, TraceFilter::new(&body.config)))
}

/// `?verbose=true`: the state after the turn, the traces, and the request as understood.
#[derive(Serialize)]
struct Verbose<'a> {
    state: &'a SessionState,
    trace: Vec<Cow<'a, Trace>>,
    request: Value,
}
