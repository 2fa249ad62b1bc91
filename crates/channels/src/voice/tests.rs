use serde_json::{Value, json};
use turnstile_engine::trace::{Button, Card, TextTrace};
use turnstile_engine::{Request, Trace, TraceKind};

use super::*;

fn parse(event: Value) -> Result<VoiceEvent, VoiceError> {
    VoiceEvent::parse(event.to_string().as_bytes())
}

fn session() -> Value {
    json!({
        "id": "550e8400-e29b-41d4-a716-446655440000",
        "account_id": "account-123",
        "phone_number": "+1234567890",
        "direction": "inbound",
        "from_phone_number": "+9876543210",
        "to_phone_number": "+1234567890"
    })
}

fn trace(kind: TraceKind) -> Trace {
    Trace { kind, time: 1 }
}

fn custom(name: &str, payload: Value) -> Trace {
    trace(TraceKind::Custom {
        name: name.into(),
        payload,
        paths: Vec::new(),
        default_path: Some(0),
    })
}

#[test]
fn session_start_launches_with_the_call_fields_as_variables() {
    let event = parse(json!({"type": "session_start", "session": session()})).unwrap();
    assert_eq!(
        event.user_id(),
        "voice:550e8400-e29b-41d4-a716-446655440000"
    );
    assert_eq!(event.type_name(), "session_start");
    let Handling::Turn {
        request,
        variables,
        opens_call,
    } = event.handling()
    else {
        panic!("not a turn")
    };
    assert_eq!(request, Request::Launch);
    assert!(opens_call);
    assert_eq!(
        Value::Object(variables),
        json!({
            "account_id": "account-123",
            "phone_number": "+1234567890",
            "direction": "inbound",
            "from_phone_number": "+9876543210",
            "to_phone_number": "+1234567890",
            "barged_in": false
        })
    );
}

#[test]
fn session_fields_are_optional_and_numbers_are_kept_as_written() {
    let event = parse(json!({"type": "session_start",
        "session": {"id": "c1", "from_phone_number": 4930123, "direction": null}}))
    .unwrap();
    assert_eq!(
        Value::Object(event.session.fields),
        json!({"from_phone_number": "4930123"})
    );
    let err = parse(json!({"type": "session_start", "session": {"id": "c1", "direction": []}}));
    assert_eq!(
        err.unwrap_err(),
        VoiceError::Field {
            field: "session.direction",
            expected: "a string"
        }
    );
}

#[test]
fn user_speak_is_text_and_records_barge_in() {
    for (barged_in, expected) in [
        (json!(true), true),
        (json!(false), false),
        (Value::Null, false),
    ] {
        let event = parse(json!({"type": "user_speak", "text": "I need help",
            "barged_in": barged_in, "session": {"id": "c1"}}))
        .unwrap();
        let Handling::Turn {
            request,
            variables,
            opens_call,
        } = event.handling()
        else {
            panic!("not a turn")
        };
        assert_eq!(request, Request::Text("I need help".into()));
        assert_eq!(variables["barged_in"], json!(expected));
        assert!(!opens_call);
    }
    let missing = parse(json!({"type": "user_speak", "session": {"id": "c1"}})).unwrap_err();
    assert!(matches!(missing, VoiceError::Field { field: "text", .. }));
    let wrong = parse(
        json!({"type": "user_speak", "text": "x", "barged_in": "yes",
        "session": {"id": "c1"}}),
    );
    assert!(matches!(
        wrong,
        Err(VoiceError::Field {
            field: "barged_in",
            ..
        })
    ));
}

#[test]
fn dtmf_is_the_dtmf_event_with_the_digit() {
    for (digit, expected) in [
        (json!("5"), "5"),
        (json!(7), "7"),
        (json!("#"), "#"),
        (json!(" * "), "*"),
        (json!("b"), "B"),
    ] {
        let event = parse(json!({"type": "dtmf_received", "digit": digit,
            "session": {"id": "c1"}}))
        .unwrap();
        let Handling::Turn { request, .. } = event.handling() else {
            panic!("not a turn")
        };
        assert_eq!(
            request.to_json(),
            json!({"type": "event", "payload": {"event": {"name": "dtmf",
                "data": {"digit": expected}}}})
        );
    }
    for digit in [
        json!(""),
        json!("x"),
        json!(-1),
        json!(null),
        json!("1".repeat(65)),
    ] {
        let err = parse(json!({"type": "dtmf_received", "digit": digit, "session": {"id": "c"}}));
        assert!(
            matches!(err, Err(VoiceError::Field { field: "digit", .. })),
            "{digit}"
        );
    }
}

