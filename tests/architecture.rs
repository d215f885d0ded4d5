//! Checks of the code's shape: every WGSL shader validates with naga; nothing below the desk
//! (`src/app`) uses egui, eframe, wgpu or winit; the folders depend only on the layers below
//! them; and no source file imports, through others, one that imports it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[test]
fn every_shader_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("shaders folder") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "wgsl") {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("read shader");
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.emit_to_string(&source)));
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::default(),
        )
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        checked += 1;
    }
    assert!(checked >= 1, "no shaders found in {}", dir.display());
}

#[test]
fn the_core_does_not_use_the_gui_stack() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut offenders = Vec::new();
    for entry in walkdir::WalkDir::new(&src)
        .into_iter()
        .filter_map(Result::ok)
    {
        let path = entry.path();
        let rel = path.strip_prefix(&src).expect("under src");
        if path.extension().is_none_or(|e| e != "rs")
            || rel.starts_with("app")
            || rel == Path::new("main.rs")
        {
            continue;
        }
        let text = std::fs::read_to_string(path).expect("read");
        for name in ["egui", "eframe", "wgpu", "winit"] {
            if text.lines().any(|l| {
                !l.trim_start().starts_with("//")
                    && (l.contains(&format!("{name}::")) || l.contains(&format!("use {name}")))
            }) {
                offenders.push(format!("{} uses {name}", rel.display()));
            }
        }
    }
    assert!(offenders.is_empty(), "{offenders:?}");
}

/// The layers, top first. A folder (or root module) may use only those in lower layers; one
/// that is not listed fails the test, so a new folder is placed on purpose.
const LAYERS: &[&[&str]] = &[
    &["cli"],
    &["app"],
    &["audit", "shards"],
    &["scan"],
    &["project"],
    &["eval"],
    &["export"],
    &["review"],
    &["ranking"],
    &["index"],
    &["embed", "catalog", "align", "prompts"],
    &["decode"],
    &["stats", "fsutil", "demo", "jobs"],
];

/// Every source file under `src`, by its module path (`scan::coordinator`, `app` for
/// `app/mod.rs`, `cli::bench` for `cli/bench/mod.rs`; the binary's `main.rs` is `main`).
fn modules() -> BTreeMap<String, PathBuf> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut out = BTreeMap::new();
    for entry in walkdir::WalkDir::new(&src)
        .into_iter()
        .filter_map(Result::ok)
    {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let rel = path.strip_prefix(&src).expect("under src");
        let mut parts: Vec<String> = rel
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.last().is_some_and(|p| p == "mod") {
            parts.pop();
        }
        // `lib.rs` is the crate's root; `tests.rs` files are test modules moved out of
        // their parent file (tests may use what they like).
        if parts == ["lib"] || parts.last().is_some_and(|p| p.ends_with("tests")) {
            continue;
        }
        out.insert(parts.join("::"), path.to_path_buf());
    }
    out
}

/// The code of a file without its comments and without what is compiled for tests only (tests
/// may use what they like).
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read source");
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    without_test_items(&code)
}

/// `code` less each item under `#[cfg(test)]` (up to its `;`, or its braces' end).
fn without_test_items(code: &str) -> String {
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let item = &rest[at..];
        let end = match (item.find('{'), item.find(';')) {
            (Some(open), semi) if semi.is_none_or(|s| open < s) => {
                let mut depth = 0;
                item[open..]
                    .char_indices()
                    .find_map(|(i, c)| {
                        match c {
                            '{' => depth += 1,
                            '}' => depth -= 1,
                            _ => {}
                        }
                        (depth == 0).then_some(open + i + 1)
                    })
                    .unwrap_or(item.len())
            }
            (_, Some(semi)) => semi + 1,
            _ => item.len(),
        };
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// The path segments that follow each occurrence of `prefix` in `code`, as written
/// (`a::b::{c, d::e}` gives `a::b::c` and `a::b::d::e`).
fn paths_after(code: &str, prefix: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut from = 0;
    while let Some(found) = code[from..].find(prefix) {
        let start = from + found;
        from = start + prefix.len();
        let before = start.checked_sub(1).map(|i| bytes[i]);
        if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':') {
            continue;
        }
        expand(&code[from..], Vec::new(), &mut out);
    }
    out
}

