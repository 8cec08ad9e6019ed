//! The fence around the house DESIGN.md draws ("Shape"): imports run one
//! way, app → domains → platform. Every `crate::…` path in `src/` is read
//! and its floor checked against the arrows the design allows, so an
//! import that climbs back up fails here the day it is written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The domains, and the other domains each may import.
const DOMAINS: [(&str, &[&str]); 5] = [
    ("registry", &[]),
    ("needs", &["registry"]),
    ("donations", &["registry"]),
    ("distribution", &["needs", "donations", "registry"]),
    (
        "reporting",
        &["registry", "needs", "donations", "distribution"],
    ),
];

/// The wiring at the top of `src/`: what nothing below may import.
const APP: [&str; 4] = ["app", "openapi", "maintenance", "lib"];

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
