//! The web chat end to end: the page and its keyless stream route over HTTP, and a person
//! ordering a pizza in a real headless Chromium (Debian's `chromium` + `chromium-driver`, driven
//! over the W3C WebDriver protocol) against the real binary.

mod support;
#[path = "webchat_browser/webdriver.rs"]
mod webdriver;

use serde_json::{Value, json};
use support::{Server, TempDir, two_projects};
use webdriver::Browser;

const ORDER_STATUS_PAGE: &str = "/chat/default?event=order_status&label=Track%20my%20order\
                                 &data=%7B%22order_id%22%3A%22A17%22%7D";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_orders_a_pizza_and_tracks_an_order_in_the_page() {
    let data = TempDir::new("webchat-browser");
    let mut server = Server::pizza(data.path());
    let browser = Browser::start(TempDir::new("webchat-chromium")).await;
    browser.goto(&server.url(ORDER_STATUS_PAGE)).await;

    browser
        .wait_for_message("bot", "Welcome to Pizza Palace!")
        .await;
    assert_eq!(browser.title().await, "Pizza Palace");
    let event_button = browser.find("#event-button").await;
    assert_eq!(browser.text(&event_button).await, "Track my order");
    browser.click_choice("Order a pizza").await;
    browser
        .wait_for_message("bot", "What size would you like?")
        .await;
    // The old question's buttons are spent once answered.
    assert!(
        !browser
            .enabled(&browser.choice("Opening hours").await)
            .await
    );
    browser.type_into_composer("large").await;
    browser.click(&browser.find("#send").await).await;
    browser
        .wait_for_message("bot", "Great, a large pizza. What is your name?")
        .await;
    // Enter sends too.
    browser.type_into_composer("Ada\u{E007}").await;
    browser
        .wait_for_message("bot", "Thanks Ada, your large pizza is on its way!")
        .await;
    browser.wait_until_shown("#ended").await;
    let ended = browser.find("#ended").await;
    assert_eq!(
        browser.text(&ended).await,
        "The conversation has ended.\nStart over"
    );
    for control in ["#message", "#send", "#event-button"] {
        let element = browser.find(control).await;
        assert!(
            !browser.enabled(&element).await,
            "{control} is disabled after the end"
        );
    }
    assert_eq!(
        browser.transcript().await,
        [
            ("bot", "Welcome to Pizza Palace!"),
            ("user", "Order a pizza"),
            ("bot", "What size would you like?"),
            ("user", "large"),
            ("bot", "Great, a large pizza. What is your name?"),
            ("user", "Ada"),
            ("bot", "Thanks Ada, your large pizza is on its way!"),
        ]
        .map(|(who, text)| (who.to_owned(), text.to_owned()))
    );

    // The page's conversation is a real session under the id it keeps in localStorage.
    let first_user = browser.user_id().await;
    assert!(first_user.starts_with("web-"), "{first_user}");
    let (status, state) = server.get(&format!("/state/user/{first_user}"), &[]).await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["variables"]["name"], "Ada", "{state}");
    assert_eq!(state["variables"]["size"], "large", "{state}");

    // Start over: a new user, a fresh launch, the composer back.
    browser.click(&browser.find("#start-over").await).await;
    browser
        .wait_for_message("bot", "Welcome to Pizza Palace!")
        .await;
    assert_eq!(
        browser.transcript().await,
        [("bot".to_owned(), "Welcome to Pizza Palace!".to_owned())]
    );
    assert!(!browser.shown(&browser.find("#ended").await).await);
    assert!(browser.enabled(&browser.find("#message").await).await);
    let second_user = browser.user_id().await;
    assert_ne!(second_user, first_user, "start over is a new conversation");

    // The page button sends the configured event, answered by the agent's global command.
    browser.click(&browser.find("#event-button").await).await;
    browser
        .wait_for_message("bot", "Order A17 is in the oven.")
        .await;
    // (After the pushed flow the agent goes back to its menu: what follows is the agent's.)
    let transcript = browser.transcript().await;
    assert_eq!(
        transcript[1..3],
        [
            ("user".to_owned(), "Track my order".to_owned()),
            ("bot".to_owned(), "Order A17 is in the oven.".to_owned()),
        ],
        "{transcript:?}"
    );

    // A failure is shown, not swallowed.
    server.kill9();
    browser.type_into_composer("hello\u{E007}").await;
    browser.wait_until_shown("#error").await;
    let error = browser.text(&browser.find("#error").await).await;
    assert_eq!(
        error,
        "Could not reach the chat server. Check your connection and try again."
    );
    assert_eq!(
        browser.transcript().await.last(),
        Some(&("user".to_owned(), "hello".to_owned()))
    );
}

