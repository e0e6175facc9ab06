//! Tidy: the house rules and ARCHITECTURE.md's layering invariants as tests, so breaking one
//! fails `cargo test --workspace` (and `cargo xtask ci`) with the file, the line and the rule.
//!
//! The rules read the repository's files as text (xtask links none of the product): sizes
//! ([`size`]), layering ([`layering`]) and unused dependencies ([`deps`]). Today's exceptions
//! are in [`allow`], each with its reason; that list can only shrink.

mod allow;
mod deps;
mod layering;
mod lexer;
mod python;
mod size;

use std::path::Path;

/// A Rust or Python file of the repository, by its path from the workspace root.
#[derive(Debug)]
pub struct SourceFile {
    /// `/`-separated, relative to the workspace root.
    pub path: String,
    pub text: String,
}

/// Build output, the venv, caches and fuzzing data are not sources.
fn is_skipped_dir(relative: &str, name: &str) -> bool {
    name.starts_with('.')
        || ["target", "__pycache__", "node_modules"].contains(&name)
        || ["fuzz/corpus", "fuzz/artifacts", "fuzz/coverage"].contains(&relative)
}

/// Every `.rs` and `.py` file under the workspace root, sorted by path.
fn sources() -> Vec<SourceFile> {
    let mut files = Vec::new();
    walk(&crate::root(), "", &mut files);
    files.sort_by(|a, b| a.path.cmp(&b.path));
    files
}

fn walk(dir: &Path, relative: &str, files: &mut Vec<SourceFile>) {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|err| panic!("reading {}: {err}", dir.display()));
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = if relative.is_empty() {
            name.clone()
        } else {
            format!("{relative}/{name}")
        };
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_dir() && !is_skipped_dir(&path, &name) {
            walk(&entry.path(), &path, files);
        } else if kind.is_file() && (name.ends_with(".rs") || name.ends_with(".py")) {
            let text = std::fs::read_to_string(entry.path())
                .unwrap_or_else(|err| panic!("reading {path}: {err}"));
            files.push(SourceFile { path, text });
        }
    }
}

/// Test code: a file under a `tests/` or `test/` directory (in the `integration-tests`
/// crate, whose own directory is `tests/`, only under `tests/tests/`: its `src/` is the
/// rehearsal and held to the product's rules), a `*_tests.rs` module, or a pytest file.
pub fn is_test_file(path: &str) -> bool {
    let segments: Vec<&str> = path.split('/').collect();
    let (file, dirs) = segments.split_last().unwrap_or((&"", &[]));
    let dirs = if dirs.first() == Some(&"tests") {
        &dirs[1..]
    } else {
        dirs
    };
    dirs.iter().any(|dir| *dir == "tests" || *dir == "test")
        || file.ends_with("_tests.rs")
        || (file.ends_with(".py") && (file.starts_with("test_") || *file == "conftest.py"))
}

/// Product code, whose functions are held to the function limit.
pub fn is_product(path: &str) -> bool {
    let roots = [
        "bootstrap/",
        "common/",
        "functions/",
        "emulator/",
        "testkit/",
        "tests/src/",
        "xtask/src/",
    ];
    roots.iter().any(|root| path.starts_with(root)) && !is_test_file(path)
}

fn read(relative: &str) -> String {
    let path = crate::root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
}

fn assert_none(problems: Vec<String>) {
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

#[test]
fn no_source_file_is_over_800_lines() {
    let measured = size::files(&sources());
    assert_none(size::check(
        &measured,
        size::FILE_LIMIT,
        allow::LONG_FILES,
        "rule: file size",
    ));
}

#[test]
fn no_product_function_is_over_100_lines() {
    let measured = size::functions(&sources());
    assert_none(size::check(
        &measured,
        size::FUNCTION_LIMIT,
        allow::LONG_FUNCTIONS,
        "rule: function size",
    ));
}

#[test]
fn only_the_resources_layer_and_the_lambdas_transport_modules_call_aws() {
    assert_none(layering::sdk_calls(&sources(), allow::TRANSPORT_MODULES));
}

#[test]
fn plan_desired_and_policies_import_no_io() {
    assert_none(layering::pure_imports(
        &sources(),
        allow::PURE_MODULE_IMPORTS,
    ));
}

#[test]
fn common_depends_on_no_aws_crate_and_no_tokio() {
    assert_none(layering::common_dependencies(&read("common/Cargo.toml")));
}

#[test]
fn every_declared_dependency_is_used() {
    let root_manifest = read("Cargo.toml");
    let manifests: Vec<(String, String)> = deps::members(&root_manifest)
        .into_iter()
        .map(|member| {
            let manifest = read(&format!("{member}/Cargo.toml"));
            (member, manifest)
        })
        .collect();
    assert!(
        manifests.len() >= 8,
        "the workspace's members: {manifests:?}"
    );
    assert_none(deps::unused(&root_manifest, &manifests, &sources()));
}

#[test]
fn test_files_are_told_from_product_files() {
    assert!(is_test_file("bootstrap/tests/stack.rs"));
    assert!(is_test_file("tests/tests/e2e.rs"));
    assert!(is_test_file(
        "functions/deploy-handler/src/handler_tests.rs"
    ));
    assert!(is_test_file("emulator/tests/shim_helpers.py"));
    assert!(is_test_file("examples/hello-app/test_hello.py"));
    assert!(!is_test_file("tests/src/e2e.rs"));
    assert!(!is_test_file("tests/examples/demo.rs"));
    assert!(is_product("tests/src/e2e/aws_cli.py"));
    assert!(is_product("emulator/shim.py"));
    assert!(!is_product("fuzz/src/lib.rs"));
    assert!(!is_product("emulator/tests/test_shim.py"));
}
