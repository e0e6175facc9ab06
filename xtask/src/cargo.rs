//! Timed steps and cargo builds that report what they compiled: the AWS SDK crates are most of
//! the build time, so every build counts the SDK crates it compiled, and CI fails when one is
//! compiled twice for the same profile (a feature set or profile that drifted apart).

use anyhow::{Context, Result, bail};
use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a build produces; one SDK crate compiled twice under the same profile is waste.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Profile {
    /// `cargo check` / `cargo clippy`: metadata only.
    Check,
    Debug,
    Release,
}

#[derive(Debug)]
struct Row {
    label: String,
    took: Duration,
    /// `(crates compiled, SDK crates compiled)` for cargo builds.
    compiled: Option<(usize, usize)>,
    /// Bytes under the target directory when the step ended: a CI machine's disk is finite.
    target_bytes: u64,
}

/// The steps of one xtask run, in order.
#[derive(Debug, Default)]
pub struct Steps {
    rows: Vec<Row>,
    /// (profile, SDK crate, target kind) -> labels of the steps that compiled it.
    sdk_compiles: BTreeMap<(Profile, String, String), Vec<String>>,
    /// Variables every later cargo run gets (the zips bootstrap's build script embeds): a run
    /// without them would rebuild bootstrap without its zips.
    env: Vec<(String, String)>,
}

impl Steps {
    /// Sets variables for every cargo run from now on (`cargo` and `cargo_command`).
    pub fn set_env(&mut self, env: Vec<(String, String)>) {
        self.env = env;
    }

