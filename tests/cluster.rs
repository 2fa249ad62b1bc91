//! Three real nodes sharing a private PostgreSQL: any node serves any session, the owner runs
//! it, and one conversation stays one conversation whichever node each turn goes through. The
//! internal `Cluster/Forward` service only serves callers with the nodes' secret, and checks
//! what they send like the public APIs do.

mod support;

use std::collections::HashMap;
use std::process::Command;

use serde_json::{Value, json};
use support::cluster::{Cluster, SECRET, ready_members};
use support::said;
use turnstile_cluster::{Ring, partition_of};
use turnstile_proto::v1::cluster_client::ClusterClient;
use turnstile_proto::v1::dialog_client::DialogClient;
use turnstile_proto::v1::forward_event::Event;
use turnstile_proto::v1::forward_request::Op;
use turnstile_proto::v1::forward_state_op::Kind as OpKind;
use turnstile_proto::v1::request::Kind;
use turnstile_proto::v1::trace::Payload;
use turnstile_proto::v1::{
    Empty, ForwardEvent, ForwardRequest, ForwardStateOp, ForwardTurn, InteractRequest, Request,
    StateDone, Text,
};

async fn interact(node: &support::Server, user: &str, action: Value) -> Vec<Value> {
    node.interact(user, action).await
}

