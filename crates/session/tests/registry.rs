//! The registry's guarantees: passivation, the resident cap, deadlines, and a failing session
//! that takes nothing else down.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use turnstile_engine::{Request, SessionState, load_agent_str};
use turnstile_session::{
    AgentCatalog, Project, SessionConfig, SessionError, SessionKey, Sessions, StateOp, TurnInput,
};
use turnstile_store::{Commit, MemoryStore, SessionStore, StoreError, StoredSession, TurnRecord};

/// Counts turns in `n`, and waits on the webhook when the user is `slow`.
fn agent(webhook: &str) -> Arc<turnstile_engine::Agent> {
    let yaml = format!(
        r#"
settings:
  webhook: {{ url: "{webhook}", timeout_ms: 10000 }}
variables: [n]
flows:
  main:
    steps:
      - id: count
        set: {{ n: n + 1 }}
      - condition:
          - if: user_id == "slow"
            goto: hook
        else: tell
      - id: hook
        webhook: {{}}
      - id: tell
        say: "{{n}}"
      - capture: anything
        goto: count
"#
    );
    Arc::new(load_agent_str("counter.yaml", &yaml).unwrap())
}

/// A webhook that answers after `delay` (the slowness is what the tests exercise), and how
/// many requests it has received.
async fn slow_webhook(delay: Duration) -> (String, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::time::sleep(delay).await;
                "{}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), calls)
}

async fn start(store: Arc<dyn SessionStore>, config: SessionConfig, webhook: &str) -> Sessions {
    // The program chooses the process's TLS crypto provider; the session layer only checks it.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let catalog = AgentCatalog::new([Project::single("p", agent(webhook))]);
    Sessions::start(store, Arc::new(catalog), config)
        .await
        .unwrap()
}

fn key(user: &str) -> SessionKey {
    SessionKey::new("p", user)
}

/// Runs a turn; returns what it said, or the error.
async fn turn(
    sessions: &Sessions,
    user: &str,
    request: Request,
) -> Result<Vec<String>, SessionError> {
    let turn = sessions.turn(key(user), TurnInput::new(request)).await?;
    let collected = turn.collect().await?;
    Ok(collected
        .traces
        .iter()
        .filter_map(|t| t.message().map(str::to_owned))
        .collect())
}

fn text() -> Request {
    Request::Text("+".into())
}

