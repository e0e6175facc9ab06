//! Cargo manifests read as text (xtask links no TOML parser), and the rule that every declared
//! dependency is used: a crate the code never names still costs compile time, and in a Lambda
//! it may cost bytes and init time.

use super::SourceFile;
use super::lexer::{Token, blank_literals, tokens};
use std::collections::BTreeSet;

/// One dependency entry of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dependency {
    /// As the manifest spells it (`aws-sdk-s3`).
    pub name: String,
    /// The table it is declared in: `dependencies`, `dev-dependencies`, `build-dependencies`
    /// or `workspace.dependencies` (a target-specific table counts as its kind).
    pub table: String,
    pub line: usize,
}

impl Dependency {
    /// The name code uses for it (`aws_sdk_s3`).
    pub fn crate_name(&self) -> String {
        self.name.replace('-', "_")
    }
}

/// Every dependency entry of a manifest, in order.
pub fn dependencies(manifest: &str) -> Vec<Dependency> {
    let mut out = Vec::new();
    let mut table: Option<String> = None;
    let mut open_brackets = 0i32;
    for (index, raw) in manifest.lines().enumerate() {
        let line = raw.split(" #").next().unwrap_or(raw).trim();
        if open_brackets > 0 {
            open_brackets += bracket_balance(line);
            continue;
        }
        if line.starts_with('[') {
            let header = line.trim_matches(['[', ']']);
            table = dependency_table(header).map(str::to_owned);
            if let Some((kind, name)) = header
                .rsplit_once('.')
                .filter(|(kind, _)| dependency_table(kind).is_some())
            {
                let table = dependency_table(kind).unwrap_or(kind).to_owned();
                out.push(Dependency {
                    name: name.trim_matches('"').to_owned(),
                    table,
                    line: index + 1,
                });
            }
            continue;
        }
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(table) = &table else {
            continue;
        };
        let key = line
            .split(['=', '.'])
            .next()
            .unwrap_or(line)
            .trim()
            .trim_matches('"');
        out.push(Dependency {
            name: key.to_owned(),
            table: table.clone(),
            line: index + 1,
        });
        open_brackets += bracket_balance(line);
    }
    out
}

/// `dependencies`, `dev-dependencies`, `build-dependencies` or `workspace.dependencies` when
/// the header is (a target-specific form of) one of them.
fn dependency_table(header: &str) -> Option<&'static str> {
    let kinds = [
        "dev-dependencies",
        "build-dependencies",
        "workspace.dependencies",
        "dependencies",
    ];
    kinds.into_iter().find(|kind| {
        header == *kind || (header.starts_with("target.") && header.ends_with(&format!(".{kind}")))
    })
}

fn bracket_balance(line: &str) -> i32 {
    line.chars()
        .map(|c| match c {
            '[' | '{' => 1,
            ']' | '}' => -1,
            _ => 0,
        })
        .sum()
}

