//! The one place where the server's routes are mounted: the DM API and operations routes, the
//! channels, the gRPC services and, on a cluster node, the internal forwarding service.

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use tower_http::cors::{AllowHeaders, AllowOrigin, CorsLayer};

use crate::channels::{self, ChannelSettings};
use crate::extract::AppState;
use crate::{grpc, routes};

/// Every route of the edge on one listener: HTTP and gRPC.
pub fn router(state: AppState, channels: Arc<ChannelSettings>) -> Router {
    let grpc = grpc::services(&state).into_axum_router();
    with_layers(http_routes(state, channels).merge(grpc))
}

/// The HTTP API, for when gRPC has a listener of its own. A cluster node also serves the
/// internal service here: nodes forward to each other on the advertised (HTTP) address.
pub fn http_router(state: AppState, channels: Arc<ChannelSettings>) -> Router {
    let internal = grpc::internal_routes(&state);
    let app = http_routes(state, channels);
    let app = match internal {
        Some(internal) => app.merge(internal.into_axum_router()),
        None => app,
    };
    with_layers(app)
}

/// The gRPC services alone, for a listener of their own.
pub fn grpc_router(state: AppState) -> Router {
    grpc::services(&state).into_axum_router()
}

fn http_routes(state: AppState, settings: Arc<ChannelSettings>) -> Router {
    let channels = channels::routes(state.clone(), settings);
    routes::routes().with_state(state).merge(channels)
}

/// The fallback, CORS, and the body limit lifted so that the 413 answer is ours (JSON): bodies
/// are read by the extractors under the configured limit.
fn with_layers(app: Router) -> Router {
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
    app.fallback(routes::not_found)
        .layer(DefaultBodyLimit::disable())
        .layer(cors)
}
