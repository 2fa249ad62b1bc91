//! Three real nodes sharing a private PostgreSQL: any node serves any session, the owner runs
//! it, and one conversation stays one conversation whichever node each turn goes through.

mod support;

use std::collections::HashMap;
use std::process::Command;

use serde_json::{Value, json};
use support::cluster::{Cluster, ready_members};
use support::said;
use turnstile_cluster::{Ring, partition_of};
use turnstile_proto::v1::dialog_client::DialogClient;
use turnstile_proto::v1::request::Kind;
use turnstile_proto::v1::trace::Payload;
use turnstile_proto::v1::{InteractRequest, Request, Text};

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
