//! Health, readiness and metrics.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::ApiError;
use crate::extract::AppState;

/// The process is alive.
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The server takes traffic (503 while shutting down).
pub async fn readyz(State(state): State<AppState>) -> Response {
    if state.ready.load(Ordering::Acquire) {
        Json(json!({ "status": "ready", "residentSessions": state.dispatch.sessions().resident() }))
            .into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "shutting down" })),
        )
            .into_response()
    }
}

/// Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let handle = state
        .metrics
        .as_ref()
        .ok_or_else(|| ApiError::NotFound("metrics are not enabled".into()))?;
    metrics_exporter_prometheus_gauges(&state);
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response())
}

/// Gauges read at scrape time rather than maintained on every change.
fn metrics_exporter_prometheus_gauges(state: &AppState) {
    ::metrics::gauge!("turnstile_resident_sessions")
        .set(state.dispatch.sessions().resident() as f64);
}

/// The cluster as this node sees it: members, their states, the partitions each owns.
pub async fn cluster(State(state): State<AppState>) -> Json<serde_json::Value> {
    match state.dispatch.cluster() {
        Some(cluster) => {
            let mut status = serde_json::to_value(cluster.view().status()).unwrap_or_default();
            status["clustered"] = json!(true);
            Json(status)
        }
        None => Json(json!({
            "clustered": false,
            "nodeId": null,
            "partitions": turnstile_cluster::PARTITIONS,
            "members": [],
        })),
    }
}

pub async fn not_found(uri: Uri) -> ApiError {
    ApiError::NotFound(format!("no route for {}", uri.path()))
}
