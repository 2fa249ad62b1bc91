//! Errors reported while building an [`NluModel`](super::NluModel) from definitions.

/// Why a set of intent and entity definitions cannot be turned into a model.
///
/// Variants about an utterance carry the intent name and the utterance's index in that
/// intent's list, so a loader can point at the exact place in the source file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NluBuildError {
    /// An utterance has no words and no slots once punctuation is removed.
    #[error("intent `{intent}`, utterance #{utterance}: the utterance is empty")]
    EmptyUtterance { intent: String, utterance: usize },

    /// An utterance uses `{slot}` but the intent declares no slot of that name.
    #[error(
        "intent `{intent}`, utterance #{utterance}: slot `{{{slot}}}` is not declared by the intent"
    )]
    UnknownSlot {
        intent: String,
        utterance: usize,
        slot: String,
    },

    /// An utterance has unbalanced or nested braces, or an empty `{}`.
    #[error("intent `{intent}`, utterance #{utterance}: {reason}")]
    MalformedUtterance {
        intent: String,
        utterance: usize,
        reason: String,
    },

    /// A slot's entity type is neither a defined entity type nor the built-in `number`.
    #[error("intent `{intent}`, slot `{slot}`: unknown entity type `{entity_type}`")]
    UnknownEntityType {
        intent: String,
        slot: String,
        entity_type: String,
    },

    /// Two slots of one intent share a name.
    #[error("intent `{intent}`: slot `{slot}` is declared more than once")]
    DuplicateSlot { intent: String, slot: String },

    /// Two intents share a name.
    #[error("intent `{intent}` is defined more than once")]
    DuplicateIntent { intent: String },

    /// Two entity types share a name.
    #[error("entity type `{entity_type}` is defined more than once")]
    DuplicateEntityType { entity_type: String },

    /// A custom entity type uses the name of the built-in `number` type.
    #[error("entity type `{entity_type}` is built in and cannot be redefined")]
    ReservedEntityType { entity_type: String },

    /// An entity value or one of its synonyms has no words once punctuation is removed.
    #[error(
        "entity type `{entity_type}`, value #{value}: the value or one of its synonyms is empty"
    )]
    EmptyEntityValue { entity_type: String, value: usize },

    /// The configured threshold is not a number between 0 and 1.
    #[error("NLU threshold {threshold} is not between 0 and 1")]
    InvalidThreshold { threshold: f32 },
}
