//! Projects and their agents, by version alias.

use std::collections::HashMap;
use std::sync::Arc;

use turnstile_engine::Agent;

use crate::error::SessionError;

/// A project: its agent versions by alias (`development`, `production`, …).
#[derive(Debug, Clone)]
pub struct Project {
    pub id: String,
    pub versions: HashMap<String, Arc<Agent>>,
}

impl Project {
    /// A project whose `development` and `production` versions are the same agent.
    pub fn single(id: impl Into<String>, agent: Arc<Agent>) -> Project {
        let versions = [
            ("development".to_owned(), agent.clone()),
            ("production".to_owned(), agent),
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

    pub fn contains(&self, project: &str) -> bool {
        self.projects.contains_key(project)
    }

    pub fn project_ids(&self) -> impl Iterator<Item = &str> {
        self.projects.keys().map(String::as_str)
    }
}
