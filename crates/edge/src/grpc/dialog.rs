//! The `Dialog` service: turns, unary, streamed, and many users' turns over one stream.

use std::pin::Pin;

use futures_util::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use turnstile_proto::v1 as pb;
use turnstile_session::{CollectedTurn, DEFAULT_VERSION, SessionKey, Turn, TurnInput};
use turnstile_wire::{request_to_json, struct_to_json, trace_to_pb};

use crate::dm::{DmConfig, DmTurn, TraceFilter};
use crate::error::{ApiError, status_of};
use crate::extract::{AppState, idempotency_key, keyed_session};

/// How many answers of a `Converse` stream may wait for the client to read them.
const CONVERSE_BUFFER: usize = 1024;

/// The `Dialog` service over the server's state.
pub(crate) struct DialogService {
    pub state: AppState,
}

type EventStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// Authenticates a turn and builds it, exactly as the HTTP routes do.
fn prepare(
    state: &AppState,
    metadata: &tonic::metadata::MetadataMap,
    request: pb::InteractRequest,
) -> Result<(SessionKey, TurnInput, TraceFilter), ApiError> {
    let headers = metadata.clone().into_headers();
    let key = keyed_session(
        &state.auth,
        &headers,
        Some(&request.project),
        &request.user_id,
    )?;
    let version = if request.version.is_empty() {
        DEFAULT_VERSION.to_owned()
    } else {
        request.version
    };
    let action = request_to_json(request.request.as_ref())
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let config = dm_config(request.config.as_ref());
    let input = DmTurn {
        version,
        action: Some(&action),
        config: &config,
        variables: struct_to_json(request.variables.as_ref()),
        idempotency_key: Some(request.idempotency_key)
            .filter(|k| !k.is_empty())
            .map(idempotency_key)
            .transpose()?,
    }
    .input(state.dispatch.catalog(), &key.project, &state.limits)?;
    Ok((key, input, TraceFilter::new(&config)))
}

/// The trace filter and custom-action settings a `TurnConfig` asks for.
fn dm_config(config: Option<&pb::TurnConfig>) -> DmConfig {
    let config = config.cloned().unwrap_or_default();
    DmConfig {
        strip_ssml: Some(!config.keep_ssml),
        stop_all: config.stop_all,
        stop_types: config.stop_types,
        exclude_types: if config.all_types {
            Some(Vec::new())
        } else if config.exclude_types.is_empty() {
            None
        } else {
            Some(config.exclude_types)
        },
        ..DmConfig::default()
    }
}

#[tonic::async_trait]
impl pb::dialog_server::Dialog for DialogService {
    async fn interact(
        &self,
        request: Request<pb::InteractRequest>,
    ) -> Result<Response<pb::InteractResponse>, Status> {
        let (metadata, _, message) = request.into_parts();
        let (key, input, filter) = prepare(&self.state, &metadata, message)?;
        let CollectedTurn { traces, result } = self
            .state
            .dispatch
            .run(key, input)
            .await
            .map_err(status_of)?;
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
        let turn = self
            .state
            .dispatch
            .turn(key, input)
            .await
            .map_err(status_of)?;
        let stream =
            futures_util::stream::unfold(Some((turn, filter)), |progress| async move {
                let (mut turn, filter) = progress?;
                loop {
                    match turn.next_trace().await {
                        Some(trace) => {
                            if let Some(shown) = filter.apply(&trace) {
                                let event = pb::turn_event::Event::Trace(trace_to_pb(&shown));
                                let item = Ok(pb::TurnEvent { event: Some(event) });
                                return Some((item, Some((turn, filter))));
                            }
                        }
                        None => {
                            let item = turn.finish().await.map_err(status_of).map(|result| {
                                pb::TurnEvent {
                                    event: Some(pb::turn_event::Event::Committed(pb::Committed {
                                        version: result.version,
                                        replayed: result.replayed,
                                    })),
                                }
                            });
                            return Some((item, None));
                        }
                    }
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
        self.state.tasks.spawn(async move {
            // Turns are handed to their sessions in the order they arrive on the stream (each
            // hand-off is awaited, the turn is not), so one user's turns keep their order while
            // different users' turns run side by side.
            while let Ok(Some(message)) = inbound.message().await {
                let correlation_id = message.correlation_id;
                let submitted = match message.turn {
                    None => Err(ApiError::BadRequest("`turn` is required".into())),
                    Some(turn) => match prepare(&state, &metadata, turn) {
                        Ok((key, input, filter)) => state
                            .dispatch
                            .turn(key, input)
                            .await
                            .map(|turn| (turn, filter))
                            .map_err(ApiError::from),
                        Err(e) => Err(e),
                    },
                };
                match submitted {
                    Ok((turn, filter)) => {
                        state
                            .tasks
                            .spawn(answer(correlation_id, turn, filter, out.clone()));
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

/// Sends one turn's traces and end, tagged, into a `Converse` stream.
async fn answer(
    correlation_id: String,
    mut turn: Turn,
    filter: TraceFilter,
    out: mpsc::Sender<Result<pb::ConverseResponse, Status>>,
) {
    use pb::converse_response::Event as E;
    let message = |event| pb::ConverseResponse {
        correlation_id: correlation_id.clone(),
        event: Some(event),
    };
    while let Some(trace) = turn.next_trace().await {
        if let Some(shown) = filter.apply(&trace)
            && out
                .send(Ok(message(E::Trace(trace_to_pb(&shown)))))
                .await
                .is_err()
        {
            // The client went away; the turn still runs to its commit.
            return;
        }
    }
    let last = match turn.finish().await {
        Ok(result) => message(E::Committed(pb::Committed {
            version: result.version,
            replayed: result.replayed,
        })),
        Err(e) => turn_error(correlation_id.clone(), &status_of(e)),
    };
    let _ = out.send(Ok(last)).await;
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
