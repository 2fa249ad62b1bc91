//! turnstile's edge: every way in — the Voiceflow Dialog Manager API over HTTP, Server-Sent
//! Events, the gRPC API, the channels (Slack, Telegram, telephony, web chat) and, on a cluster
//! node, the internal forwarding service — leading to one [`Dispatch`].
//!
//! A request goes through three steps, each written once:
//! 1. [`extract`]: who is calling, which session, which agent version, which idempotency key,
//!    the body under its limit;
//! 2. [`Dispatch`] ([`turn`](mod@turn)): the turn or state operation runs where the session
//!    lives — here, or on its owner node;
//! 3. the answer: the [`Turn`](turnstile_session::Turn)'s traces rendered as the API's shape
//!    (JSON, SSE events, gRPC messages, platform messages), or an [`ApiError`].
//!
//! Routes (see `docs/api.md`):
//! * `POST /state/user/{userID}/interact` — one turn; the bare array of traces (`?verbose=true`:
//!   `{state, trace, request}`);
//! * `GET | PUT | POST | DELETE /state/user/{userID}`, `PATCH /state/user/{userID}/variables`;
//! * `POST /v2/project/{projectID}/user/{userID}/interact/stream` — Server-Sent Events;
//! * `/public/{projectID}/…` — the keyless widget routes (CORS), and `/feedback/…`;
//! * `/channels/slack/…`, `/channels/telegram/…`, `/channels/voice/…` and the web chat page
//!   `/chat/{projectID}`;
//! * `/healthz`, `/readyz`, `/metrics` (Prometheus), `/cluster` (members and partition counts);
//! * the gRPC API of `proto/turnstile/v1/dialog.proto`, with gRPC health and server reflection.
//!
//! The edge contains no dialog logic: it authenticates, validates and hands turns to the
//! session layer.

#![forbid(unsafe_code)]

mod app;
mod auth;
mod channels;
pub mod cluster;
mod dm;
mod error;
pub mod extract;
mod grpc;
mod metrics;
mod routes;
mod sse;
pub mod turn;

pub use app::{grpc_router, http_router, router};
pub use auth::Auth;
pub use channels::ChannelSettings;
pub use dm::{DmConfig, TraceFilter};
pub use error::ApiError;
pub use extract::{AppState, EdgeLimits};
pub use metrics::install_metrics;
pub use turn::Dispatch;
