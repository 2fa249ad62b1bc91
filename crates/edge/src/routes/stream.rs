//! `POST /v2/project/{projectID}/user/{userID}/interact/stream`: a turn as Server-Sent Events.
//!
//! Each trace is sent the moment the engine emits it (`id: n`, `event: trace`, `data: <trace>`),
//! so a client sees the first traces of a turn that then waits on a webhook. After the commit an
//! `end` event closes the stream; a turn that fails after the stream started ends with an
//! `error` event carrying the error body instead.

use std::convert::Infallible;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use turnstile_session::{SessionKey, TurnEvent, TurnInput, TurnStream};

use super::{idempotency_key, session_key};
use crate::AppState;
use crate::body::JsonBody;
use crate::dm::{StreamBody, TraceFilter, parse_action};
use crate::error::ApiError;
use crate::query::QueryString;

/// The stream routes' query string.
#[derive(Debug, Default, Deserialize)]
pub struct StreamQuery {
    /// The version alias (default `development`).
    #[serde(default)]
    environment: Option<String>,
}

pub async fn interact_stream(
    State(state): State<AppState>,
    Path((project, user)): Path<(String, String)>,
    QueryString(query): QueryString<StreamQuery>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<StreamBody>,
) -> Result<impl IntoResponse, ApiError> {
    let project = state.auth.check_project(&headers, &project)?;
    let key = session_key(project, &user)?;
    stream_turn(&state, key, query, &headers, body).await
}

/// One turn of `key` as Server-Sent Events: the v2 stream, and the web chat's keyless stream.
pub(crate) async fn stream_turn(
    state: &AppState,
    key: SessionKey,
    query: StreamQuery,
    headers: &HeaderMap,
    body: StreamBody,
) -> Result<impl IntoResponse + use<>, ApiError> {
    let version = query.environment.unwrap_or_else(|| "development".into());
    let agent = state.sessions.catalog().agent(&key.project, &version)?;
    let request = parse_action(body.action.as_ref(), &agent)?;
    let input = TurnInput {
        request,
        version,
        variables: body.variables,
        idempotency_key: idempotency_key(headers, body.turn_id)?,
        stop_types: body.config.stop_types.clone(),
        stop_all: body.config.stop_all,
    };
    let filter = TraceFilter::new(&body.config);
    let events = state.turn(key, input).await?;
    // Proxies that buffer responses (nginx) would hold the traces back until the turn ends.
    Ok((
        [("x-accel-buffering", "no")],
        Sse::new(sse_events(events, filter)).keep_alive(KeepAlive::default()),
    ))
}

struct Progress {
    events: TurnStream,
    filter: TraceFilter,
    next_id: u64,
    finished: bool,
}

fn sse_events(
    events: TurnStream,
    filter: TraceFilter,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let progress = Progress {
        events,
        filter,
        next_id: 1,
        finished: false,
    };
    futures_util::stream::unfold(progress, |mut p| async move {
        if p.finished {
            return None;
        }
        loop {
            let event = match p.events.recv().await {
                Some(TurnEvent::Trace(trace)) => match p.filter.apply(&trace) {
                    Some(shown) => Event::default()
                        .event("trace")
                        .id(p.next_id.to_string())
                        .data(serde_json::to_string(&*shown).unwrap_or_default()),
                    None => continue,
                },
                Some(TurnEvent::Done(_)) => {
                    p.finished = true;
                    Event::default()
                        .event("end")
                        .id(p.next_id.to_string())
                        .data("{}")
                }
                Some(TurnEvent::Failed(e)) => {
                    p.finished = true;
                    Event::default()
                        .event("error")
                        .data(ApiError::from(e).body().to_string())
                }
                None => {
                    p.finished = true;
                    let e = ApiError::Internal(
                        "the session stopped before the turn finished; nothing was saved".into(),
                    );
                    Event::default().event("error").data(e.body().to_string())
                }
            };
            p.next_id += 1;
            return Some((Ok(event), p));
        }
    })
}
