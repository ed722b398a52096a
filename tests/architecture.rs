//! The import rules of docs/ARCHITECTURE.md hold in the code: every `crate::<module>` path in
//! `src/` names a module its own module may import, and every top-level module has a rule.
//! The rules are read from the document's table, so the document and the code cannot drift.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `| `module` | `a`, `b` |` rows of the "What each folder may import" table.
fn rules() -> BTreeMap<String, BTreeSet<String>> {
    let doc = std::fs::read_to_string(root().join("docs/ARCHITECTURE.md")).expect("docs/ARCHITECTURE.md");
    let mut out = BTreeMap::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() != 4 || !cells[1].starts_with('`') {
            continue;
        }
        let module = cells[1].trim_matches('`').to_string();
        let allowed: BTreeSet<String> = cells[2]
            .split(',')
            .map(|s| s.trim().trim_matches('`').to_string())
            .filter(|s| !s.is_empty() && s != "—")
            .collect();
        out.insert(module, allowed);
    }
    assert!(
        out.len() >= 10,
        "the import table was not found in docs/ARCHITECTURE.md"
    );
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read src") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// `crate::name` paths in a line of code (comments left out).
fn crate_paths(line: &str) -> Vec<String> {
    let code = match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    };
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // `outpost_crate::`, not a crate path
        }
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::x, b}`: the first name of each item at the top level of the group.
            let mut depth = 0;
            let mut item = true;
            let mut name = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item = true,
                    c if item && (c.is_ascii_alphanumeric() || c == '_') => name.push(c),
                    _ if item && !name.is_empty() => {
                        if name.starts_with(|c: char| c.is_ascii_lowercase()) {
                            out.push(std::mem::take(&mut name));
                        }
                        name.clear();
                        item = false;
                    }
                    _ => {}
                }
            }
            if item && name.starts_with(|c: char| c.is_ascii_lowercase()) {
                out.push(name);
            }
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        // Lower-case names are modules; VERSION and TARGET are the crate root's.
        if name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
            out.push(name);
        }
    }
    out
}

#[test]
fn imports_follow_docs_architecture() {
    let rules = rules();
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut violations = Vec::new();
    let mut modules = BTreeSet::new();
    for file in &files {
        let rel = file.strip_prefix(&src).expect("under src");
        let first = rel
            .components()
            .next()
            .expect("a path")
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_string();
        if module == "main" || module == "lib" {
            continue;
        }
        modules.insert(module.clone());
        let Some(allowed) = rules.get(&module) else {
            violations.push(format!(
                "src/{}: module `{module}` has no row in docs/ARCHITECTURE.md",
                rel.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).expect("read source");
        for (n, line) in text.lines().enumerate() {
            for used in crate_paths(line) {
                if used != module && !allowed.contains(&used) {
                    violations.push(format!(
                        "src/{}:{}: `{module}` imports `{used}`, which docs/ARCHITECTURE.md does not allow",
                        rel.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    assert!(violations.is_empty(), "{}", violations.join("\n"));
    // The table lists only modules that exist (an `engine` row may wait for its folder).
    for m in rules.keys() {
        assert!(
            modules.contains(m) || m == "engine",
            "docs/ARCHITECTURE.md has a row for `{m}`, which is not a module of src/"
        );
    }
}

#[test]
fn the_checker_sees_paths() {
    assert_eq!(crate_paths("use crate::sinks::http::{a, b};"), ["sinks"]);
    assert_eq!(
        crate_paths("    let x = crate::model::now_ms(); // crate::store"),
        ["model"]
    );
    assert_eq!(crate_paths("use crate::{TARGET, VERSION};"), Vec::<String>::new());
    assert_eq!(
        crate_paths("use crate::{model::{a, b}, store, VERSION};"),
        ["model", "store"]
    );
    assert_eq!(crate_paths("outpost_crate::x"), Vec::<String>::new());
}
