//! The edge's top-level modules use each other without a circle: routes, channels and the gRPC
//! services lean on `extract`, `turn` and `error`, never on one another, so a new API cannot
//! grow into the others.
//!
//! The graph is read from the sources: an edge `a → b` is a `crate::b` path in any file of
//! module `a` (outside its tests). Submodules fold into their top-level module.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a source file belongs to (`None`: the crate root).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).unwrap();
    let first = relative
        .components()
        .next()?
        .as_os_str()
        .to_str()?
        .to_owned();
    let name = first.trim_end_matches(".rs").to_owned();
    (name != "lib").then_some(name)
}

/// The `crate::name` paths of `text`, before its `#[cfg(test)]` module.
fn used_modules(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or(text);
    let mut used = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        if !name.is_empty() {
            used.insert(name);
        }
    }
    // `use crate::{a, b}`.
    for group in code.split("crate::{").skip(1) {
        let inner = group.split('}').next().unwrap_or_default();
        for item in inner.split(',') {
            let name = item.trim().split("::").next().unwrap_or_default();
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                used.insert(name.to_owned());
            }
        }
    }
    used
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(&src, f)).collect();
    for file in &files {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        let uses = graph.entry(module.clone()).or_default();
        for used in used_modules(&text) {
            if used != module && modules.contains(&used) {
                uses.insert(used);
            }
        }
    }
    graph
}

/// A circle through `from`, if there is one.
fn circle(
    graph: &BTreeMap<String, BTreeSet<String>>,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    let here = path.last().unwrap().clone();
    for next in graph.get(&here).into_iter().flatten() {
        if let Some(start) = path.iter().position(|m| m == next) {
            let mut found = path[start..].to_vec();
            found.push(next.clone());
            return Some(found);
        }
        if done.contains(next) {
            continue;
        }
        path.push(next.clone());
        if let Some(found) = circle(graph, path, done) {
            return Some(found);
        }
        path.pop();
    }
    done.insert(here);
    None
}

#[test]
fn the_edge_modules_use_each_other_without_a_circle() {
    let graph = graph();
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        if let Some(found) = circle(&graph, &mut vec![module.clone()], &mut done) {
            panic!("modules in a circle: {}\n{graph:#?}", found.join(" → "));
        }
    }
    // The entrance: the APIs reach turns only through `extract` and `turn`.
    for api in ["routes", "channels", "grpc"] {
        let uses = &graph[api];
        for other in ["routes", "channels", "grpc", "app"] {
            assert!(!uses.contains(other), "{api} uses {other}: {uses:?}");
        }
        assert!(uses.contains("extract"), "{api}: {uses:?}");
    }
    assert!(graph["extract"].contains("turn"));
}

#[test]
fn the_reader_sees_a_circle_when_there_is_one() {
    let mut graph = BTreeMap::new();
    graph.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    graph.insert("b".to_owned(), BTreeSet::from(["a".to_owned()]));
    let found = circle(&graph, &mut vec!["a".to_owned()], &mut BTreeSet::new());
    assert_eq!(found.unwrap(), ["a", "b", "a"]);
    let uses = used_modules("use crate::{turn, extract::AppState};\nlet x = crate::error::E;");
    assert_eq!(
        uses,
        BTreeSet::from(["error".into(), "extract".into(), "turn".into()])
    );
}
