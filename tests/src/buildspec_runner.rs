//! Runs a buildspec's phases locally the way CodeBuild does, so its shell can be tested
//! without AWS: with stand-in `docker`/`aws` tools on `PATH` chosen by the caller.
//!
//! What is modelled (buildspec version 0.2 on a Linux image with `shell: bash`):
//! - phases run in order (`install`, `pre_build`, `build`, `post_build`), each command in
//!   `bash` in turn; exported variables and the working directory carry over from one
//!   command to the next and across phases, unexported shell variables do not;
//! - a failing command ends its phase; a failure in `install` or `pre_build` skips the rest of
//!   the build, a failure in `build` sets `CODEBUILD_BUILD_SUCCEEDING=0` and `post_build`
//!   still runs (as it does on CodeBuild), a failure in `post_build` fails the build;
//! - the build starts in the source directory with `CODEBUILD_SRC_DIR` set to it,
//!   `CODEBUILD_BUILD_SUCCEEDING=1`, the buildspec's `env.variables`, then the caller's
//!   environment (which wins, as project variables win over buildspec ones on CodeBuild).
//!
//! Not modelled: `finally` blocks, `on-failure`, `runtime-versions`, parameter-store and
//! secrets-manager variables. The runner does not read YAML itself (this crate's library has
//! no YAML dependency): the caller turns the buildspec into a [`Buildspec`].

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Phases in the order CodeBuild runs them.
pub const PHASE_ORDER: [&str; 4] = ["install", "pre_build", "build", "post_build"];

/// The parts of a buildspec the runner executes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Buildspec {
    /// `env.variables`, in file order.
    pub variables: Vec<(String, String)>,
    /// Phase name (one of [`PHASE_ORDER`]) to its `commands`.
    pub phases: BTreeMap<String, Vec<String>>,
}

/// Where and with what the build runs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The source directory (becomes `CODEBUILD_SRC_DIR` and the starting directory).
    pub source_dir: PathBuf,
    /// Directory put first on `PATH`, typically holding stand-in `docker` and `aws` tools.
    pub tools_dir: PathBuf,
    /// Variables as CodeBuild would set them (project variables plus the provided ones such as
    /// `CODEBUILD_RESOLVED_SOURCE_VERSION`); the runner sets `CODEBUILD_SRC_DIR` and
    /// `CODEBUILD_BUILD_SUCCEEDING` itself.
    pub env: Vec<(String, String)>,
    /// Longest one command may run before it is killed and counted as failed.
    pub command_timeout: Duration,
}

impl RunConfig {
    pub fn new(source_dir: impl Into<PathBuf>, tools_dir: impl Into<PathBuf>) -> Self {
        Self {
            source_dir: source_dir.into(),
            tools_dir: tools_dir.into(),
            env: Vec::new(),
            command_timeout: Duration::from_secs(600),
        }
    }

    pub fn with_env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((name.into(), value.into()));
        self
    }
}

/// How one phase ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PhaseStatus {
    Succeeded,
    /// Command number `command_index` (from 0) exited with `exit_code` (`None`: killed, e.g.
    /// after the timeout); the phase's later commands did not run.
    Failed {
        command_index: usize,
        exit_code: Option<i32>,
    },
    /// Not run because an earlier phase failed.
    Skipped,
}

/// One phase of a finished run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseOutcome {
    pub name: String,
    pub status: PhaseStatus,
}

/// The result of [`run_buildspec`].
#[derive(Debug, Clone)]
pub struct BuildOutcome {
    /// Every phase the buildspec declares, in run order.
    pub phases: Vec<PhaseOutcome>,
    /// Everything the commands printed (stdout and stderr interleaved), with a
    /// `[Container] Running command ...` line before each command, as in CodeBuild's log.
    pub log: String,
    /// The exported environment after the last command that ran.
    pub final_env: BTreeMap<String, String>,
}

impl BuildOutcome {
    /// True when no phase failed (what CodeBuild reports as SUCCEEDED).
    pub fn succeeded(&self) -> bool {
        !self
            .phases
            .iter()
            .any(|phase| matches!(phase.status, PhaseStatus::Failed { .. }))
    }

    /// The outcome of the phase called `name`, if the buildspec declares it.
    pub fn phase(&self, name: &str) -> Option<&PhaseStatus> {
        self.phases
            .iter()
            .find(|phase| phase.name == name)
            .map(|phase| &phase.status)
    }
}

/// Why the runner itself could not run a build (as opposed to a command failing in it).
#[derive(Debug)]
pub enum RunnerError {
    /// A phase name CodeBuild does not know; listing it would silently never run it.
    UnknownPhase(String),
    Io {
        what: String,
        source: io::Error,
    },
}

