//! The modules of src/ form layers: each uses only modules of lower layers, so no import circle
//! can come back unnoticed. ARCHITECTURE.md describes the same picture.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Lowest first; a module may use the modules of any layer below its own.
const LAYERS: &[&[&str]] = &[
    &["outcome", "window", "bill"],
    &["formats", "shard", "devo"],
    &["config"],
    &["cli", "aws"],
    &["state"],
    &["cycle"],
    &["sources"],
    &["check", "report"],
    &["run"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// Top-level module of each file under src/ → the top-level modules it names as `crate::X`.
fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).unwrap();
            let first = relative.components().next().unwrap().as_os_str();
            let module = first.to_string_lossy().trim_end_matches(".rs").to_string();
            if module == "lib" || module == "main" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let used = graph.entry(module.clone()).or_default();
            for (i, _) in text.match_indices("crate::") {
                let rest = &text[i + "crate::".len()..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if name != module && layer_of(&name).is_some() {
                    used.insert(name);
                }
            }
        }
    }
    graph
}

#[test]
fn modules_form_layers_without_circles() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = imports(&src);
    for module in graph.keys() {
        assert!(
            layer_of(module).is_some(),
            "src/{module} is in no layer: add it to LAYERS here and to ARCHITECTURE.md"
        );
    }
    let mut wrong = Vec::new();
    for (module, used) in &graph {
        for u in used {
            if layer_of(u) >= layer_of(module) {
                wrong.push(format!("{module} -> {u}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers (a circle in the making): {wrong:?}"
    );
}
