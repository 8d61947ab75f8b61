//! Layers without cycles: no module of the harness library imports a
//! module that imports it back.
//!
//! The check reads `harness/src` as text. Each folder module is a level:
//! its own file (`mod.rs`, the facade; `lib.rs` at the crate root) and its
//! children, each child standing for its whole subtree. A child depends on
//! another when any file in it names a path into the other (`crate::a::b`,
//! `super::b`, or, from a facade, a child's name); naming an item of the
//! facade itself (`crate::tracer::Spec`, a re-export) is a dependency on the
//! facade. Within every level the dependencies must not form a cycle: so
//! the tracer's backends (`tracer::ptrace`, `tracer::strace`) use only the
//! pieces the facade shares (`spec`, `shared`, `error`, `decode`), never
//! the facade or each other, and the facade uses them.
//!
//! Comments are left out; the paths are found by their text, so a path the
//! check cannot see (a `use crate::{a, b}` group) is refused, to keep it
//! honest.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Cycles known at the crate root, outside this check's first scope, each
/// as its sorted list of modules: to be broken by their own change.
const KNOWN: &[&[&str]] = &[];

/// A module of the library: its path (`["tracer", "strace", "run"]`) and
/// its source without comments.
struct Module {
    path: Vec<String>,
    /// Its own file is `mod.rs` or `lib.rs` (it may have children).
    facade: bool,
    code: String,
}

fn modules() -> Vec<Module> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("harness/src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    let mut out = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&root).unwrap();
        let mut path: Vec<String> = relative
            .with_extension("")
            .iter()
            .map(|p| p.to_string_lossy().into_owned())
            .collect();
        if path == ["main"] {
            continue; // the binary: a crate of its own
        }
        let facade = matches!(path.last().map(String::as_str), Some("mod" | "lib"));
        if facade {
            path.pop();
        }
        let text = std::fs::read_to_string(&file).unwrap();
        out.push(Module {
            path,
            facade,
            code: strip_comments(&text),
        });
    }
    out
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            walk(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The text without `//` comments (doc comments included) and string
/// literals' contents.
fn strip_comments(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let mut kept = String::new();
        let mut in_string = false;
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' => {
                    in_string = !in_string;
                    kept.push(c);
                }
                '\\' if in_string => {
                    chars.next();
                }
                // A quote as a character literal: `'"'`.
                '\'' if !in_string && chars.peek() == Some(&'"') => {
                    chars.next();
                }
                '/' if !in_string && chars.peek() == Some(&'/') => break,
                _ if in_string => {}
                _ => kept.push(c),
            }
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// The paths a module's code names: each `crate::…` or `super::…` chain
/// resolved to an absolute path, and, in a facade, each `child::…`.
fn named_paths(module: &Module, known: &BTreeSet<Vec<String>>) -> Vec<Vec<String>> {
    let code = &module.code;
    // Where `super` means the file's own module: inside its inline
    // `mod tests`.
    let tests_at = code.find("mod tests").unwrap_or(usize::MAX);
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut i = 0;
    while i < bytes.len() {
        if !ident(bytes[i]) || (i > 0 && (ident(bytes[i - 1]) || bytes[i - 1] == b':')) {
            i += 1;
            continue;
        }
        // A chain `a::b::c` starting here, with its `{…}` groups expanded.
        let start = i;
        for segments in chains(code, &mut i) {
            if let Some(p) = absolute(module, known, &segments, start > tests_at) {
                out.push(p);
            }
        }
    }
    out
}

/// The paths of the use tree at `code[*i..]` (`a::b`, `a::{b, c::{d, self}}`),
/// each as its segments; `*i` ends past it.
fn chains(code: &str, i: &mut usize) -> Vec<Vec<String>> {
    let bytes = code.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut segments = Vec::new();
    loop {
        let s = *i;
        while *i < bytes.len() && ident(bytes[*i]) {
            *i += 1;
        }
        segments.push(code[s..*i].to_string());
        if !code[*i..].starts_with("::") {
            return vec![segments];
        }
        let after = code[*i + 2..].trim_start();
        *i = code.len() - after.len();
        if after.starts_with('{') {
            *i += 1;
            let mut out = Vec::new();
            loop {
                let rest = code[*i..].trim_start_matches(|c: char| c.is_whitespace() || c == ',');
                *i = code.len() - rest.len();
                if rest.starts_with('}') || rest.is_empty() {
                    *i += 1;
                    return out;
                }
                if rest.starts_with('*') {
                    *i += 1;
                    continue;
                }
                let before = *i;
                let tails = chains(code, i);
                if *i == before {
                    *i += 1; // not a path: skip it
                    continue;
                }
                for tail in tails {
                    let mut full = segments.clone();
                    full.extend(tail.into_iter().filter(|t| t != "self"));
                    out.push(full);
                }
                // ` as name`
                let rest = code[*i..].trim_start();
                if let Some(alias) = rest.strip_prefix("as ") {
                    let alias = alias.trim_start();
                    *i = code.len() - alias.len();
                    while *i < bytes.len() && ident(bytes[*i]) {
                        *i += 1;
                    }
                }
            }
        }
        if !after.bytes().next().is_some_and(ident) {
            return vec![segments];
        }
    }
}

