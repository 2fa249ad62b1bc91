//! The Telegram channel against the real binary: updates in Telegram's recorded format go to
//! the webhook; a local stand-in for the Bot API records the calls turnstile makes.

mod fixture;
#[path = "../support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use fixture::*;
use serde_json::{Value, json};
use support::*;
use turnstile_channels::telegram::{decode_callback, parse_update};
use turnstile_engine::Request;

#[tokio::test]
async fn wrong_or_missing_secret_is_refused_and_runs_nothing() {
    let data = TempDir::new("tg-secret");
    let bot = BotApi::start().await;
    let server = server(&repo("examples/agents/pizza.yaml"), &data, &bot);
    let start = message(1, 42, "/start");
    for secret in [None, Some("wrong"), Some(""), Some("tg-Secret_4")] {
        let (status, body) = deliver_with(&server, &start, secret).await;
        assert_eq!(status, 401, "{secret:?}: {body}");
        assert_eq!(body["code"], 401);
        assert_eq!(body["status"], "Unauthorized");
        assert!(
            body["data"]
                .as_str()
                .unwrap()
                .contains("X-Telegram-Bot-Api-Secret-Token"),
            "{body}"
        );
    }
    assert_eq!(
        session(&server, 42).await,
        json!({}),
        "no session was started"
    );
    assert!(bot.calls().is_empty());
    // The same update with the right secret runs.
    let (status, body) = deliver(&server, &start).await;
    assert_eq!(status, 200);
    assert_eq!(body["text"], "Welcome to Pizza Palace!");
    assert_ne!(session(&server, 42).await, json!({}));
}

#[tokio::test]
async fn a_disabled_channel_or_unknown_project_is_not_found() {
    let data = TempDir::new("tg-disabled");
    let server = Server::pizza(data.path());
    let (status, body) = deliver(&server, &message(1, 42, "/start")).await;
    assert_eq!(status, 404, "{body}");
    let text = body["data"].as_str().unwrap();
    assert!(
        text.contains("Telegram") && text.contains("TURNSTILE_TELEGRAM_SECRET_TOKEN"),
        "{text}"
    );
    let (status, body) = server
        .post(
            "/channels/telegram/nope/webhook",
            &message(1, 42, "/start").to_string(),
            &[("X-Telegram-Bot-Api-Secret-Token", SECRET)],
        )
        .await;
    assert_eq!(status, 404);
    assert!(body["data"].as_str().unwrap().contains("nope"), "{body}");
    assert_eq!(session(&server, 42).await, json!({}));
}

#[tokio::test]
async fn projects_configure_their_own_bot_which_talks_to_production() {
    let data = TempDir::new("tg-projects");
    let bot = BotApi::start().await;
    let pizza = repo("examples/agents/pizza.yaml");
    let shop = shop_agent(&data, None);
    let config = format!(
        "[[projects]]\nid = \"alpha\"\nagent = {pizza:?}\nproduction_agent = {shop:?}\n\
         api_keys = [\"VF.DM.alpha.secret\"]\n\n\
         [projects.channels.telegram]\nsecret_token = \"alpha-secret\"\n\
         bot_token = \"42:alpha\"\napi_base = \"http://{}/\"\n\
         commands = {{ \"/track\" = \"order_status\" }}\n\n\
         [[projects]]\nid = \"beta\"\nagent = {pizza:?}\napi_keys = [\"VF.DM.beta.secret\"]\n",
        bot.addr
    );
    let config = write(data.path(), "turnstile.toml", &config);
    let server = Server::start(&[
        "--config",
        config.to_str().unwrap(),
        "--data-dir",
        data.path().join("db").to_str().unwrap(),
    ]);
    let start = message(1, 31, "/start").to_string();
    let alpha = "/channels/telegram/alpha/webhook";
    let (status, _) = server
        .post(
            alpha,
            &start,
            &[("X-Telegram-Bot-Api-Secret-Token", SECRET)],
        )
        .await;
    assert_eq!(status, 401, "another project's secret");
    let (status, body) = server
        .post(
            alpha,
            &start,
            &[("X-Telegram-Bot-Api-Secret-Token", "alpha-secret")],
        )
        .await;
    assert_eq!((status, &body), (200, &Value::Null));
    // The production agent (the shop) answered, through alpha's bot.
    let calls = bot.calls();
    let texts: Vec<&Value> = calls.iter().map(|c| &c.body["text"]).collect();
    assert_eq!(texts, ["Welcome to the test shop!", "What would you like?"]);
    assert!(calls.iter().all(|c| c.bot == "bot42:alpha"), "{calls:?}");
    // The project's command map: `/track` is its `order_status` event.
    let track = message(2, 31, "/track Z-1").to_string();
    let headers = [("X-Telegram-Bot-Api-Secret-Token", "alpha-secret")];
    assert_eq!(server.post(alpha, &track, &headers).await.0, 200);
    assert_eq!(bot.calls()[2].body["text"], "Order Z-1 is in the oven.");
    let (status, body) = server
        .post(
            "/channels/telegram/beta/webhook",
            &start,
            &[("X-Telegram-Bot-Api-Secret-Token", "alpha-secret")],
        )
        .await;
    assert_eq!(status, 404);
    assert!(
        body["data"]
            .as_str()
            .unwrap()
            .contains("[projects.channels.telegram]"),
        "{body}"
    );
    let key = [("authorization", "VF.DM.alpha.secret")];
    let (_, state) = server.get("/state/user/telegram:31", &key).await;
    assert_eq!(state["variables"]["user_id"], "telegram:31", "{state}");
}