/// The workspace's members, from the root manifest's `members = [...]`.
pub fn members(root_manifest: &str) -> Vec<String> {
    let Some(list) = root_manifest.split("members = [").nth(1) else {
        return Vec::new();
    };
    let list = list.split(']').next().unwrap_or("");
    list.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The crates a source names: `name::`, `use name`, `extern crate name`, or a path in an
/// attribute's string (`#[serde(with = "name::...")]`).
pub fn crates_named(source: &str) -> BTreeSet<String> {
    let tokens: Vec<Token> = tokens(&blank_literals(source));
    let text = |k: usize| tokens.get(k).map_or("", |t| t.text.as_str());
    let mut named = BTreeSet::new();
    for k in 0..tokens.len() {
        let after_use = k >= 1 && text(k - 1) == "use";
        let after_extern = k >= 2 && text(k - 2) == "extern" && text(k - 1) == "crate";
        if text(k + 1) == "::" || after_use || after_extern {
            named.insert(text(k).to_owned());
        }
    }
    for attribute in source.split("#[").skip(1) {
        let attribute = attribute.split(']').next().unwrap_or("");
        for quoted in attribute.split('"').skip(1).step_by(2) {
            named.insert(quoted.split("::").next().unwrap_or(quoted).to_owned());
        }
    }
    named
}

/// Rule: every entry of each member's `[dependencies]` is named by its library, binaries or
/// build script; every `[dev-dependencies]` entry anywhere in the crate (tests, examples and
/// benches included); every `[workspace.dependencies]` entry is declared by some member.
pub fn unused(
    root_manifest: &str,
    manifests: &[(String, String)],
    files: &[SourceFile],
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut declared_by_members = BTreeSet::new();
    for (dir, manifest) in manifests {
        let in_crate = |file: &&SourceFile| {
            file.path.starts_with(&format!("{dir}/")) && file.path.ends_with(".rs")
        };
        let dev_only = |file: &&SourceFile| {
            let inner = &file.path[dir.len() + 1..];
            ["tests/", "examples/", "benches/"]
                .iter()
                .any(|d| inner.starts_with(d))
        };
        let named_by = |include_dev: bool| -> BTreeSet<String> {
            let crate_files = files.iter().filter(in_crate);
            crate_files
                .filter(|f| include_dev || !dev_only(f))
                .flat_map(|f| crates_named(&f.text))
                .collect()
        };
        let (product, everything) = (named_by(false), named_by(true));
        for dependency in dependencies(manifest) {
            declared_by_members.insert(dependency.name.clone());
            let named = if dependency.table == "dev-dependencies" {
                &everything
            } else {
                &product
            };
            if !named.contains(&dependency.crate_name()) {
                problems.push(format!(
                    "{dir}/Cargo.toml:{}: `{}` in [{}] is never named by the crate's {} \
                     (no `{}::`, `use {}` or attribute); remove it (rule: no unused dependency)",
                    dependency.line,
                    dependency.name,
                    dependency.table,
                    if dependency.table == "dev-dependencies" {
                        "sources, tests, examples or benches"
                    } else {
                        "sources"
                    },
                    dependency.crate_name(),
                    dependency.crate_name(),
                ));
            }
        }
    }
    for dependency in dependencies(root_manifest) {
        if dependency.table == "workspace.dependencies"
            && !declared_by_members.contains(&dependency.name)
        {
            problems.push(format!(
                "Cargo.toml:{}: `{}` in [workspace.dependencies] is declared by no member; remove it \
                 (rule: no unused dependency)",
                dependency.line, dependency.name
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"[package]
name = "x"

[dependencies]
serde = { version = "1", features = [
    "derive",
] }
aws-config.workspace = true # a comment

[dev-dependencies.tempfile]
version = "3"

[target.'cfg(unix)'.dev-dependencies]
libc = "0.2"
"#;

    #[test]
    fn dependency_entries_come_from_every_dependency_table() {
        let found: Vec<(String, String, usize)> = dependencies(MANIFEST)
            .into_iter()
            .map(|d| (d.name, d.table, d.line))
            .collect();
        let want = [
            ("serde", "dependencies", 5),
            ("aws-config", "dependencies", 8),
            ("tempfile", "dev-dependencies", 10),
            ("libc", "dev-dependencies", 14),
        ];
        let want: Vec<(String, String, usize)> = want
            .iter()
            .map(|(n, t, l)| (n.to_string(), t.to_string(), *l))
            .collect();
        assert_eq!(found, want);
    }

    #[test]
    fn a_dependency_named_only_in_a_string_or_comment_is_unused_and_a_dev_one_in_tests_is_used() {
        let manifest = "[dependencies]\nserde.workspace = true\ntokio.workspace = true\n\
                        [dev-dependencies]\ntempfile.workspace = true\n";
        let file = |path: &str, text: &str| SourceFile {
            path: path.to_owned(),
            text: text.to_owned(),
        };
        let files = [
            file(
                "demo/src/lib.rs",
                "// tokio::spawn\nfn f() { let _ = \"tokio::x\"; serde::de(); }",
            ),
            file("demo/tests/t.rs", "use tempfile::TempDir;"),
        ];
        let root = "[workspace.dependencies]\nserde = \"1\"\ntokio = \"1\"\ntempfile = \"3\"\nrand = \"1\"\n";
        let problems = unused(root, &[("demo".to_owned(), manifest.to_owned())], &files);
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(
            problems[0].starts_with("demo/Cargo.toml:3: `tokio` in [dependencies]"),
            "{problems:#?}"
        );
        assert!(
            problems[1].starts_with("Cargo.toml:5: `rand` in [workspace.dependencies]"),
            "{problems:#?}"
        );
    }
}
