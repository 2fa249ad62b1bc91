//! Session requests and their outcomes on the internal `Cluster` service: conversions between
//! the session layer's types and `proto/turnstile/v1/cluster.proto`.
//!
//! A forwarded turn is encoded once by its sender and decoded once by its owner; JSON travels
//! as bytes, so numbers arrive exactly as sent.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};
use turnstile_engine::{Request, SessionState, Trace};
use turnstile_proto::v1 as pb;
use turnstile_proto::v1::failure::Kind;
use turnstile_proto::v1::forward_event::Event;
use turnstile_proto::v1::forward_state_op::Kind as OpKind;
use turnstile_session::StoreError;
use turnstile_session::{BoxError, SessionError, StateOp, TurnInput, TurnResult};

/// A message from a peer that does not decode: a bug or a version mismatch between nodes.
fn garbled(what: &str, e: impl Into<BoxError>) -> SessionError {
    SessionError::internal_from(format!("a forwarded {what} does not decode"), e)
}

/// What the owner of a forwarded turn sent back: a trace, or the turn's end.
#[derive(Debug)]
pub enum TurnMessage {
    /// A trace, in the order the engine produced it.
    Trace(Trace),
    /// The turn ended: committed, or failed.
    End(Result<TurnResult, SessionError>),
}

/// A turn as its sender forwards it.
pub fn turn_to_pb(input: &TurnInput) -> pb::ForwardTurn {
    pb::ForwardTurn {
        request: serde_json::to_vec(&input.request).unwrap_or_default(),
        version: input.version.clone(),
        variables: serde_json::to_vec(&input.variables).unwrap_or_default(),
        idempotency_key: input.idempotency_key.clone().unwrap_or_default(),
        stop_types: input.stop_types.clone(),
        stop_all: input.stop_all,
    }
}

/// A forwarded turn, back as the session layer's input.
pub fn turn_from_pb(turn: pb::ForwardTurn) -> Result<TurnInput, SessionError> {
    let request: Request = serde_json::from_slice(&turn.request).map_err(|e| garbled("turn", e))?;
    Ok(TurnInput {
        request,
        version: turn.version,
        variables: json_object(&turn.variables)?,
        idempotency_key: Some(turn.idempotency_key).filter(|k| !k.is_empty()),
        stop_types: turn.stop_types,
        stop_all: turn.stop_all,
    })
}

fn json_object(bytes: &[u8]) -> Result<Map<String, Value>, SessionError> {
    if bytes.is_empty() {
        return Ok(Map::new());
    }
    serde_json::from_slice(bytes).map_err(|e| garbled("variables object", e))
}

/// A state operation as its sender forwards it.
pub fn op_to_pb(op: &StateOp) -> pb::ForwardStateOp {
    let kind = match op {
        StateOp::Get => OpKind::Get(pb::Empty {}),
        StateOp::Put(state) => OpKind::Put(serde_json::to_vec(state).unwrap_or_default()),
        StateOp::Delete => OpKind::Delete(pb::Empty {}),
        StateOp::Reset { version } => OpKind::Reset(version.clone()),
        StateOp::PatchVariables(variables) => {
            OpKind::PatchVariables(serde_json::to_vec(variables).unwrap_or_default())
        }
    };
    pb::ForwardStateOp { kind: Some(kind) }
}

/// A forwarded state operation, back as the session layer's.
pub fn op_from_pb(op: pb::ForwardStateOp) -> Result<StateOp, SessionError> {
    Ok(match op.kind {
        None | Some(OpKind::Get(_)) => StateOp::Get,
        Some(OpKind::Put(state)) => {
            StateOp::Put(serde_json::from_slice(&state).map_err(|e| garbled("state", e))?)
        }
        Some(OpKind::Delete(_)) => StateOp::Delete,
        Some(OpKind::Reset(version)) => StateOp::Reset { version },
        Some(OpKind::PatchVariables(variables)) => {
            StateOp::PatchVariables(json_object(&variables)?)
        }
    })
}

