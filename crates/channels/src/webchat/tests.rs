use super::*;

fn button(query: &str) -> EventButton {
    PageOptions::from_query(query)
        .unwrap()
        .event_button
        .expect("an event button")
}

#[test]
fn the_event_button_comes_from_the_query() {
    let b =
        button("event=order_status&label=Track%20my%20order&data=%7B%22order_id%22%3A%22A17%22%7D");
    assert_eq!(b.name, "order_status");
    assert_eq!(b.label, "Track my order");
    assert_eq!(b.data["order_id"], "A17");
    assert_eq!(
        b.request(),
        json!({"type": "event", "payload": {"event": {"name": "order_status", "data": {"order_id": "A17"}}}})
    );
    // The request is one the engine accepts.
    let request = turnstile_engine::Request::from_json(&b.request()).unwrap();
    assert!(
        matches!(request, turnstile_engine::Request::Event(e) if e.name.as_str() == "order_status")
    );

    let plain = button("event=InitiateCheckout&utm_source=mail");
    assert_eq!(
        plain.label, "InitiateCheckout",
        "the label defaults to the name"
    );
    assert!(plain.data.is_empty());
    assert_eq!(PageOptions::from_query("").unwrap(), PageOptions::default());
    assert_eq!(
        PageOptions::from_query("utm_source=x").unwrap(),
        PageOptions::default()
    );
}

#[test]
fn bad_event_buttons_are_refused() {
    let error = |q: &str| PageOptions::from_query(q).unwrap_err();
    assert!(matches!(
        error("event=order%20status"),
        PageError::EventName(_)
    ));
    assert!(matches!(error("event="), PageError::EventName(_)));
    assert_eq!(error("label=Hi"), PageError::NoEvent);
    assert_eq!(error("data=%7B%7D"), PageError::NoEvent);
    assert_eq!(
        error("event=a&event=b"),
        PageError::Repeated("event".into())
    );
    assert_eq!(error("event=a&label=%20"), PageError::Label);
    assert_eq!(
        error(&format!(
            "event=a&label={}",
            "x".repeat(MAX_LABEL_CHARS + 1)
        )),
        PageError::Label
    );
    assert!(matches!(error("event=a&data=%5B1%5D"), PageError::Data(m) if m.contains("[1]")));
    assert!(matches!(error("event=a&data=%7B"), PageError::Data(_)));
    let big = format!("event=a&data={{\"k\":\"{}\"}}", "x".repeat(MAX_DATA_BYTES));
    assert_eq!(error(&big), PageError::DataTooLarge);
    // Every error says what is wrong in words a page author can act on.
    assert!(
        error("event=a&data=%5B1%5D")
            .to_string()
            .contains("JSON object")
    );
}

/// The text between `open` and the next `</script>` or `</style>` after it.
fn element<'a>(html: &'a str, open: &str, close: &str) -> &'a str {
    let start = html.find(open).unwrap_or_else(|| panic!("no {open}")) + open.len();
    let end = html[start..].find(close).unwrap() + start;
    &html[start..end]
}

#[test]
fn the_page_is_self_contained_and_its_policy_allows_exactly_its_own_code() {
    let page = render("default", "Pizza Palace", &PageOptions::default());
    let html = &page.html;
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("<title>Pizza Palace</title>"));
    assert!(!html.contains("{{"), "every placeholder is filled");
    for external in ["http://", "https://", "src=", "href=", "url(", "@import"] {
        assert!(
            !html.contains(external),
            "the page loads nothing: found {external}"
        );
    }
    let script = element(html, "<script>", "</script>");
    let style = element(html, "<style>", "</style>");
    assert_eq!(script, SCRIPT);
    assert_eq!(style, STYLE);
    let policy = page.content_security_policy;
    let hash = |text: &str| base64(&Sha256::digest(text.as_bytes()));
    assert!(
        policy.contains(&format!("script-src 'sha256-{}'", hash(script))),
        "{policy}"
    );
    assert!(
        policy.contains(&format!("style-src 'sha256-{}'", hash(style))),
        "{policy}"
    );
    assert!(policy.starts_with("default-src 'none';"));
    assert!(policy.contains("connect-src 'self'"));
    let config: Value = serde_json::from_str(element(
        html,
        r#"<script type="application/json" id="chat-config">"#,
        "</script>",
    ))
    .unwrap();
    assert_eq!(config, json!({"project": "default", "event": null}));
}

#[test]
fn nothing_from_the_query_or_title_can_leave_its_place() {
    let options = PageOptions::from_query(
        "event=go&label=%3C%2Fscript%3E%3Cb%3E&data=%7B%22x%22%3A%22%3C%2Fscript%3E%3C!--%26%22%7D",
    )
    .unwrap();
    let page = render("p<1>", "<img onerror=x>{{script}}", &options);
    let html = &page.html;
    assert_eq!(
        html.matches("</script>").count(),
        2,
        "only the page's own scripts close"
    );
    assert!(html.contains("<title>&lt;img onerror=x&gt;{{script}}</title>"));
    let raw = element(
        html,
        r#"<script type="application/json" id="chat-config">"#,
        "</script>",
    );
    assert!(
        !raw.contains('<') && !raw.contains('>') && !raw.contains('&'),
        "{raw}"
    );
    let config: Value = serde_json::from_str(raw).unwrap();
    assert_eq!(config["project"], "p<1>");
    assert_eq!(config["event"]["label"], "</script><b>");
    assert_eq!(config["event"]["data"]["x"], "</script><!--&");
}

#[test]
fn base64_matches_the_rfc_vectors() {
    let vectors = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];
    for (plain, encoded) in vectors {
        assert_eq!(base64(plain.as_bytes()), encoded);
    }
}