#[test]
fn the_other_events_acknowledge_time_out_or_end_the_call() {
    let handling = |kind: &str| {
        parse(json!({"type": kind, "session": {"id": "c1"}}))
            .unwrap()
            .handling()
    };
    assert!(matches!(
        handling("user_input_timeout"),
        Handling::Turn {
            request: Request::NoReply,
            opens_call: false,
            ..
        }
    ));
    for kind in [
        "user_speech_started",
        "assistant_speak",
        "assistant_speech_ended",
    ] {
        assert_eq!(handling(kind), Handling::Acknowledge, "{kind}");
    }
    assert_eq!(handling("session_end"), Handling::EndCall);
}

#[test]
fn malformed_events_are_refused_with_a_reason() {
    assert!(matches!(
        VoiceEvent::parse(b"{not json"),
        Err(VoiceError::Json(_))
    ));
    assert_eq!(parse(json!([1])).unwrap_err(), VoiceError::NotAnEvent);
    assert_eq!(
        parse(json!({"type": 3})).unwrap_err(),
        VoiceError::NotAnEvent
    );
    let unknown = parse(json!({"type": "sms_failed", "session": {"id": "c1"}})).unwrap_err();
    assert_eq!(unknown, VoiceError::UnknownType("sms_failed".into()));
    assert!(
        unknown
            .to_string()
            .contains("session_start, user_speech_started")
    );
    for session in [
        json!(null),
        json!({}),
        json!({"id": ""}),
        json!({"id": "a b"}),
        json!({"id": 17}),
        json!({"id": "x".repeat(123)}),
    ] {
        let err = parse(json!({"type": "session_end", "session": session}));
        assert_eq!(err.unwrap_err(), VoiceError::SessionId, "{session}");
    }
    assert!(parse(json!({"type": "session_end", "session": {"id": "x".repeat(122)}})).is_ok());
}

#[test]
fn seq_becomes_the_idempotency_key() {
    let event = |seq: Value| {
        parse(json!({"type": "user_input_timeout", "seq": seq, "session": {"id": "c1"}}))
    };
    assert_eq!(
        event(json!(12)).unwrap().idempotency_key().as_deref(),
        Some("voice-seq-12")
    );
    assert_eq!(
        event(json!("evt-9")).unwrap().idempotency_key().as_deref(),
        Some("voice-seq-evt-9")
    );
    assert_eq!(event(Value::Null).unwrap().idempotency_key(), None);
    for bad in [
        json!(-1),
        json!(""),
        json!(1.5),
        json!({}),
        json!("x".repeat(201)),
    ] {
        assert!(matches!(
            event(bad),
            Err(VoiceError::Field { field: "seq", .. })
        ));
    }
}

#[test]
fn traces_render_as_actions_in_order() {
    let traces = vec![
        custom("play", json!({"url": "https://example.com/chime.wav"})),
        trace(TraceKind::Speak {
            message: "<speak>Welcome to <emphasis>Voice Desk</emphasis>.</speak>".into(),
        }),
        trace(TraceKind::Text(TextTrace {
            id: "t".into(),
            message: " How can I help? ".into(),
            delay: 1000,
        })),
        trace(TraceKind::Choice {
            buttons: vec![Button {
                name: "Billing".into(),
                request: json!({"type": "path-1"}),
            }],
        }),
        trace(TraceKind::Visual(
            json!({"image": "https://example.com/x.png"}),
        )),
        trace(TraceKind::Path {
            path: "capture".into(),
        }),
        custom(
            "collect_dtmf",
            json!({"max_digits": "4", "timeout_ms": 8000, "finish_on_key": "*"}),
        ),
        custom("collect_dtmf", json!({})),
        trace(TraceKind::NoReply { timeout: 7 }),
        custom("transfer", json!({"to": "+4921100000"})),
        custom("calendar", json!({})),
        trace(TraceKind::End { explicit: true }),
        trace(TraceKind::Text(TextTrace {
            id: "t".into(),
            message: "never said".into(),
            delay: 0,
        })),
    ];
    let rendered = render(&traces);
    assert!(rendered.skipped.is_empty());
    let json = serde_json::to_value(&rendered.actions).unwrap();
    assert_eq!(
        json,
        json!([
            {"type": "play", "url": "https://example.com/chime.wav"},
            {"type": "speak", "text": "Welcome to Voice Desk.",
             "ssml": "<speak>Welcome to <emphasis>Voice Desk</emphasis>.</speak>"},
            {"type": "speak", "text": "How can I help?"},
            {"type": "collect_dtmf", "max_digits": 4, "timeout_ms": 8000, "finish_on_key": "*"},
            {"type": "collect_dtmf", "max_digits": 1, "timeout_ms": 5000, "finish_on_key": "#"},
            {"type": "listen", "timeout_ms": 7000},
            {"type": "transfer", "to": "+4921100000"},
            {"type": "hangup"}
        ])
    );
}

