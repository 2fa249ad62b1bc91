//! Build errors: every definition problem is reported with where it is.

use super::tests::{entity, intent, pizza_entities, pizza_intents};
use super::*;

fn build_error(intents: Vec<IntentDef>, entities: Vec<EntityDef>) -> NluBuildError {
    NluModel::build(&intents, &entities, &NluConfig::default()).unwrap_err()
}

#[test]
fn build_rejects_unknown_slot_with_its_place() {
    let mut intents = pizza_intents();
    intents[0].utterances[2] = "a {colour} pizza".to_owned();
    let err = build_error(intents, pizza_entities());
    assert_eq!(
        err,
        NluBuildError::UnknownSlot {
            intent: "order_pizza".to_owned(),
            utterance: 2,
            slot: "colour".to_owned(),
        }
    );
    assert_eq!(
        err.to_string(),
        "intent `order_pizza`, utterance #2: slot `{colour}` is not declared by the intent"
    );
}

#[test]
fn build_rejects_unknown_entity_type() {
    let mut intents = pizza_intents();
    intents[0].slots[0].entity_type = "sizes".to_owned();
    let err = build_error(intents, pizza_entities());
    assert_eq!(
        err,
        NluBuildError::UnknownEntityType {
            intent: "order_pizza".to_owned(),
            slot: "size".to_owned(),
            entity_type: "sizes".to_owned(),
        }
    );
    assert!(err.to_string().contains("unknown entity type `sizes`"));
}

#[test]
fn build_rejects_empty_and_malformed_utterances() {
    let mut intents = pizza_intents();
    intents[1].utterances[1] = " ?! ".to_owned();
    assert_eq!(
        build_error(intents, pizza_entities()),
        NluBuildError::EmptyUtterance {
            intent: "hours".to_owned(),
            utterance: 1,
        }
    );
    let mut intents = pizza_intents();
    intents[2].utterances[0] = "where is my order {number".to_owned();
    let err = build_error(intents, pizza_entities());
    assert!(
        matches!(&err, NluBuildError::MalformedUtterance { intent, utterance: 0, .. } if intent == "order_status"),
        "{err:?}"
    );
}

#[test]
fn build_rejects_bad_definitions() {
    let mut intents = pizza_intents();
    intents.push(intent("hours", &["open"], &[]));
    assert!(matches!(
        build_error(intents, pizza_entities()),
        NluBuildError::DuplicateIntent { .. }
    ));

    let mut entities = pizza_entities();
    entities.push(entity("number", &[("one", &[])]));
    assert!(matches!(
        build_error(pizza_intents(), entities),
        NluBuildError::ReservedEntityType { .. }
    ));

    let mut entities = pizza_entities();
    entities[0].values[1].synonyms.push("...".to_owned());
    assert_eq!(
        build_error(pizza_intents(), entities),
        NluBuildError::EmptyEntityValue {
            entity_type: "size".to_owned(),
            value: 1,
        }
    );

    let config = NluConfig {
        threshold: f32::NAN,
        ..NluConfig::default()
    };
    assert!(NluModel::build(&pizza_intents(), &pizza_entities(), &config).is_err());
}