fn event(event: Event) -> pb::ForwardEvent {
    pb::ForwardEvent { event: Some(event) }
}

/// A trace of a forwarded turn, as the owner sends it back.
pub fn trace_to_pb(trace: &Trace) -> pb::ForwardEvent {
    event(Event::Trace(serde_json::to_vec(trace).unwrap_or_default()))
}

/// The end of a forwarded turn, as the owner sends it back.
pub fn turn_end_to_pb(outcome: &Result<TurnResult, SessionError>) -> pb::ForwardEvent {
    event(match outcome {
        Ok(done) => Event::Done(pb::TurnDone {
            state: serde_json::to_vec(&*done.state).unwrap_or_default(),
            version: done.version,
            replayed: done.replayed,
        }),
        Err(error) => Event::Failed(error_to_pb(error)),
    })
}

/// A message of a forwarded turn, back as the session layer's.
pub fn turn_message_from_pb(message: pb::ForwardEvent) -> TurnMessage {
    match message.event {
        Some(Event::Trace(bytes)) => match serde_json::from_slice::<Trace>(&bytes) {
            Ok(trace) => TurnMessage::Trace(trace),
            Err(e) => TurnMessage::End(Err(garbled("trace", e))),
        },
        Some(Event::Done(done)) => match serde_json::from_slice::<SessionState>(&done.state) {
            Ok(state) => TurnMessage::End(Ok(TurnResult {
                state: Arc::new(state),
                version: done.version,
                replayed: done.replayed,
            })),
            Err(e) => TurnMessage::End(Err(garbled("state", e))),
        },
        Some(Event::Failed(failure)) => TurnMessage::End(Err(error_from_pb(failure))),
        Some(Event::State(_)) | None => {
            TurnMessage::End(Err(garbled("turn event", "not a turn event")))
        }
    }
}

/// The outcome of a state operation as the owner sends it back.
pub fn state_outcome_to_pb(
    outcome: &Result<Option<SessionState>, SessionError>,
) -> pb::ForwardEvent {
    event(match outcome {
        Ok(state) => Event::State(pb::StateDone {
            state: state
                .as_ref()
                .map(|s| serde_json::to_vec(s).unwrap_or_default()),
        }),
        Err(error) => Event::Failed(error_to_pb(error)),
    })
}

/// The answer to a forwarded state operation (`None`: the stream ended without one).
pub fn state_outcome_from_pb(
    message: Option<pb::ForwardEvent>,
) -> Result<Option<SessionState>, SessionError> {
    match message.and_then(|m| m.event) {
        Some(Event::State(done)) => done
            .state
            .map(|bytes| serde_json::from_slice(&bytes).map_err(|e| garbled("state", e)))
            .transpose(),
        Some(Event::Failed(failure)) => Err(error_from_pb(failure)),
        _ => Err(SessionError::unavailable(
            "the owner stopped before answering",
        )),
    }
}

/// A session error as it crosses to the sender, kind and fields kept.
pub fn error_to_pb(error: &SessionError) -> pb::Failure {
    let mut failure = pb::Failure {
        message: error.chain(),
        ..Default::default()
    };
    let kind = match error {
        SessionError::QueueFull { limit } => {
            failure.limit = *limit as u64;
            Kind::QueueFull
        }
        SessionError::Overloaded { limit } => {
            failure.limit = *limit as u64;
            Kind::Overloaded
        }
        SessionError::DeadlineExceeded(deadline) => {
            failure.limit = deadline.as_millis() as u64;
            Kind::DeadlineExceeded
        }
        SessionError::UnknownProject(project) => {
            failure.project = project.clone();
            Kind::UnknownProject
        }
        SessionError::UnknownVersion { project, version } => {
            failure.project = project.clone();
            failure.version = version.clone();
            Kind::UnknownVersion
        }
        SessionError::InvalidState(_) => Kind::InvalidState,
        SessionError::TextTooLong { limit } => {
            failure.limit = *limit as u64;
            Kind::TextTooLong
        }
        SessionError::Store(e) if e.is_conflict() || e.is_fenced() => Kind::Conflict,
        SessionError::Store(_) => Kind::Store,
        SessionError::ShuttingDown => Kind::ShuttingDown,
        SessionError::Moved | SessionError::Unavailable { .. } => Kind::Unavailable,
        SessionError::Interrupted => Kind::Interrupted,
        SessionError::Internal { .. } => Kind::Internal,
    };
    failure.kind = kind as i32;
    failure
}

