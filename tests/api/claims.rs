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
                    || module.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
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
        format!("tests/api/{module}.rs")
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
    for entry in std::fs::read_dir("tests/api").expect("tests/api") {
        let path = entry.expect("entry").path();
        let module = path.file_stem().unwrap().to_string_lossy().to_string();
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
