//! The `turnstile` binary: `validate` and `schema`, run as a user would.

use std::process::Command;

fn turnstile(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_turnstile"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("the binary runs")
}

#[test]
fn validate_accepts_the_sample_agent() {
    let out = turnstile(&["validate", "examples/agents/pizza.yaml"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("pizza.yaml: ok (4 flows"), "{stdout}");
}

#[test]
fn validate_reports_a_located_error_and_fails() {
    let dir = std::env::temp_dir().join(format!("turnstile-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.yaml");
    std::fs::write(
        &file,
        "flows:\n  main:\n    steps:\n      - say: hi\n        goto: nowhere\n",
    )
    .unwrap();
    let out = turnstile(&["validate", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("bad.yaml:5:15: unknown step or flow `nowhere`"),
        "{stderr}"
    );
    let missing = turnstile(&["validate", dir.join("missing.yaml").to_str().unwrap()]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("cannot read"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn schema_is_json_and_matches_the_committed_copy() {
    let out = turnstile(&["schema"]);
    assert!(out.status.success());
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(schema["title"], "AgentFile");
    assert!(schema["$defs"]["StepFile"]["properties"]["say"].is_object());
    let committed: serde_json::Value =
        serde_json::from_str(include_str!("../docs/agent.schema.json")).unwrap();
    assert_eq!(
        schema, committed,
        "docs/agent.schema.json is stale: run `turnstile schema > docs/agent.schema.json`"
    );
}
