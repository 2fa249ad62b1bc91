//! The DM API over HTTP against the real binary: the pizza conversation, the state routes, the
//! public widget routes, bad input, and project isolation.

mod support;

use serde_json::{Value, json};
use support::*;

#[tokio::test]
async fn pizza_conversation_with_action_and_legacy_request_bodies() {
    let data = TempDir::new("pizza");
    let server = Server::pizza(data.path());
    for (field, user) in [("action", "ada"), ("request", "bob")] {
        let turn = |action: Value| {
            let body = json!({ field: action }).to_string();
            let server = &server;
            async move {
                let (status, traces) = server
                    .post(&format!("/state/user/{user}/interact"), &body, &[])
                    .await;
                assert_eq!(status, 200, "{traces}");
                traces.as_array().cloned().unwrap()
            }
        };
        let traces = turn(json!({"type": "launch"})).await;
        assert_eq!(said(&traces), ["Welcome to Pizza Palace!"]);
        assert_eq!(traces[1]["type"], "choice");
        let order = traces[1]["payload"]["buttons"][0]["request"].clone();
        let traces = turn(order).await;
        assert_eq!(said(&traces), ["What size would you like?"]);
        let traces = turn(json!({"type": "text", "payload": "huge"})).await;
        assert_eq!(said(&traces), ["Great, a large pizza. What is your name?"]);
        let traces = turn(json!({"type": "text", "payload": user})).await;
        assert_eq!(
            said(&traces),
            [format!("Thanks {user}, your large pizza is on its way!")]
        );
        assert_eq!(traces.last().unwrap()["type"], "end");
        // Default config: no block/debug/flow traces, but path traces are kept.
        assert!(
            traces
                .iter()
                .all(|t| !matches!(t["type"].as_str(), Some("block" | "debug" | "flow")))
        );
        assert!(traces.iter().any(|t| t["type"] == "path"));
    }
}

#[tokio::test]
async fn verbose_config_and_state_variables() {
    let data = TempDir::new("verbose");
    let server = Server::pizza(data.path());
    let body = json!({
        "action": {"type": "launch"},
        "config": {"excludeTypes": ["choice"]},
        "state": {"variables": {"coupon": "SPRING"}}
    });
    let (status, answer) = server
        .post(
            "/state/user/v1/interact?verbose=true",
            &body.to_string(),
            &[],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer["request"], json!({"type": "launch"}));
    assert_eq!(answer["state"]["variables"]["coupon"], "SPRING");
    let types: Vec<&str> = answer["trace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    // The caller's list replaces the default one: choice is gone, block and flow are back.
    assert!(!types.contains(&"choice"), "{types:?}");
    assert!(
        types.contains(&"text") && types.contains(&"block"),
        "{types:?}"
    );
    // An empty excludeTypes shows everything, including block and flow traces.
    let body = json!({"action": {"type": "launch"}, "config": {"excludeTypes": []}});
    let (_, traces) = server
        .post("/state/user/v1/interact", &body.to_string(), &[])
        .await;
    let types: Vec<&str> = traces
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"block") && types.contains(&"flow"),
        "{types:?}"
    );
}

