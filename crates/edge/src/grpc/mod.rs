//! The gRPC API (`proto/turnstile/v1/dialog.proto`): the `Dialog` and `State` services, gRPC
//! health and server reflection, and the internal `Cluster` service of a cluster node. Errors
//! are gRPC statuses with messages: `UNAUTHENTICATED`, `PERMISSION_DENIED`, `INVALID_ARGUMENT`,
//! `NOT_FOUND`, `RESOURCE_EXHAUSTED` (a full session queue), `UNAVAILABLE`,
//! `DEADLINE_EXCEEDED`, `INTERNAL`.

mod dialog;
mod internal;
mod state;

use tonic::service::Routes;
use turnstile_proto::v1::dialog_server::DialogServer;
use turnstile_proto::v1::state_server::StateServer;

use crate::extract::AppState;

/// The public gRPC services, health and reflection — and on a cluster node the internal
/// service — as one set of routes (axum cannot merge two gRPC routers: each has a fallback).
pub(crate) fn services(state: &AppState) -> Routes {
    let (health_reporter, health) = tonic_health::server::health_reporter();
    // Both services are served for as long as the process runs; `/readyz` covers shutdown.
    state.tasks.spawn(async move {
        health_reporter
            .set_serving::<DialogServer<dialog::DialogService>>()
            .await;
        health_reporter
            .set_serving::<StateServer<state::StateService>>()
            .await;
    });
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(turnstile_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("the compiled descriptor sets are valid");
    let routes = Routes::new(DialogServer::new(dialog::DialogService {
        state: state.clone(),
    }))
    .add_service(StateServer::new(state::StateService {
        state: state.clone(),
    }))
    .add_service(health)
    .add_service(reflection);
    match internal_service(state) {
        Some(internal) => routes.add_service(internal),
        None => routes,
    }
}

/// The internal `Cluster` service alone (`None` on a single node).
pub(crate) fn internal_routes(state: &AppState) -> Option<Routes> {
    internal_service(state).map(Routes::new)
}

fn internal_service(state: &AppState) -> Option<internal::InternalService> {
    let cluster = state.dispatch.cluster()?.clone();
    Some(internal::cluster_server(state.clone(), cluster))
}
