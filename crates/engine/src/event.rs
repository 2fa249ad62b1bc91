//! Event names, with Dialogflow's rules: 1–50 characters of `[A-Za-z0-9_-]`, matched
//! case-insensitively, and the reserved `WELCOME` family.

use std::fmt;

/// The rule every event name follows, quoted in errors.
pub const EVENT_NAME_RULE: &str =
    "an event name is 1 to 50 characters of letters A-Z/a-z, digits, '_' or '-'";

/// A validated event name. Equality ignores ASCII case; the name keeps its spelling for display.
#[derive(Debug, Clone)]
pub struct EventName {
    name: String,
    folded: String,
}

/// An event name that breaks [`EVENT_NAME_RULE`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid event name {name:?}: {EVENT_NAME_RULE}")]
pub struct InvalidEventName {
    /// The name as given.
    pub name: String,
}

impl EventName {
    /// Validates `name`.
    ///
    /// ```
    /// use turnstile_engine::EventName;
    /// assert_eq!(EventName::new("Order_Status").unwrap(), EventName::new("order_status").unwrap());
    /// assert!(EventName::new("order status").is_err());
    /// ```
    pub fn new(name: &str) -> Result<Self, InvalidEventName> {
        let valid = (1..=50).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !valid {
            return Err(InvalidEventName {
                name: name.chars().take(80).collect(),
            });
        }
        Ok(EventName {
            name: name.to_owned(),
            folded: name.to_ascii_lowercase(),
        })
    }

    /// The name as it was written.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// The case-folded name used for matching.
    pub fn folded(&self) -> &str {
        &self.folded
    }

    /// `WELCOME` or a platform welcome such as `TELEGRAM_WELCOME`.
    pub fn is_welcome(&self) -> bool {
        self.folded == "welcome" || self.folded.ends_with("_welcome")
    }
}

impl PartialEq for EventName {
    fn eq(&self, other: &Self) -> bool {
        self.folded == other.folded
    }
}

impl Eq for EventName {}

impl fmt::Display for EventName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enforces_the_dialogflow_rule() {
        for ok in ["a", "WELCOME", "order-status_2", &"x".repeat(50)] {
            assert!(EventName::new(ok).is_ok(), "{ok}");
        }
        for bad in ["", "has space", "émoji", "dot.ted", &"x".repeat(51)] {
            let err = EventName::new(bad).unwrap_err();
            assert!(err.to_string().contains("1 to 50 characters"), "{err}");
        }
    }

    #[test]
    fn matches_case_insensitively_and_knows_welcomes() {
        assert_eq!(
            EventName::new("ORDER_status").unwrap(),
            EventName::new("order_STATUS").unwrap()
        );
        assert!(EventName::new("telegram_welcome").unwrap().is_welcome());
        assert!(EventName::new("WELCOME").unwrap().is_welcome());
        assert!(!EventName::new("welcomes").unwrap().is_welcome());
    }
}
