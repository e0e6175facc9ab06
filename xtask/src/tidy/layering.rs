//! ARCHITECTURE.md's layering invariants: only `bootstrap/src/resources/` (and, in the
//! Lambdas, their transport modules) calls AWS; the reconciler's pure parts import no IO;
//! `common/` depends on no AWS crate and no runtime.

use super::{SourceFile, deps, is_test_file, lexer};

/// `(path, reason)`: a Lambda module that is the handler's transport to AWS.
pub type Transport = (&'static str, &'static str);

/// `(path, import, reason)`: an import a pure module still makes, to be moved out.
pub type PureException = (&'static str, &'static str, &'static str);

/// The reconciler's parts that must do no IO.
fn is_pure_module(path: &str) -> bool {
    ["bootstrap/src/plan.rs", "bootstrap/src/target_facts.rs"].contains(&path)
        || path.starts_with("bootstrap/src/desired/")
        || path.starts_with("bootstrap/src/policies/")
}

/// Rule: an SDK request is sent (`.send()`) only from `bootstrap/src/resources/` and, in the
/// functions, from the listed transport modules.
pub fn sdk_calls(sources: &[SourceFile], transports: &[Transport]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut senders = Vec::new();
    for file in sources
        .iter()
        .filter(|f| f.path.ends_with(".rs") && !is_test_file(&f.path))
    {
        let in_bootstrap = file.path.starts_with("bootstrap/src/")
            && !file.path.starts_with("bootstrap/src/resources/");
        let in_function = file.path.starts_with("functions/");
        if !in_bootstrap && !in_function {
            continue;
        }
        let tokens = lexer::product_tokens(&file.text);
        let text = |k: usize| tokens.get(k).map_or("", |t| t.text.as_str());
        for k in (0..tokens.len()).filter(|&k| {
            [".", "send", "(", ")"]
                .iter()
                .enumerate()
                .all(|(d, want)| text(k + d) == *want)
        }) {
            senders.push(file.path.as_str());
            if in_bootstrap {
                problems.push(format!(
                    "{}:{}: calls an AWS SDK client's `.send()` outside bootstrap/src/resources/ \
                     (layering: only resources/ calls AWS)",
                    file.path, tokens[k].line
                ));
            } else if !transports.iter().any(|(path, _)| *path == file.path) {
                problems.push(format!(
                    "{}:{}: calls an AWS SDK client's `.send()` outside the function's transport \
                     modules (layering: the handler reaches AWS through its narrow traits; list a \
                     new transport module in xtask/src/tidy/allow.rs with the reason)",
                    file.path, tokens[k].line
                ));
            }
        }
    }
    for (path, _) in transports
        .iter()
        .filter(|(path, _)| !senders.contains(path))
    {
        problems.push(format!(
            "xtask/src/tidy/allow.rs: `{path}` is listed as a transport module but sends no SDK \
             request; remove the entry (layering)"
        ));
    }
    problems
}

/// The crate-relative module path of a file under `bootstrap/src/` (`policies/mod.rs` is
/// `["policies"]`), to resolve `super::` and `self::`.
fn module_path(path: &str) -> Vec<&str> {
    let inner = path
        .trim_start_matches("bootstrap/src/")
        .trim_end_matches(".rs");
    let mut segments: Vec<&str> = inner.split('/').collect();
    if matches!(segments.last(), Some(&"mod" | &"lib" | &"main")) {
        segments.pop();
    }
    segments
}

/// `super::x` and `self::x` as `crate::...`; other paths unchanged.
fn resolve(path: &str, module: &[&str]) -> String {
    let mut segments: Vec<&str> = path.split("::").collect();
    let mut base = module.to_vec();
    match segments.first() {
        Some(&"self") => {
            segments.remove(0);
        }
        Some(&"super") => {
            while segments.first() == Some(&"super") {
                segments.remove(0);
                base.pop();
            }
        }
        _ => return path.to_owned(),
    }
    let mut absolute = vec!["crate"];
    absolute.extend(base);
    absolute.extend(segments);
    absolute.join("::")
}

/// Why a path may not appear in a pure module, if it may not.
fn io_reason(path: &str) -> Option<&'static str> {
    let root = path.split("::").next().unwrap_or(path);
    let under = |prefix: &str| path == prefix || path.starts_with(&format!("{prefix}::"));
    if ["tokio", "hyper", "reqwest"].contains(&root) || root.starts_with("aws_") {
        Some("an IO crate")
    } else if under("std::fs") || under("std::net") || under("std::process") {
        Some("std's IO")
    } else if under("crate::resources") {
        Some("the resources layer, which calls AWS")
    } else {
        None
    }
}

/// Rule: `plan.rs`, `desired/`, `target_facts.rs` and `policies/` name no IO crate, no std IO
/// module and nothing of `crate::resources` (outside their `#[cfg(test)]` modules and test files).
pub fn pure_imports(sources: &[SourceFile], exceptions: &[PureException]) -> Vec<String> {
    let mut problems = Vec::new();
    let mut used = Vec::new();
    for file in sources
        .iter()
        .filter(|f| is_pure_module(&f.path) && !is_test_file(&f.path))
    {
        let module = module_path(&file.path);
        for reference in lexer::paths(&lexer::product_tokens(&file.text)) {
            let path = resolve(&reference.path, &module);
            let Some(reason) = io_reason(&path) else {
                continue;
            };
            if let Some(exception) = exceptions
                .iter()
                .find(|(p, import, _)| *p == file.path && *import == path)
            {
                used.push(exception);
                continue;
            }
            problems.push(format!(
                "{}:{}: `{path}` is {reason}; plan, desired and policies do no IO \
                 (layering: the reconciler's pure parts)",
                file.path, reference.line
            ));
        }
    }
    for (path, import, _) in exceptions.iter().filter(|e| !used.contains(e)) {
        problems.push(format!(
            "xtask/src/tidy/allow.rs: the exception for `{import}` in `{path}` is no longer \
             needed; remove it (layering)"
        ));
    }
    problems
}

/// Rule: `common/` (the contract the functions share) depends on no AWS crate and no tokio.
pub fn common_dependencies(common_manifest: &str) -> Vec<String> {
    deps::dependencies(common_manifest)
        .into_iter()
        .filter(|d| d.crate_name().starts_with("aws_") || d.name == "tokio")
        .map(|d| {
            format!(
                "common/Cargo.toml:{}: `{}` in [{}]: common depends on no AWS crate and no tokio \
                 (layering: the shared contract does no IO)",
                d.line, d.name, d.table
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_resolve_from_the_file_module() {
        let policies = module_path("bootstrap/src/policies/mod.rs");
        assert_eq!(
            resolve("super::resources::X", &policies),
            "crate::resources::X"
        );
        let deployer = module_path("bootstrap/src/policies/deployer.rs");
        assert_eq!(
            resolve("super::super::resources::X", &deployer),
            "crate::resources::X"
        );
        assert_eq!(
            resolve("self::x", &deployer),
            "crate::policies::deployer::x"
        );
        assert_eq!(io_reason("aws_sdk_iam::Client"), Some("an IO crate"));
        assert_eq!(io_reason("std::fs"), Some("std's IO"));
        assert_eq!(io_reason("std::fmt::Write"), None);
        assert_eq!(io_reason("crate::resourcesx"), None);
    }
}
