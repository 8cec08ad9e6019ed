//! The fence around the house DESIGN.md draws ("Shape"): imports run one
//! way, app → domains → platform. Every `crate::…` path in `src/` is read
//! and its floor checked against the arrows the design allows, so an
//! import that climbs back up fails here the day it is written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The domains, and the other domains each may import.
const DOMAINS: [(&str, &[&str]); 8] = [
    ("registry", &[]),
    ("needs", &["registry"]),
    ("donations", &["registry"]),
    ("distribution", &["needs", "donations", "registry"]),
    ("outreach", &["registry", "donations"]),
    ("teaching", &["registry"]),
    ("reform", &["registry", "needs"]),
    (
        "reporting",
        &[
            "registry",
            "needs",
            "donations",
            "distribution",
            "outreach",
            "teaching",
        ],
    ),
];

/// The wiring at the top of `src/`: what nothing below may import.
const APP: [&str; 5] = ["app", "openapi", "maintenance", "retention", "lib"];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The floor a file of `src/` stands on: `platform`, a domain, or `app`.
fn floor_of(path: &Path) -> String {
    let relative = path.strip_prefix("src").expect("under src");
    let mut parts = relative.components();
    let first = parts
        .next()
        .expect("a file")
        .as_os_str()
        .to_string_lossy()
        .to_string();
    if parts.next().is_none() {
        // A file directly under src/: the app's wiring (or the binary).
        return "app".into();
    }
    first
}

/// The floor a `crate::<first>` path leads to.
fn floor_named(first: &str) -> String {
    if APP.contains(&first) {
        "app".into()
    } else {
        first.to_owned()
    }
}

