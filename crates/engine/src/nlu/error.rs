//! Errors reported while building an [`NluModel`](super::NluModel) from definitions.

/// Why a set of intent and entity definitions cannot be turned into a model.
///
/// Variants about an utterance carry the intent name and the utterance's index in that
/// intent's list, so a loader can point at the exact place in the source file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NluBuildError {
    /// An utterance has no words and no slots once punctuation is removed.
    #[error("intent `{intent}`, utterance #{utterance}: the utterance is empty")]
    EmptyUtterance {
        /// The intent's name.
        intent: String,
        /// The utterance's index in the intent's list, from 0.
        utterance: usize,
    },

    /// An utterance uses `{slot}` but the intent declares no slot of that name.
    #[error(
        "intent `{intent}`, utterance #{utterance}: slot `{{{slot}}}` is not declared by the intent"
    )]
    UnknownSlot {
        /// The intent's name.
        intent: String,
        /// The utterance's index in the intent's list, from 0.
        utterance: usize,
        /// The slot's name.
        slot: String,
    },

    /// An utterance has unbalanced or nested braces, or an empty `{}`.
    #[error("intent `{intent}`, utterance #{utterance}: {reason}")]
    MalformedUtterance {
        /// The intent's name.
        intent: String,
        /// The utterance's index in the intent's list, from 0.
        utterance: usize,
        /// What is wrong with it.
        reason: String,
    },

    /// A slot's entity type is neither a defined entity type nor the built-in `number`.
    #[error("intent `{intent}`, slot `{slot}`: unknown entity type `{entity_type}`")]
    UnknownEntityType {
        /// The intent's name.
        intent: String,
        /// The slot's name.
        slot: String,
        /// The entity type's name.
        entity_type: String,
    },

    /// Two slots of one intent share a name.
    #[error("intent `{intent}`: slot `{slot}` is declared more than once")]
    DuplicateSlot {
        /// The intent's name.
        intent: String,
        /// The slot's name.
        slot: String,
    },

    /// Two intents share a name.
    #[error("intent `{intent}` is defined more than once")]
    DuplicateIntent {
        /// The intent's name.
        intent: String,
    },

    /// Two entity types share a name.
    #[error("entity type `{entity_type}` is defined more than once")]
    DuplicateEntityType {
        /// The entity type's name.
        entity_type: String,
    },

    /// A custom entity type uses the name of the built-in `number` type.
    #[error("entity type `{entity_type}` is built in and cannot be redefined")]
    ReservedEntityType {
        /// The entity type's name.
        entity_type: String,
    },

    /// An entity value or one of its synonyms has no words once punctuation is removed.
    #[error(
        "entity type `{entity_type}`, value #{value}: the value or one of its synonyms is empty"
    )]
    EmptyEntityValue {
        /// The entity type's name.
        entity_type: String,
        /// The value's index in the type's list, from 0.
        value: usize,
    },

    /// The configured threshold is not a number between 0 and 1.
    #[error("NLU threshold {threshold} is not between 0 and 1")]
    InvalidThreshold {
        /// The value given.
        threshold: f32,
    },
}

/// Classification stopped because its deadline passed (see
/// [`NluModel::classify_until`](super::NluModel::classify_until)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("classification ran past its deadline")]
pub struct DeadlineExceeded;
