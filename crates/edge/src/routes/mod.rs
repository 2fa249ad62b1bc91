//! The routes, and the plumbing they share.

mod interact;
mod ops;
mod public;
mod state;
mod stream;

pub(crate) use state::parse_state;
pub(crate) use stream::{StreamQuery, stream_turn};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, Method};
use axum::routing::{get, post};
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};
use turnstile_engine::Trace;
use turnstile_session::{SessionKey, TurnEvent, TurnInput, TurnResult, TurnStream};

use crate::AppState;
use crate::dm::{InteractBody, TraceFilter, check_user_id, parse_action};
use crate::error::ApiError;

/// Every route of the edge: the HTTP API and the gRPC services, on one listener.
pub fn router(state: AppState) -> Router {
    routes(state, true)
}

/// The HTTP API only (when gRPC has a listener of its own).
pub fn http_router(state: AppState) -> Router {
    routes(state, false)
}

fn routes(state: AppState, with_grpc: bool) -> Router {
    // Like the DM API: CORS reflects the caller's origin, with credentials (the web widget).
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::mirror_request())
        .allow_headers(AllowHeaders::mirror_request())
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_credentials(true);
    // Bodies are read by `JsonBody` under the configured limit; axum's own limit is lifted so
    // that the 413 answer is ours (JSON).
    let app = Router::new()
        .route("/state/user/{user_id}/interact", post(interact::interact))
        .route(
            "/state/user/{user_id}",
            get(state::get_state)
                .put(state::put_state)
                .post(state::reset_state)
                .delete(state::delete_state),
        )
        .route(
            "/state/user/{user_id}/variables",
            axum::routing::patch(state::patch_variables),
        )
        .route(
            "/v2/project/{project_id}/user/{user_id}/interact/stream",
            post(stream::interact_stream),
        )
        .route(
            "/public/{project_id}/state/user/{user_id}/interact",
            post(public::interact),
        )
        .route("/public/{project_id}/publishing", get(public::publishing))
        .route(
            "/public/{project_id}/transcripts",
            post(public::transcripts),
        )
        .route(
            "/feedback/{project_id}/user/{user_id}",
            post(public::feedback),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/cluster", get(ops::cluster))
        .merge(crate::channels::routes())
        .with_state(state.clone());
    // Nodes forward to each other on the advertised (HTTP) address, so the internal service is
    // always on this listener.
    let app = match (with_grpc, &state.cluster) {
        (true, _) => app.merge(crate::grpc_router(state)),
        (false, Some(cluster)) => app.merge(crate::cluster::cluster_service_router(
            state.sessions.clone(),
            cluster.clone(),
        )),
        (false, None) => app,
    };
    app.fallback(ops::not_found)
        .layer(DefaultBodyLimit::disable())
        .layer(cors)
}

/// The session of `user` in `project`, after validating the user id.
pub(crate) fn session_key(project: String, user: &str) -> Result<SessionKey, ApiError> {
    check_user_id(user)?;
    Ok(SessionKey::new(project, user))
}

/// The version alias a request asks for (`versionID` header; default `development`).
fn version_of(headers: &HeaderMap) -> String {
    headers
        .get("versionid")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .unwrap_or("development")
        .to_owned()
}

/// The idempotency key of a request: the `Idempotency-Key` header, else the body's `turn_id`.
fn idempotency_key(
    headers: &HeaderMap,
    turn_id: Option<String>,
) -> Result<Option<String>, ApiError> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or(turn_id);
    match key {
        Some(k) if k.is_empty() || k.len() > 256 => Err(ApiError::BadRequest(
            "an idempotency key is 1 to 256 characters".into(),
        )),
        other => Ok(other),
    }
}

/// The turn an interact body asks for (the private and the public route share it): the parsed,
/// agent-checked request and the trace filter its `config` selects.
fn interact_turn(
    state: &AppState,
    key: &SessionKey,
    headers: &HeaderMap,
    body: InteractBody,
) -> Result<(TurnInput, TraceFilter), ApiError> {
    let version = version_of(headers);
    let agent = state.sessions.catalog().agent(&key.project, &version)?;
    let request = parse_action(body.action.as_ref().or(body.request.as_ref()), &agent)?;
    let filter = TraceFilter::new(&body.config);
    let input = TurnInput {
        request,
        version,
        variables: body.state.map(|s| s.variables).unwrap_or_default(),
        idempotency_key: idempotency_key(headers, body.turn_id)?,
        stop_types: body.config.stop_types,
        stop_all: body.config.stop_all,
    };
    Ok((input, filter))
}

/// Runs a turn (where its session lives) to its end, collecting its traces.
pub(crate) async fn collect_turn(
    state: &AppState,
    key: SessionKey,
    input: TurnInput,
) -> Result<(Vec<Trace>, TurnResult), ApiError> {
    finish_turn(state.turn(key, input).await?).await
}

/// Collects a started turn's traces until it is committed.
pub(crate) async fn finish_turn(
    mut events: TurnStream,
) -> Result<(Vec<Trace>, TurnResult), ApiError> {
    let mut traces = Vec::new();
    while let Some(event) = events.recv().await {
        match event {
            TurnEvent::Trace(trace) => traces.push(trace),
            TurnEvent::Done(result) => return Ok((traces, result)),
            TurnEvent::Failed(e) => return Err(e.into()),
        }
    }
    Err(ApiError::Internal(
        "the session stopped before the turn finished; nothing was saved".into(),
    ))
}
