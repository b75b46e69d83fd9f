//! The modules of `src/` depend on each other one way only: this test reads every
//! `crate::NAME` path in the sources and fails on a cycle, naming it, so the layering that
//! `docs/architecture.md` draws stays true.
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module -> the modules it names through `crate::`. A folder (`src/tls/`, `src/handler/`)
/// belongs to the module of its name, so its files count as that module's.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut files = vec![src.clone()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let top = path.strip_prefix(&src).unwrap().components().next().unwrap();
        let module = Path::new(top.as_os_str()).file_stem().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        graph.entry(module.clone()).or_default().extend(referenced_modules(&text, &module));
    }
    graph
}

/// Every `crate::NAME` and `crate::{NAME, ...}` outside comments.
fn referenced_modules(text: &str, own: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines().map(|l| l.split("//").next().unwrap_or_default()) {
        let mut rest = line;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            let group = match rest.strip_prefix('{') {
                Some(inner) => inner.split('}').next().unwrap_or_default(),
                None => rest,
            };
            for item in group.split(',') {
                let name: String = item.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                if !name.is_empty() && name != own {
                    names.insert(name);
                }
            }
        }
    }
    names
}

/// A cycle through `from`, if there is one: depth-first search with the path kept.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        graph: &BTreeMap<String, BTreeSet<String>>,
        node: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut found = path[at..].to_vec();
            found.push(node.to_string());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(graph, next, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|start| visit(graph, start, &mut Vec::new(), &mut done))
}

#[test]
fn src_modules_form_no_cycle() {
    let graph = graph();
    assert!(graph.len() > 10, "found the modules: {graph:?}");
    if let Some(found) = cycle(&graph) {
        panic!("import cycle between src/ modules: {}", found.join(" -> "));
    }
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let text = "use crate::b::X;\nuse crate::{c, d::Y}; // crate::e is only a comment\n";
    let names: Vec<String> = referenced_modules(text, "a").into_iter().collect();
    assert_eq!(names, ["b", "c", "d"]);
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    graph.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(cycle(&graph), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    graph.get_mut("c").unwrap().clear();
    assert_eq!(cycle(&graph), None);
}