/// Expands one path (with nested braces) starting at `rest` into `out`.
fn expand(rest: &str, head: Vec<String>, out: &mut Vec<Vec<String>>) {
    let ident: String = rest
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let after = &rest[ident.len()..];
    if ident.is_empty() {
        if let Some(inner) = after.strip_prefix('{') {
            let mut depth = 0;
            let mut item = 0;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        expand(inner[item..i].trim_start(), head.clone(), out);
                        return;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        expand(inner[item..i].trim_start(), head.clone(), out);
                        item = i + 1;
                    }
                    _ => {}
                }
            }
        } else if !head.is_empty() {
            out.push(head);
        }
        return;
    }
    let mut head = head;
    head.push(ident);
    match after.strip_prefix("::") {
        Some(more) => expand(more, head, out),
        None => out.push(head),
    }
}

/// The file a written path lands in: its longest prefix that is a module.
fn resolve(path: &[String], modules: &BTreeMap<String, PathBuf>) -> Option<String> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].join("::"))
        .find(|m| modules.contains_key(m))
}

/// Each module's imports of other modules of this crate (`crate::`, `replicant::`, `super::`
/// and `self::` paths).
fn import_graph() -> BTreeMap<String, BTreeSet<String>> {
    let modules = modules();
    let mut graph = BTreeMap::new();
    for (name, path) in &modules {
        let code = code_of(path);
        let own: Vec<String> = if name == "main" {
            Vec::new()
        } else {
            name.split("::").map(String::from).collect()
        };
        // `main.rs` and `cli` are the binary: `crate::` there is the binary's root.
        let binary = name == "main" || name.starts_with("cli");
        let mut targets = BTreeSet::new();
        // A module's own submodules are part of it (a folder's `mod.rs` declares, re-exports
        // and calls its files), so edges down into them are not counted; edges up, across and
        // out are.
        let inside = format!("{name}::");
        let mut add = |path: Vec<String>| {
            if let Some(target) = resolve(&path, &modules)
                && target != *name
                && !target.starts_with(&inside)
            {
                targets.insert(target);
            }
        };
        for p in paths_after(&code, "replicant::") {
            add(p);
        }
        for p in paths_after(&code, "crate::") {
            // In the binary, `crate::` is the binary's root: only `crate::cli` is ours.
            if !binary || p.first().is_some_and(|s| s == "cli") {
                add(p);
            }
        }
        // `super::` is the parent of this file's module (a folder's `mod.rs` is the folder's
        // module); `self::` is the module itself.
        for p in paths_after(&code, "super::") {
            let mut base = own.clone();
            base.pop();
            let mut rest = p.as_slice();
            while rest.first().is_some_and(|s| s == "super") {
                base.pop();
                rest = &rest[1..];
            }
            add(base.into_iter().chain(rest.iter().cloned()).collect());
        }
        for p in paths_after(&code, "self::") {
            add(own.iter().cloned().chain(p).collect());
        }
        // A child module named by its own path (`start::Models` after `mod start;`).
        for child in declared_modules(&code) {
            for p in paths_after(&code, &format!("{child}::")) {
                let path: Vec<String> = own
                    .iter()
                    .cloned()
                    .chain(std::iter::once(child.clone()))
                    .chain(p)
                    .collect();
                add(path);
            }
        }
        graph.insert(name.clone(), targets);
    }
    graph
}

/// The modules `code` declares (`mod name;`, `pub mod name;`, `pub(crate) mod name;`).
fn declared_modules(code: &str) -> Vec<String> {
    code.lines()
        .filter_map(|line| {
            let line = line.trim();
            let rest = line
                .strip_prefix("mod ")
                .or_else(|| line.strip_prefix("pub mod "))
                .or_else(|| line.strip_prefix("pub(crate) mod "))?;
            rest.strip_suffix(';').map(|name| name.trim().to_string())
        })
        .collect()
}