#[tokio::test]
async fn pizza_over_telegram_single_replies_ride_in_the_webhook_answer() {
    let data = TempDir::new("tg-pizza");
    let bot = BotApi::start().await;
    let server = server(&repo("examples/agents/pizza.yaml"), &data, &bot);
    // /start launches (pizza has no TELEGRAM_WELCOME trigger): one message with the menu.
    let (status, welcome) = deliver(&server, &message(10000, 1111111, "/start")).await;
    assert_eq!(status, 200, "{welcome}");
    assert_eq!(welcome["method"], "sendMessage");
    assert_eq!(welcome["chat_id"], 1111111);
    assert_eq!(welcome["text"], "Welcome to Pizza Palace!");
    assert_eq!(
        keyboard(&welcome),
        rows(&[
            &[("Order a pizza", "i:order_pizza")],
            &[("Opening hours", "i:hours")]
        ])
    );
    assert_eq!(welcome.as_object().unwrap().len(), 4, "{welcome}");
    // The callback data decode back to the buttons' requests.
    let markup = serde_json::from_value(welcome["reply_markup"].clone()).unwrap();
    let Request::Intent(order) = decode_callback("i:order_pizza", Some(&markup)).unwrap() else {
        panic!("not an intent")
    };
    assert_eq!(order.name, "order_pizza");
    assert_eq!(order.query, "Order a pizza");
    assert!(
        bot.calls().is_empty(),
        "a single message needs no Bot API call"
    );

    // A press: answerCallbackQuery, then the next question with the size quick replies.
    let (status, body) = deliver(&server, &press(10001, 1111111, &welcome, "Order a pizza")).await;
    assert_eq!((status, &body), (200, &Value::Null));
    let calls = bot.calls();
    let methods: Vec<&str> = calls.iter().map(|c| c.method.as_str()).collect();
    assert_eq!(methods, ["answerCallbackQuery", "sendMessage"]);
    assert!(calls.iter().all(|c| c.bot == format!("bot{BOT_TOKEN}")));
    assert_eq!(calls[0].body, json!({"callback_query_id": "cb-10001"}));
    let sizes = &calls[1].body;
    assert_eq!(sizes["chat_id"], 1111111);
    assert_eq!(sizes["text"], "What size would you like?");
    assert_eq!(
        keyboard(sizes),
        rows(&[&[
            ("Small", "t:Small"),
            ("Medium", "t:Medium"),
            ("Large", "t:Large")
        ]])
    );

    // Text: one message, in the answer.
    let huge = message(10002, 1111111, "huge");
    let (status, body) = deliver(&server, &huge).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"method": "sendMessage", "chat_id": 1111111,
               "text": "Great, a large pizza. What is your name?"})
    );
    // Telegram delivers it again (say the answer was lost): it does not run again, nothing is
    // sent again.
    let (status, body) = deliver(&server, &huge).await;
    assert_eq!((status, &body), (200, &Value::Null));
    assert_eq!(bot.calls().len(), 2);
    // Had "huge" run twice, it would be the name now.
    let (_, body) = deliver(&server, &message(10003, 1111111, "Ada")).await;
    assert_eq!(body["text"], "Thanks Ada, your large pizza is on its way!");
    assert!(body.get("reply_markup").is_none());
    let state = session(&server, 1111111).await;
    assert_eq!(state["variables"]["name"], "Ada", "{state}");
}

