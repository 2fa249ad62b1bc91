//! The `Dialog` service: turns, unary, streamed, and many users' turns over one stream.

use std::pin::Pin;

use futures_util::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use turnstile_proto::v1 as pb;
use turnstile_session::{SessionKey, TurnEvent, TurnInput, TurnStream};

use super::convert::{dm_config, filter, request_to_json, struct_to_json, trace_to_pb};
use crate::AppState;
use crate::dm::{TraceFilter, parse_action};
use crate::error::ApiError;
use crate::routes::{collect_turn, session_key};

/// How many answers of a `Converse` stream may wait for the client to read them.
const CONVERSE_BUFFER: usize = 1024;

pub struct DialogService {
    pub state: AppState,
}

type EventStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Authenticates a turn and builds it, exactly as the HTTP routes do.
pub(super) fn prepare(
    state: &AppState,
    metadata: &tonic::metadata::MetadataMap,
    request: pb::InteractRequest,
) -> Result<(SessionKey, TurnInput, TraceFilter), ApiError> {
    let headers = metadata.clone().into_headers();
    let project = if request.project.is_empty() {
        state.auth.project_of(&headers)?
    } else {
        state.auth.check_project(&headers, &request.project)?
    };
    let key = session_key(project, &request.user_id)?;
    let version = if request.version.is_empty() {
        "development".to_owned()
    } else {
        request.version
    };
    let agent = state.sessions.catalog().agent(&key.project, &version)?;
    let action = request_to_json(request.request.as_ref())?;
    let parsed = parse_action(Some(&action), &agent)?;
    let config = dm_config(request.config.as_ref());
    let idempotency_key = match request.idempotency_key.len() {
        0 => None,
        1..=256 => Some(request.idempotency_key),
        _ => {
            return Err(ApiError::BadRequest(
                "an idempotency key is 1 to 256 characters".into(),
            ));
        }
    };
    let input = TurnInput {
        request: parsed,
        version,
        variables: struct_to_json(request.variables.as_ref()),
        idempotency_key,
        stop_types: config.stop_types.clone(),
        stop_all: config.stop_all,
    };
    Ok((key, input, filter(&config)))
}

#[tonic::async_trait]
impl pb::dialog_server::Dialog for DialogService {
    async fn interact(
        &self,
        request: Request<pb::InteractRequest>,
    ) -> Result<Response<pb::InteractResponse>, Status> {
        let (metadata, _, message) = request.into_parts();
        let (key, input, filter) = prepare(&self.state, &metadata, message)?;
        let (traces, result) = collect_turn(&self.state, key, input).await?;
        Ok(Response::new(pb::InteractResponse {
            traces: filter
                .apply_all(&traces)
                .iter()
                .map(|t| trace_to_pb(t))
                .collect(),
            version: result.version,
            replayed: result.replayed,
        }))
    }

    type InteractStreamStream = EventStream<pb::TurnEvent>;

    async fn interact_stream(
        &self,
        request: Request<pb::InteractRequest>,
    ) -> Result<Response<Self::InteractStreamStream>, Status> {
        let (metadata, _, message) = request.into_parts();
        let (key, input, filter) = prepare(&self.state, &metadata, message)?;
        let events = self.state.turn(key, input).await.map_err(ApiError::from)?;
        let stream = futures_util::stream::unfold(Some((events, filter)), |progress| async move {
            let (mut events, filter) = progress?;
            loop {
                let (item, more) = match events.recv().await {
                    Some(TurnEvent::Trace(trace)) => match filter.apply(&trace) {
                        Some(shown) => (Ok(trace_event(trace_to_pb(&shown))), true),
                        None => continue,
                    },
                    Some(TurnEvent::Done(result)) => (
                        Ok(pb::TurnEvent {
                            event: Some(pb::turn_event::Event::Committed(pb::Committed {
                                version: result.version,
                                replayed: result.replayed,
                            })),
                        }),
                        false,
                    ),
                    Some(TurnEvent::Failed(e)) => (Err(Status::from(ApiError::from(e))), false),
                    None => (Err(session_stopped()), false),
                };
                return Some((item, more.then_some((events, filter))));
            }
        });
        Ok(Response::new(Box::pin(stream)))
    }

    type ConverseStream = EventStream<pb::ConverseResponse>;

    async fn converse(
        &self,
        request: Request<Streaming<pb::ConverseRequest>>,
    ) -> Result<Response<Self::ConverseStream>, Status> {
        let (metadata, _, mut inbound) = request.into_parts();
        let (out, answers) = mpsc::channel(CONVERSE_BUFFER);
        let state = self.state.clone();
        tokio::spawn(async move {
            // Turns are handed to their sessions in the order they arrive on the stream (each
            // hand-off is awaited, the turn is not), so one user's turns keep their order while
            // different users' turns run side by side.
            while let Ok(Some(message)) = inbound.message().await {
                let correlation_id = message.correlation_id;
                let submitted = match message.turn {
                    None => Err(ApiError::BadRequest("`turn` is required".into())),
                    Some(turn) => match prepare(&state, &metadata, turn) {
                        Ok((key, input, filter)) => state
                            .turn(key, input)
                            .await
                            .map(|events| (events, filter))
                            .map_err(ApiError::from),
                        Err(e) => Err(e),
                    },
                };
                match submitted {
                    Ok((events, filter)) => {
                        tokio::spawn(forward(correlation_id, events, filter, out.clone()));
                    }
                    Err(e) => {
                        let status = Status::from(e);
                        let _ = out.send(Ok(turn_error(correlation_id, &status))).await;
                    }
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(answers))))
    }
}

/// Sends one turn's events, tagged, into a `Converse` stream.
async fn forward(
    correlation_id: String,
    mut events: TurnStream,
    filter: TraceFilter,
    out: mpsc::Sender<Result<pb::ConverseResponse, Status>>,
) {
    use pb::converse_response::Event as E;
    while let Some(event) = events.recv().await {
        let (event, last) = match event {
            TurnEvent::Trace(trace) => match filter.apply(&trace) {
                Some(shown) => (E::Trace(trace_to_pb(&shown)), false),
                None => continue,
            },
            TurnEvent::Done(result) => (
                E::Committed(pb::Committed {
                    version: result.version,
                    replayed: result.replayed,
                }),
                true,
            ),
            TurnEvent::Failed(e) => {
                let status = Status::from(ApiError::from(e));
                let _ = out.send(Ok(turn_error(correlation_id, &status))).await;
                return;
            }
        };
        let message = pb::ConverseResponse {
            correlation_id: correlation_id.clone(),
            event: Some(event),
        };
        if out.send(Ok(message)).await.is_err() || last {
            return;
        }
    }
    let _ = out
        .send(Ok(turn_error(correlation_id, &session_stopped())))
        .await;
}

fn trace_event(trace: pb::Trace) -> pb::TurnEvent {
    pb::TurnEvent {
        event: Some(pb::turn_event::Event::Trace(trace)),
    }
}

fn turn_error(correlation_id: String, status: &Status) -> pb::ConverseResponse {
    pb::ConverseResponse {
        correlation_id,
        event: Some(pb::converse_response::Event::Error(pb::TurnError {
            code: status.code() as i32,
            message: status.message().to_owned(),
        })),
    }
}

fn session_stopped() -> Status {
    Status::internal("the session stopped before the turn finished; nothing was saved")
}
