//! Behaviour tests of the whole NLU on a small pizza-shop agent.

use super::*;

pub(super) fn intent(name: &str, utterances: &[&str], slots: &[(&str, &str)]) -> IntentDef {
    IntentDef {
        name: name.to_owned(),
        utterances: utterances.iter().map(|u| (*u).to_owned()).collect(),
        slots: slots
            .iter()
            .map(|(name, ty)| SlotDef {
                name: (*name).to_owned(),
                entity_type: (*ty).to_owned(),
            })
            .collect(),
    }
}

pub(super) fn entity(name: &str, values: &[(&str, &[&str])]) -> EntityDef {
    EntityDef {
        name: name.to_owned(),
        values: values
            .iter()
            .map(|(value, synonyms)| EntityValueDef {
                value: (*value).to_owned(),
                synonyms: synonyms.iter().map(|s| (*s).to_owned()).collect(),
            })
            .collect(),
    }
}

pub(super) fn pizza_intents() -> Vec<IntentDef> {
    vec![
        intent(
            "order_pizza",
            &[
                "I want a {size} pizza",
                "order a pizza",
                "I'd like to order a pizza",
                "can I get a {size} pizza",
            ],
            &[("size", "size")],
        ),
        intent(
            "hours",
            &[
                "when are you open",
                "what are your opening hours",
                "opening hours",
            ],
            &[],
        ),
        intent(
            "order_status",
            &["where is my order {number}"],
            &[("number", "number")],
        ),
    ]
}

pub(super) fn pizza_entities() -> Vec<EntityDef> {
    vec![entity(
        "size",
        &[
            ("small", &["tiny", "little"]),
            ("medium", &["regular"]),
            ("large", &["big", "huge", "extra large"]),
        ],
    )]
}

pub(super) fn pizza() -> NluModel {
    NluModel::build(&pizza_intents(), &pizza_entities(), &NluConfig::default()).unwrap()
}

pub(super) fn ent(name: &str, value: &str, query: &str) -> ExtractedEntity {
    ExtractedEntity {
        name: name.to_owned(),
        value: value.to_owned(),
        query: query.to_owned(),
    }
}

fn classify(model: &NluModel, text: &str) -> (Option<String>, f32, Vec<ExtractedEntity>) {
    let c = model.classify(text);
    (c.intent, c.confidence, c.entities)
}

#[test]
fn exact_template_with_synonym() {
    let (intent, confidence, entities) = classify(&pizza(), "I want a big pizza");
    assert_eq!(intent.as_deref(), Some("order_pizza"));
    assert_eq!(confidence, 1.0);
    assert_eq!(entities, [ent("size", "large", "big")]);
}

#[test]
fn exact_template_with_multi_word_synonym_keeps_user_spelling() {
    let (intent, confidence, entities) = classify(&pizza(), "i want a Extra  Large pizza");
    assert_eq!(intent.as_deref(), Some("order_pizza"));
    assert_eq!(confidence, 1.0);
    assert_eq!(entities, [ent("size", "large", "Extra  Large")]);
}

#[test]
fn exact_template_without_slots_ignores_case_and_punctuation() {
    let model = pizza();
    assert_eq!(
        model.classify("Opening hours!"),
        Classification {
            intent: Some("hours".to_owned()),
            confidence: 1.0,
            entities: vec![],
        }
    );
    let (intent, confidence, _) = classify(&model, "I’D LIKE TO ORDER A PIZZA...");
    assert_eq!((intent.as_deref(), confidence), (Some("order_pizza"), 1.0));
}

#[test]
fn near_match_paraphrase() {
    let (intent, confidence, entities) = classify(&pizza(), "when do you open");
    assert_eq!(intent.as_deref(), Some("hours"));
    assert!(confidence > 0.0 && confidence < 1.0, "{confidence}");
    assert!(entities.is_empty());
}

#[test]
fn near_match_extracts_slot_values() {
    let (intent, confidence, entities) = classify(&pizza(), "I would like a huge pizza please");
    assert_eq!(intent.as_deref(), Some("order_pizza"));
    assert!(confidence > 0.0 && confidence < 1.0, "{confidence}");
    assert_eq!(entities, [ent("size", "large", "huge")]);
}