impl fmt::Display for RunnerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownPhase(name) => write!(
                f,
                "buildspec phase `{name}` is not one CodeBuild runs; use one of {}",
                PHASE_ORDER.join(", ")
            ),
            Self::Io { what, source } => write!(f, "buildspec runner could not {what}: {source}"),
        }
    }
}

impl std::error::Error for RunnerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::UnknownPhase(_) => None,
            Self::Io { source, .. } => Some(source),
        }
    }
}

fn io_error(what: impl Into<String>) -> impl FnOnce(io::Error) -> RunnerError {
    let what = what.into();
    move |source| RunnerError::Io { what, source }
}

/// Variables bash maintains itself; carrying them over would only add noise (`SHLVL` would
/// grow by one per command).
const SHELL_MANAGED: [&str; 4] = ["SHLVL", "_", "OLDPWD", "PWD"];

/// Runs `buildspec`'s phases in `config.source_dir`, as described in the module docs.
pub fn run_buildspec(
    buildspec: &Buildspec,
    config: &RunConfig,
) -> Result<BuildOutcome, RunnerError> {
    if let Some(unknown) = buildspec
        .phases
        .keys()
        .find(|name| !PHASE_ORDER.contains(&name.as_str()))
    {
        return Err(RunnerError::UnknownPhase(unknown.clone()));
    }
    let scratch = ScratchDir::new().map_err(io_error("create a scratch directory"))?;
    let mut env = initial_env(buildspec, config)?;
    let mut cwd = config.source_dir.clone();
    let mut log = String::new();
    let mut phases = Vec::new();
    let mut stop = false;

    for name in PHASE_ORDER {
        let Some(commands) = buildspec.phases.get(name) else {
            continue;
        };
        if stop {
            phases.push(PhaseOutcome {
                name: name.to_owned(),
                status: PhaseStatus::Skipped,
            });
            continue;
        }
        log.push_str(&format!(
            "[Container] Entering phase {}\n",
            name.to_uppercase()
        ));
        let mut status = PhaseStatus::Succeeded;
        for (index, command) in commands.iter().enumerate() {
            log.push_str(&format!("[Container] Running command {command}\n"));
            let step = run_command(command, &env, &cwd, &scratch.0, config.command_timeout)?;
            log.push_str(&step.output);
            if let Some(after) = step.env_after {
                env = after;
            }
            if let Some(dir) = step.cwd_after {
                cwd = dir;
            }
            if step.exit_code != Some(0) {
                log.push_str(&format!(
                    "[Container] Command did not exit successfully {command} exit status {}\n",
                    step.exit_code
                        .map_or_else(|| "killed".to_owned(), |code| code.to_string())
                ));
                status = PhaseStatus::Failed {
                    command_index: index,
                    exit_code: step.exit_code,
                };
                break;
            }
        }
        if matches!(status, PhaseStatus::Failed { .. }) {
            match name {
                "build" => {
                    env.insert("CODEBUILD_BUILD_SUCCEEDING".to_owned(), "0".to_owned());
                }
                _ => stop = true,
            }
        }
        log.push_str(&format!(
            "[Container] Phase complete: {} State: {}\n",
            name.to_uppercase(),
            status_word(&status)
        ));
        phases.push(PhaseOutcome {
            name: name.to_owned(),
            status,
        });
    }
    Ok(BuildOutcome {
        phases,
        log,
        final_env: env,
    })
}

fn status_word(status: &PhaseStatus) -> &'static str {
    match status {
        PhaseStatus::Succeeded => "SUCCEEDED",
        PhaseStatus::Failed { .. } => "FAILED",
        PhaseStatus::Skipped => "SKIPPED",
    }
}

fn initial_env(
    buildspec: &Buildspec,
    config: &RunConfig,
) -> Result<BTreeMap<String, String>, RunnerError> {
    let mut path = OsString::from(config.tools_dir.as_os_str());
    if let Some(inherited) = std::env::var_os("PATH") {
        path.push(":");
        path.push(inherited);
    }
    let path = path.into_string().map_err(|_| {
        io_error("build PATH")(io::Error::new(
            io::ErrorKind::InvalidData,
            "PATH is not UTF-8",
        ))
    })?;
    let mut env = BTreeMap::new();
    env.insert("PATH".to_owned(), path);
    for name in ["HOME", "TMPDIR", "LANG"] {
        if let Ok(value) = std::env::var(name) {
            env.insert(name.to_owned(), value);
        }
    }
    env.extend(buildspec.variables.iter().cloned());
    env.extend(config.env.iter().cloned());
    env.insert(
        "CODEBUILD_SRC_DIR".to_owned(),
        config.source_dir.display().to_string(),
    );
    env.insert("CODEBUILD_BUILD_SUCCEEDING".to_owned(), "1".to_owned());
    Ok(env)
}