/// Every `crate::<name>` in a source text (comments included: a doc link
/// that climbs up is a dependency of the reader's understanding too).
fn crate_paths(source: &str) -> Vec<String> {
    source
        .match_indices("crate::")
        .filter(|(at, _)| {
            // `$crate::` in a macro is the crate itself; skip `songmay::`-less
            // identifiers like `my_crate::`.
            let before = source[..*at].chars().last();
            !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
        })
        .map(|(at, _)| {
            source[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

/// Which floors each floor imports (`from -> {to: [file, …]}`).
fn arrows() -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    let mut arrows: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for file in files {
        if file == Path::new("src/main.rs") {
            continue; // the binary, above the library
        }
        let from = floor_of(&file);
        let source = std::fs::read_to_string(&file).expect("read");
        for first in crate_paths(&source) {
            let to = floor_named(&first);
            if to != from {
                arrows
                    .entry(from.clone())
                    .or_default()
                    .entry(to)
                    .or_default()
                    .insert(file.display().to_string());
            }
        }
    }
    arrows
}

#[test]
fn imports_run_one_way_app_then_domains_then_platform() {
    let known: BTreeSet<&str> = DOMAINS
        .iter()
        .map(|(d, _)| *d)
        .chain(["platform", "app"])
        .collect();
    let mut wrong = Vec::new();
    for (from, targets) in arrows() {
        assert!(
            known.contains(from.as_str()),
            "src/{from}/ is no floor of the design"
        );
        for (to, files) in targets {
            assert!(
                known.contains(to.as_str()),
                "crate::{to} is no floor of the design"
            );
            let allowed = match from.as_str() {
                "app" => true,
                "platform" => false,
                domain => {
                    to == "platform"
                        || DOMAINS
                            .iter()
                            .find(|(d, _)| *d == domain)
                            .is_some_and(|(_, may)| may.contains(&to.as_str()))
                }
            };
            if !allowed {
                let files: Vec<&str> = files.iter().map(String::as_str).collect();
                wrong.push(format!("{from} → {to}: {}", files.join(", ")));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports that climb up or sideways:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_floors_form_no_circle() {
    // Follow every arrow between floors; a floor reached from itself is a
    // circle. (The allowed arrows above cannot form one; this says so of
    // the arrows actually written, whatever the table allows.)
    let arrows = arrows();
    fn reaches(
        arrows: &BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
        from: &str,
        target: &str,
        seen: &mut BTreeSet<String>,
    ) -> bool {
        let Some(next) = arrows.get(from) else {
            return false;
        };
        next.keys().any(|to| {
            to == target || (seen.insert(to.clone()) && reaches(arrows, to, target, seen))
        })
    }
    for floor in arrows.keys() {
        assert!(
            !reaches(&arrows, floor, floor, &mut BTreeSet::new()),
            "{floor} reaches itself: {arrows:#?}"
        );
    }
    assert!(arrows.contains_key("app"), "the wiring imports the domains");
}

/// Storage returns storage or domain errors, never HTTP ones: no
/// `queries.rs`, and nothing in `platform/db`, names the HTTP error type,
/// an HTTP module or actix (beyond the blocking pool `db` runs work on).
/// This is what keeps a lost connection a 503: the one mapping from a
/// `Failure` to a status lives in `platform/http/problem.rs`.
#[test]
fn storage_speaks_no_http() {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    let storage: Vec<PathBuf> = files
        .into_iter()
        .filter(|f| {
            f.file_name().is_some_and(|n| n == "queries.rs") || f.starts_with("src/platform/db")
        })
        .collect();
    assert!(storage.len() > 15, "found the storage files: {storage:?}");
    let mut offenders = Vec::new();
    for file in &storage {
        let source = std::fs::read_to_string(file).expect("read");
        for (number, line) in source.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            let web_block = code.contains("actix_web::web::block");
            if code.contains("ApiError")
                || code.contains("platform::http")
                || code.contains("HttpRequest")
                || code.contains("StatusCode")
                || (code.contains("actix_web") && !web_block)
            {
                offenders.push(format!(
                    "{}:{}: {}",
                    file.display(),
                    number + 1,
                    line.trim()
                ));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "storage speaking HTTP:\n{}",
        offenders.join("\n")
    );
}

/// The file a module path of `src/` names: the longest prefix of
/// `parts` that is a file (`a/b.rs` or `a/b/mod.rs`).
fn file_of(parts: &[String]) -> Option<PathBuf> {
    (1..=parts.len()).rev().find_map(|n| {
        let base = format!("src/{}", parts[..n].join("/"));
        [format!("{base}.rs"), format!("{base}/mod.rs")]
            .into_iter()
            .map(PathBuf::from)
            .find(|candidate| candidate.exists())
    })
}

/// The module path of a file: src/needs/queries.rs is `needs::queries`,
/// src/needs/mod.rs is `needs`.
fn module_of(path: &Path) -> Vec<String> {
    let relative = path.strip_prefix("src").expect("under src");
    let mut parts: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// The files a file imports: `crate::a::b::…` and `super::a::…` paths
/// (with `super::{a, b}` groups), each resolved to the file it names.
fn file_imports(path: &Path, source: &str) -> BTreeSet<PathBuf> {
    let word = |c: char| c.is_alphanumeric() || c == '_' || c == ':';
    let here = module_of(path);
    let parent: Vec<String> = if path.ends_with("mod.rs") {
        here.clone()
    } else {
        here[..here.len().saturating_sub(1)].to_vec()
    };
    let mut found = BTreeSet::new();
    for (prefix, base) in [("crate::", Vec::new()), ("super::", parent.clone())] {
        for (at, _) in source.match_indices(prefix) {
            if source[..at]
                .chars()
                .last()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$' || c == ':')
            {
                continue;
            }
            let rest = &source[at + prefix.len()..];
            let path_text: String = rest.chars().take_while(|c| word(*c)).collect();
            let mut heads: Vec<String> = vec![path_text.trim_end_matches(':').to_owned()];
            // `super::{a, b::C}`: each member of the group.
            if path_text.is_empty() && rest.starts_with('{') {
                let group: String = rest[1..].chars().take_while(|c| *c != '}').collect();
                heads = group
                    .split(',')
                    .map(|m| m.trim().to_owned())
                    .filter(|m| !m.is_empty())
                    .collect();
            }
            for head in heads {
                let mut parts = base.clone();
                parts.extend(head.split("::").map(str::to_owned));
                if let Some(file) = file_of(&parts) {
                    if file != path {
                        found.insert(file);
                    }
                }
            }
        }
    }
    found
}

/// No circle between files either: a file that, import by import, reaches
/// itself (two files that need each other) is one room wearing two names.
/// `farm-studio look` draws the same; this keeps it at zero.
#[test]
fn no_file_reaches_itself_through_its_imports() {
    let mut files = Vec::new();
    rust_files(Path::new("src"), &mut files);
    let graph: BTreeMap<PathBuf, BTreeSet<PathBuf>> = files
        .iter()
        .filter(|f| *f != Path::new("src/main.rs"))
        .map(|f| {
            let source = std::fs::read_to_string(f).expect("read");
            (f.clone(), file_imports(f, &source))
        })
        .collect();
    assert!(graph.len() > 100, "read only {} files", graph.len());
    let mut circles = Vec::new();
    for start in graph.keys() {
        // Depth-first from `start`, keeping the way back for the message.
        let mut stack: Vec<(PathBuf, Vec<PathBuf>)> = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((file, way)) = stack.pop() {
            for next in graph.get(&file).into_iter().flatten() {
                if next == start {
                    let names: Vec<String> = way.iter().map(|p| p.display().to_string()).collect();
                    circles.push(format!("{} → {}", names.join(" → "), start.display()));
                } else if seen.insert(next.clone()) {
                    let mut longer = way.clone();
                    longer.push(next.clone());
                    stack.push((next.clone(), longer));
                }
            }
        }
    }
    circles.sort();
    circles.dedup();
    assert!(
        circles.is_empty(),
        "files that reach themselves:\n{}",
        circles.join("\n")
    );
}