#[test]
fn near_match_tolerates_typos() {
    let model = pizza();
    for text in ["opnening hours", "whn are you open", "opening hoors"] {
        let (intent, confidence, _) = classify(&model, text);
        assert_eq!(intent.as_deref(), Some("hours"), "{text}");
        assert!(confidence < 1.0, "{text}: {confidence}");
    }
    // A typo in an entity value is corrected too; the query shows what the user wrote.
    let (intent, _, entities) = classify(&model, "i want a lagre pizza");
    assert_eq!(intent.as_deref(), Some("order_pizza"));
    assert_eq!(entities, [ent("size", "large", "lagre")]);
}

#[test]
fn near_match_never_reaches_full_confidence() {
    let (intent, confidence, _) = classify(&pizza(), "pizza a order");
    assert_eq!(intent.as_deref(), Some("order_pizza"));
    assert!(confidence < 1.0);
}

#[test]
fn unrelated_text_is_none() {
    let model = pizza();
    for text in ["banana", "", "!!!", "🍕🍕", "the weather in Paris tomorrow"] {
        let c = model.classify(text);
        assert_eq!(c.intent, None, "{text}");
        assert!(c.entities.is_empty(), "{text}");
        assert!(c.confidence < model.threshold(), "{text}");
    }
    assert_eq!(model.classify("").confidence, 0.0);
    assert_eq!(model.classify("!!!").confidence, 0.0);
}

#[test]
fn numbers_fill_number_slots() {
    let model = pizza();
    let (intent, confidence, entities) = classify(&model, "Where is my order 12345?");
    assert_eq!((intent.as_deref(), confidence), (Some("order_status"), 1.0));
    assert_eq!(entities, [ent("number", "12345", "12345")]);
    let (_, confidence, entities) = classify(&model, "where is my order twelve");
    assert_eq!(confidence, 1.0);
    assert_eq!(entities, [ent("number", "12", "twelve")]);
    let (intent, confidence, entities) = classify(&model, "what's the status of my order 42");
    assert_eq!(intent.as_deref(), Some("order_status"));
    assert!(confidence < 1.0);
    assert_eq!(entities, [ent("number", "42", "42")]);
}

#[test]
fn extract_finds_canonical_values() {
    let model = pizza();
    assert_eq!(
        model.extract("big", "size"),
        Some(ent("size", "large", "big"))
    );
    assert_eq!(
        model.extract("Make it EXTRA large, please", "size"),
        Some(ent("size", "large", "EXTRA large"))
    );
    assert_eq!(
        model
            .extract("a tiny one and a big one", "size")
            .map(|e| e.value)
            .as_deref(),
        Some("small")
    );
    assert_eq!(model.extract("nothing here", "size"), None);
    assert_eq!(model.extract("big", "colour"), None);
    assert_eq!(
        model.extract("I need 2.5 kg", "number"),
        Some(ent("number", "2.5", "2.5"))
    );
    assert_eq!(
        model.extract("three please", "number"),
        Some(ent("number", "3", "three"))
    );
    assert_eq!(model.extract("", "number"), None);
}

#[test]
fn two_slots_of_one_type_take_distinct_values() {
    let intents = vec![intent(
        "compare",
        &["compare {a} and {b}"],
        &[("a", "size"), ("b", "size")],
    )];
    let model = NluModel::build(&intents, &pizza_entities(), &NluConfig::default()).unwrap();
    let (_, confidence, entities) = classify(&model, "compare big and tiny");
    assert_eq!(confidence, 1.0);
    assert_eq!(
        entities,
        [ent("a", "large", "big"), ent("b", "small", "tiny")]
    );
    let (intent, confidence, entities) = classify(&model, "please compare big with tiny");
    assert_eq!(intent.as_deref(), Some("compare"));
    assert!(confidence < 1.0);
    assert_eq!(
        entities,
        [ent("a", "large", "big"), ent("b", "small", "tiny")]
    );
}

#[test]
fn slot_only_utterance_matches_exactly() {
    let intents = vec![intent("give_size", &["{size}"], &[("size", "size")])];
    let model = NluModel::build(&intents, &pizza_entities(), &NluConfig::default()).unwrap();
    let (intent, confidence, entities) = classify(&model, "Huge!");
    assert_eq!((intent.as_deref(), confidence), (Some("give_size"), 1.0));
    assert_eq!(entities, [ent("size", "large", "Huge")]);
}