#[test]
fn cards_are_spoken_and_empty_speech_is_dropped() {
    let card = |title: &str, description: &str| Card {
        id: "c".into(),
        title: title.into(),
        description: description.into(),
        image_url: None,
        buttons: Vec::new(),
    };
    let traces = vec![
        trace(TraceKind::Card(card("Today's menu", "Espresso and latte."))),
        trace(TraceKind::Carousel {
            layout: "Carousel".into(),
            cards: vec![
                card("Espresso!", "Short."),
                card("", "Only words"),
                card("", ""),
            ],
        }),
        trace(TraceKind::Speak {
            message: "<speak><break time=\"1s\"/></speak>".into(),
        }),
        trace(TraceKind::Speak {
            message: "Plain words".into(),
        }),
        trace(TraceKind::End { explicit: false }),
    ];
    let json = serde_json::to_value(render(&traces).actions).unwrap();
    assert_eq!(
        json,
        json!([
            {"type": "speak", "text": "Today's menu. Espresso and latte."},
            {"type": "speak", "text": "Espresso! Short."},
            {"type": "speak", "text": "Only words"},
            {"type": "speak", "text": "Plain words"},
            {"type": "hangup"}
        ])
    );
}

#[test]
fn malformed_action_payloads_are_skipped_with_a_reason() {
    let traces = vec![
        custom("play", json!({"url": ""})),
        custom("transfer", json!({"number": "+49"})),
        custom("collect_dtmf", json!({"max_digits": 0})),
        custom("collect_dtmf", json!({"timeout_ms": 600_001})),
        custom("collect_dtmf", json!({"finish_on_key": "9"})),
        custom("collect_dtmf", json!({"max_digits": "many"})),
        trace(TraceKind::Text(TextTrace {
            id: "t".into(),
            message: "still said".into(),
            delay: 0,
        })),
    ];
    let rendered = render(&traces);
    assert_eq!(
        rendered.actions,
        [Action::Speak {
            text: "still said".into(),
            ssml: None
        }]
    );
    let reasons: Vec<(&str, &str)> = rendered
        .skipped
        .iter()
        .map(|s| (s.trace.as_str(), s.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("play", "the payload needs a non-empty string `url`"),
            ("transfer", "the payload needs a non-empty string `to`"),
            (
                "collect_dtmf",
                "`max_digits` must be a whole number from 1 to 64"
            ),
            (
                "collect_dtmf",
                "`timeout_ms` must be a whole number from 1 to 600000"
            ),
            (
                "collect_dtmf",
                "`finish_on_key` must be \"#\", \"*\" or \"\", not \"9\""
            ),
            (
                "collect_dtmf",
                "`max_digits` must be a whole number from 1 to 64"
            ),
        ]
    );
}

#[test]
fn bearer_tokens_are_checked() {
    assert_eq!(verify_bearer("tok", Some("Bearer tok")), Ok(()));
    assert_eq!(verify_bearer("tok", Some("  bearer   tok ")), Ok(()));
    assert_eq!(
        verify_bearer("tok", Some("Bearer tok2")),
        Err(AuthError::Invalid)
    );
    assert_eq!(
        verify_bearer("tok", Some("Bearer to")),
        Err(AuthError::Invalid)
    );
    assert_eq!(
        verify_bearer("tok", Some("Basic tok")),
        Err(AuthError::Missing)
    );
    assert_eq!(verify_bearer("tok", Some("tok")), Err(AuthError::Missing));
    assert_eq!(
        verify_bearer("tok", Some("Bearer ")),
        Err(AuthError::Missing)
    );
    assert_eq!(verify_bearer("tok", None), Err(AuthError::Missing));
    // A project configured with an empty token admits nobody.
    assert_eq!(verify_bearer("", Some("Bearer x")), Err(AuthError::Invalid));
}
