//! The registry: finds or spawns the actor of a session, bounds queues and resident sessions,
//! passivates idle sessions, and supervises the actors.
//!
//! Routing invariant: a request is counted in its session's queue (under the map lock) before
//! it is sent, and uncounted after the actor has finished it. A session is passivated only when
//! its count is zero under the same lock, so no request can be on its way to a stopping actor,
//! and there is never more than one actor per session.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use lru::LruCache;
use ractor::{Actor, ActorProcessingErr, ActorRef, MessagingErr, SupervisionEvent};
use tokio::sync::oneshot;
// Tokio's clock, like the sweeper's interval: idleness is measured on the same clock that
// schedules the sweeps (and tests can pause and advance it).
use tokio::time::Instant;
use turnstile_engine::SessionState;
use turnstile_store::{SessionKey, SessionStore};

use crate::actor::{ActorState, SessionActor, SessionMsg, release};
use crate::effects::SystemEffects;
use crate::placement::{Fences, Placement};
use crate::turn::{StateOp, Turn, TurnInput};
use crate::{AgentCatalog, SessionConfig, SessionError};

/// Services shared by every session actor.
pub(crate) struct Shared {
    pub store: Arc<dyn SessionStore>,
    pub catalog: Arc<AgentCatalog>,
    pub effects: SystemEffects,
    pub config: SessionConfig,
    /// Requests queued or running across all sessions.
    pub queued: AtomicUsize,
    /// In a cluster: this node's claims on partitions. `None`: a single node, commits unfenced.
    pub fences: Option<Fences>,
    /// The registry, for an actor that retires itself.
    pub registry: Arc<OnceLock<Weak<Inner>>>,
}

impl Shared {
    /// Called by an actor when it finished a request.
    pub fn finished_one(&self, queue: &AtomicUsize) {
        release(queue);
        let queued = self.queued.fetch_sub(1, Ordering::AcqRel) - 1;
        metrics::gauge!("turnstile_queued_requests").set(queued as f64);
    }

    /// Takes the failing actor `id` of `key` out of the registry at once, uncounting the
    /// requests queued for it (they are lost with it): requests sent from now on start a fresh
    /// actor. The supervisor does the same when it hears of the failure, later.
    pub fn fail(&self, key: &SessionKey, id: ractor::ActorId) {
        if let Some(inner) = self.registry.get().and_then(Weak::upgrade) {
            let mut map = inner.lock_map();
            if map.peek(key).is_some_and(|h| h.actor.get_id() == id)
                && let Some(handle) = map.pop(key)
            {
                let pending = handle.queue.swap(0, Ordering::AcqRel);
                self.queued.fetch_sub(pending, Ordering::AcqRel);
            }
        }
    }

    /// Takes the actor `id` of `key` out of the registry (it stops once its queue is done);
    /// the next request for the session starts a fresh actor.
    pub fn retire(&self, key: &SessionKey, id: ractor::ActorId) {
        if let Some(inner) = self.registry.get().and_then(Weak::upgrade) {
            let mut map = inner.lock_map();
            if map.peek(key).is_some_and(|h| h.actor.get_id() == id) {
                map.pop(key);
            }
        }
    }
}

/// A resident session.
#[derive(Clone)]
struct Handle {
    actor: ActorRef<SessionMsg>,
    queue: Arc<AtomicUsize>,
    last_used: Instant,
}

/// Spawning is serialised per shard of keys, so two first requests for one session cannot
/// spawn two actors, while different sessions spawn in parallel.
const SPAWN_SHARDS: usize = 64;

pub(crate) struct Inner {
    shared: Arc<Shared>,
    map: Mutex<LruCache<Arc<SessionKey>, Handle>>,
    spawn_locks: Vec<tokio::sync::Mutex<()>>,
    hasher: RandomState,
    supervisor: ActorRef<()>,
    closing: AtomicBool,
}

/// The sessions of this node: the entry point of the session layer.
///
/// Cloning is cheap (a shared handle).
#[derive(Clone)]
pub struct Sessions {
    inner: Arc<Inner>,
}

impl Sessions {
    /// Starts the registry (its supervisor actor and idle sweeper) for a single node: commits
    /// are not fenced.
    pub async fn start(
        store: Arc<dyn SessionStore>,
        catalog: Arc<AgentCatalog>,
        config: SessionConfig,
    ) -> Result<Sessions, SessionError> {
        Sessions::start_placed(store, catalog, config, None).await
    }