/// A 1×1 PNG: images come from anywhere the agent says, here a data URL (no network in tests).
const PIXEL: &str = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_and_cards_are_shown_and_card_buttons_answer() {
    let data = TempDir::new("webchat-cards");
    let agent = r#"
name: Corner Café
flows:
  main:
    steps:
      - say: Here is today's menu.
      - image: "PIXEL"
      - card:
          title: Espresso
          description: Short and strong.
          image: "PIXEL"
          buttons:
            - label: Order an espresso
              goto: espresso
  espresso:
    steps:
      - say: One espresso, coming up.
      - end: true
"#
    .replace("PIXEL", PIXEL);
    let agent = support::write(data.path(), "cafe.yaml", &agent);
    let server = Server::start(&[
        "--agent",
        agent.to_str().unwrap(),
        "--data-dir",
        data.path().join("db").to_str().unwrap(),
    ]);
    let browser = Browser::start(TempDir::new("webchat-chromium-cards")).await;
    browser.goto(&server.url("/chat/default")).await;
    browser
        .wait_for_message("bot", "Here is today's menu.")
        .await;
    assert_eq!(browser.title().await, "Corner Café");
    assert!(
        !browser.shown(&browser.find("#event-button").await).await,
        "no event configured"
    );

    // Both images are drawn (loaded under the page's policy), the card has its texts.
    let images = browser
        .script(
            "return Array.from(document.querySelectorAll('#log img'), i => \
             [i.closest('.card') ? 'card' : 'image', i.complete && i.naturalWidth, i.alt]);",
            json!([]),
        )
        .await;
    assert_eq!(
        images,
        json!([
            ["image", 1, "Image from the agent"],
            ["card", 1, "Espresso"]
        ])
    );
    let card = browser.find("#log .card").await;
    assert_eq!(
        browser.text(&card).await,
        "Espresso\nShort and strong.\nOrder an espresso"
    );
    browser.click_choice("Order an espresso").await;
    browser
        .wait_for_message("bot", "One espresso, coming up.")
        .await;
    browser.wait_until_shown("#ended").await;
    assert_eq!(
        browser.transcript().await,
        [
            ("bot", "Here is today's menu."),
            ("user", "Order an espresso"),
            ("bot", "One espresso, coming up."),
        ]
        .map(|(who, text)| (who.to_owned(), text.to_owned()))
    );
}

#[tokio::test]
async fn the_page_is_served_only_for_public_projects_with_a_strict_policy() {
    let data = TempDir::new("webchat-page");
    let server = two_projects(data.path());

    let response = server
        .client
        .get(server.url("/chat/beta"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    assert_eq!(header("content-type"), "text/html; charset=utf-8");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("referrer-policy"), "no-referrer");
    let policy = header("content-security-policy");
    assert!(
        policy.starts_with("default-src 'none'; script-src 'sha256-"),
        "{policy}"
    );
    assert!(policy.contains("connect-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe"), "{policy}");
    let html = response.text().await.unwrap();
    assert!(html.contains("<title>Pizza Palace</title>"), "{html}");
    assert!(
        html.contains(r#"{"event":null,"project":"beta"}"#),
        "{html}"
    );

    // A project that is not public, and one that does not exist.
    let (status, error) = server.get("/chat/alpha", &[]).await;
    assert_eq!(status, 404);
    assert_eq!(error["code"], 404);
    let message = error["data"].as_str().unwrap();
    assert!(message.contains("public = true"), "{message}");
    let (status, error) = server.get("/chat/nope", &[]).await;
    assert_eq!(
        (status, error["data"].as_str()),
        (404, Some("unknown project `nope`"))
    );

    // An event button that cannot work is refused when the page is asked for.
    for (query, says) in [
        ("event=order%20status", "invalid event name"),
        ("label=Hi", "need `event`"),
        ("event=order_status&data=%5B%5D", "JSON object"),
    ] {
        let (status, error) = server.get(&format!("/chat/beta?{query}"), &[]).await;
        assert_eq!(status, 400, "{query}: {error}");
        let message = error["data"].as_str().unwrap();
        assert!(message.contains(says), "{query}: {message}");
    }
}

/// `(event name, data)` of an SSE body, in order.
fn sse(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|block| !block.trim().is_empty())
        .map(|block| {
            let field = |name: &str| {
                block
                    .lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.strip_prefix(' ').unwrap_or(v))
                    .unwrap_or_default()
                    .to_owned()
            };
            let data = serde_json::from_str(&field("data:")).unwrap_or(Value::Null);
            (field("event:"), data)
        })
        .collect()
}

