//! Session state: what persists between turns of one conversation.
//!
//! Serialized in Voiceflow's shape (`stack` of frames with `diagramID`/`nodeID`, `storage`,
//! `variables`), so the DM API state routes read and write it as existing clients expect.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The persisted state of one conversation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SessionState {
    /// Frames, bottom first; empty when no conversation is running.
    #[serde(default)]
    pub stack: Vec<Frame>,
    /// Counters the runtime keeps across turns (Voiceflow's `storage`).
    #[serde(default)]
    pub storage: Storage,
    /// Global variables.
    #[serde(default)]
    pub variables: Map<String, Value>,
    /// How many turns ran on this session.
    #[serde(default)]
    pub turn: u64,
}

/// One running flow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// The flow id.
    #[serde(rename = "diagramID", alias = "programID")]
    pub flow: String,
    /// The node the flow waits on or resumes at; `None` when the flow is finished.
    #[serde(rename = "nodeID", alias = "blockID", default)]
    pub node: Option<String>,
    /// What the runtime remembers about this frame.
    #[serde(default)]
    pub storage: FrameStorage,
    /// Frame-local variables.
    #[serde(default)]
    pub variables: Map<String, Value>,
}

/// Per-frame bookkeeping.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FrameStorage {
    /// The last thing said in this frame, re-said when the user comes back to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Output>,
    /// A command pushed another flow over this one; say `output` again on return.
    #[serde(default, rename = "calledCommand", skip_serializing_if = "is_false")]
    pub called_command: bool,
    /// `(callee variable, caller variable)` pairs copied back when this frame finishes.
    #[serde(default, rename = "outputMap", skip_serializing_if = "Vec::is_empty")]
    pub output_map: Vec<(String, String)>,
}

/// A remembered output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Output {
    /// A `text` trace's message.
    Text(String),
    /// A `speak` trace's SSML.
    Speak(String),
}

/// Conversation-wide bookkeeping.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Storage {
    /// Unmatched replies in a row at the current input step (which reprompt comes next).
    #[serde(default, rename = "noMatchesCounter", skip_serializing_if = "is_zero")]
    pub no_matches: u32,
    /// `no-reply` requests in a row at the current input step.
    #[serde(default, rename = "noRepliesCounter", skip_serializing_if = "is_zero")]
    pub no_replies: u32,
    /// For no-repeat random steps: node id → the branches already taken.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub randoms: BTreeMap<String, Vec<u32>>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl SessionState {
    /// Is a conversation in progress (i.e. will the next request continue it)?
    pub fn in_conversation(&self) -> bool {
        !self.stack.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_voiceflow_state_including_legacy_frame_keys() {
        let state: SessionState = serde_json::from_value(json!({
            "stack": [{"programID": "main", "blockID": "menu", "storage": {"calledCommand": true}}],
            "storage": {"noMatchesCounter": 2},
            "variables": {"name": "Ada"}
        }))
        .unwrap();
        assert_eq!(state.stack[0].flow, "main");
        assert_eq!(state.stack[0].node.as_deref(), Some("menu"));
        assert!(state.stack[0].storage.called_command);
        assert_eq!(state.storage.no_matches, 2);
        let back = serde_json::to_value(&state).unwrap();
        assert_eq!(back["stack"][0]["diagramID"], "main");
        assert_eq!(back["stack"][0]["nodeID"], "menu");
    }
}
