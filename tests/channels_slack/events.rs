//! The Events API: messages run once however often Slack delivers them, and are answered
//! with `chat.postMessage`.

use super::*;

#[tokio::test]
async fn events_api_messages_run_once_and_reply_with_chat_post_message() {
    let (slack, stand_in) = SlackStandIn::start().await;
    let base = format!("http://{slack}/api");
    let counter = repo("tests/agents/counter.yaml");
    let server = slack_server(
        counter.to_str().unwrap(),
        &[
            ("TURNSTILE_SLACK_BOT_TOKEN", BOT_TOKEN),
            ("TURNSTILE_SLACK_API_BASE", &base),
        ],
    );
    let path = "/channels/slack/default/events";

    let verification = json!({"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl",
        "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
        "type": "url_verification"})
    .to_string();
    let answer = send_signed(&server, path, &verification).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(
        answer.json,
        json!({"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"})
    );

    // The first message starts the conversation.
    let first = event_body("Ev0001", dm("hi", "1355517523.000005"));
    let answer = send_signed(&server, path, &first).await;
    assert_eq!((answer.status, answer.text.as_str()), (200, ""));
    let calls = stand_in.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(calls[0].path, "/api/chat.postMessage");
    assert_eq!(
        calls[0].authorization.as_deref(),
        Some(format!("Bearer {BOT_TOKEN}").as_str())
    );
    assert_eq!(
        calls[0].content_type.as_deref(),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(
        calls[0].body,
        json!({"channel": "D024BE91L", "text": "ready", "blocks": [section("ready")]})
    );

    // "hello", delivered, then redelivered by Slack as if the first answer had been lost.
    let hello = event_body("Ev0002", dm("hello", "1355517524.000001"));
    let answer = send_signed(&server, path, &hello).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let mut retry = signed(SECRET, now(), &hello);
    retry.push(("x-slack-retry-num".into(), "1".into()));
    retry.push(("x-slack-retry-reason".into(), "http_timeout".into()));
    let answer = send(&server, path, &hello, &retry).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let calls = stand_in.wait_for(2, Duration::from_secs(5)).await;
    assert_eq!(calls[1].body["text"], "turn 1: hello");
    // That the retry ran nothing is proven below, without waiting for something not to
    // happen: the session's turns run in order, so the mention's answer would be "turn 3" had
    // the retry run a turn.

    // Bot messages and edits are not people talking: nothing runs.
    for ignored in [
        json!({"type": "message", "subtype": "bot_message", "bot_id": "B0BOT", "text": "turn 1: hello",
               "channel": "D024BE91L", "ts": "1355517525.000001"}),
        json!({"type": "message", "bot_id": "B0BOT", "user": "U0BOT", "text": "ready",
               "channel": "D024BE91L", "ts": "1355517525.000002"}),
        json!({"type": "message", "subtype": "message_changed", "channel": "D024BE91L",
               "message": {"text": "edited"}, "ts": "1355517525.000003"}),
    ] {
        let body = event_body(&format!("Ev-ignored-{}", ignored["ts"]), ignored);
        let answer = send_signed(&server, path, &body).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }

    // A mention in a channel: the mention is not part of the text, the reply goes in the thread.
    let mention = event_body(
        "Ev0003",
        json!({"type": "app_mention", "user": USER, "text": "<@U0BOT> again", "ts": "1355517526.000001",
               "channel": "C2147483705", "event_ts": "1355517526.000001", "thread_ts": "1355517500.000001"}),
    );
    let answer = send_signed(&server, path, &mention).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let calls = stand_in.wait_for(3, Duration::from_secs(5)).await;
    assert_eq!(
        calls[2].body,
        json!({"channel": "C2147483705", "thread_ts": "1355517500.000001",
               "text": "turn 2: again", "blocks": [section("turn 2: again")]})
    );
    assert_eq!(stand_in.calls().len(), 3, "{:?}", stand_in.calls());
    let state = session(&server, SESSION).await;
    assert_eq!(
        state["variables"]["count"], 2,
        "each message ran once: {state}"
    );
}
