//! The `State` service: a session's state, read and changed in order with its turns.

use serde_json::Value;
use tonic::{Request, Response, Status};
use turnstile_engine::SessionState;
use turnstile_proto::v1 as pb;
use turnstile_session::{SessionKey, StateOp};

use super::convert::{json_to_struct, struct_to_json};
use crate::AppState;
use crate::error::ApiError;
use crate::routes::{parse_state, session_key};

pub struct StateService {
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
        let project = if project.is_empty() {
            self.state.auth.project_of(&headers)?
        } else {
            self.state.auth.check_project(&headers, project)?
        };
        session_key(project, user)
    }

    async fn run(
        &self,
        key: SessionKey,
        op: StateOp,
    ) -> Result<Response<pb::StateResponse>, Status> {
        let state = self.state.state_op(key, op).await.map_err(ApiError::from)?;
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