#[tokio::test]
async fn state_routes_round_trip() {
    let data = TempDir::new("state");
    let server = Server::pizza(data.path());
    let (status, empty) = server.get("/state/user/s1", &[]).await;
    assert_eq!((status, empty), (200, json!({})));
    // POST resets: a new session at the start of the agent.
    let (status, state) = server.post("/state/user/s1", "", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(state["stack"][0]["diagramID"], "main");
    assert_eq!(state["stack"][0]["nodeID"], "welcome");
    assert_eq!(state["variables"]["sessions"], 1);
    // PATCH merges variables.
    let (status, state) = server
        .send(
            reqwest::Method::PATCH,
            "/state/user/s1/variables",
            Some(r#"{"name": "Ada", "size": "small"}"#),
            &[],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(state["variables"]["name"], "Ada");
    // PUT replaces; an invalid state is refused and changes nothing.
    let (status, error) = server
        .send(
            reqwest::Method::PUT,
            "/state/user/s1",
            Some(r#"{"stack": [{}], "storage": {}, "variables": {}}"#),
            &[],
        )
        .await;
    assert_eq!(status, 400, "{error}");
    assert!(error["data"].as_str().unwrap().contains("diagramID"));
    let put = json!({"stack": [{"diagramID": "order", "nodeID": "name", "storage": {}, "variables": {}}],
                     "storage": {}, "variables": {"size": "medium"}});
    let (status, _) = server
        .send(
            reqwest::Method::PUT,
            "/state/user/s1",
            Some(&put.to_string()),
            &[],
        )
        .await;
    assert_eq!(status, 200);
    // The conversation continues from the state that was put.
    let traces = server
        .interact("s1", json!({"type": "text", "payload": "Zed"}))
        .await;
    assert_eq!(
        said(&traces),
        ["Thanks Zed, your medium pizza is on its way!"]
    );
    // DELETE: 200, then there is no state.
    let (status, _) = server
        .send(reqwest::Method::DELETE, "/state/user/s1", None, &[])
        .await;
    assert_eq!(status, 200);
    assert_eq!(server.get("/state/user/s1", &[]).await, (200, json!({})));
}

#[tokio::test]
async fn public_widget_routes_answer_with_cors() {
    let data = TempDir::new("public");
    let server = Server::pizza(data.path());
    let response = server
        .client
        .post(server.url("/public/default/state/user/w1/interact"))
        .header("origin", "https://shop.example")
        .body(r#"{"action": {"type": "launch"}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    let body: Value = serde_json::from_str(&response.text().await.unwrap()).unwrap();
    assert_eq!(
        said(body["trace"].as_array().unwrap()),
        ["Welcome to Pizza Palace!"]
    );
    assert_eq!(
        server.get("/public/default/publishing", &[]).await,
        (200, json!({}))
    );
    let (status, _) = server.post("/public/default/transcripts", "{}", &[]).await;
    assert_eq!(status, 200);
    let (status, _) = server
        .post("/feedback/default/user/w1", r#"{"name": "thumbs up"}"#, &[])
        .await;
    assert_eq!(status, 200);
    let (status, error) = server
        .post("/public/nope/state/user/w1/interact", "{}", &[])
        .await;
    assert_eq!(status, 404, "{error}");
}

#[tokio::test]
async fn bad_input_gets_a_clear_json_error_and_the_session_is_intact() {
    let data = TempDir::new("bad");
    let server = Server::pizza(data.path());
    server.interact("u1", json!({"type": "launch"})).await;
    let (_, before) = server.get("/state/user/u1", &[]).await;
    let huge = format!(
        r#"{{"action": {{"type": "text", "payload": "{}"}}}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    let cases: Vec<(&str, String, u16, &str)> = vec![
        (
            "/state/user/u1/interact",
            r#"{"action": "#.into(),
            400,
            "invalid JSON",
        ),
        ("/state/user/u1/interact", "".into(), 400, "JSON object"),
        (
            "/state/user/u1/interact",
            r#"{"config": {}}"#.into(),
            400,
            "needs an `action`",
        ),
        (
            "/state/user/u1/interact",
            r#"{"action": {"type": "teleport"}}"#.into(),
            400,
            "unknown action type `teleport`",
        ),
        (
            "/state/user/u1/interact",
            r#"{"action": {"type": "text", "payload": 7}}"#.into(),
            400,
            "string `payload`",
        ),
        (
            "/state/user/u1/interact",
            r#"{"action": {"type": "event", "payload": {"event": {"name": "order status!"}}}}"#
                .into(),
            400,
            "invalid event name",
        ),
        (
            "/state/user/u1/interact",
            huge,
            413,
            "larger than 1048576 bytes",
        ),
        (
            "/state/user/has%20space/interact",
            r#"{"action": {"type": "launch"}}"#.into(),
            400,
            "invalid userID",
        ),
        ("/state/user/", String::new(), 404, "no route"),
        (
            "/v2/project/default/user/u1/interact/stream?environment=a&environment=b",
            r#"{"action": {"type": "launch"}}"#.into(),
            400,
            "invalid query string",
        ),
    ];
    for (path, body, status, message) in cases {
        let (got, error) = server.post(path, &body, &[]).await;
        assert_eq!(
            got,
            status,
            "{path} {}: {error}",
            &body[..body.len().min(80)]
        );
        assert_eq!(error["code"], status, "{error}");
        let data = error["data"].as_str().unwrap_or_default();
        assert!(
            data.contains(message),
            "{data:?} should mention {message:?}"
        );
    }
    let (status, error) = server
        .post(
            "/state/user/u1/interact",
            r#"{"action": {"type": "launch"}}"#,
            &[("versionID", "staging")],
        )
        .await;
    assert_eq!(status, 404, "{error}");
    let (_, after) = server.get("/state/user/u1", &[]).await;
    assert_eq!(before, after, "no bad request changed the session");
    // The session still works.
    let traces = server
        .interact(
            "u1",
            json!({"type": "text", "payload": "when are you open"}),
        )
        .await;
    assert_eq!(said(&traces)[0], "We are open every day from 11am to 11pm.");
}

#[tokio::test]
async fn a_key_opens_only_its_own_project() {
    let data = TempDir::new("isolation");
    let server = two_projects(data.path());
    let alpha = [("authorization", "VF.DM.alpha.secret")];
    let beta = [("authorization", "Bearer VF.DM.beta.secret")];
    let launch = r#"{"action": {"type": "launch"}}"#;
    let order = r#"{"action": {"type": "text", "payload": "I want a pizza"}, "state": {"variables": {"secret": "alpha-only"}}}"#;
    // No key, a wrong key: 401 in the DM API's shape.
    let (status, error) = server.post("/state/user/same/interact", launch, &[]).await;
    assert_eq!(
        (status, error["data"].as_str()),
        (401, Some("Auth Key Required"))
    );
    let (status, _) = server
        .post(
            "/state/user/same/interact",
            launch,
            &[("authorization", "VF.DM.nope")],
        )
        .await;
    assert_eq!(status, 401);
    // The same user id in two projects: two conversations.
    assert_eq!(
        server
            .post("/state/user/same/interact", launch, &alpha)
            .await
            .0,
        200
    );
    assert_eq!(
        server
            .post("/state/user/same/interact", order, &alpha)
            .await
            .0,
        200
    );
    let (_, state_a) = server.get("/state/user/same", &alpha).await;
    assert_eq!(state_a["variables"]["secret"], "alpha-only");
    let (status, state_b) = server.get("/state/user/same", &beta).await;
    assert_eq!(
        (status, state_b),
        (200, json!({})),
        "beta sees nothing of alpha"
    );
    // Beta's writes land in beta only.
    let patch = r#"{"secret": "beta"}"#;
    server
        .send(
            reqwest::Method::PATCH,
            "/state/user/same/variables",
            Some(patch),
            &beta,
        )
        .await;
    server
        .send(reqwest::Method::DELETE, "/state/user/same", None, &beta)
        .await;
    let (_, state_a_after) = server.get("/state/user/same", &alpha).await;
    assert_eq!(state_a, state_a_after);
    // Routes that name a project check the key against it.
    let stream = r#"{"action": {"type": "launch"}}"#;
    let (status, error) = server
        .post("/v2/project/alpha/user/same/interact/stream", stream, &beta)
        .await;
    assert_eq!(status, 403, "{error}");
    // Public routes only for public projects.
    assert_eq!(
        server
            .post("/public/alpha/state/user/w/interact", launch, &[])
            .await
            .0,
        401
    );
    assert_eq!(
        server
            .post("/public/beta/state/user/w/interact", launch, &[])
            .await
            .0,
        200
    );
}

#[test]
fn open_mode_refuses_a_public_address() {
    let agent = repo("examples/agents/pizza.yaml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_turnstile"))
        .args([
            "serve",
            "--agent",
            agent.to_str().unwrap(),
            "--listen",
            "0.0.0.0:0",
            "--store",
            "memory",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("without API keys") && stderr.contains("api_keys"),
        "{stderr}"
    );
}
