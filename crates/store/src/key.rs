//! Session keys and the validation every backend applies to keys.

use std::fmt;

use crate::StoreError;

/// Identifies one conversation: the project (tenant) and the user id within it.
///
/// Both parts may be any UTF-8 text without NUL characters (`:`, `/`, `@`, `.`, spaces and
/// non-ASCII letters are all fine); backends keep the two parts apart, so
/// `("a:b", "c")` and `("a", "b:c")` are different sessions. NUL is refused by every backend
/// because PostgreSQL text columns cannot hold it.
///
/// ```
/// use turnstile_store::SessionKey;
///
/// let key = SessionKey::new("acme", "user@example.com");
/// assert_eq!(key.project, "acme");
/// assert!(key.validate().is_ok());
/// assert!(SessionKey::new("acme", "bad\0user").validate().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionKey {
    /// The project (tenant) the session belongs to.
    pub project: String,
    /// The user id, unique within the project.
    pub user: String,
}

impl SessionKey {
    /// A key for `user` in `project`.
    pub fn new(project: impl Into<String>, user: impl Into<String>) -> Self {
        SessionKey {
            project: project.into(),
            user: user.into(),
        }
    }

    /// Checks that the key can be stored: neither part contains a NUL character.
    ///
    /// Every store operation calls this and returns [`StoreError::InvalidKey`] on failure.
    pub fn validate(&self) -> Result<(), StoreError> {
        check_no_nul("project", &self.project)?;
        check_no_nul("user id", &self.user)
    }
}

impl fmt::Display for SessionKey {
    /// `project/user`, for logs. Not unambiguous (either part may contain `/`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.project, self.user)
    }
}

/// Checks that an idempotency key can be stored (no NUL character).
pub(crate) fn validate_idempotency_key(idempotency_key: &str) -> Result<(), StoreError> {
    check_no_nul("idempotency key", idempotency_key)
}

/// Checks that a partition owner (a node id) can be stored (no NUL character).
pub(crate) fn validate_owner(owner: &str) -> Result<(), StoreError> {
    check_no_nul("partition owner", owner)
}

fn check_no_nul(what: &str, value: &str) -> Result<(), StoreError> {
    if value.contains('\0') {
        return Err(StoreError::InvalidKey(format!(
            "the {what} {value:?} contains a NUL character"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_punctuation_and_unicode() {
        for (project, user) in [
            ("p:1", "u/2"),
            ("a@b.c", "ü→☃"),
            ("", ""),
            ("with space", "tab\there"),
        ] {
            assert!(SessionKey::new(project, user).validate().is_ok());
        }
    }

    #[test]
    fn rejects_nul_in_either_part() {
        for key in [SessionKey::new("a\0", "b"), SessionKey::new("a", "\0b")] {
            let err = key.validate().unwrap_err();
            assert!(matches!(err, StoreError::InvalidKey(_)), "{err}");
            assert!(err.to_string().contains("NUL"), "{err}");
        }
        assert!(validate_idempotency_key("x\0y").is_err());
        assert!(validate_idempotency_key("turn-1").is_ok());
        assert!(validate_owner("node\0").is_err());
        assert!(validate_owner("node-1").is_ok());
    }

    #[test]
    fn display_joins_parts() {
        assert_eq!(SessionKey::new("p", "u").to_string(), "p/u");
    }
}