/// A forwarded session error, back as the session layer's.
pub fn error_from_pb(failure: pb::Failure) -> SessionError {
    let kind = Kind::try_from(failure.kind).unwrap_or(Kind::Internal);
    match kind {
        Kind::QueueFull => SessionError::QueueFull {
            limit: failure.limit as usize,
        },
        Kind::Overloaded => SessionError::Overloaded {
            limit: failure.limit as usize,
        },
        Kind::DeadlineExceeded => {
            SessionError::DeadlineExceeded(Duration::from_millis(failure.limit))
        }
        Kind::UnknownProject => SessionError::UnknownProject(failure.project),
        Kind::UnknownVersion => SessionError::UnknownVersion {
            project: failure.project,
            version: failure.version,
        },
        Kind::InvalidState => {
            SessionError::InvalidState(strip(&failure.message, "invalid state: "))
        }
        Kind::TextTooLong => SessionError::TextTooLong {
            limit: failure.limit as usize,
        },
        // The owner's copy was stale: the same as a session that moved — retry.
        Kind::Conflict | Kind::Unavailable => SessionError::unavailable(failure.message),
        Kind::Store => SessionError::Store(StoreError::backend_message(failure.message)),
        Kind::ShuttingDown => SessionError::ShuttingDown,
        Kind::Interrupted => SessionError::Interrupted,
        Kind::Internal => SessionError::internal(strip(&failure.message, "the turn failed: ")),
    }
}

/// The message without the prefix its `Display` adds (so it is not added twice).
fn strip(message: &str, prefix: &str) -> String {
    message.strip_prefix(prefix).unwrap_or(message).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn turns_cross_unchanged() {
        let request = Request::from_json(&json!({
            "type": "event",
            "payload": {"event": {"name": "order", "data": {"id": 12345678901234567_u64, "x": 1.5}}}
        }))
        .unwrap();
        let mut input = TurnInput::new(request);
        input
            .variables
            .insert("n".into(), json!(9007199254740993_u64));
        input.idempotency_key = Some("k-1".into());
        input.stop_types = vec!["calendar".into()];
        let back = turn_from_pb(turn_to_pb(&input)).unwrap();
        assert_eq!(back.request, input.request);
        assert_eq!(back.variables, input.variables);
        assert_eq!(back.idempotency_key, input.idempotency_key);
        assert_eq!(back.stop_types, input.stop_types);
        assert_eq!(back.version, "development");
    }

    #[test]
    fn errors_keep_their_kind() {
        let cases = [
            SessionError::QueueFull { limit: 7 },
            SessionError::DeadlineExceeded(Duration::from_millis(1500)),
            SessionError::UnknownVersion {
                project: "p".into(),
                version: "production".into(),
            },
            SessionError::InvalidState("no stack".into()),
            SessionError::TextTooLong { limit: 4096 },
            SessionError::ShuttingDown,
            SessionError::internal("boom"),
            SessionError::Interrupted,
        ];
        for error in cases {
            let back = error_from_pb(error_to_pb(&error));
            assert_eq!(back.to_string(), error.to_string());
        }
        let conflict = SessionError::Store(StoreError::Conflict {
            expected: 1,
            found: 2,
        });
        assert!(matches!(
            error_from_pb(error_to_pb(&conflict)),
            SessionError::Unavailable { .. }
        ));
    }
}
