//! The session actor: owns one conversation, runs its requests one at a time, commits each
//! turn before acknowledging it.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use futures_util::FutureExt;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use tokio::sync::oneshot;
use turnstile_engine::{
    SessionState, Trace, TraceSink, TurnError, TurnOptions, initial_state, run_turn,
};
use turnstile_store::{Commit, Fence, SessionKey, TurnRecord};

use crate::SessionError;
use crate::registry::Shared;
use crate::turn::{StateOp, TurnInput, TurnResult, TurnSender};

/// Messages a session actor handles, in mailbox order.
pub(crate) enum SessionMsg {
    Turn {
        input: TurnInput,
        sender: TurnSender,
    },
    State {
        op: StateOp,
        reply: oneshot::Sender<Result<Option<SessionState>, SessionError>>,
    },
}

pub(crate) struct SessionActor;

/// The actor's state: its key, the shared services, and the session as last committed.
pub(crate) struct ActorState {
    pub key: Arc<SessionKey>,
    pub shared: Arc<Shared>,
    /// Requests routed to this actor and not yet finished (owned with the registry).
    pub queue: Arc<AtomicUsize>,
    /// Loaded lazily on the first request, so spawning never touches the store.
    pub loaded: Option<Loaded>,
    /// In a cluster: the claim this actor commits under, taken at its first commit and kept
    /// while it drains after its partition moved away (the store refuses it once the new owner
    /// has claimed the partition).
    pub fence: Option<Fence>,
}

/// The committed session: its state and the store version (0 = never committed).
pub(crate) struct Loaded {
    state: Arc<SessionState>,
    version: u64,
}

impl Actor for SessionActor {
    type Msg = SessionMsg;
    type State = ActorState;
    type Arguments = ActorState;

    async fn pre_start(
        &self,
        _myself: ActorRef<SessionMsg>,
        args: ActorState,
    ) -> Result<ActorState, ActorProcessingErr> {
        Ok(args)
    }

    async fn handle(
        &self,
        myself: ActorRef<SessionMsg>,
        message: SessionMsg,
        st: &mut ActorState,
    ) -> Result<(), ActorProcessingErr> {
        let stale = match message {
            SessionMsg::Turn { input, sender } => {
                let started = Instant::now();
                // Boxed: the turn future (engine, HTTP client) is large, and unboxed it would be
                // part of every idle actor's task, whether or not a turn is running.
                let outcome =
                    failing_first(st.watch(&myself), Box::pin(st.run_turn(input, &sender)));
                let outcome = match outcome.await {
                    Ok(outcome) => outcome,
                    Err(panic) => {
                        // Only now, out of the registry, does the client hear of the failure.
                        drop(sender);
                        std::panic::resume_unwind(panic);
                    }
                };
                let label = match &outcome {
                    Ok(done) if done.replayed => "replayed",
                    Ok(_) => "ok",
                    Err(_) => "error",
                };
                metrics::counter!("turnstile_turns_total", "outcome" => label).increment(1);
                metrics::histogram!("turnstile_turn_duration_seconds").record(started.elapsed());
                let stale = outcome.as_ref().is_err_and(lost_ownership);
                sender.finish(outcome);
                stale
            }
            SessionMsg::State { op, reply } => {
                let outcome =
                    match failing_first(st.watch(&myself), Box::pin(st.state_op(op))).await {
                        Ok(outcome) => outcome,
                        Err(panic) => {
                            drop(reply);
                            std::panic::resume_unwind(panic);
                        }
                    };
                let stale = outcome.as_ref().is_err_and(lost_ownership);
                let _ = reply.send(outcome);
                stale
            }
        };
        st.shared.finished_one(&st.queue);
        if stale {
            // Another writer got ahead (another node owns the session now, or committed over
            // this actor's copy): this actor retires. New requests start a fresh one, which
            // loads what the store holds; what is already queued here still runs first.
            metrics::counter!("turnstile_passivations_total", "reason" => "stale").increment(1);
            st.shared.retire(&st.key, myself.get_id());
            let _ = myself.drain();
        }
        Ok(())
    }
}

