//! The layers of `src/` (its folders, and the few top-level files) depend on each other one
//! way only: this test reads every `crate::NAME` path in the sources and fails on an import
//! of a layer above (naming the file and the import) and on a cycle, so the layering that
//! `docs/architecture.md` draws stays true. Unit tests (a `tests.rs` file, or what follows
//! `#[cfg(test)]` in a file) may use a higher layer to build their input: they are left out.
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
        graph.entry(module.clone()).or_default().extend(referenced_modules(code(&path, &text), &module));
    }
    graph
}

/// The layers, lowest first: each may use only those before it (and itself).
const LAYERS: &[&str] =
    &["util", "http", "http2", "fs", "pool", "site", "net", "http1", "log", "conn", "config", "server", "privileges"];

/// A file's code without its unit tests.
fn code<'t>(path: &Path, text: &'t str) -> &'t str {
    if path.file_name().is_some_and(|n| n == "tests.rs") {
        return "";
    }
    text.split("#[cfg(test)]").next().unwrap_or_default()
}

/// Every import of a layer above the importer's, as `importer -> imported`.
fn upward_imports(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let rank = |name: &str| LAYERS.iter().position(|l| *l == name);
    let mut wrong = Vec::new();
    for (module, uses) in graph {
        let Some(own) = rank(module) else { continue }; // lib.rs, main.rs: the top.
        for used in uses {
            match rank(used) {
                Some(r) if r <= own => {}
                Some(_) => wrong.push(format!("{module} -> {used}")),
                None => wrong.push(format!("{module} -> {used} (a module in no layer)")),
            }
        }
    }
    wrong
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
                // `crate::a::{b, c}` names `a` alone.
                None => rest.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).next().unwrap_or_default(),
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
fn every_layer_uses_only_those_below_it() {
    let graph = graph();
    let unknown: Vec<&String> =
        graph.keys().filter(|m| !LAYERS.contains(&m.as_str()) && *m != "lib" && *m != "main").collect();
    assert!(unknown.is_empty(), "src/ has modules in no layer (add them to LAYERS): {unknown:?}");
    let wrong = upward_imports(&graph);
    assert!(wrong.is_empty(), "imports of a higher layer:\n{}", wrong.join("\n"));
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
    let text = "use crate::b::{X, Z};\nuse crate::{c, d::Y}; // crate::e is only a comment\n";
    let names: Vec<String> = referenced_modules(text, "a").into_iter().collect();
    assert_eq!(names, ["b", "c", "d"]);
    let mut graph = BTreeMap::new();
    graph.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    graph.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    graph.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(cycle(&graph), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
    graph.get_mut("c").unwrap().clear();
    assert_eq!(cycle(&graph), None);
    // Upward: `util` (the lowest layer) using `server`.
    graph.insert("util".to_string(), BTreeSet::from(["server".to_string()]));
    graph.insert("server".to_string(), BTreeSet::from(["util".to_string()]));
    assert_eq!(upward_imports(&graph), ["util -> server"], "a, b and c are in no layer: not ranked");
    assert_eq!(code(Path::new("x.rs"), "use crate::a;\n#[cfg(test)]\nuse crate::b;"), "use crate::a;\n");
}
