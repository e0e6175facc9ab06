//! A real Lambda function binary run as Lambda runs it, against a [`RuntimeApi`].

use crate::{RuntimeApi, target_dir, workspace_root};
use anyhow::{Context, Result, bail};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Path of the debug build of a workspace binary, building it once per test process if needed.
///
/// `cargo test --workspace` already builds every function binary (each has integration tests),
/// so this normally just finds it.
pub fn lambda_binary(name: &str) -> Result<PathBuf> {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(path) = built.get(name) {
        return Ok(path.clone());
    }
    let path = target_dir().join("debug").join(name);
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .current_dir(workspace_root())
            .args(["build", "--quiet", "-p", name, "--bin", name])
            .status()
            .with_context(|| format!("building {name}"))?;
        if !status.success() || !path.exists() {
            bail!("could not build {name} ({status}); run `cargo build -p {name}`");
        }
    }
    if let Some(newer) = newer_source(name, &path) {
        bail!(
            "{} is older than {}: a test would run stale code. Build it the way the workspace \
             does (`cargo build --workspace --exclude xtask --bins`; `cargo test --workspace` \
             does it too), then run the test again",
            path.display(),
            newer.display()
        );
    }
    built.insert(name.to_owned(), path.clone());
    Ok(path)
}

/// A source file of the binary's package (or of the shared `common` crate) modified after the
/// binary was built, if any.
fn newer_source(name: &str, binary: &Path) -> Option<PathBuf> {
    let built = std::fs::metadata(binary).and_then(|m| m.modified()).ok()?;
    let root = workspace_root();
    let package = match name {
        "deploy-handler" | "event-notifier" => root.join("functions").join(name),
        other => root.join(other),
    };
    let mut pending = vec![package.join("src"), root.join("common/src")];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|modified| modified > built)
            {
                return Some(path);
            }
        }
    }
    None
}

/// A running function process; killed on drop. Its stdout and stderr are captured.
#[derive(Debug)]
pub struct LambdaProcess {
    child: Child,
    logs: Arc<Mutex<String>>,
    spawned_at: Instant,
}

impl LambdaProcess {
    /// Starts `binary` with Lambda's environment (function name, memory, version, JSON logs)
    /// pointed at `runtime`, plus `env` (later entries win).
    pub fn spawn<K: AsRef<str>, V: AsRef<str>>(
        binary: &Path,
        runtime: &RuntimeApi,
        env: &[(K, V)],
    ) -> Result<Self> {
        let name = binary
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("function")
            .to_owned();
        let mut command = Command::new(binary);
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", runtime.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_REGION", "us-east-1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            command.env(k.as_ref(), v.as_ref());
        }
        let spawned_at = Instant::now();
        let mut child = command
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let logs = Arc::new(Mutex::new(String::new()));
        for stream in [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let logs = logs.clone();
            std::thread::spawn(move || capture(stream, &logs));
        }
        Ok(Self {
            child,
            logs,
            spawned_at,
        })
    }

    /// Everything the function printed so far (its log lines).
    pub fn logs(&self) -> String {
        self.logs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    pub fn spawned_at(&self) -> Instant {
        self.spawned_at
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(exit status)` once the process has ended.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Peak resident set size so far (VmHWM), in KiB, read from /proc.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    }

    /// Waits for the process to exit (e.g. after an abort), up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Some(status) = self.exited() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

fn capture(mut stream: Box<dyn Read + Send>, logs: &Mutex<String>) {
    let mut buf = [0_u8; 8192];
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        logs.lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push_str(&String::from_utf8_lossy(&buf[..n]));
    }
}

impl Drop for LambdaProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