struct CommandRun {
    exit_code: Option<i32>,
    output: String,
    env_after: Option<BTreeMap<String, String>>,
    cwd_after: Option<PathBuf>,
}

/// Runs one command in a fresh bash whose EXIT trap records the exported environment and the
/// working directory, so the next command starts where this one left off even if it `exit`s.
fn run_command(
    command: &str,
    env: &BTreeMap<String, String>,
    cwd: &Path,
    scratch: &Path,
    timeout: Duration,
) -> Result<CommandRun, RunnerError> {
    let command_file = scratch.join("command.sh");
    let env_file = scratch.join("env-after");
    let cwd_file = scratch.join("cwd-after");
    let output_file = scratch.join("output");
    for stale in [&env_file, &cwd_file] {
        match fs::remove_file(stale) {
            Err(error) if error.kind() != io::ErrorKind::NotFound => {
                return Err(io_error(format!("remove {}", stale.display()))(error));
            }
            _ => {}
        }
    }
    fs::write(&command_file, command).map_err(io_error("write the command file"))?;
    let wrapper = format!(
        "trap '__runner_status=$?; env -0 > {env}; pwd > {cwd}; exit $__runner_status' EXIT\nsource {command}\n",
        env = shell_quote(&env_file),
        cwd = shell_quote(&cwd_file),
        command = shell_quote(&command_file),
    );
    let output = fs::File::create(&output_file).map_err(io_error("create the output file"))?;
    let output_err = output
        .try_clone()
        .map_err(io_error("share the output file"))?;
    let mut bash = Command::new("bash");
    // Its own process group, so a timeout also ends whatever the command started.
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut bash, 0);
    let mut child = bash
        .arg("-c")
        .arg(wrapper)
        .env_clear()
        .envs(env)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(output)
        .stderr(output_err)
        .spawn()
        .map_err(io_error("start bash (is it installed?)"))?;

    let deadline = Instant::now() + timeout;
    let exit_code = loop {
        if let Some(status) = child.try_wait().map_err(io_error("wait for a command"))? {
            break status.code();
        }
        if Instant::now() >= deadline {
            // Killed: reported as failed with no exit code; the output says why. Errors are
            // ignored because the group may already be gone.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .stderr(Stdio::null())
                .status();
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut output = String::from_utf8_lossy(
        &fs::read(&output_file).map_err(io_error("read a command's output"))?,
    )
    .into_owned();
    if exit_code.is_none() {
        output.push_str(&format!("[runner] command killed after {timeout:?}\n"));
    }
    let env_after = fs::read(&env_file).ok().map(|raw| parse_env(&raw));
    let cwd_after = fs::read_to_string(&cwd_file)
        .ok()
        .map(|dir| PathBuf::from(dir.trim_end_matches('\n')));
    Ok(CommandRun {
        exit_code,
        output,
        env_after,
        cwd_after,
    })
}

fn parse_env(raw: &[u8]) -> BTreeMap<String, String> {
    raw.split(|byte| *byte == 0)
        .filter_map(|entry| {
            let entry = String::from_utf8_lossy(entry);
            let (name, value) = entry.split_once('=')?;
            (!name.is_empty() && !SHELL_MANAGED.contains(&name))
                .then(|| (name.to_owned(), value.to_owned()))
        })
        .collect()
}

fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

/// A private temporary directory removed on drop (std only: this library has no `tempfile`).
struct ScratchDir(PathBuf);

impl ScratchDir {
    fn new() -> io::Result<Self> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let unique = format!(
            "buildspec-runner-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let dir = std::env::temp_dir().join(unique);
        fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn spec(phases: &[(&str, &[&str])]) -> Buildspec {
        Buildspec {
            variables: Vec::new(),
            phases: phases
                .iter()
                .map(|(name, commands)| {
                    (
                        (*name).to_owned(),
                        commands.iter().map(|c| (*c).to_owned()).collect(),
                    )
                })
                .collect(),
        }
    }

    fn config(source: &Path) -> RunConfig {
        let mut config = RunConfig::new(source, source.join("no-tools"));
        config.command_timeout = Duration::from_secs(30);
        config
    }

    #[test]
    fn exported_variables_and_directory_carry_over_but_plain_variables_do_not() {
        let source = tempfile::tempdir().unwrap();
        fs::create_dir(source.path().join("sub")).unwrap();
        let buildspec = spec(&[
            (
                "pre_build",
                &["export CARRIED=yes; LOCAL_ONLY=no", "cd sub"],
            ),
            (
                "build",
                &["echo \"carried=$CARRIED local=${LOCAL_ONLY:-unset} dir=$(basename \"$PWD\")\""],
            ),
        ]);
        let outcome = run_buildspec(&buildspec, &config(source.path())).unwrap();
        assert!(outcome.succeeded(), "{}", outcome.log);
        assert!(
            outcome.log.contains("carried=yes local=unset dir=sub"),
            "{}",
            outcome.log
        );
        assert_eq!(
            outcome.final_env.get("CARRIED").map(String::as_str),
            Some("yes")
        );
    }

    #[test]
    fn a_failed_build_command_stops_the_phase_and_post_build_sees_the_failure() {
        let source = tempfile::tempdir().unwrap();
        let buildspec = spec(&[
            ("pre_build", &["echo pre"]),
            ("build", &["echo before", "false", "echo after-the-failure"]),
            (
                "post_build",
                &["echo \"succeeding=$CODEBUILD_BUILD_SUCCEEDING\""],
            ),
        ]);
        let outcome = run_buildspec(&buildspec, &config(source.path())).unwrap();
        assert!(!outcome.succeeded());
        assert_eq!(
            outcome.phase("build"),
            Some(&PhaseStatus::Failed {
                command_index: 1,
                exit_code: Some(1)
            })
        );
        assert_eq!(outcome.phase("post_build"), Some(&PhaseStatus::Succeeded));
        assert!(
            !outcome.log.contains("after-the-failure\n"),
            "{}",
            outcome.log
        );
        assert!(outcome.log.contains("succeeding=0"), "{}", outcome.log);
    }

    #[test]
    fn a_failed_pre_build_skips_the_rest() {
        let source = tempfile::tempdir().unwrap();
        let buildspec = spec(&[
            ("pre_build", &["exit 3"]),
            ("build", &["echo build-ran"]),
            ("post_build", &["echo post-build-ran"]),
        ]);
        let outcome = run_buildspec(&buildspec, &config(source.path())).unwrap();
        assert_eq!(
            outcome.phase("pre_build"),
            Some(&PhaseStatus::Failed {
                command_index: 0,
                exit_code: Some(3)
            })
        );
        assert_eq!(outcome.phase("build"), Some(&PhaseStatus::Skipped));
        assert_eq!(outcome.phase("post_build"), Some(&PhaseStatus::Skipped));
        assert!(!outcome.log.contains("build-ran\n"), "{}", outcome.log);
    }

    #[test]
    fn environment_order_is_buildspec_then_caller_and_tools_come_first_on_path() {
        let source = tempfile::tempdir().unwrap();
        let tools = source.path().join("tools");
        fs::create_dir(&tools).unwrap();
        let tool = tools.join("docker");
        fs::write(&tool, "#!/bin/sh\necho stand-in-docker\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let mut buildspec = spec(&[(
            "build",
            &["echo \"a=$A b=$B src=$CODEBUILD_SRC_DIR\"", "docker"],
        )]);
        buildspec.variables = vec![
            ("A".into(), "from-buildspec".into()),
            ("B".into(), "from-buildspec".into()),
        ];
        let mut config = config(source.path()).with_env("B", "from-caller");
        config.tools_dir = tools;
        let outcome = run_buildspec(&buildspec, &config).unwrap();
        assert!(outcome.succeeded(), "{}", outcome.log);
        let expected = format!(
            "a=from-buildspec b=from-caller src={}",
            source.path().display()
        );
        assert!(outcome.log.contains(&expected), "{}", outcome.log);
        assert!(outcome.log.contains("stand-in-docker"), "{}", outcome.log);
    }

    #[test]
    fn a_command_that_overruns_its_timeout_is_killed_and_fails() {
        let source = tempfile::tempdir().unwrap();
        let mut config = config(source.path());
        config.command_timeout = Duration::from_millis(300);
        let started = Instant::now();
        let outcome = run_buildspec(&spec(&[("build", &["sleep 20"])]), &config).unwrap();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(
            outcome.phase("build"),
            Some(&PhaseStatus::Failed {
                command_index: 0,
                exit_code: None
            })
        );
        assert!(outcome.log.contains("killed after"), "{}", outcome.log);
    }

    #[test]
    fn an_unknown_phase_is_refused_with_the_valid_names() {
        let source = tempfile::tempdir().unwrap();
        let error =
            run_buildspec(&spec(&[("prebuild", &["true"])]), &config(source.path())).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("prebuild") && message.contains("pre_build"),
            "{message}"
        );
    }
}
