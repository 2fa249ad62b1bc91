//! The labelled sentences the default threshold was tuned on, and a check that it still fits.

use super::tests::{pizza, pizza_entities, pizza_intents};
use super::*;

/// Sentences a pizza-shop agent should (first group, with the expected intent) or should not
/// (second group) understand. They are what [`NluConfig::DEFAULT_THRESHOLD`] was tuned on.
const POSITIVES: [(&str, &str); 30] = [
    ("order_pizza", "I would like a huge pizza please"),
    ("order_pizza", "can i order a pizza"),
    ("order_pizza", "i want pizza"),
    ("order_pizza", "a large pizza please"),
    ("order_pizza", "one big pizza please"),
    ("order_pizza", "get me a pizza"),
    ("order_pizza", "i'd like a small pizza"),
    ("order_pizza", "pizza please"),
    ("order_pizza", "i want to order pizza"),
    ("order_pizza", "could i have a medium pizza"),
    ("order_pizza", "order pizzas"),
    ("order_pizza", "give me a pizza"),
    ("hours", "when do you open"),
    ("hours", "opnening hours"),
    ("hours", "whn are you open"),
    ("hours", "what time do you open"),
    ("hours", "are you open"),
    ("hours", "what are the opening hours"),
    ("hours", "are you open now"),
    ("hours", "when do you close"),
    ("hours", "your hours please"),
    ("hours", "open hours"),
    ("hours", "is it open on sunday"),
    ("order_status", "where is my order"),
    ("order_status", "where is order 12"),
    ("order_status", "status of my order 42"),
    ("order_status", "wheres my order"),
    ("order_status", "where's my pizza order 7"),
    ("order_status", "has my order 5 shipped"),
    ("order_status", "track my order"),
];

const NEGATIVES: [&str; 22] = [
    "banana",
    "the weather in Paris tomorrow",
    "tell me a joke",
    "is it raining in Paris",
    "what is your name",
    "where are you",
    "i want a car",
    "can i get a refund",
    "hello",
    "thanks a lot",
    "how are you",
    "what is the weather like",
    "I want to speak to a human",
    "who are you",
    "i love you",
    "what can you do",
    "goodbye",
    "how much is it",
    "can you help me",
    "my name is john",
    "where do you live",
    "what is the time",
];

/// How many labelled sentences a threshold gets right, from scores computed once.
fn correct_at(threshold: f32, positives: &[(bool, f32)], negatives: &[f32]) -> usize {
    let pos = positives
        .iter()
        .filter(|&&(right, score)| right && score >= threshold);
    let neg = negatives.iter().filter(|&&score| score < threshold);
    pos.count() + neg.count()
}

#[test]
fn default_threshold_is_near_the_best_on_labelled_sentences() {
    let config = NluConfig {
        threshold: 0.0,
        ..NluConfig::default()
    };
    let model = NluModel::build(&pizza_intents(), &pizza_entities(), &config).unwrap();
    let positives: Vec<(bool, f32)> = POSITIVES
        .iter()
        .map(|(expected, text)| {
            let c = model.classify(text);
            (c.intent.as_deref() == Some(*expected), c.confidence)
        })
        .collect();
    let negatives: Vec<f32> = NEGATIVES
        .iter()
        .map(|t| model.classify(t).confidence)
        .collect();
    let best = (0..=100)
        .map(|t| correct_at(t as f32 / 100.0, &positives, &negatives))
        .max()
        .unwrap_or(0);
    let default = correct_at(NluConfig::DEFAULT_THRESHOLD, &positives, &negatives);
    assert!(
        default + 2 >= best,
        "default gets {default}, best threshold {best}"
    );
    // Utterances the sample agent must understand (a paraphrase, a question, a typo) clear
    // the default threshold with a margin.
    let pizza = pizza();
    for text in [
        "I would like a huge pizza please",
        "when do you open",
        "opnening hours",
    ] {
        assert!(
            pizza.classify(text).confidence >= NluConfig::DEFAULT_THRESHOLD + 0.05,
            "{text}"
        );
    }
}