/// The top-level folder or root module a module is in.
fn folder(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

#[test]
fn folders_depend_only_on_lower_layers() {
    let graph = import_graph();
    let layer_of = |f: &str| LAYERS.iter().position(|layer| layer.contains(&f));
    let mut wrong = BTreeSet::new();
    for (module, targets) in &graph {
        let from = folder(module);
        if from == "main" {
            continue;
        }
        let Some(from_layer) = layer_of(from) else {
            wrong.insert(format!("{from} is in no layer of LAYERS"));
            continue;
        };
        for target in targets {
            let to = folder(target);
            if to == from {
                continue;
            }
            match layer_of(to) {
                Some(to_layer) if to_layer > from_layer => {}
                Some(_) => {
                    wrong.insert(format!("{module} uses {target}: {to} is not below {from}"));
                }
                None => {
                    wrong.insert(format!("{to} is in no layer of LAYERS"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    // The check sees imports at all: the scan uses the project folder, the desk the scan.
    assert!(graph["scan::coordinator"].contains("project"));
    assert!(graph["app::desk"].iter().any(|t| folder(t) == "scan"));
}

#[test]
fn no_file_imports_itself_through_others() {
    let graph = import_graph();
    // Tarjan's strongly connected components; any with two or more files is a circle.
    struct Search<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        circles: Vec<Vec<&'a str>>,
    }
    impl<'a> Search<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            for w in self.graph.get(v).into_iter().flatten() {
                let w = w.as_str();
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v, low);
                } else if self.on_stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut circle = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    circle.push(w);
                    if w == v {
                        break;
                    }
                }
                if circle.len() > 1 {
                    self.circles.push(circle);
                }
            }
        }
    }
    let mut search = Search {
        graph: &graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        circles: Vec::new(),
    };
    for v in graph.keys() {
        if !search.index.contains_key(v.as_str()) {
            search.visit(v);
        }
    }
    assert!(search.circles.is_empty(), "{:#?}", search.circles);
    assert!(graph.len() > 50, "only {} modules found", graph.len());
}

#[test]
fn the_import_reader_sees_nested_paths_and_circles() {
    let code = "use crate::a::{b, c::{d, e}};\nuse super::f;\nlet x = crate::g::h(1);";
    let mut paths = paths_after(code, "crate::");
    paths.sort();
    let want: Vec<Vec<String>> = [
        vec!["a", "b"],
        vec!["a", "c", "d"],
        vec!["a", "c", "e"],
        vec!["g", "h"],
    ]
    .iter()
    .map(|p| p.iter().map(|s| s.to_string()).collect())
    .collect();
    assert_eq!(paths, want);
    assert_eq!(paths_after(code, "super::"), vec![vec!["f".to_string()]]);
    assert_eq!(
        declared_modules("mod a;\npub mod b;\nmod c {\n}"),
        vec!["a".to_string(), "b".to_string()]
    );
    let code = "use a::b;\n#[cfg(test)]\nmod tests {\n    use crate::x::{y};\n}\n#[cfg(test)]\nuse crate::z;\nfn f() {}";
    assert_eq!(without_test_items(code), "use a::b;\n\n\nfn f() {}");
}

#[test]
fn only_the_index_names_its_stores_and_only_the_model_registry_names_models() {
    let mut wrong = Vec::new();
    for (module, path) in modules() {
        let code = code_of(&path);
        let folder = folder(&module);
        if folder != "index" {
            for name in ["UsearchStore", "UsearchIndex", "ExactIndex"] {
                if code.contains(name) {
                    wrong.push(format!("{module} names {name}"));
                }
            }
        }
        if folder != "embed" {
            for name in ["ModelChoice::Sscd", "\"sscd\"", "\"sscd-distilled\""] {
                if code.contains(name) {
                    wrong.push(format!("{module} names {name}"));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}
