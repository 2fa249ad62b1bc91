//! Projects and their agents, by version alias.

use std::collections::HashMap;
use std::sync::Arc;

use turnstile_engine::Agent;

use crate::error::SessionError;

/// The version alias a request runs on when it names none (the DM API's default).
pub const DEFAULT_VERSION: &str = "development";

/// The version alias of what a project published: what channel users talk to.
pub const PUBLISHED_VERSION: &str = "production";

/// A project: its agent versions by alias (`development`, `production`, …).
#[derive(Debug, Clone)]
pub struct Project {
    /// The project's id (the tenant in every session key).
    pub id: String,
    /// The agent of each version alias.
    pub versions: HashMap<String, Arc<Agent>>,
}

impl Project {
    /// A project whose `development` and `production` versions are the same agent.
    pub fn single(id: impl Into<String>, agent: Arc<Agent>) -> Project {
        let versions = [
            (DEFAULT_VERSION.to_owned(), agent.clone()),
            (PUBLISHED_VERSION.to_owned(), agent),
        ]
        .into_iter()
        .collect();
        Project {
            id: id.into(),
            versions,
        }
    }
}

/// Every project the server runs.
#[derive(Debug, Default)]
pub struct AgentCatalog {
    projects: HashMap<String, Project>,
}

impl AgentCatalog {
    /// A catalog of these projects.
    pub fn new(projects: impl IntoIterator<Item = Project>) -> Self {
        AgentCatalog {
            projects: projects.into_iter().map(|p| (p.id.clone(), p)).collect(),
        }
    }

    /// The agent of `project` at `version` (an alias such as `development`).
    pub fn agent(&self, project: &str, version: &str) -> Result<Arc<Agent>, SessionError> {
        let found = self
            .projects
            .get(project)
            .ok_or_else(|| SessionError::UnknownProject(project.to_owned()))?;
        found
            .versions
            .get(version)
            .cloned()
            .ok_or_else(|| SessionError::UnknownVersion {
                project: project.to_owned(),
                version: version.to_owned(),
            })
    }

    /// Whether the project exists.
    pub fn contains(&self, project: &str) -> bool {
        self.projects.contains_key(project)
    }

    /// The ids of every project.
    pub fn project_ids(&self) -> impl Iterator<Item = &str> {
        self.projects.keys().map(String::as_str)
    }
}