#[tokio::test]
async fn the_stream_route_is_keyless_for_public_projects_and_answers_like_v2() {
    let data = TempDir::new("webchat-stream");
    let server = two_projects(data.path());
    let stream = |project: &str, user: &str, body: Value, key: Option<&str>| {
        let mut request = server
            .client
            .post(server.url(&format!("/chat/{project}/user/{user}/stream")))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            (status, headers, response.text().await.unwrap())
        }
    };

    let (status, headers, body) =
        stream("beta", "w1", json!({"action": {"type": "launch"}}), None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["content-type"], "text/event-stream");
    assert_eq!(headers["x-accel-buffering"], "no");
    let events = sse(&body);
    let names: Vec<&str> = events.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["trace", "trace", "end"], "{body}");
    assert_eq!(events[0].1["type"], "text");
    assert_eq!(
        events[0].1["payload"]["message"],
        "Welcome to Pizza Palace!"
    );
    assert_eq!(events[1].1["type"], "choice");
    let order = &events[1].1["payload"]["buttons"][0];
    assert_eq!(order["name"], "Order a pizza");

    // A button's request goes back verbatim; a redelivery with the same key is not run again.
    let click = json!({"action": order["request"]});
    let beta_key = [("authorization", "VF.DM.beta.secret")];
    let first = stream("beta", "w1", click.clone(), Some("click-1")).await;
    assert!(first.2.contains("What size would you like?"), "{}", first.2);
    let (_, state) = server.get("/state/user/w1", &beta_key).await;
    let turns = state["turn"].as_u64().expect("a turn count");
    let again = stream("beta", "w1", click, Some("click-1")).await;
    assert_eq!(
        sse(&again.2),
        sse(&first.2),
        "the replay is the stored answer"
    );
    let (_, state) = server.get("/state/user/w1", &beta_key).await;
    assert_eq!(
        state["turn"].as_u64(),
        Some(turns),
        "the replay ran nothing"
    );

    // Not public, bad user, bad action: clear JSON errors and nothing runs.
    let launch = json!({"action": {"type": "launch"}});
    let (status, _, body) = stream("alpha", "w1", launch.clone(), None).await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("public = true"), "{body}");
    let alpha_key = [("authorization", "VF.DM.alpha.secret")];
    let fresh = server.get("/state/user/never", &alpha_key).await;
    let (status, alpha_state) = server.get("/state/user/w1", &alpha_key).await;
    assert_eq!(
        (status, &alpha_state["stack"]),
        (fresh.0, &fresh.1["stack"]),
        "no session in alpha"
    );
    let (status, _, body) = stream("beta", "has%20space", launch, None).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("invalid userID"), "{body}");
    let (status, _, body) =
        stream("beta", "w1", json!({"action": {"type": "nonsense"}}), None).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("unknown action type"), "{body}");
    let (status, _, body) = stream(
        "beta",
        "w1",
        json!({"action": {"type": "launch"}}),
        Some(""),
    )
    .await;
    assert_eq!(status, 400, "{body}");
}
