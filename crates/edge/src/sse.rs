//! A turn as Server-Sent Events, for the v2 stream and the web chat's stream.
//!
//! Each trace is sent the moment the engine emits it (`id: n`, `event: trace`, `data: <trace>`),
//! so a client sees the first traces of a turn that then waits on a webhook. After the commit an
//! `end` event closes the stream; a turn that fails after the stream started ends with an
//! `error` event carrying the error body instead.

use std::convert::Infallible;

use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use turnstile_session::{DEFAULT_VERSION, SessionKey, Turn};

use crate::dm::{DmTurn, StreamBody, TraceFilter};
use crate::error::ApiError;
use crate::extract::{AppState, IdempotencyKey};

/// The stream routes' query string.
#[derive(Debug, Default, Deserialize)]
pub struct StreamQuery {
    /// The version alias (default `development`).
    #[serde(default)]
    pub environment: Option<String>,
}

/// One turn of `key` as Server-Sent Events: the v2 stream, and the web chat's keyless stream.
pub async fn stream_turn(
    state: &AppState,
    key: SessionKey,
    query: StreamQuery,
    idempotency: IdempotencyKey,
    body: StreamBody,
) -> Result<impl IntoResponse + use<>, ApiError> {
    let input = DmTurn {
        version: query
            .environment
            .unwrap_or_else(|| DEFAULT_VERSION.to_owned()),
        action: body.action.as_ref(),
        config: &body.config,
        variables: body.variables,
        idempotency_key: idempotency.or_body(body.turn_id)?,
    }
    .input(state.dispatch.catalog(), &key.project, &state.limits)?;
    let filter = TraceFilter::new(&body.config);
    let turn = state.dispatch.turn(key, input).await?;
    Ok(turn_events(turn, filter))
}

/// The response that streams `turn`, its traces shaped by `filter`.
pub fn turn_events(turn: Turn, filter: TraceFilter) -> impl IntoResponse {
    // Proxies that buffer responses (nginx) would hold the traces back until the turn ends.
    (
        [("x-accel-buffering", "no")],
        Sse::new(events(turn, filter)).keep_alive(KeepAlive::default()),
    )
}

struct Progress {
    turn: Option<Turn>,
    filter: TraceFilter,
    next_id: u64,
}

fn events(turn: Turn, filter: TraceFilter) -> impl Stream<Item = Result<Event, Infallible>> {
    let progress = Progress {
        turn: Some(turn),
        filter,
        next_id: 1,
    };
    futures_util::stream::unfold(progress, |mut p| async move {
        let mut turn = p.turn.take()?;
        let event = loop {
            match turn.next_trace().await {
                Some(trace) => {
                    if let Some(shown) = p.filter.apply(&trace) {
                        let event = Event::default()
                            .event("trace")
                            .id(p.next_id.to_string())
                            .data(serde_json::to_string(&*shown).unwrap_or_default());
                        p.turn = Some(turn);
                        break event;
                    }
                }
                None => {
                    break match turn.finish().await {
                        Ok(_) => Event::default()
                            .event("end")
                            .id(p.next_id.to_string())
                            .data("{}"),
                        Err(e) => Event::default()
                            .event("error")
                            .data(ApiError::from(e).body().to_string()),
                    };
                }
            }
        };
        p.next_id += 1;
        Some((Ok(event), p))
    })
}
