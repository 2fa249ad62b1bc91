//! turnstile's HTTP edge: the Voiceflow Dialog Manager API over axum.
//!
//! Routes (reference/dm-api.md §12):
//! * `POST /state/user/{userID}/interact` — one turn; the bare array of traces (`?verbose=true`:
//!   `{state, trace, request}`);
//! * `GET | PUT | POST | DELETE /state/user/{userID}`, `PATCH /state/user/{userID}/variables`;
//! * `POST /v2/project/{projectID}/user/{userID}/interact/stream` — Server-Sent Events, one
//!   `trace` event per trace as the engine emits it, then `end`;
//! * `/public/{projectID}/…` — the keyless widget routes (CORS), and `/feedback/…`;
//! * `/channels/slack/…`, `/channels/telegram/…`, `/channels/voice/…` and the web chat page
//!   `/chat/{projectID}` ([`channels`]);
//! * `/healthz`, `/readyz`, `/metrics` (Prometheus), `/cluster` (members and partition counts);
//! * the gRPC API of `proto/turnstile/v1/dialog.proto` ([`grpc_router`]), with gRPC health and
//!   server reflection.
//!
//! Errors are JSON in the DM API's shape (see [`ApiError`]). The edge contains no dialog logic:
//! it authenticates, validates and hands turns to [`Sessions`] — on a cluster node, to the
//! session's owner, which may be another node ([`cluster`]).

mod auth;
mod body;
pub mod channels;
pub mod cluster;
mod dm;
mod error;
pub mod grpc;
mod metrics;
mod query;
mod routes;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

pub use auth::Auth;
pub use dm::{DmConfig, TraceFilter};
pub use error::ApiError;
pub use grpc::grpc_router;
pub use metrics::install_metrics;
pub use routes::{http_router, router};
use turnstile_session::Sessions;

/// Request limits of the edge.
#[derive(Debug, Clone)]
pub struct EdgeLimits {
    /// Largest request body accepted (413 beyond).
    pub max_body_bytes: usize,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        EdgeLimits {
            max_body_bytes: 1024 * 1024,
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub sessions: Sessions,
    pub auth: Arc<Auth>,
    pub limits: EdgeLimits,
    /// Renders `/metrics`; `None` when no recorder is installed.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Cleared when the server starts shutting down (`/readyz` then answers 503).
    pub ready: Arc<AtomicBool>,
    /// On a cluster node: the membership view and peers. `None`: a single node.
    pub cluster: Option<Arc<cluster::ClusterHandle>>,
    /// The projects' Slack, Telegram and voice settings.
    pub channels: Arc<channels::ChannelSettings>,
}