#[tokio::test]
async fn several_messages_go_through_the_bot_api_in_order_and_once() {
    let data = TempDir::new("tg-shop");
    let bot = BotApi::start().await;
    let server = server(&shop_agent(&data, None), &data, &bot);
    let start = message(500, 77, "/start@TestShopBot");
    let (status, body) = deliver(&server, &start).await;
    assert_eq!((status, &body), (200, &Value::Null));
    let calls = bot.calls();
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert_eq!(calls[0].method, "sendMessage");
    assert_eq!(
        calls[0].body,
        json!({"chat_id": 77, "text": "Welcome to the test shop!"})
    );
    let menu = &calls[1].body;
    assert_eq!(calls[1].method, "sendMessage");
    assert_eq!(menu["chat_id"], 77);
    assert_eq!(menu["text"], "What would you like?");
    assert_eq!(
        keyboard(menu),
        rows(&[&[("Order", "i:order"), ("Show me photos", "p:path-menu-2")]])
    );
    // Redelivered: answered, not run, nothing sent.
    let (status, _) = deliver(&server, &start).await;
    assert_eq!(status, 200);
    assert_eq!(bot.calls().len(), 2);

    // A path button: the photos (the refused one goes out as its link), then the text.
    let (status, _) = deliver(&server, &press(501, 77, menu, "Show me photos")).await;
    assert_eq!(status, 200);
    let calls = &bot.calls()[2..];
    let sent: Vec<(&str, &Value)> = calls.iter().map(|c| (c.method.as_str(), &c.body)).collect();
    assert_eq!(
        sent,
        [
            (
                "answerCallbackQuery",
                &json!({"callback_query_id": "cb-501"})
            ),
            (
                "sendPhoto",
                &json!({"chat_id": 77, "photo": "https://example.com/pizza.png"})
            ),
            (
                "sendPhoto",
                &json!({"chat_id": 77, "photo": "https://example.com/missing.png"})
            ),
            (
                "sendMessage",
                &json!({"chat_id": 77, "text": "https://example.com/missing.png"})
            ),
            (
                "sendMessage",
                &json!({"chat_id": 77, "text": "Here they are."})
            ),
        ]
    );
}

#[tokio::test]
async fn commands_become_events_and_entity_offsets_are_utf16() {
    let data = TempDir::new("tg-commands");
    let bot = BotApi::start().await;
    let server = server(&shop_agent(&data, None), &data, &bot);
    deliver(&server, &message(1, 5, "/start")).await;
    assert_eq!(bot.calls().len(), 2);
    // 🍕 is two UTF-16 code units (four bytes): the command starts at unit 5, byte 9.
    let text = "🍕🍕 /order_status@TestShopBot 🍕A17";
    let mut update = message(2, 5, text);
    let command = "/order_status@TestShopBot";
    update["message"]["entities"] =
        json!([{"offset": 5, "length": command.encode_utf16().count(), "type": "bot_command"}]);
    let (status, _) = deliver(&server, &update).await;
    assert_eq!(status, 200);
    let calls = &bot.calls()[2..];
    assert_eq!(calls.len(), 2, "{calls:#?}");
    assert_eq!(calls[0].body["text"], "Order 🍕A17 is in the oven.");
    // The pushed flow is done: the menu comes back, with its buttons.
    assert_eq!(calls[1].body["text"], "What would you like?");
    assert_eq!(keyboard(&calls[1].body)[0][0].0, "Order");
    // At the start of the message, without @bot.
    deliver(&server, &message(3, 5, "/order_status B-9")).await;
    assert_eq!(bot.calls()[4].body["text"], "Order B-9 is in the oven.");
    let state = session(&server, 5).await;
    assert_eq!(state["variables"]["order_id"], "B-9");
}

#[tokio::test]
async fn a_quick_reply_too_long_for_callback_data_sends_its_label() {
    let data = TempDir::new("tg-long");
    let bot = BotApi::start().await;
    let server = server(&shop_agent(&data, None), &data, &bot);
    deliver(&server, &message(1, 6, "/start")).await;
    let menu = bot.calls()[1].body.clone();
    let (status, _) = deliver(&server, &press(2, 6, &menu, "Order")).await;
    assert_eq!(status, 200);
    let calls = bot.calls();
    assert_eq!(calls[2].method, "answerCallbackQuery");
    let question = &calls[3].body;
    assert_eq!(question["text"], "Any delivery note?");
    let label = "Leave it at the back door on the second floor and ring twice, thanks 🍕";
    let buttons = keyboard(question);
    assert_eq!(buttons.len(), 2, "long labels get a row each: {buttons:?}");
    let (text, data) = &buttons[0][0];
    assert_eq!(text, label);
    assert!(data.starts_with("x:0:Leave it at the back door"), "{data}");
    assert!(data.len() <= 64, "{data}");
    assert_eq!(
        buttons[1][0],
        ("No note".to_owned(), "t:No note".to_owned())
    );
    let (status, body) = deliver(&server, &press(3, 6, question, label)).await;
    assert_eq!(status, 200);
    // The answer and one message: all through the Bot API (the answer comes first).
    assert_eq!(body, Value::Null);
    let calls = &bot.calls()[4..];
    assert_eq!(calls[0].body, json!({"callback_query_id": "cb-3"}));
    assert_eq!(calls[1].body["text"], format!("Noted: {label}"));
}

