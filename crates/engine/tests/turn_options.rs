//! What the caller of a turn controls: custom actions that wait (the DM API's `stopTypes` and
//! `stopAll`), and the state of a session reset without a turn.

mod support;

use serde_json::json;
use support::*;

#[tokio::test]
async fn stop_types_and_stop_all_make_custom_actions_wait() {
    let agent = agent(
        r#"
flows:
  main:
    steps:
      - action: { name: confetti, stop: false, paths: { done: ~ } }
      - say: after
"#,
    );
    let mut c = Conversation::new(&agent);
    let traces = c.send(launch()).await;
    assert_eq!(traces.len(), 3, "without stop the flow goes on: {traces:?}");
    for (stop_types, stop_all) in [(vec!["confetti".to_owned()], false), (vec![], true)] {
        let mut c = Conversation::new(&agent);
        c.options.stop_types = stop_types;
        c.options.stop_all = stop_all;
        let traces = c.send(launch()).await;
        assert_eq!(traces.len(), 1, "{traces:?}");
        assert_eq!(traces[0]["type"], "confetti");
        let traces = c.send(json!({"type": "done"})).await;
        assert_eq!(
            traces,
            vec![path("done"), text("main.2", "after"), end_of_flow()]
        );
    }
}

#[test]
fn initial_state_positions_a_new_session_at_the_start() {
    let agent = pizza();
    let state = turnstile_engine::initial_state(&agent, "u9");
    assert_eq!(state.stack.len(), 1);
    assert_eq!(state.stack[0].flow, "main");
    assert_eq!(state.stack[0].node.as_deref(), Some("welcome"));
    assert_eq!(state.variables["sessions"], 1);
    assert_eq!(state.variables["user_id"], "u9");
}
