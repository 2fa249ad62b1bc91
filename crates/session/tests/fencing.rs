//! Fencing on a real PostgreSQL: two registries (two nodes) that both believe they own the same
//! session — a split view — cannot both commit the same version. Whoever claimed the partition
//! last commits; the other's actor retires and its request fails with a retryable error.

use std::collections::BTreeSet;
use std::sync::Arc;

use turnstile_engine::{Request, load_agent_str};
use turnstile_session::{
    AgentCatalog, Placement, Project, SessionConfig, SessionError, SessionKey, Sessions, TurnInput,
};
use turnstile_store::{PostgresStore, SessionStore};
use turnstile_testkit::PgServer;

/// A split view: this node believes it owns every partition.
struct OwnsEverything(&'static str);

impl Placement for OwnsEverything {
    fn node_id(&self) -> &str {
        self.0
    }
    fn partition(&self, key: &SessionKey) -> u32 {
        key.user.len() as u32
    }
    fn owns(&self, _partition: u32) -> bool {
        true
    }
}

async fn node(url: &str, id: &'static str) -> Sessions {
    // The program chooses the process's TLS crypto provider; the session layer only checks it.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let agent = load_agent_str(
        "count.yaml",
        "variables: [n]\nflows:\n  main:\n    steps:\n      - id: count\n        set: { n: n + 1 }\n      - say: \"{n}\"\n      - capture: x\n        goto: count\n",
    )
    .unwrap();
    let store: Arc<dyn SessionStore> = Arc::new(PostgresStore::connect(url).await.unwrap());
    let catalog = AgentCatalog::new([Project::single("p", Arc::new(agent))]);
    Sessions::start_placed(
        store,
        Arc::new(catalog),
        SessionConfig::default(),
        Some(Arc::new(OwnsEverything(id))),
    )
    .await
    .unwrap()
}

/// Runs a turn of `user`; the committed version and what it said, or the error.
async fn turn(sessions: &Sessions, request: Request) -> Result<(u64, String), SessionError> {
    let key = SessionKey::new("p", "split");
    let collected = sessions
        .turn(key, TurnInput::new(request))
        .await?
        .collect()
        .await?;
    let said = collected
        .traces
        .iter()
        .filter_map(|t| t.message())
        .collect();
    Ok((collected.result.version, said))
}

fn text() -> Request {
    Request::Text("again".into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_claimant_commits_and_the_stale_owner_retires() {
    let pg = PgServer::start();
    let url = pg.create_database("fencing_sequence");
    let (a, b) = (node(&url, "a").await, node(&url, "b").await);

    assert_eq!(turn(&a, Request::Launch).await.unwrap(), (1, "1".into()));
    // B takes the partition over (claims a newer epoch) and continues from the store.
    assert_eq!(turn(&b, text()).await.unwrap(), (2, "2".into()));
    // A's actor still holds version 1 and the old epoch: its commit is refused.
    let stale = turn(&a, text()).await.unwrap_err();
    assert!(
        matches!(&stale, SessionError::Store(e) if e.is_fenced()),
        "{stale}"
    );
    // Retried, A starts a fresh actor, claims again and continues from version 2: nothing
    // committed by B is overwritten.
    assert_eq!(turn(&a, text()).await.unwrap(), (3, "3".into()));
    // Now B is the stale one.
    assert!(turn(&b, text()).await.is_err());
    assert_eq!(turn(&b, text()).await.unwrap(), (4, "4".into()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_owners_never_commit_the_same_version() {
    let pg = PgServer::start();
    let url = pg.create_database("fencing_race");
    let (a, b) = (node(&url, "a").await, node(&url, "b").await);
    turn(&a, Request::Launch).await.unwrap();
    // Both nodes drive the same session as fast as they can, retrying refused turns.
    let drive = |sessions: Sessions| async move {
        let mut committed = Vec::new();
        let mut refused = 0;
        while committed.len() < 40 {
            match turn(&sessions, text()).await {
                Ok((version, said)) => committed.push((version, said)),
                Err(_) => refused += 1,
            }
        }
        (committed, refused)
    };
    let (ra, rb) = tokio::join!(tokio::spawn(drive(a)), tokio::spawn(drive(b)));
    let ((ca, refused_a), (cb, refused_b)) = (ra.unwrap(), rb.unwrap());
    let versions: BTreeSet<u64> = ca.iter().chain(&cb).map(|(v, _)| *v).collect();
    // 80 successful turns: 80 distinct versions, 2..=81, each saying its own count.
    assert_eq!(versions.len(), 80, "two commits of one version");
    assert_eq!(versions, (2..=81).collect::<BTreeSet<u64>>());
    for (version, said) in ca.iter().chain(&cb) {
        assert_eq!(
            said,
            &version.to_string(),
            "each turn saw the previous commit"
        );
    }
    println!("refused: a {refused_a}, b {refused_b}");
}
