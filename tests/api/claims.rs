//! The claims register (`tests/CLAIMS.md`) and README name the tests that
//! prove their promises; a name that does not exist proves nothing.

use std::path::Path;

/// The `module::test` and `src/<file>.rs::test` names quoted in `text`.
fn quoted_tests(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|quoted| {
            let Some((module, name)) = quoted.rsplit_once("::") else {
                return false;
            };
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                && (module.starts_with("src/")
                    || module
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c == '_' || c == ':'))
        })
        .map(str::to_owned)
        .collect()
}

/// Whether the test `module::name` exists: `fn name(` in the module's file.
fn exists(reference: &str) -> Result<bool, String> {
    let (module, name) = reference.rsplit_once("::").expect("module::name");
    let file = if module.starts_with("src/") {
        module.to_owned()
    } else {
        // `registry::students` is tests/api/registry/students.rs; `needs`
        // is tests/api/needs.rs or, with submodules, tests/api/needs/mod.rs.
        let path = module.replace("::", "/");
        let flat = format!("tests/api/{path}.rs");
        if Path::new(&flat).exists() {
            flat
        } else {
            format!("tests/api/{path}/mod.rs")
        }
    };
    if !Path::new(&file).exists() {
        return Err(file);
    }
    let source = std::fs::read_to_string(&file).expect("read the module");
    Ok(source.contains(&format!("fn {name}(")))
}

#[test]
fn every_test_the_register_names_exists() {
    let register = std::fs::read_to_string("tests/CLAIMS.md").expect("tests/CLAIMS.md");
    let named = quoted_tests(&register);
    assert!(
        named.len() > 80,
        "the register names only {} tests",
        named.len()
    );
    let mut missing = Vec::new();
    for reference in &named {
        match exists(reference) {
            Ok(true) => {}
            Ok(false) => missing.push(format!("{reference}: no such test")),
            Err(file) => missing.push(format!("{reference}: no file {file}")),
        }
    }
    // README quotes test names too (its privacy section): those must exist
    // where they name a test module (other `a::b` quotes are Rust paths).
    let readme = std::fs::read_to_string("README.md").expect("README.md");
    for reference in quoted_tests(&readme) {
        if let Ok(false) = exists(&reference) {
            missing.push(format!("README: {reference}: no such test"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn every_integration_test_is_in_the_register() {
    let register = std::fs::read_to_string("tests/CLAIMS.md").expect("tests/CLAIMS.md");
    let mut unlisted = Vec::new();
    for path in test_files(Path::new("tests/api")) {
        let module = module_of(&path);
        let source = std::fs::read_to_string(&path).expect("read");
        let mut lines = source.lines().peekable();
        while let Some(line) = lines.next() {
            if line.trim() != "#[actix_rt::test]" && line.trim() != "#[test]" {
                continue;
            }
            let Some(next) = lines.peek() else { continue };
            let Some(name) = next
                .trim_start_matches("async ")
                .strip_prefix("fn ")
                .and_then(|rest| rest.split('(').next())
            else {
                continue;
            };
            if module != "claims" && !register.contains(&format!("`{module}::{name}`")) {
                unlisted.push(format!("{module}::{name}"));
            }
        }
    }
    assert!(
        unlisted.is_empty(),
        "tests no promise in tests/CLAIMS.md names (add the promise they prove):\n{}",
        unlisted.join("\n")
    );
}

/// Every `.rs` file under `dir`, folders included.
fn test_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read a tests folder") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            files.extend(test_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The module path of a test file: tests/api/registry/students.rs is
/// `registry::students`, tests/api/needs/mod.rs is `needs`.
fn module_of(path: &Path) -> String {
    let relative = path.strip_prefix("tests/api").expect("under tests/api");
    let mut parts: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect();
    if parts.last().is_some_and(|last| last == "mod") {
        parts.pop();
    }
    parts.join("::")
}