#[test]
fn results_are_deterministic_and_ties_pick_the_first_intent() {
    let model = pizza();
    for text in [
        "I would like a huge pizza please",
        "when do you open",
        "banana",
    ] {
        assert_eq!(model.classify(text), model.classify(text));
        assert_eq!(model.classify(text), model.clone().classify(text));
    }
    let twins = vec![
        intent("first", &["hello there", "good morning"], &[]),
        intent("second", &["hello there", "good morning"], &[]),
    ];
    let model = NluModel::build(&twins, &[], &NluConfig::default()).unwrap();
    assert_eq!(classify(&model, "hello there").0.as_deref(), Some("first"));
    let (intent, confidence, _) = classify(&model, "well hello there");
    assert_eq!(intent.as_deref(), Some("first"));
    assert!(confidence < 1.0);
}

#[test]
fn odd_input_never_panics() {
    let model = pizza();
    let huge = "pizza big 12 😀 ".repeat(20_000);
    for text in [
        huge.as_str(),
        "{size}",
        "' ' '",
        "\u{0}\u{7}\t\n",
        "ﷺ ǅ İ ß 日本語のテキスト",
        "1.2.3.4 0.0 .5 5.",
        "'''''big'''''",
        "a\u{301}\u{301}\u{301}",
    ] {
        let _ = model.classify(text);
        let _ = model.extract(text, "size");
        let _ = model.extract(text, "number");
    }
}

#[test]
fn model_is_shareable() {
    fn assert_traits<T: Send + Sync + Clone + std::fmt::Debug>() {}
    assert_traits::<NluModel>();
    let debug = format!("{:?}", pizza());
    assert!(debug.contains("intents: 3"), "{debug}");
}

#[test]
fn knows_its_names() {
    let model = pizza();
    assert!(model.has_intent("hours") && !model.has_intent("Hours"));
    assert!(model.has_entity_type("size") && model.has_entity_type("number"));
    assert!(!model.has_entity_type("colour"));
    assert!(model.entity_type_exists("number"));
    let names: Vec<&str> = model.intent_names().collect();
    assert_eq!(names, ["order_pizza", "hours", "order_status"]);
}

/// A model whose only intent is a 40-letter word, and one whose intent is a 30-letter word.
fn long_word_models() -> (NluModel, String, NluModel, String) {
    let over = "pneumonoultramicroscopicsilicovolcanoxyz".to_owned(); // 40 letters
    let under = over[..30].to_owned();
    let build = |word: &str| {
        let intents = [intent("word", &[word], &[])];
        NluModel::build(&intents, &[], &NluConfig::default()).unwrap()
    };
    (build(&over), over, build(&under), under)
}

#[test]
fn words_longer_than_the_cap_are_not_spell_corrected() {
    let (over_model, over, under_model, under) = long_word_models();
    // One substitution away from the known word, each time.
    let typo = |word: &str| format!("x{}", &word[1..]);
    let corrected = under_model.classify(&typo(&under));
    assert_eq!(corrected.intent.as_deref(), Some("word"), "{corrected:?}");
    let left_alone = over_model.classify(&typo(&over));
    assert_eq!(left_alone.intent, None, "{left_alone:?}");
    assert_eq!(over_model.classify(&over).intent.as_deref(), Some("word"));
}

#[test]
fn classifying_a_huge_word_costs_about_reading_it() {
    // Correcting a word costs its length squared: 200,000 letters took 24 s (release) before
    // the cap; now the word is read a few times. The bound is generous (debug build, shared
    // machine) yet far below what the quadratic cost would take.
    let model = pizza();
    let text = format!("when are you open {}", "a".repeat(200_000));
    let started = std::time::Instant::now();
    let result = model.classify(&text);
    let took = started.elapsed();
    assert_eq!(result.intent.as_deref(), Some("hours"), "{result:?}");
    assert!(took < std::time::Duration::from_secs(2), "took {took:?}");
}

#[test]
fn classification_stops_at_its_deadline() {
    let model = pizza();
    let past = std::time::Instant::now();
    assert_eq!(
        model.classify_until("opning hours", Some(past)),
        Err(DeadlineExceeded)
    );
    // Many words spelling correction looks at, and a deadline that passes while it runs.
    let text = "xqzvb ".repeat(300_000);
    let started = std::time::Instant::now();
    let deadline = started + std::time::Duration::from_millis(20);
    assert_eq!(
        model.classify_until(&text, Some(deadline)),
        Err(DeadlineExceeded)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    // Without a deadline the same model answers as usual.
    let result = model.classify_until("opning hours", None).unwrap();
    assert_eq!(result.intent.as_deref(), Some("hours"));
}