    /// Starts the registry of a cluster node: before its first commit in a partition the node
    /// claims the partition in the store, and every commit carries that claim's epoch, so a
    /// node whose claim was superseded cannot commit.
    pub async fn start_placed(
        store: Arc<dyn SessionStore>,
        catalog: Arc<AgentCatalog>,
        config: SessionConfig,
        placement: Option<Arc<dyn Placement>>,
    ) -> Result<Sessions, SessionError> {
        let registry = Arc::new(OnceLock::new());
        let shared = Arc::new(Shared {
            store,
            catalog,
            effects: SystemEffects::new()
                .map_err(|e| SessionError::internal_from("cannot set up webhook calls", e))?,
            config,
            queued: AtomicUsize::new(0),
            fences: placement.map(Fences::new),
            registry: registry.clone(),
        });
        let sweep_every = (shared.config.idle_timeout / 4)
            .clamp(Duration::from_millis(50), Duration::from_secs(5));
        let (supervisor, _join) = Actor::spawn(None, Supervisor, registry.clone())
            .await
            .map_err(|e| SessionError::internal_from("cannot start the supervisor", e))?;
        let inner = Arc::new(Inner {
            shared,
            map: Mutex::new(LruCache::unbounded()),
            spawn_locks: (0..SPAWN_SHARDS)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
            hasher: RandomState::new(),
            supervisor,
            closing: AtomicBool::new(false),
        });
        let _ = registry.set(Arc::downgrade(&inner));
        let weak = Arc::downgrade(&inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(sweep_every);
            loop {
                tick.tick().await;
                match weak.upgrade() {
                    Some(inner) if !inner.closing.load(Ordering::Acquire) => inner.sweep_idle(),
                    _ => return,
                }
            }
        });
        Ok(Sessions { inner })
    }

    /// Runs a turn: once it is queued in its session, the returned [`Turn`] streams its
    /// traces and ends when it is committed (or failed). `Err`: the turn was not queued.
    pub async fn turn(&self, key: SessionKey, input: TurnInput) -> Result<Turn, SessionError> {
        let (sender, turn) = Turn::channel();
        self.inner
            .send(&key, SessionMsg::Turn { input, sender })
            .await?;
        Ok(turn)
    }

    /// Reads or changes a session's state, in order with its turns.
    pub async fn state(
        &self,
        key: SessionKey,
        op: StateOp,
    ) -> Result<Option<SessionState>, SessionError> {
        let (reply, answer) = oneshot::channel();
        self.inner
            .send(&key, SessionMsg::State { op, reply })
            .await?;
        answer.await.map_err(|_| SessionError::Interrupted)?
    }

    /// The partitions moved to other nodes: their sessions finish what they have queued and
    /// stop, and this node's claims on them are forgotten. Returns how many sessions stop.
    /// Without placement (a single node) nothing moves.
    pub fn release_partitions(&self, lost: &[u32]) -> usize {
        let Some(fences) = &self.inner.shared.fences else {
            return 0;
        };
        if lost.is_empty() {
            return 0;
        }
        fences.release(lost);
        let lost: std::collections::HashSet<u32> = lost.iter().copied().collect();
        let moved: Vec<Handle> = {
            let mut map = self.inner.lock_map();
            let keys: Vec<Arc<SessionKey>> = map
                .iter()
                .filter(|(key, _)| lost.contains(&fences.placement.partition(key)))
                .map(|(key, _)| key.clone())
                .collect();
            keys.iter().filter_map(|key| map.pop(key)).collect()
        };
        metrics::counter!("turnstile_passivations_total", "reason" => "moved")
            .increment(moved.len() as u64);
        for handle in &moved {
            let _ = handle.actor.drain();
        }
        moved.len()
    }

    /// Sessions currently in memory.
    pub fn resident(&self) -> usize {
        self.inner.lock_map().len()
    }

    /// The agents this registry serves.
    pub fn catalog(&self) -> &Arc<AgentCatalog> {
        &self.inner.shared.catalog
    }

    /// Stops taking requests, lets every session finish what it has queued, then flushes the
    /// store.
    pub async fn shutdown(&self, grace: Duration) -> Result<(), SessionError> {
        self.inner.closing.store(true, Ordering::Release);
        let handles: Vec<Handle> = {
            let mut map = self.inner.lock_map();
            let mut all = Vec::with_capacity(map.len());
            while let Some((_, handle)) = map.pop_lru() {
                all.push(handle);
            }
            all
        };
        // Every session first gets its drain marker, then they are awaited: they drain in
        // parallel.
        for handle in &handles {
            let _ = handle.actor.drain();
        }
        let deadline = Instant::now() + grace;
        for handle in &handles {
            let left = deadline.saturating_duration_since(Instant::now());
            if handle.actor.wait(Some(left)).await.is_err() {
                tracing::warn!(actor = %handle.actor.get_id(), "a session did not drain in time");
            }
        }
        self.inner.supervisor.stop(None);
        self.inner.shared.store.flush().await?;
        Ok(())
    }
}