/// The absolute path a chain of `module`'s code names, if it names one of
/// the library's modules (`in_tests`: inside its inline `mod tests`, where
/// `super` is the file itself).
fn absolute(
    module: &Module,
    known: &BTreeSet<Vec<String>>,
    segments: &[String],
    in_tests: bool,
) -> Option<Vec<String>> {
    let here = &module.path;
    if segments.len() < 2 {
        return None;
    }
    match segments[0].as_str() {
        "crate" => Some(segments[1..].to_vec()),
        "super" => {
            if in_tests {
                return None; // the test module's parent: this file
            }
            // The module `super` names from this file (for a facade,
            // its parent; for a leaf file, its folder's module).
            let mut base = here.clone();
            let mut rest = segments;
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
            base.extend(rest.iter().cloned());
            Some(base)
        }
        first if module.facade => {
            let mut child = here.clone();
            child.push(first.to_string());
            if !known.contains(&child) {
                return None;
            }
            child.extend(segments[1..].iter().cloned());
            Some(child)
        }
        _ => None,
    }
}

/// The longest known module `path` names.
fn resolve(path: &[String], known: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| known.contains(p))
}

/// Every cycle of the dependencies within each level, as the level and the
/// sorted names of the nodes in it (`(facade)` for the level's own file).
fn cycles() -> Vec<(String, Vec<String>)> {
    let modules = modules();
    let known: BTreeSet<Vec<String>> = modules.iter().map(|m| m.path.clone()).collect();
    // level → node → nodes it depends on.
    let mut graph: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for module in &modules {
        for named in named_paths(module, &known) {
            let Some(target) = resolve(&named, &known) else {
                continue;
            };
            // The level where the two part: their longest common prefix.
            let common = module
                .path
                .iter()
                .zip(&target)
                .take_while(|(a, b)| a == b)
                .count();
            if common == module.path.len() && common == target.len() {
                continue; // itself
            }
            let level = module.path[..common].to_vec();
            let node = |p: &[String]| {
                p.get(common)
                    .cloned()
                    .unwrap_or_else(|| "(facade)".to_string())
            };
            let (from, to) = (node(&module.path), node(&target));
            graph
                .entry(level)
                .or_default()
                .entry(from)
                .or_default()
                .insert(to);
        }
    }
    let mut found = Vec::new();
    for (level, edges) in &graph {
        for component in strongly_connected(edges) {
            let name = if level.is_empty() {
                "crate".to_string()
            } else {
                level.join("::")
            };
            found.push((name, component));
        }
    }
    found
}

/// Components of more than one node (Tarjan's algorithm), each sorted.
fn strongly_connected(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        edges: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        if let Some(next) = s.edges.get(v) {
            for w in next {
                let w = w.as_str();
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let low = s.low[v].min(s.low[w]);
                    s.low.insert(v, low);
                } else if s.on_stack.contains(w) {
                    let low = s.low[v].min(s.index[w]);
                    s.low.insert(v, low);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.to_string());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !s.index.contains_key(v.as_str()) {
            visit(&mut s, v);
        }
    }
    s.out
}

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let unexpected: Vec<String> = cycles()
        .into_iter()
        .filter(|(level, nodes)| {
            !(level == "crate" && KNOWN.iter().any(|k| k.iter().eq(nodes.iter())))
        })
        .map(|(level, nodes)| format!("in {level}: {}", nodes.join(" ↔ ")))
        .collect();
    assert!(
        unexpected.is_empty(),
        "modules that import each other (directly or round a loop):\n{}",
        unexpected.join("\n")
    );
}

#[test]
fn the_check_sees_the_tracer_layers() {
    let modules = modules();
    let known: BTreeSet<Vec<String>> = modules.iter().map(|m| m.path.clone()).collect();
    let facade = modules
        .iter()
        .find(|m| m.path == ["tracer"])
        .expect("tracer/mod.rs");
    let named: Vec<Vec<String>> = named_paths(facade, &known)
        .iter()
        .filter_map(|p| resolve(p, &known))
        .collect();
    for backend in [["tracer", "ptrace"], ["tracer", "strace"]] {
        assert!(
            named
                .iter()
                .any(|p| p.starts_with(&backend.map(String::from))),
            "the facade uses {}",
            backend.join("::")
        );
    }
}
