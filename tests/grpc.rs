//! The gRPC API against the real binary, with the generated tonic client: the pizza
//! conversation, streamed traces, many users on one `Converse` stream, state, auth, reflection.

mod support;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use support::*;
use tonic::Request as GrpcRequest;
use tonic::metadata::MetadataValue;
use turnstile_proto::v1::converse_response::Event as ConverseEvent;
use turnstile_proto::v1::dialog_client::DialogClient;
use turnstile_proto::v1::request::Kind;
use turnstile_proto::v1::state_client::StateClient;
use turnstile_proto::v1::trace::Payload;
use turnstile_proto::v1::turn_event::Event as StreamEvent;
use turnstile_proto::v1::{
    ConverseRequest, InteractRequest, Launch, PutStateRequest, Request, StateRequest, Text, Trace,
    UpdateVariablesRequest,
};

fn launch() -> Option<Request> {
    Some(Request {
        kind: Some(Kind::Launch(Launch {})),
    })
}

fn text(t: &str) -> Option<Request> {
    Some(Request {
        kind: Some(Kind::Text(Text { text: t.into() })),
    })
}

fn turn(user: &str, request: Option<Request>) -> InteractRequest {
    InteractRequest {
        user_id: user.into(),
        request,
        ..Default::default()
    }
}

/// The messages of the text traces.
fn messages(traces: &[Trace]) -> Vec<String> {
    traces
        .iter()
        .filter_map(|t| match &t.payload {
            Some(Payload::Text(text)) => Some(text.message.clone()),
            _ => None,
        })
        .collect()
}

async fn dialog(server: &Server) -> DialogClient<tonic::transport::Channel> {
    DialogClient::connect(server.url(""))
        .await
        .expect("gRPC connects")
}