impl Inner {
    fn lock_map(&self) -> std::sync::MutexGuard<'_, LruCache<Arc<SessionKey>, Handle>> {
        // A panic while holding this lock cannot leave the map inconsistent (every update is a
        // single call), so a poisoned lock is still usable.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn send(&self, key: &SessionKey, mut message: SessionMsg) -> Result<(), SessionError> {
        for _ in 0..3 {
            if self.closing.load(Ordering::Acquire) {
                return Err(SessionError::ShuttingDown);
            }
            let handle = match self.acquire(key)? {
                Some(handle) => handle,
                None => self.spawn(key).await?,
            };
            match handle.actor.send_message(message) {
                Ok(()) => return Ok(()),
                // The actor stopped (it failed) between lookup and send: forget it and retry
                // with a fresh one. The message comes back inside the error.
                Err(MessagingErr::SendErr(returned)) => {
                    self.shared.finished_one(&handle.queue);
                    self.forget(key, &handle);
                    message = returned;
                }
                Err(e) => {
                    self.shared.finished_one(&handle.queue);
                    return Err(SessionError::internal_from("cannot reach the session", e));
                }
            }
        }
        Err(SessionError::internal("the session could not be started"))
    }

    /// Finds a resident session and counts one more request in its queue.
    fn acquire(&self, key: &SessionKey) -> Result<Option<Handle>, SessionError> {
        let mut map = self.lock_map();
        let Some(handle) = map.get_mut(key) else {
            return Ok(None);
        };
        let limit = self.shared.config.max_queue;
        if handle.queue.load(Ordering::Acquire) >= limit {
            return Err(SessionError::QueueFull { limit });
        }
        handle.queue.fetch_add(1, Ordering::AcqRel);
        handle.last_used = Instant::now();
        let queued = self.shared.queued.fetch_add(1, Ordering::AcqRel) + 1;
        metrics::gauge!("turnstile_queued_requests").set(queued as f64);
        Ok(Some(handle.clone()))
    }

    /// Spawns the actor of `key` (its queue counting the request about to be sent).
    async fn spawn(&self, key: &SessionKey) -> Result<Handle, SessionError> {
        let shard = self.hasher.hash_one(key) as usize % SPAWN_SHARDS;
        let _guard = self.spawn_locks[shard].lock().await;
        if let Some(handle) = self.acquire(key)? {
            return Ok(handle);
        }
        self.make_room()?;
        let queue = Arc::new(AtomicUsize::new(1));
        // One copy of the key, shared by the actor and the registry.
        let key = Arc::new(key.clone());
        let state = ActorState {
            key: key.clone(),
            shared: self.shared.clone(),
            queue: queue.clone(),
            loaded: None,
            fence: None,
        };
        let (actor, _join) =
            Actor::spawn_linked(None, SessionActor, state, self.supervisor.get_cell())
                .await
                .map_err(|e| SessionError::internal_from("cannot start a session", e))?;
        let handle = Handle {
            actor,
            queue,
            last_used: Instant::now(),
        };
        let resident = {
            let mut map = self.lock_map();
            map.put(key, handle.clone());
            map.len()
        };
        let queued = self.shared.queued.fetch_add(1, Ordering::AcqRel) + 1;
        metrics::gauge!("turnstile_queued_requests").set(queued as f64);
        metrics::gauge!("turnstile_resident_sessions").set(resident as f64);
        Ok(handle)
    }

    /// Passivates least recently used idle sessions until one more fits.
    fn make_room(&self) -> Result<(), SessionError> {
        let limit = self.shared.config.max_resident;
        let evicted = {
            let mut map = self.lock_map();
            if map.len() < limit {
                return Ok(());
            }
            let excess = map.len() + 1 - limit;
            let idle: Vec<Arc<SessionKey>> = map
                .iter()
                .rev()
                .filter(|(_, h)| h.queue.load(Ordering::Acquire) == 0)
                .take(excess)
                .map(|(k, _)| k.clone())
                .collect();
            if idle.len() < excess {
                return Err(SessionError::Overloaded { limit });
            }
            idle.iter().filter_map(|k| map.pop(k)).collect::<Vec<_>>()
        };
        metrics::counter!("turnstile_passivations_total", "reason" => "capacity")
            .increment(evicted.len() as u64);
        for handle in evicted {
            let _ = handle.actor.drain();
        }
        Ok(())
    }

    /// Passivates sessions idle for longer than the idle timeout.
    fn sweep_idle(&self) {
        let cutoff = Instant::now().checked_sub(self.shared.config.idle_timeout);
        let Some(cutoff) = cutoff else { return };
        let (evicted, resident) = {
            let mut map = self.lock_map();
            let stale: Vec<Arc<SessionKey>> = map
                .iter()
                .rev()
                .take_while(|(_, h)| h.last_used < cutoff)
                .filter(|(_, h)| h.queue.load(Ordering::Acquire) == 0)
                .map(|(k, _)| k.clone())
                .collect();
            let evicted: Vec<Handle> = stale.iter().filter_map(|k| map.pop(k)).collect();
            (evicted, map.len())
        };
        if evicted.is_empty() {
            return;
        }
        metrics::counter!("turnstile_passivations_total", "reason" => "idle")
            .increment(evicted.len() as u64);
        metrics::gauge!("turnstile_resident_sessions").set(resident as f64);
        for handle in evicted {
            let _ = handle.actor.drain();
        }
    }

    /// Drops `handle` from the map if it is still the session's actor.
    fn forget(&self, key: &SessionKey, handle: &Handle) {
        let mut map = self.lock_map();
        if map
            .peek(key)
            .is_some_and(|h| h.actor.get_id() == handle.actor.get_id())
        {
            map.pop(key);
        }
    }

    /// Drops a failed actor, wherever it is in the map.
    fn forget_actor(&self, id: ractor::ActorId) {
        let mut map = self.lock_map();
        let key = map
            .iter()
            .find(|(_, h)| h.actor.get_id() == id)
            .map(|(k, _)| k.clone());
        if let Some(key) = key
            && let Some(handle) = map.pop(&key)
        {
            // Requests still counted for it are lost with it: uncount them.
            let pending = handle.queue.swap(0, Ordering::AcqRel);
            self.shared.queued.fetch_sub(pending, Ordering::AcqRel);
        }
    }
}

/// The supervisor of every session actor. It overrides ractor's default, which would stop the
/// supervisor (and with it every session) when one child stops or fails.
struct Supervisor;

impl Actor for Supervisor {
    type Msg = ();
    /// The registry, set once it exists (it needs the supervisor's ref first).
    type State = Arc<OnceLock<Weak<Inner>>>;
    type Arguments = Arc<OnceLock<Weak<Inner>>>;

    async fn pre_start(
        &self,
        _myself: ActorRef<()>,
        registry: Self::Arguments,
    ) -> Result<Self::State, ActorProcessingErr> {
        Ok(registry)
    }

    async fn handle_supervisor_evt(
        &self,
        _myself: ActorRef<()>,
        event: SupervisionEvent,
        registry: &mut Self::State,
    ) -> Result<(), ActorProcessingErr> {
        if let SupervisionEvent::ActorFailed(cell, error) = event {
            tracing::error!(actor = %cell.get_id(), "a session failed: {error}");
            metrics::counter!("turnstile_session_failures_total").increment(1);
            if let Some(inner) = registry.get().and_then(Weak::upgrade) {
                inner.forget_actor(cell.get_id());
            }
        }
        Ok(())
    }
}