/// Runs `work`; if it panics, takes this actor out of the registry before handing the panic back.
///
/// The caller holds the request's reply and drops it only after this, so a client that sees
/// its request fail and sends the next one reaches a fresh actor (which reloads the session
/// from the store). Left to the supervisor, the dying actor stayed in the registry a moment
/// longer, and a request sent in that moment went into its mailbox and was lost with it.
async fn failing_first<T>(
    (shared, key, id): (Arc<Shared>, Arc<SessionKey>, ractor::ActorId),
    work: impl Future<Output = T>,
) -> Result<T, Box<dyn std::any::Any + Send>> {
    AssertUnwindSafe(work)
        .catch_unwind()
        .await
        .inspect_err(|_| shared.fail(&key, id))
}

/// Whether a failure means this actor's copy or claim is stale.
fn lost_ownership(error: &SessionError) -> bool {
    matches!(error, SessionError::Store(e) if e.is_conflict() || e.is_fenced())
}

/// Forwards traces to the client as they are produced, keeping a copy when the turn has an
/// idempotency key (the record must hold the exact answer).
struct ForwardingSink<'a> {
    sender: &'a TurnSender,
    kept: Option<Vec<Trace>>,
}

impl TraceSink for ForwardingSink<'_> {
    fn emit(&mut self, trace: Trace) {
        if let Some(kept) = &mut self.kept {
            kept.push(trace.clone());
        }
        self.sender.trace(trace);
    }
}

impl ActorState {
    /// What [`failing_first`] needs to take this actor out of the registry.
    fn watch(
        &self,
        myself: &ActorRef<SessionMsg>,
    ) -> (Arc<Shared>, Arc<SessionKey>, ractor::ActorId) {
        (self.shared.clone(), self.key.clone(), myself.get_id())
    }

    async fn loaded(&mut self) -> Result<&mut Loaded, SessionError> {
        if self.loaded.is_none() {
            let stored = self.shared.store.load(&self.key).await?;
            let loaded = match stored {
                None => Loaded {
                    state: Arc::default(),
                    version: 0,
                },
                Some(stored) => Loaded {
                    state: Arc::new(serde_json::from_slice(&stored.state).map_err(|e| {
                        SessionError::internal_from("stored state does not parse", e)
                    })?),
                    version: stored.version,
                },
            };
            self.loaded = Some(loaded);
        }
        Ok(self.loaded.as_mut().expect("just loaded"))
    }

    async fn run_turn(
        &mut self,
        input: TurnInput,
        sender: &TurnSender,
    ) -> Result<TurnResult, SessionError> {
        let shared = self.shared.clone();
        let key = self.key.clone();
        let key = &*key;
        let loaded = self.loaded().await?;
        if let Some(idempotency_key) = &input.idempotency_key
            && let Some(record) = shared.store.find_turn(key, idempotency_key).await?
        {
            let traces: Vec<Trace> = serde_json::from_slice(&record.response)
                .map_err(|e| SessionError::internal_from("stored turn does not parse", e))?;
            for trace in traces {
                sender.trace(trace);
            }
            return Ok(TurnResult {
                state: loaded.state.clone(),
                version: loaded.version,
                replayed: true,
            });
        }
        let agent = shared.catalog.agent(&key.project, &input.version)?;
        // The turn works on a copy: a turn that fails or runs past its deadline leaves the
        // session as it was.
        let mut state = SessionState::clone(&loaded.state);
        state.variables.extend(input.variables);
        let deadline = shared.config.turn_deadline;
        let options = TurnOptions {
            user_id: key.user.clone(),
            max_steps: shared.config.max_steps,
            stop_types: input.stop_types,
            stop_all: input.stop_all,
            max_text_chars: shared.config.max_text_chars,
            // The engine stops itself at the deadline in its CPU-bound parts (classifying text,
            // running nodes), where the timer below cannot fire because nothing yields.
            deadline: Instant::now().checked_add(deadline),
            ..TurnOptions::default()
        };
        let mut sink = ForwardingSink {
            sender,
            kept: input.idempotency_key.as_ref().map(|_| Vec::new()),
        };
        let turn = run_turn(
            &agent,
            &mut state,
            input.request,
            &shared.effects,
            &mut sink,
            &options,
        );
        // The timer covers what the turn awaits (webhooks, API steps).
        let outcome = tokio::time::timeout(deadline, turn)
            .await
            .map_err(|_| SessionError::DeadlineExceeded(deadline))?;
        match outcome.error {
            None => {}
            Some(TurnError::TextTooLong { limit }) => {
                return Err(SessionError::TextTooLong { limit });
            }
            Some(TurnError::DeadlineExceeded) => {
                return Err(SessionError::DeadlineExceeded(deadline));
            }
        }
        let record = match (input.idempotency_key, sink.kept) {
            (Some(idempotency_key), Some(traces)) => Some(TurnRecord {
                idempotency_key,
                response: serde_json::to_vec(&traces)
                    .map_err(|e| SessionError::internal_from("cannot encode the turn record", e))?,
            }),
            _ => None,
        };
        let state = Arc::new(state);
        let version = self.commit(state.clone(), record).await?;
        Ok(TurnResult {
            state,
            version,
            replayed: false,
        })
    }

