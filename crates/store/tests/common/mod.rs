//! Helpers shared by the integration tests.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};

use turnstile_store::{Commit, Fence, SessionKey, SessionStore, StoreError, TurnRecord};

/// A fresh directory under the system temp dir, removed on drop. The store creates it when it
/// opens, so it starts absent.
pub struct TempDir(tempfile::TempDir, PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let root = tempfile::Builder::new()
            .prefix(&format!("turnstile-store-{name}-"))
            .tempdir()
            .expect("a temporary directory");
        let dir = root.path().join("store");
        TempDir(root, dir)
    }

    pub fn path(&self) -> &Path {
        &self.1
    }
}

/// A commit of `state` over `expected`.
pub fn commit(state: &str, expected: u64) -> Commit {
    Commit::new(state.as_bytes().to_vec(), expected)
}

/// A commit of `state` over `expected` recording the turn `idempotency_key`.
pub fn commit_with_record(state: &str, expected: u64, idempotency_key: &str) -> Commit {
    let response = format!("response to {idempotency_key}").into_bytes();
    commit(state, expected).with_record(TurnRecord::new(idempotency_key, response))
}

/// Loads `key` and returns `(state as text, version)`.
pub async fn load(store: &dyn SessionStore, key: &SessionKey) -> Option<(String, u64)> {
    let stored = store.load(key).await.expect("load");
    stored.map(|s| (String::from_utf8(s.state).expect("utf-8 state"), s.version))
}

/// Asserts that `result` is a conflict with these versions.
pub fn assert_conflict<T: std::fmt::Debug>(
    result: Result<T, StoreError>,
    expected: u64,
    found: u64,
) {
    match result {
        Err(StoreError::Conflict {
            expected: e,
            found: f,
        }) => {
            assert_eq!((e, f), (expected, found), "conflict versions");
        }
        other => {
            panic!("expected Conflict {{ expected: {expected}, found: {found} }}, got {other:?}")
        }
    }
}

/// The fencing token of `partition` at `epoch`.
pub fn fence(partition: u32, epoch: u64) -> Fence {
    Fence { partition, epoch }
}

/// Asserts that `result` is a fencing refusal with these values.
pub fn assert_fenced<T: std::fmt::Debug>(
    result: Result<T, StoreError>,
    partition: u32,
    epoch: u64,
    current: u64,
) {
    match result {
        Err(StoreError::Fenced {
            partition: p,
            epoch: e,
            current: c,
        }) => {
            assert_eq!((p, e, c), (partition, epoch, current), "fenced values");
        }
        other => panic!(
            "expected Fenced {{ partition: {partition}, epoch: {epoch}, current: {current} }}, \
             got {other:?}"
        ),
    }
}