#[tokio::test]
async fn pizza_conversation_over_interact() {
    let data = TempDir::new("grpc-pizza");
    let server = Server::pizza(data.path());
    let mut client = dialog(&server).await;
    let answer = client
        .interact(turn("ada", launch()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(messages(&answer.traces), ["Welcome to Pizza Palace!"]);
    // The first button's request, sent back as is.
    let Some(Payload::Choice(choice)) = &answer.traces[1].payload else {
        panic!("a choice trace: {:?}", answer.traces)
    };
    assert_eq!(choice.buttons[0].name, "Order a pizza");
    let order = choice.buttons[0].request.clone();
    let answer = client
        .interact(turn("ada", order))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(messages(&answer.traces), ["What size would you like?"]);
    let answer = client
        .interact(turn("ada", text("huge")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        messages(&answer.traces),
        ["Great, a large pizza. What is your name?"]
    );
    let answer = client
        .interact(turn("ada", text("Ada")))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        messages(&answer.traces),
        ["Thanks Ada, your large pizza is on its way!"]
    );
    assert!(matches!(
        answer.traces.last().unwrap().payload,
        Some(Payload::End(_))
    ));
    assert_eq!(answer.version, 4);
    // The same session over HTTP: one conversation.
    let (_, state) = server.get("/state/user/ada", &[]).await;
    assert_eq!(state["variables"]["name"], "Ada");
}

#[tokio::test]
async fn errors_are_grpc_statuses() {
    let data = TempDir::new("grpc-errors");
    let server = Server::pizza(data.path());
    let mut client = dialog(&server).await;
    let cases = [
        (turn("ada", None), tonic::Code::InvalidArgument),
        (turn("has space", launch()), tonic::Code::InvalidArgument),
        (
            InteractRequest {
                version: "staging".into(),
                ..turn("ada", launch())
            },
            tonic::Code::NotFound,
        ),
        (
            turn(
                "ada",
                Some(Request {
                    kind: Some(Kind::Event(turnstile_proto::v1::Event {
                        name: "bad name!".into(),
                        data: None,
                    })),
                }),
            ),
            tonic::Code::InvalidArgument,
        ),
    ];
    for (request, code) in cases {
        let status = client.interact(request).await.unwrap_err();
        assert_eq!(status.code(), code, "{status:?}");
        assert!(!status.message().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interact_stream_sends_traces_before_the_turn_ends() {
    let dir = TempDir::new("grpc-stream");
    let hook = slow_webhook(Duration::from_millis(1000)).await;
    let yaml = format!(
        "settings:\n  webhook: {{ url: \"http://{hook}/hook\" }}\nflows:\n  main:\n    steps:\n      - say: Working on it\n      - webhook: {{}}\n      - say: Done\n"
    );
    let agent = write(dir.path(), "slow.yaml", &yaml);
    let server = Server::start(&[
        "--agent",
        agent.to_str().unwrap(),
        "--data-dir",
        dir.path().join("db").to_str().unwrap(),
    ]);
    let mut client = dialog(&server).await;
    let started = Instant::now();
    let mut stream = client
        .interact_stream(turn("s1", launch()))
        .await
        .unwrap()
        .into_inner();
    let mut first_at = None;
    let mut said = Vec::new();
    let mut committed = None;
    while let Some(event) = stream.message().await.unwrap() {
        match event.event {
            Some(StreamEvent::Trace(trace)) => {
                first_at.get_or_insert(started.elapsed());
                said.extend(messages(&[trace]));
            }
            Some(StreamEvent::Committed(c)) => committed = Some((c, started.elapsed())),
            None => {}
        }
    }
    let first_at = first_at.unwrap();
    let (committed, committed_at) = committed.expect("a committed message ends the stream");
    assert!(
        first_at < Duration::from_millis(700),
        "first trace after {first_at:?}"
    );
    assert!(
        committed_at >= Duration::from_millis(1000),
        "committed after {committed_at:?}"
    );
    assert_eq!(said, ["Working on it", "Done"]);
    assert_eq!(committed.version, 1);
}

/// Each user's turns append to a log; the user `slowpoke` also waits 1.5 s on a webhook.
fn converse_agent(dir: &std::path::Path, hook: std::net::SocketAddr) -> std::path::PathBuf {
    let yaml = format!(
        r#"settings:
  webhook: {{ url: "http://{hook}/hook", timeout_ms: 10000 }}
flows:
  main:
    steps:
      - id: wait
        capture: item
      - condition:
          - if: user_id == "slowpoke"
            goto: slow
        else: append
      - id: slow
        webhook: {{}}
{LOG_STEPS}"#
    );
    write(dir, "converse.yaml", &yaml)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn converse_interleaves_100_users_on_one_stream() {
    let dir = TempDir::new("grpc-converse");
    let hook = slow_webhook(Duration::from_millis(1500)).await;
    let agent = converse_agent(dir.path(), hook);
    let server = Server::start(&[
        "--agent",
        agent.to_str().unwrap(),
        "--data-dir",
        dir.path().join("db").to_str().unwrap(),
    ]);
    let mut client = dialog(&server).await;
    let users: Vec<String> = std::iter::once("slowpoke".to_owned())
        .chain((0..99).map(|i| format!("u{i}")))
        .collect();
    // Round after round, every user's next turn: launch, then three items. All are sent at once,
    // interleaved across users, on one stream.
    let mut requests = Vec::new();
    for round in 0..4 {
        for user in &users {
            let request = if round == 0 {
                launch()
            } else {
                text(&format!("{user}-{round}"))
            };
            requests.push(ConverseRequest {
                correlation_id: format!("{user}/{round}"),
                turn: Some(turn(user, request)),
            });
        }
    }
    let started = Instant::now();
    let mut answers = client
        .converse(tokio_stream::iter(requests))
        .await
        .unwrap()
        .into_inner();
    let mut said: HashMap<String, Vec<String>> = HashMap::new();
    let mut committed_at: HashMap<String, Duration> = HashMap::new();
    while committed_at.len() < users.len() * 4 {
        let answer = answers
            .message()
            .await
            .unwrap()
            .expect("an answer for every turn");
        match answer.event {
            Some(ConverseEvent::Trace(trace)) => said
                .entry(answer.correlation_id)
                .or_default()
                .extend(messages(&[trace])),
            Some(ConverseEvent::Committed(_)) => {
                committed_at.insert(answer.correlation_id, started.elapsed());
            }
            Some(ConverseEvent::Error(e)) => panic!("{}: {e:?}", answer.correlation_id),
            None => {}
        }
    }
    // Every user's turns ran in order: each saw the log the previous one left.
    for user in &users {
        for round in 1..4 {
            let expected: Vec<String> = (1..=round).map(|r| format!("{user}-{r}")).collect();
            assert_eq!(
                said[&format!("{user}/{round}")],
                [expected.join(",")],
                "{user} round {round}"
            );
        }
    }
    // Nobody waited for slowpoke's 3 × 1.5 s of webhooks.
    let others_done = users[1..]
        .iter()
        .map(|u| committed_at[&format!("{u}/3")])
        .max()
        .unwrap();
    let slow_done = committed_at["slowpoke/3"];
    assert!(slow_done >= Duration::from_millis(4500), "{slow_done:?}");
    assert!(
        others_done < Duration::from_millis(1500),
        "the others took {others_done:?}"
    );
}

fn with_key<T>(message: T, key: &str) -> GrpcRequest<T> {
    let mut request = GrpcRequest::new(message);
    request
        .metadata_mut()
        .insert("authorization", MetadataValue::try_from(key).unwrap());
    request
}

#[tokio::test]
async fn state_round_trips_and_keys_stay_in_their_project() {
    let data = TempDir::new("grpc-state");
    let server = two_projects(data.path());
    let (alpha, beta) = ("Bearer VF.DM.alpha.secret", "VF.DM.beta.secret");
    let mut dialog = dialog(&server).await;
    let mut state = StateClient::connect(server.url("")).await.unwrap();

    // No key, a wrong key, a foreign project: refused.
    let status = dialog.interact(turn("u", launch())).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    let status = dialog
        .interact(with_key(turn("u", launch()), "VF.DM.nope"))
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unauthenticated);
    let foreign = InteractRequest {
        project: "beta".into(),
        ..turn("u", launch())
    };
    let status = dialog.interact(with_key(foreign, alpha)).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::PermissionDenied);

    dialog
        .interact(with_key(turn("u", launch()), alpha))
        .await
        .unwrap();
    let get = |key: &str| {
        with_key(
            StateRequest {
                user_id: "u".into(),
                ..Default::default()
            },
            key,
        )
    };
    let found = state.get(get(alpha)).await.unwrap().into_inner();
    assert!(found.exists);
    let stack = &found.state.as_ref().unwrap().fields["stack"];
    assert!(format!("{stack:?}").contains("menu"), "{stack:?}");
    // Beta sees nothing of alpha's session with the same user id.
    assert!(!state.get(get(beta)).await.unwrap().into_inner().exists);
    let foreign = StateRequest {
        project: "alpha".into(),
        user_id: "u".into(),
        version: String::new(),
    };
    assert_eq!(
        state.get(with_key(foreign, beta)).await.unwrap_err().code(),
        tonic::Code::PermissionDenied
    );

    // Update variables, put, delete.
    let vars = serde_json::json!({"name": "Ada", "n": 3});
    let update = UpdateVariablesRequest {
        project: String::new(),
        user_id: "u".into(),
        variables: Some(struct_of(&vars)),
    };
    let updated = state
        .update_variables(with_key(update, alpha))
        .await
        .unwrap()
        .into_inner();
    let fields = &updated.state.unwrap().fields["variables"];
    assert!(format!("{fields:?}").contains("Ada"));
    let put = PutStateRequest {
        project: String::new(),
        user_id: "u".into(),
        state: Some(struct_of(&serde_json::json!({
            "stack": [{"diagramID": "order", "nodeID": "name"}], "storage": {}, "variables": {"size": "small"}
        }))),
    };
    state.put(with_key(put, alpha)).await.unwrap();
    let answer = dialog
        .interact(with_key(turn("u", text("Bo")), alpha))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        messages(&answer.traces),
        ["Thanks Bo, your small pizza is on its way!"]
    );
    let bad = PutStateRequest {
        project: String::new(),
        user_id: "u".into(),
        state: Some(struct_of(&serde_json::json!({"stack": 1}))),
    };
    assert_eq!(
        state.put(with_key(bad, alpha)).await.unwrap_err().code(),
        tonic::Code::InvalidArgument
    );
    state.delete(get(alpha)).await.unwrap();
    assert!(!state.get(get(alpha)).await.unwrap().into_inner().exists);
}

fn struct_of(value: &serde_json::Value) -> prost_types::Struct {
    turnstile_wire::json_to_struct(value.as_object().unwrap())
}

#[tokio::test]
async fn reflection_lists_the_services_and_health_answers() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let data = TempDir::new("grpc-reflection");
    let server = Server::pizza(data.path());
    // These clients are built without tonic's transport: hand them a channel.
    let channel = tonic::transport::Endpoint::from_shared(server.url(""))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut reflection = ServerReflectionClient::new(channel.clone());
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap()
        .into_inner();
    let answer = answers.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = answer.message_response else {
        panic!("{answer:?}")
    };
    let names: Vec<&str> = list.service.iter().map(|s| s.name.as_str()).collect();
    for expected in [
        "turnstile.v1.Dialog",
        "turnstile.v1.State",
        "grpc.health.v1.Health",
    ] {
        assert!(names.contains(&expected), "{names:?}");
    }
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "turnstile.v1.Dialog".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        status.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
}

#[tokio::test]
async fn grpc_can_have_its_own_listener() {
    let data = TempDir::new("grpc-listener");
    let agent = repo("examples/agents/pizza.yaml");
    let grpc_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let grpc_addr = format!("127.0.0.1:{grpc_port}");
    let server = Server::start(&[
        "--agent",
        agent.to_str().unwrap(),
        "--data-dir",
        data.path().to_str().unwrap(),
        "--grpc-listen",
        &grpc_addr,
    ]);
    let mut client = DialogClient::connect(format!("http://{grpc_addr}"))
        .await
        .unwrap();
    let answer = client
        .interact(turn("g", launch()))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(messages(&answer.traces), ["Welcome to Pizza Palace!"]);
    // The HTTP listener still serves the DM API.
    let traces = server
        .interact("h", serde_json::json!({"type": "launch"}))
        .await;
    assert_eq!(said(&traces), ["Welcome to Pizza Palace!"]);
}
