//! The HTTP routes of the Dialog Manager API, the keyless widget routes and the operations
//! endpoints.

mod interact;
mod ops;
mod public;
mod state;
mod stream;

use axum::Router;
use axum::routing::{get, patch, post};

use crate::extract::AppState;

/// Every DM API, widget and operations route.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
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
            patch(state::patch_variables),
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
}

pub(crate) use ops::not_found;