#[tokio::test]
async fn a_slow_turn_is_answered_at_once_and_replied_through_the_bot_api() {
    let data = TempDir::new("tg-slow");
    let bot = BotApi::start().await;
    let hook = slow_webhook(Duration::from_secs(4)).await;
    let server = server(&shop_agent(&data, Some(hook)), &data, &bot);
    deliver(&server, &message(1, 8, "/start")).await;
    assert_eq!(bot.calls().len(), 2);
    let began = Instant::now();
    let slow = message(2, 8, "/slow");
    let (status, body) = deliver(&server, &slow).await;
    let answered = began.elapsed();
    assert_eq!((status, &body), (200, &Value::Null));
    assert!(
        answered < Duration::from_millis(3500),
        "answered after {answered:?}"
    );
    assert_eq!(bot.calls().len(), 2, "the reply is not ready yet");
    // Telegram sends the chat's next update once answered: it waits for the slow turn, and its
    // reply comes after the slow one's.
    let (status, body) = deliver(&server, &message(3, 8, "/order_status C3")).await;
    assert_eq!(status, 200, "{body}");
    let calls = bot.wait_for(6, Duration::from_secs(15)).await;
    let texts: Vec<&str> = calls[2..]
        .iter()
        .map(|c| c.body["text"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        texts,
        [
            "Sorry for the wait.",
            "What would you like?",
            "Order C3 is in the oven.",
            "What would you like?"
        ]
    );
    assert!(began.elapsed() >= Duration::from_secs(4));
    assert!(calls[2..].iter().all(|c| c.body["chat_id"] == 8));
    // The slow update, redelivered after its reply went out: answered, not run again.
    let (status, _) = deliver(&server, &slow).await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(bot.calls().len(), 6);
}

#[tokio::test]
async fn odd_bodies_and_dead_buttons() {
    let data = TempDir::new("tg-odd");
    let bot = BotApi::start().await;
    let server = server(&repo("examples/agents/pizza.yaml"), &data, &bot);
    let headers = [("X-Telegram-Bot-Api-Secret-Token", SECRET)];
    // Not JSON: a client mistake, told as such.
    let (status, body) = server.post(WEBHOOK, "{not json", &headers).await;
    assert_eq!(status, 400);
    assert!(
        body["data"].as_str().unwrap().contains("not JSON"),
        "{body}"
    );
    // JSON that is not an update, and kinds of update turnstile does not handle: acknowledged,
    // nothing runs.
    let edited = json!({"update_id": 3, "edited_message": {"message_id": 1, "chat": chat(9),
        "date": 1, "edit_date": 2, "text": "changed"}});
    let photo = json!({"update_id": 4, "message": {"message_id": 2, "chat": chat(9), "date": 1,
        "photo": [{"file_id": "x", "file_unique_id": "y", "width": 1, "height": 1}]}});
    for update in [
        json!({}),
        json!([1, 2]),
        json!({"update_id": "x"}),
        edited,
        photo,
    ] {
        let (status, body) = server.post(WEBHOOK, &update.to_string(), &headers).await;
        assert_eq!((status, &body), (200, &Value::Null), "{update}");
    }
    assert_eq!(session(&server, 9).await, json!({}));
    // A button whose data turnstile did not write: the press is answered with a notice.
    let foreign = json!({"update_id": 5, "callback_query": {"id": "cb-x", "from": from(9),
        "chat_instance": "1", "data": "something else",
        "message": {"message_id": 3, "date": 1, "chat": chat(9), "text": "old"}}});
    let (status, body) = deliver(&server, &foreign).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"method": "answerCallbackQuery", "callback_query_id": "cb-x",
               "text": "This button no longer works."})
    );
    assert_eq!(session(&server, 9).await, json!({}));
    assert!(bot.calls().is_empty());
    // The recorded shapes parse as updates (the same types the server uses).
    assert!(parse_update(&message(1, 1, "/start")).is_some());
}
