//! The gRPC API (`proto/turnstile/v1/dialog.proto`): the `Dialog` and `State` services, gRPC
//! health and server reflection. Errors are gRPC statuses with messages: `UNAUTHENTICATED`,
//! `PERMISSION_DENIED`, `INVALID_ARGUMENT`, `NOT_FOUND`, `RESOURCE_EXHAUSTED` (a full session
//! queue), `UNAVAILABLE`, `DEADLINE_EXCEEDED`, `INTERNAL`.

pub mod convert;
mod dialog;
mod state;

use turnstile_proto::v1::dialog_server::DialogServer;
use turnstile_proto::v1::state_server::StateServer;

use crate::AppState;

/// The gRPC services as axum routes, to serve on the HTTP listener or on a listener of their own.
pub fn grpc_router(state: AppState) -> axum::Router {
    let (health_reporter, health) = tonic_health::server::health_reporter();
    // Both services are served for as long as the process runs; `/readyz` covers shutdown.
    tokio::spawn(async move {
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
    let routes = tonic::service::Routes::new(DialogServer::new(dialog::DialogService {
        state: state.clone(),
    }))
    .add_service(StateServer::new(state::StateService {
        state: state.clone(),
    }))
    .add_service(health)
    .add_service(reflection);
    // A cluster node also serves the internal forwarding service (one router: axum cannot merge
    // two gRPC routers, each has a fallback).
    let routes = match &state.cluster {
        Some(cluster) => routes.add_service(crate::cluster::cluster_server(
            state.sessions.clone(),
            cluster.clone(),
        )),
        None => routes,
    };
    routes.into_axum_router()
}
