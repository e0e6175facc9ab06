//! `bootstrap` run as a person would run it, against the emulator and as the deployer: its
//! exit code, its output and its narration.

use super::DemoOptions;
use super::support::Narrator;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::time::Instant;
use testkit::Emulator;

/// `bootstrap deploy --output json` prints progress on stderr and one JSON document on stdout.
pub(super) fn last_json_document(stdout: &str) -> &str {
    stdout.find('{').map_or(stdout, |start| &stdout[start..])
}

/// Runs `bootstrap` against the emulator; `identity` (credentials as environment variables)
/// replaces the emulator's administrator keys when given. Fails unless it exits 0.
pub(super) async fn bootstrap(
    opts: &DemoOptions,
    emu: &Emulator,
    identity: &[(String, String)],
    args: &[&str],
    say: &Narrator,
) -> Result<String> {
    let (code, stdout, stderr) = bootstrap_exit(opts, emu, identity, args, say).await?;
    if code != 0 {
        bail!(
            "`bootstrap {}` failed (exit {code}):\n{stderr}\n{stdout}",
            args.join(" ")
        );
    }
    Ok(stdout)
}

/// Runs `bootstrap` and returns its exit code, stdout and stderr.
pub(super) async fn bootstrap_exit(
    opts: &DemoOptions,
    emu: &Emulator,
    identity: &[(String, String)],
    args: &[&str],
    say: &Narrator,
) -> Result<(i32, String, String)> {
    let started = Instant::now();
    let output = tokio::process::Command::new(&opts.bootstrap_bin)
        .args(args)
        .envs(emu.env())
        .envs(identity.iter().cloned())
        .env("GITHUB_TOKEN", "demo-token-not-used-by-the-emulator")
        .env_remove("BOOTSTRAP_CONFIG")
        .current_dir(opts.artifacts_dir.parent().unwrap_or(Path::new(".")))
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("starting {}", opts.bootstrap_bin.display()))?;
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    say.block(stderr.trim_end());
    let code = output.status.code().unwrap_or(-1);
    say.say(&format!(
        "`bootstrap {}` exited {code} after {:.1}s",
        args[0],
        started.elapsed().as_secs_f64()
    ));
    Ok((code, stdout, stderr))
}