    /// `cargo` with the steps' variables, for runs that are not builds (`cargo test`).
    pub fn cargo_command(&self) -> Command {
        let mut command = Command::new("cargo");
        command
            .current_dir(crate::root())
            .env("PATH", crate::pinned_tools_path())
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// Runs `work` as a step and records how long it took.
    pub fn timed(&mut self, label: &str, work: impl FnOnce() -> Result<()>) -> Result<()> {
        let started = Instant::now();
        let result = work();
        self.rows.push(Row {
            label: label.to_owned(),
            took: started.elapsed(),
            compiled: None,
            target_bytes: bytes_under(&crate::target_dir()),
        });
        result
    }

    /// Runs `cargo ARGS` with JSON messages on stdout (diagnostics and progress still render on
    /// stderr as usual) and records every crate it compiled rather than found fresh.
    pub fn cargo(&mut self, label: &str, profile: Profile, args: &[&str]) -> Result<()> {
        crate::step(&format!("{label}: cargo {}", args.join(" ")));
        let mut args: Vec<&str> = args.to_vec();
        let flag_at = args.iter().position(|a| *a == "--").unwrap_or(args.len());
        args.insert(flag_at, "--message-format=json-render-diagnostics");
        let started = Instant::now();
        let mut child = self
            .cargo_command()
            .args(&args)
            .stdout(Stdio::piped())
            .spawn()
            .context("starting cargo")?;
        let stdout = child.stdout.take().context("cargo's stdout")?;
        let mut compiled = 0;
        let mut sdk = 0;
        for line in BufReader::new(stdout).lines() {
            let line = line.context("reading cargo's output")?;
            let Some(artifact) = compiled_artifact(&line) else {
                if !line.starts_with('{') {
                    println!("{line}");
                }
                continue;
            };
            compiled += 1;
            if is_sdk_crate(&artifact.package) {
                sdk += 1;
                self.sdk_compiles
                    .entry((profile, artifact.package, artifact.kind))
                    .or_default()
                    .push(label.to_owned());
            }
        }
        let status = child.wait().context("waiting for cargo")?;
        self.rows.push(Row {
            label: label.to_owned(),
            took: started.elapsed(),
            compiled: Some((compiled, sdk)),
            target_bytes: bytes_under(&crate::target_dir()),
        });
        eprintln!("{label}: compiled {compiled} crates, {sdk} of them AWS SDK crates");
        if !status.success() {
            bail!("`cargo {}` failed ({status})", args.join(" "));
        }
        Ok(())
    }

    pub fn total(&self) -> Duration {
        self.rows.iter().map(|r| r.took).sum()
    }

    /// What each step took and compiled, as a table on stderr.
    pub fn print_summary(&self) {
        if self.rows.is_empty() {
            return;
        }
        eprintln!(
            "\n{:<34} {:>8} {:>9} {:>11} {:>8}",
            "step", "time", "compiled", "SDK crates", "target/"
        );
        for row in &self.rows {
            let (all, sdk) = match row.compiled {
                Some((all, sdk)) => (all.to_string(), sdk.to_string()),
                None => (String::new(), String::new()),
            };
            eprintln!(
                "{:<34} {:>8} {all:>9} {sdk:>11} {:>8}",
                row.label,
                minutes(row.took),
                gigabytes(row.target_bytes)
            );
        }
        eprintln!("{:<34} {:>8}", "total", minutes(self.total()));
    }

    /// Fails when a step compiled an SDK crate that an earlier step had compiled for the same
    /// profile: a sign that feature sets drifted apart between two builds.
    pub fn check_each_sdk_crate_compiled_once_per_profile(&self) -> Result<()> {
        let twice: Vec<String> = self
            .sdk_compiles
            .iter()
            .filter(|(_, steps)| steps.len() > 1)
            .map(|((profile, name, _), steps)| {
                format!("{name} ({profile:?}) in: {}", steps.join(", "))
            })
            .collect();
        if !twice.is_empty() {
            bail!(
                "SDK crates compiled more than once for one profile (a build changed the feature \
                 set; build through WORKSPACE_DEBUG in xtask/src/main.rs):\n  {}",
                twice.join("\n  ")
            );
        }
        eprintln!(
            "each SDK crate compiled at most once per profile ({} compilations)",
            self.sdk_compiles.len()
        );
        Ok(())
    }
}

#[derive(Debug, PartialEq)]
struct Artifact {
    package: String,
    kind: String,
}

/// The package and target kind of a `compiler-artifact` message that was not fresh.
fn compiled_artifact(line: &str) -> Option<Artifact> {
    let message: serde_json::Value = serde_json::from_str(line).ok()?;
    if message["reason"] != "compiler-artifact" || message["fresh"] != false {
        return None;
    }
    // A package id reads `SOURCE#NAME@VERSION`, or `SOURCE#VERSION` when the name is the last
    // path segment of SOURCE (path dependencies).
    let id = message["package_id"].as_str()?;
    let (source, rest) = id.rsplit_once('#')?;
    let package = match rest.split_once('@') {
        Some((name, _)) => name.to_owned(),
        None => source.rsplit('/').next()?.to_owned(),
    };
    let kind = message["target"]["kind"]
        .as_array()
        .and_then(|kinds| kinds.first())
        .and_then(|k| k.as_str())
        .unwrap_or("lib")
        .to_owned();
    Some(Artifact { package, kind })
}

/// The AWS SDK for Rust: service clients and their runtime.
fn is_sdk_crate(package: &str) -> bool {
    [
        "aws-sdk-",
        "aws-smithy-",
        "aws-sigv4",
        "aws-runtime",
        "aws-types",
        "aws-config",
    ]
    .iter()
    .any(|prefix| package.starts_with(prefix))
        || package == "aws-credential-types"
}

/// The bytes of every file under `dir` (0 when it does not exist), as `du` counts them: a file
/// with several names (cargo hard-links each binary it uplifts) once, symbolic links not followed.
pub fn bytes_under(dir: &Path) -> u64 {
    fn walk(dir: &Path, seen: &mut HashSet<(u64, u64)>) -> u64 {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return 0;
        };
        let mut bytes = 0;
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() {
                bytes += walk(&entry.path(), seen);
            } else if meta.is_file() && seen.insert((meta.dev(), meta.ino())) {
                bytes += meta.len();
            }
        }
        bytes
    }
    walk(dir, &mut HashSet::new())
}

/// The bytes free to an unprivileged writer on the file system holding `path` (or its nearest
/// existing parent), as `df` reports them; `None` when `df` cannot tell.
pub fn bytes_free(path: &Path) -> Option<u64> {
    let existing = path.ancestors().find(|p| p.exists())?;
    let output = Command::new("df").arg("-Pk").arg(existing).output().ok()?;
    parse_df_available(&String::from_utf8_lossy(&output.stdout))
}

/// The "Available" column (1024-byte blocks) of `df -Pk`'s one data line, in bytes.
fn parse_df_available(df: &str) -> Option<u64> {
    let line = df.lines().nth(1)?;
    let kib: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(kib * 1024)
}