// Paused time: the idle timeout and the sweeps run on tokio's clock, which advances as soon
// as every task waits, so the test neither sleeps nor depends on the machine's speed.
#[tokio::test(start_paused = true)]
async fn idle_sessions_are_passivated_and_come_back_from_the_store() {
    let idle_timeout = Duration::from_secs(60);
    let config = SessionConfig {
        idle_timeout,
        ..SessionConfig::default()
    };
    let sessions = start(Arc::new(MemoryStore::new()), config, "http://127.0.0.1:9/").await;
    assert_eq!(turn(&sessions, "a", Request::Launch).await.unwrap(), ["1"]);
    assert_eq!(turn(&sessions, "a", text()).await.unwrap(), ["2"]);
    assert_eq!(sessions.resident(), 1);
    // Not before the idle timeout…
    tokio::time::advance(idle_timeout / 2).await;
    assert_eq!(sessions.resident(), 1, "passivated before its idle timeout");
    // …but within a sweep or two after it.
    turnstile_testkit::wait_until(
        idle_timeout,
        "the idle session was never passivated",
        || sessions.resident() == 0,
    )
    .await;
    // Its next request loads it again, exactly where it was.
    assert_eq!(turn(&sessions, "a", text()).await.unwrap(), ["3"]);
    assert_eq!(sessions.resident(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resident_sessions_are_capped_least_recently_used_first() {
    let config = SessionConfig {
        max_resident: 3,
        ..SessionConfig::default()
    };
    let sessions = start(Arc::new(MemoryStore::new()), config, "http://127.0.0.1:9/").await;
    for user in ["a", "b", "c", "d", "e"] {
        turn(&sessions, user, Request::Launch).await.unwrap();
        assert!(sessions.resident() <= 3);
    }
    // Every session, resident or not, continues where it was.
    for user in ["a", "b", "c", "d", "e"] {
        assert_eq!(
            turn(&sessions, user, text()).await.unwrap(),
            ["2"],
            "{user}"
        );
    }
    assert_eq!(sessions.resident(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_session_is_refused_while_every_resident_one_is_busy() {
    let (hook, calls) = slow_webhook(Duration::from_millis(800)).await;
    let config = SessionConfig {
        max_resident: 1,
        ..SessionConfig::default()
    };
    let sessions = start(Arc::new(MemoryStore::new()), config, &hook).await;
    let busy = {
        let sessions = sessions.clone();
        tokio::spawn(async move { turn(&sessions, "slow", Request::Launch).await })
    };
    // The slow session is busy once its turn is waiting on the webhook.
    turnstile_testkit::wait_until(
        Duration::from_secs(10),
        "the slow turn never called its webhook",
        || calls.load(Ordering::SeqCst) == 1,
    )
    .await;
    let refused = turn(&sessions, "other", Request::Launch).await;
    assert!(
        matches!(refused, Err(SessionError::Overloaded { limit: 1 })),
        "{refused:?}"
    );
    assert_eq!(busy.await.unwrap().unwrap(), ["1"]);
    // Once the busy one is idle it can make room.
    assert_eq!(
        turn(&sessions, "other", Request::Launch).await.unwrap(),
        ["1"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_past_its_deadline_fails_and_saves_nothing() {
    let (hook, _) = slow_webhook(Duration::from_millis(1000)).await;
    let config = SessionConfig {
        turn_deadline: Duration::from_millis(200),
        ..SessionConfig::default()
    };
    let store = Arc::new(MemoryStore::new());
    let sessions = start(store.clone(), config, &hook).await;
    let late = turn(&sessions, "slow", Request::Launch).await;
    assert!(
        matches!(late, Err(SessionError::DeadlineExceeded(_))),
        "{late:?}"
    );
    assert_eq!(
        store.load(&key("slow")).await.unwrap(),
        None,
        "nothing was committed"
    );
    assert_eq!(
        sessions.state(key("slow"), StateOp::Get).await.unwrap(),
        None
    );
}

/// The memory store, except that committing for user `boom` panics while `armed` — a fault
/// injected to prove that one session's failure stays its own.
struct Faulty {
    inner: MemoryStore,
    armed: AtomicBool,
}

#[async_trait::async_trait]
impl SessionStore for Faulty {
    async fn load(&self, key: &SessionKey) -> Result<Option<StoredSession>, StoreError> {
        self.inner.load(key).await
    }
    async fn commit(&self, key: &SessionKey, commit: Commit) -> Result<u64, StoreError> {
        if key.user == "boom" && self.armed.swap(false, Ordering::SeqCst) {
            panic!("injected fault");
        }
        self.inner.commit(key, commit).await
    }
    async fn delete(&self, key: &SessionKey) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }
    async fn claim_partition(&self, partition: u32, owner: &str) -> Result<u64, StoreError> {
        self.inner.claim_partition(partition, owner).await
    }
    async fn find_turn(
        &self,
        key: &SessionKey,
        id: &str,
    ) -> Result<Option<TurnRecord>, StoreError> {
        self.inner.find_turn(key, id).await
    }
    async fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush().await
    }
    async fn count(&self) -> Result<u64, StoreError> {
        self.inner.count().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_turn_fails_that_request_only() {
    let store = Arc::new(Faulty {
        inner: MemoryStore::new(),
        armed: AtomicBool::new(false),
    });
    let sessions = start(
        store.clone(),
        SessionConfig::default(),
        "http://127.0.0.1:9/",
    )
    .await;
    turn(&sessions, "boom", Request::Launch).await.unwrap();
    turn(&sessions, "calm", Request::Launch).await.unwrap();
    store.armed.store(true, Ordering::SeqCst);
    let failed = turn(&sessions, "boom", text()).await;
    assert!(failed.is_err(), "{failed:?}");
    // The other session never noticed; the failed one is reloaded from the store, where the
    // failed turn left nothing.
    assert_eq!(turn(&sessions, "calm", text()).await.unwrap(), ["2"]);
    assert_eq!(turn(&sessions, "boom", text()).await.unwrap(), ["2"]);
    let state: SessionState = sessions
        .state(key("boom"), StateOp::Get)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.variables["n"], 2);
}

/// A placement whose partition is the user id's length, owning what `owned` allows.
struct Switchable {
    owned: std::sync::Mutex<Vec<u32>>,
}

impl turnstile_session::Placement for Switchable {
    fn node_id(&self) -> &str {
        "me"
    }
    fn partition(&self, key: &SessionKey) -> u32 {
        key.user.len() as u32
    }
    fn owns(&self, partition: u32) -> bool {
        self.owned.lock().unwrap().contains(&partition)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_of_lost_partitions_stop_and_claims_need_ownership() {
    let placement = Arc::new(Switchable {
        owned: std::sync::Mutex::new(vec![1, 2]),
    });
    let _ = rustls::crypto::ring::default_provider().install_default();
    let catalog = AgentCatalog::new([Project::single("p", agent("http://127.0.0.1:9/"))]);
    let sessions = Sessions::start_placed(
        Arc::new(MemoryStore::new()),
        Arc::new(catalog),
        SessionConfig::default(),
        Some(placement.clone()),
    )
    .await
    .unwrap();
    for user in ["a", "b", "cc", "dd"] {
        turn(&sessions, user, Request::Launch).await.unwrap();
    }
    assert_eq!(sessions.resident(), 4);
    // Partition 2 moves away: its two sessions stop, partition 1's stay.
    placement.owned.lock().unwrap().retain(|p| *p != 2);
    assert_eq!(sessions.release_partitions(&[2]), 2);
    assert_eq!(sessions.resident(), 2);
    assert_eq!(turn(&sessions, "a", text()).await.unwrap(), ["2"]);
    // A request that still reaches this node for a lost partition cannot claim it.
    let refused = turn(&sessions, "cc", text()).await.unwrap_err();
    assert!(matches!(refused, SessionError::Moved), "{refused}");
    // Once the partition is back, the session continues from the store.
    placement.owned.lock().unwrap().push(2);
    assert_eq!(turn(&sessions, "cc", text()).await.unwrap(), ["2"]);
}
