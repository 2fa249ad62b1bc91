//! The `State` service: a session's state, read and changed in order with its turns.

use serde_json::Value;
use tonic::{Request, Response, Status};
use turnstile_engine::SessionState;
use turnstile_proto::v1 as pb;
use turnstile_session::{SessionKey, StateOp};
use turnstile_wire::{json_to_struct, struct_to_json};

use crate::dm::parse_state;
use crate::error::{ApiError, status_of};
use crate::extract::{AppState, keyed_session};

/// The `State` service over the server's state.
pub(crate) struct StateService {
    pub state: AppState,
}

impl StateService {
    fn key(
        &self,
        metadata: &tonic::metadata::MetadataMap,
        project: &str,
        user: &str,
    ) -> Result<SessionKey, ApiError> {
        let headers = metadata.clone().into_headers();
        keyed_session(&self.state.auth, &headers, Some(project), user)
    }

    async fn run(
        &self,
        key: SessionKey,
        op: StateOp,
    ) -> Result<Response<pb::StateResponse>, Status> {
        let state = self
            .state
            .dispatch
            .state(key, op)
            .await
            .map_err(status_of)?;
        Ok(Response::new(answer(state)))
    }
}

fn answer(state: Option<SessionState>) -> pb::StateResponse {
    match state.and_then(|s| serde_json::to_value(s).ok()) {
        Some(Value::Object(map)) => pb::StateResponse {
            exists: true,
            state: Some(json_to_struct(&map)),
        },
        _ => pb::StateResponse::default(),
    }
}

#[tonic::async_trait]
impl pb::state_server::State for StateService {
    async fn get(
        &self,
        request: Request<pb::StateRequest>,
    ) -> Result<Response<pb::StateResponse>, Status> {
        let (metadata, _, m) = request.into_parts();
        let key = self.key(&metadata, &m.project, &m.user_id)?;
        self.run(key, StateOp::Get).await
    }

    async fn put(
        &self,
        request: Request<pb::PutStateRequest>,
    ) -> Result<Response<pb::StateResponse>, Status> {
        let (metadata, _, m) = request.into_parts();
        let key = self.key(&metadata, &m.project, &m.user_id)?;
        let state = parse_state(Value::Object(struct_to_json(m.state.as_ref())))?;
        self.run(key, StateOp::Put(state)).await
    }

    async fn delete(
        &self,
        request: Request<pb::StateRequest>,
    ) -> Result<Response<pb::StateResponse>, Status> {
        let (metadata, _, m) = request.into_parts();
        let key = self.key(&metadata, &m.project, &m.user_id)?;
        self.run(key, StateOp::Delete).await
    }

    async fn update_variables(
        &self,
        request: Request<pb::UpdateVariablesRequest>,
    ) -> Result<Response<pb::StateResponse>, Status> {
        let (metadata, _, m) = request.into_parts();
        let key = self.key(&metadata, &m.project, &m.user_id)?;
        self.run(
            key,
            StateOp::PatchVariables(struct_to_json(m.variables.as_ref())),
        )
        .await
    }
}