/// `1.23 GB`-style sizes for the summary.
pub fn gigabytes(bytes: u64) -> String {
    format!("{:.2} GB", bytes as f64 / 1e9)
}

/// `1m05s`-style durations for the summary.
pub fn minutes(took: Duration) -> String {
    let secs = took.as_secs();
    if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{:.1}s", took.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compiled_registry_crate_is_named_by_its_package_id() {
        let line = r#"{"reason":"compiler-artifact","package_id":"registry+https://example.invalid/index#aws-sdk-s3@1.2.3","target":{"kind":["lib"]},"fresh":false}"#;
        assert_eq!(
            compiled_artifact(line),
            Some(Artifact {
                package: "aws-sdk-s3".into(),
                kind: "lib".into()
            })
        );
    }

    #[test]
    fn fresh_artifacts_and_other_messages_are_not_counted() {
        let fresh = r#"{"reason":"compiler-artifact","package_id":"registry+x#aws-sdk-s3@1.2.3","target":{"kind":["lib"]},"fresh":true}"#;
        assert_eq!(compiled_artifact(fresh), None);
        assert_eq!(
            compiled_artifact(r#"{"reason":"build-finished","success":true}"#),
            None
        );
        assert_eq!(compiled_artifact("Finished release"), None);
    }

    #[test]
    fn a_path_package_is_named_by_its_directory() {
        let line = r#"{"reason":"compiler-artifact","package_id":"path+file:///w/bootstrap#0.1.0","target":{"kind":["bin"]},"fresh":false}"#;
        assert_eq!(
            compiled_artifact(line).map(|a| (a.package, a.kind)),
            Some(("bootstrap".into(), "bin".into()))
        );
    }

    #[test]
    fn bytes_under_counts_each_file_once_however_many_names_it_has() {
        let dir = std::env::temp_dir().join(format!("xtask-bytes-under-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("a/b")).expect("dirs");
        std::fs::write(dir.join("top"), [0u8; 10]).expect("write");
        std::fs::write(dir.join("a/b/deep"), [0u8; 32]).expect("write");
        std::os::unix::fs::symlink(dir.join("a"), dir.join("link")).expect("symlink");
        std::fs::hard_link(dir.join("top"), dir.join("a/top-again")).expect("hard link");
        let counted = bytes_under(&dir);
        std::fs::remove_dir_all(&dir).expect("cleanup");
        assert_eq!(counted, 42);
        assert_eq!(bytes_under(&dir), 0, "a missing directory holds nothing");
        assert_eq!(gigabytes(1_234_000_000), "1.23 GB");
    }

    #[test]
    fn df_posix_output_gives_the_available_bytes() {
        let df = "Filesystem     1024-blocks     Used Available Capacity Mounted on\n\
                  /dev/vda        263174212 90177368   5436180      95% /\n";
        assert_eq!(parse_df_available(df), Some(5_436_180 * 1024));
        assert_eq!(parse_df_available("Filesystem\n"), None);
        assert!(bytes_free(Path::new("/")).is_some_and(|b| b > 0));
    }

    #[test]
    fn the_sdk_is_told_from_other_crates() {
        assert!(is_sdk_crate("aws-smithy-runtime"));
        assert!(is_sdk_crate("aws-sdk-codepipeline"));
        assert!(is_sdk_crate("aws-config"));
        assert!(!is_sdk_crate("aws-lc-sys"));
        assert!(!is_sdk_crate("aws_lambda_events"));
    }

    #[test]
    fn a_crate_compiled_twice_for_one_profile_fails_the_check() {
        let mut steps = Steps::default();
        for label in ["tests", "demo"] {
            steps
                .sdk_compiles
                .entry((Profile::Debug, "aws-sdk-s3".into(), "lib".into()))
                .or_default()
                .push(label.into());
        }
        let err = steps
            .check_each_sdk_crate_compiled_once_per_profile()
            .expect_err("twice");
        assert!(
            err.to_string()
                .contains("aws-sdk-s3 (Debug) in: tests, demo"),
            "{err}"
        );
        steps.sdk_compiles.clear();
        steps
            .sdk_compiles
            .entry((Profile::Release, "aws-sdk-s3".into(), "lib".into()))
            .or_default()
            .push("dist".into());
        steps
            .check_each_sdk_crate_compiled_once_per_profile()
            .expect("once");
    }
}
