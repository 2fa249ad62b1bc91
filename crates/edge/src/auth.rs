//! API keys and projects: a key opens only its own project's sessions.

use std::collections::HashSet;

use axum::http::{HeaderMap, header};
use subtle::ConstantTimeEq;

use crate::error::ApiError;

/// Who may use which project.
#[derive(Debug, Clone, Default)]
pub struct Auth {
    /// `(key, project)` pairs.
    keys: Vec<(String, String)>,
    /// Without keys: the single project everyone may use (development mode).
    open_project: Option<String>,
    /// Projects whose public (keyless, widget) routes are enabled.
    public: HashSet<String>,
}

impl Auth {
    /// Keys, each opening one project.
    pub fn with_keys(keys: impl IntoIterator<Item = (String, String)>) -> Auth {
        Auth {
            keys: keys.into_iter().collect(),
            ..Auth::default()
        }
    }

    /// Development mode: no keys, one open project.
    pub fn open(project: impl Into<String>) -> Auth {
        let project = project.into();
        Auth {
            public: [project.clone()].into_iter().collect(),
            open_project: Some(project),
            ..Auth::default()
        }
    }

    /// Enables the public widget routes of `project`.
    pub fn with_public(mut self, project: impl Into<String>) -> Auth {
        self.public.insert(project.into());
        self
    }

    /// Development mode: no keys, one open project.
    pub fn is_open(&self) -> bool {
        self.open_project.is_some()
    }

    /// Whether the keyless widget routes and the web chat of `project` are enabled.
    pub fn is_public(&self, project: &str) -> bool {
        self.public.contains(project)
    }

    /// The project the request's `Authorization` header opens.
    pub fn project_of(&self, headers: &HeaderMap) -> Result<String, ApiError> {
        if let Some(project) = &self.open_project {
            return Ok(project.clone());
        }
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                let v = v.trim();
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("ApiKey "))
                    .unwrap_or(v)
                    .trim()
            })
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ApiError::Unauthorized("Auth Key Required".into()))?;
        // Compare against every key in constant time, so timing reveals nothing about keys.
        let mut found = None;
        for (key, project) in &self.keys {
            if bool::from(key.as_bytes().ct_eq(given.as_bytes())) {
                found = Some(project);
            }
        }
        found
            .cloned()
            .ok_or_else(|| ApiError::Unauthorized("Invalid API key".into()))
    }

    /// The project of a route that names it (`/v2/project/{projectID}/…`): the key must open it.
    pub fn check_project(&self, headers: &HeaderMap, project: &str) -> Result<String, ApiError> {
        let opened = self.project_of(headers)?;
        if opened == project {
            Ok(opened)
        } else if self.is_open() {
            Err(ApiError::NotFound(format!("unknown project `{project}`")))
        } else {
            Err(ApiError::Forbidden(format!(
                "this API key does not open project `{project}`"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(auth: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, auth.parse().unwrap());
        h
    }

    #[test]
    fn keys_open_only_their_project() {
        let auth = Auth::with_keys([
            ("VF.DM.a".into(), "A".into()),
            ("VF.DM.b".into(), "B".into()),
        ]);
        assert_eq!(auth.project_of(&headers("VF.DM.a")).unwrap(), "A");
        assert_eq!(auth.project_of(&headers("Bearer VF.DM.b")).unwrap(), "B");
        assert!(matches!(
            auth.project_of(&headers("VF.DM.c")),
            Err(ApiError::Unauthorized(_))
        ));
        assert!(
            matches!(auth.project_of(&HeaderMap::new()), Err(ApiError::Unauthorized(m)) if m == "Auth Key Required")
        );
        assert!(matches!(
            auth.check_project(&headers("VF.DM.a"), "B"),
            Err(ApiError::Forbidden(_))
        ));
    }

    #[test]
    fn open_mode_needs_no_key() {
        let auth = Auth::open("default");
        assert_eq!(auth.project_of(&HeaderMap::new()).unwrap(), "default");
        assert!(auth.is_public("default"));
    }
}