fn grpc_text(user: &str, text: &str) -> InteractRequest {
    InteractRequest {
        user_id: user.into(),
        request: Some(Request {
            kind: Some(Kind::Text(Text { text: text.into() })),
        }),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_serve_one_conversation_and_spread_sessions() {
    let cluster = Cluster::start("e2e", 3).await;
    let (n1, n2, n3) = (cluster.node(0), cluster.node(1), cluster.node(2));

    // Every node sees the same three ready members and the partitions split between them.
    for node in [n1, n2, n3] {
        let (status, view) = node.get("/cluster", &[]).await;
        assert_eq!(status, 200);
        assert_eq!(view["clustered"], true);
        assert_eq!(ready_members(&view), 3, "{view}");
        let owned: u64 = view["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["partitions"].as_u64().unwrap())
            .sum();
        assert_eq!(owned, 4096);
    }

    // The pizza conversation of one user, each turn through another node, over HTTP then gRPC.
    let user = "ada";
    let traces = interact(n1, user, json!({"type": "launch"})).await;
    assert_eq!(said(&traces), ["Welcome to Pizza Palace!"]);
    let order = traces[1]["payload"]["buttons"][0]["request"].clone();
    let traces = interact(n2, user, order).await;
    assert_eq!(said(&traces), ["What size would you like?"]);
    let mut grpc = DialogClient::connect(n3.url("")).await.unwrap();
    let answer = grpc
        .interact(grpc_text(user, "huge"))
        .await
        .expect("gRPC through the third node")
        .into_inner();
    let messages: Vec<String> = answer
        .traces
        .iter()
        .filter_map(|t| match &t.payload {
            Some(Payload::Text(text)) => Some(text.message.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(messages, ["Great, a large pizza. What is your name?"]);
    let traces = interact(n1, user, json!({"type": "text", "payload": "Ada"})).await;
    assert_eq!(
        said(&traces),
        ["Thanks Ada, your large pizza is on its way!"]
    );
    // The state reads the same through every node: one session, four committed turns.
    for node in [n1, n2, n3] {
        let (status, state) = node.get(&format!("/state/user/{user}"), &[]).await;
        assert_eq!(status, 200);
        assert_eq!(state["variables"]["name"], "Ada", "{state}");
        assert_eq!(state["variables"]["size"], "large");
    }

    // 300 users, each launched through a node chosen round-robin: every session lives on the
    // owner the ring names, so each node holds exactly its share.
    let ring = Ring::new(["n1", "n2", "n3"]);
    let mut expected: HashMap<String, usize> = HashMap::new();
    let users: Vec<String> = (0..300).map(|i| format!("user-{i}")).collect();
    for (i, user) in users.iter().enumerate() {
        let node = cluster.node(i % 3);
        let traces = interact(node, user, json!({"type": "launch"})).await;
        assert_eq!(said(&traces), ["Welcome to Pizza Palace!"]);
        let owner = ring.owner(partition_of("default", user)).unwrap();
        *expected.entry(owner.to_owned()).or_default() += 1;
    }
    *expected
        .entry(
            ring.owner(partition_of("default", "ada"))
                .unwrap()
                .to_owned(),
        )
        .or_default() += 1;
    assert_eq!(
        expected.len(),
        3,
        "300 users fall on all three owners: {expected:?}"
    );
    for (i, node) in [n1, n2, n3].into_iter().enumerate() {
        let (_, ready) = node.get("/readyz", &[]).await;
        let id = Cluster::node_id(i);
        assert_eq!(
            ready["residentSessions"].as_u64().unwrap() as usize,
            expected[&id],
            "{id} holds exactly the sessions it owns"
        );
    }

    // The operator's view of the same.
    let output = Command::new(env!("CARGO_BIN_EXE_turnstile"))
        .args(["cluster", "status", &n2.url("")])
        .output()
        .unwrap();
    assert!(output.status.success());
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(
        table.starts_with("seen from n2: 3 members, 4096 partitions"),
        "{table}"
    );
    for id in ["n1", "n2", "n3"] {
        assert!(
            table
                .lines()
                .any(|l| l.starts_with(id) && l.contains("ready")),
            "{table}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_leave_hands_sessions_over_without_errors() {
    let mut cluster = Cluster::start("leave", 3).await;
    let users: Vec<String> = (0..30).map(|i| format!("leaver-{i}")).collect();
    for user in &users {
        let traces = interact(cluster.node(0), user, json!({"type": "launch"})).await;
        assert_eq!(said(&traces), ["Welcome to Pizza Palace!"]);
    }
    // SIGTERM: the node announces `draining`, its partitions move, it finishes and exits 0.
    let status = cluster.nodes[2].as_mut().unwrap().terminate();
    assert!(status.success(), "{status}");
    cluster.nodes[2] = None;
    cluster
        .wait_converged(2, std::time::Duration::from_secs(10))
        .await;
    // Every conversation continues through the remaining nodes, from its committed state.
    for user in &users {
        let traces = interact(
            cluster.node(1),
            user,
            json!({"type": "text", "payload": "I want a pizza"}),
        )
        .await;
        assert_eq!(said(&traces), ["What size would you like?"], "{user}");
    }
}

/// The node of `cluster` that owns `user` of `project`, by the same ring the nodes compute.
fn owner_of(cluster: &Cluster, project: &str, user: &str) -> usize {
    let ids: Vec<String> = (0..cluster.ports.len()).map(Cluster::node_id).collect();
    let owner = Ring::new(ids.iter().map(String::as_str))
        .owner(partition_of(project, user))
        .unwrap()
        .to_owned();
    ids.iter().position(|id| *id == owner).unwrap()
}

fn state_get() -> Op {
    Op::State(ForwardStateOp {
        kind: Some(OpKind::Get(Empty {})),
    })
}

fn turn_of(request: Value) -> Op {
    Op::Turn(ForwardTurn {
        request: request.to_string().into_bytes(),
        version: "development".into(),
        ..Default::default()
    })
}

/// Calls `Cluster/Forward` on `node` as an outsider would: with `secret` (or none) in the
/// metadata. Returns the events of an accepted call.
async fn forward(
    node: &support::Server,
    secret: Option<&str>,
    project: &str,
    user: &str,
    op: Op,
) -> Result<Vec<ForwardEvent>, tonic::Status> {
    let mut client = ClusterClient::connect(node.url("")).await.unwrap();
    let mut request = tonic::Request::new(ForwardRequest {
        project: project.into(),
        user_id: user.into(),
        hops: 0,
        from_node: "outsider".into(),
        op: Some(op),
    });
    if let Some(secret) = secret {
        request
            .metadata_mut()
            .insert("turnstile-cluster-secret", secret.parse().unwrap());
    }
    let mut stream = client.forward(request).await?.into_inner();
    let mut events = Vec::new();
    while let Some(event) = stream.message().await? {
        events.push(event);
    }
    Ok(events)
}

const ALPHA_KEY: (&str, &str) = ("authorization", "VF.DM.alpha.secret");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_calls_without_the_secret_are_refused_and_change_nothing() {
    let cluster = Cluster::start_keyed("forward-secret", 3).await;
    let traces = cluster
        .node(0)
        .post(
            "/state/user/ada/interact",
            r#"{"action": {"type": "launch"}}"#,
            &[ALPHA_KEY],
        )
        .await;
    assert_eq!(traces.0, 200, "{}", traces.1);
    let (_, before) = cluster.node(0).get("/state/user/ada", &[ALPHA_KEY]).await;
    assert!(before["stack"].is_array(), "{before}");
    let owner = cluster.node(owner_of(&cluster, "alpha", "ada"));

    // An outsider without alpha's key, on the owner's public port: read, overwrite, run a turn.
    let mut forged = before.clone();
    forged["variables"]["name"] = json!("mallory");
    let put = || {
        Op::State(ForwardStateOp {
            kind: Some(OpKind::Put(forged.to_string().into_bytes())),
        })
    };
    for secret in [None, Some("a-wrong-secret-0123456789")] {
        for op in [state_get(), put(), turn_of(json!({"type": "launch"}))] {
            let refused = forward(owner, secret, "alpha", "ada", op)
                .await
                .expect_err("refused");
            assert_eq!(refused.code(), tonic::Code::Unauthenticated, "{refused:?}");
            assert!(
                refused.message().contains("cluster secret"),
                "{secret:?}: {}",
                refused.message()
            );
        }
    }
    let (_, after) = cluster.node(1).get("/state/user/ada", &[ALPHA_KEY]).await;
    assert_eq!(after, before, "nothing changed");

    // The nodes' own secret opens the service: the refusals above were the secret's.
    let events = forward(owner, Some(SECRET), "alpha", "ada", state_get())
        .await
        .expect("the nodes' secret is accepted");
    let Some(Event::State(StateDone { state: Some(bytes) })) =
        events.first().and_then(|e| e.event.clone())
    else {
        panic!("a state: {events:?}");
    };
    let state: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(state, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forward_calls_with_the_secret_are_checked_like_public_ones() {
    let cluster = Cluster::start_keyed("forward-checks", 3).await;
    let at = |project: &str, user: &str| cluster.node(owner_of(&cluster, project, user));
    let refused = |result: Result<Vec<ForwardEvent>, tonic::Status>| {
        result.expect_err("the owner refuses the request")
    };

    // User ids: the public APIs' rule.
    for user in ["has space", "", &"x".repeat(129)] {
        for op in [state_get(), turn_of(json!({"type": "launch"}))] {
            let status = refused(forward(at("alpha", user), Some(SECRET), "alpha", user, op).await);
            assert_eq!(
                status.code(),
                tonic::Code::InvalidArgument,
                "{user:?}: {status:?}"
            );
            assert!(status.message().contains("invalid userID"), "{status:?}");
        }
    }

    // An action type the agent does not know.
    let unknown = turn_of(json!({"type": "no-such-action"}));
    let status = refused(forward(at("alpha", "bob"), Some(SECRET), "alpha", "bob", unknown).await);
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    assert!(
        status
            .message()
            .contains("unknown action type `no-such-action`"),
        "{status:?}"
    );
    // Nothing ran for bob.
    let (_, state) = cluster.node(0).get("/state/user/bob", &[ALPHA_KEY]).await;
    assert_eq!(state, json!({}));

    // A project or version that does not exist: NOT_FOUND, as over the public API.
    for op in [state_get(), turn_of(json!({"type": "launch"}))] {
        let status = refused(forward(at("gamma", "bob"), Some(SECRET), "gamma", "bob", op).await);
        assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}");
        assert!(status.message().contains("gamma"), "{status:?}");
    }
    let mut other_version = ForwardTurn {
        request: br#"{"type": "launch"}"#.to_vec(),
        ..Default::default()
    };
    other_version.version = "v9".into();
    let status = refused(
        forward(
            at("alpha", "bob"),
            Some(SECRET),
            "alpha",
            "bob",
            Op::Turn(other_version),
        )
        .await,
    );
    assert_eq!(status.code(), tonic::Code::NotFound, "{status:?}");

    // The same request, valid, runs: the refusals were the checks'.
    let events = forward(
        at("alpha", "carol"),
        Some(SECRET),
        "alpha",
        "carol",
        turn_of(json!({"type": "launch"})),
    )
    .await
    .expect("a valid forwarded turn runs");
    assert!(
        matches!(
            events.last().and_then(|e| e.event.as_ref()),
            Some(Event::Done(_))
        ),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reachable_node_without_a_secret_does_not_start() {
    let dir = support::TempDir::new("no-secret");
    let agent = support::repo("examples/agents/pizza.yaml");
    let projects = format!(
        "[[projects]]\nid = \"alpha\"\nagent = {agent:?}\napi_keys = [\"VF.DM.alpha.secret\"]\n"
    );
    let config = support::write(dir.path(), "turnstile.toml", &projects);
    let serve = |env: &[(&str, &str)]| {
        Command::new(env!("CARGO_BIN_EXE_turnstile"))
            .args([
                "serve",
                "--config",
                config.to_str().unwrap(),
                "--node-id",
                "n1",
            ])
            .args(["--listen", "0.0.0.0:0", "--advertise", "127.0.0.1:1"])
            .args(["--store", "postgres://turnstile@127.0.0.1:1/turnstile"])
            .env_remove("TURNSTILE_CLUSTER_SECRET")
            .envs(env.iter().copied())
            .output()
            .unwrap()
    };
    let output = serve(&[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("refusing to join a cluster on 0.0.0.0:0 without a cluster secret"),
        "{stderr}"
    );
    assert!(stderr.contains("TURNSTILE_CLUSTER_SECRET"), "{stderr}");
    assert!(stderr.contains("[cluster] secret"), "{stderr}");
    // A secret too short to be one is refused too.
    let output = serve(&[("TURNSTILE_CLUSTER_SECRET", "short")]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(
        stderr.contains("invalid TURNSTILE_CLUSTER_SECRET"),
        "{stderr}"
    );

    // With `[cluster] secret` in the file, the same node starts.
    let pg = turnstile_testkit::PgServer::start();
    let database = pg.create_database("secret_file");
    let port = support::cluster::free_port();
    let with_secret = format!("{projects}\n[cluster]\nsecret = \"{SECRET}\"\n");
    let config = support::write(dir.path(), "secret.toml", &with_secret);
    let (listen, advertise) = (format!("0.0.0.0:{port}"), format!("127.0.0.1:{port}"));
    let node = support::Server::start(&[
        "--config",
        config.to_str().unwrap(),
        "--node-id",
        "n1",
        "--listen",
        &listen,
        "--advertise",
        &advertise,
        "--store",
        &database,
    ]);
    let (status, _) = node.get("/readyz", &[]).await;
    assert_eq!(status, 200);
}