    /// Commits `state` over the loaded version. On any failure the cached copy is dropped, so
    /// the next request reloads what the store really holds.
    async fn commit(
        &mut self,
        state: Arc<SessionState>,
        record: Option<TurnRecord>,
    ) -> Result<u64, SessionError> {
        let expected_version = self.loaded.as_ref().map_or(0, |l| l.version);
        let bytes = serde_json::to_vec(&*state)
            .map_err(|e| SessionError::internal_from("cannot encode the state", e))?;
        let fence = self.fence().await?;
        let started = Instant::now();
        let result = self
            .shared
            .store
            .commit(
                &self.key,
                Commit {
                    state: bytes,
                    expected_version,
                    record,
                    fence,
                },
            )
            .await;
        metrics::histogram!("turnstile_store_commit_seconds").record(started.elapsed());
        match result {
            Ok(version) => {
                self.loaded = Some(Loaded { state, version });
                Ok(version)
            }
            Err(e) => {
                self.loaded = None;
                if e.is_fenced()
                    && let (Some(fence), Some(fences)) = (self.fence.take(), &self.shared.fences)
                {
                    fences.invalidate(fence);
                }
                Err(e.into())
            }
        }
    }

    /// The fence of this actor's commits (`None` on a single node).
    async fn fence(&mut self) -> Result<Option<Fence>, SessionError> {
        let Some(fences) = &self.shared.fences else {
            return Ok(None);
        };
        if self.fence.is_none() {
            self.fence = Some(fences.fence(&*self.shared.store, &self.key).await?);
        }
        Ok(self.fence)
    }

    async fn state_op(&mut self, op: StateOp) -> Result<Option<SessionState>, SessionError> {
        match op {
            StateOp::Get => {
                let loaded = self.loaded().await?;
                Ok((loaded.version > 0).then(|| SessionState::clone(&loaded.state)))
            }
            StateOp::Put(state) => {
                self.loaded().await?;
                self.commit(Arc::new(state.clone()), None).await?;
                Ok(Some(state))
            }
            StateOp::Delete => {
                self.shared.store.delete(&self.key).await?;
                self.loaded = Some(Loaded {
                    state: Arc::default(),
                    version: 0,
                });
                Ok(None)
            }
            StateOp::Reset { version } => {
                let agent = self.shared.catalog.agent(&self.key.project, &version)?;
                let mut state = initial_state(&agent, &self.key.user);
                let loaded = self.loaded().await?;
                // Variables survive a reset, as they survive a launch.
                let mut variables = loaded.state.variables.clone();
                variables.extend(std::mem::take(&mut state.variables));
                state.variables = variables;
                self.commit(Arc::new(state.clone()), None).await?;
                Ok(Some(state))
            }
            StateOp::PatchVariables(variables) => {
                let mut state = SessionState::clone(&self.loaded().await?.state);
                state.variables.extend(variables);
                self.commit(Arc::new(state.clone()), None).await?;
                Ok(Some(state))
            }
        }
    }
}

/// Decrements a queue counter that was incremented when a request was routed.
pub(crate) fn release(queue: &AtomicUsize) {
    queue.fetch_sub(1, Ordering::AcqRel);
}
