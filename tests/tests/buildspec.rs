//! Tests of `buildspec.yml` and the sample app it builds: the file's shape, its shell (lint,
//! environment contract) and its behaviour, run phase by phase with stand-in `docker`/`aws`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use integration_tests::buildspec_runner::{
    BuildOutcome, Buildspec, PhaseStatus, RunConfig, run_buildspec,
};
use pipeline_common::codebuild_env;
use serde_yaml::Value;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

fn buildspec_yaml() -> Value {
    let path = workspace_root().join("buildspec.yml");
    let text =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
}

/// The buildspec as the runner takes it; refuses phase keys the runner would silently ignore.
fn runner_buildspec(yaml: &Value) -> Buildspec {
    let mut buildspec = Buildspec::default();
    if let Some(variables) = yaml["env"]["variables"].as_mapping() {
        for (name, value) in variables {
            let value = match value {
                Value::String(text) => text.clone(),
                other => serde_yaml::to_string(other).unwrap().trim().to_owned(),
            };
            buildspec.variables.push((
                name.as_str()
                    .expect("variable names are strings")
                    .to_owned(),
                value,
            ));
        }
    }
    let phases = yaml["phases"]
        .as_mapping()
        .expect("buildspec has a `phases` mapping");
    for (name, phase) in phases {
        let name = name.as_str().expect("phase names are strings");
        let keys: Vec<_> = phase
            .as_mapping()
            .expect("a phase is a mapping")
            .keys()
            .collect();
        assert!(
            keys.iter().all(|key| key.as_str() == Some("commands")),
            "phase {name} uses keys other than `commands` ({keys:?}); the local runner does not model them"
        );
        let commands = phase["commands"]
            .as_sequence()
            .unwrap_or_else(|| panic!("phase {name} has no `commands` list"))
            .iter()
            .map(|command| {
                command
                    .as_str()
                    .expect("every command is a string")
                    .to_owned()
            })
            .collect();
        buildspec.phases.insert(name.to_owned(), commands);
    }
    buildspec
}

fn all_commands(buildspec: &Buildspec) -> Vec<(String, String)> {
    buildspec
        .phases
        .iter()
        .flat_map(|(phase, commands)| {
            commands
                .iter()
                .map(move |command| (phase.clone(), command.clone()))
        })
        .collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Shape

#[test]
fn buildspec_declares_version_phases_reports_and_artifacts() {
    let yaml = buildspec_yaml();
    assert_eq!(
        yaml["version"].as_f64(),
        Some(0.2),
        "buildspec.yml must say `version: 0.2`"
    );
    assert_eq!(
        yaml["env"]["shell"].as_str(),
        Some("bash"),
        "the commands use bash features; keep `env: shell: bash`"
    );
    for phase in ["pre_build", "build", "post_build"] {
        let commands = strings(&yaml["phases"][phase]["commands"]);
        assert!(!commands.is_empty(), "phase {phase} must have commands");
    }

    let reports = yaml["reports"]
        .as_mapping()
        .expect("buildspec declares a `reports:` section");
    assert_eq!(
        reports.len(),
        1,
        "one report group is expected, found {reports:?}"
    );
    let (name, group) = reports.iter().next().unwrap();
    assert_eq!(
        name.as_str(),
        Some(codebuild_env::REPORT_GROUP),
        "the bootstrap creates (and destroy deletes) the report group named by \
         codebuild_env::REPORT_GROUP; a group of another name would be left to CodeBuild to \
         create untagged, which the build role may not do"
    );
    assert_eq!(group["file-format"].as_str(), Some("JUNITXML"));
    assert_eq!(group["base-directory"].as_str(), Some("reports"));
    assert_eq!(strings(&group["files"]), ["**/*.xml"]);

    assert_eq!(
        strings(&yaml["artifacts"]["files"]),
        ["imageDetail.json", "imagedefinitions.json"]
    );
    let exported = strings(&yaml["env"]["exported-variables"]);
    assert_eq!(exported, ["IMAGE_TAG", "IMAGE_DIGEST"]);
}

#[test]
fn buildspec_never_uses_a_moving_tag() {
    let buildspec = runner_buildspec(&buildspec_yaml());
    for (phase, command) in all_commands(&buildspec) {
        assert!(
            !command.contains(":latest"),
            "{phase} pushes or pulls `latest`; the repository is tag-immutable:\n{command}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Shell lint

#[test]
fn every_command_passes_shellcheck() {
    if Command::new("shellcheck")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        let missing = "shellcheck is not installed (apt-get install shellcheck)";
        assert!(
            std::env::var_os("CI").is_none(),
            "{missing}; CI must lint buildspec.yml's commands (.ci/run installs it)"
        );
        println!("SKIPPED: {missing}; buildspec commands were not linted");
        return;
    }
    let buildspec = runner_buildspec(&buildspec_yaml());
    let mut findings = Vec::new();
    for (phase, command) in all_commands(&buildspec) {
        let mut child = Command::new("shellcheck")
            .args(["-s", "bash", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start shellcheck");
        {
            use std::io::Write;
            child
                .stdin
                .take()
                .unwrap()
                .write_all(command.as_bytes())
                .unwrap();
        }
        let output = child.wait_with_output().unwrap();
        if !output.status.success() {
            findings.push(format!(
                "--- {phase} command:\n{command}\n--- shellcheck says:\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    assert!(
        findings.is_empty(),
        "shellcheck findings in buildspec.yml:\n{}",
        findings.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// Environment contract

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Names read as `$NAME` or `${NAME...}` (also `${#NAME}`, `${!NAME}`).
fn variables_read(command: &str) -> BTreeSet<String> {
    let chars: Vec<char> = command.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '$' {
            let mut j = i + 1;
            if chars.get(j) == Some(&'{') {
                j += 1;
                if matches!(chars.get(j), Some('#' | '!')) {
                    j += 1;
                }
            }
            if chars.get(j).is_some_and(|c| is_name_start(*c)) {
                let end = (j..chars.len())
                    .find(|k| !is_name_char(chars[*k]))
                    .unwrap_or(chars.len());
                names.insert(chars[j..end].iter().collect());
                i = end;
                continue;
            }
        }
        i += 1;
    }
    names
}

/// Names the command assigns: `NAME=...` where a statement starts (also after `if`, `then`,
/// `&&`, ...), every `NAME=` of an `export`/`local`/`readonly`/`declare`, and `for NAME in`.
fn variables_defined(command: &str) -> BTreeSet<String> {
    const STARTERS: [&str; 9] = [
        "if", "elif", "then", "else", "do", "while", "until", "!", "{",
    ];
    const DECLARERS: [&str; 4] = ["export", "local", "readonly", "declare"];
    let mut names = BTreeSet::new();
    for line in command.lines() {
        let mut at_start = true;
        let mut declaring = false;
        let mut after_for = false;
        for token in line.split_whitespace() {
            if token.starts_with('#') && at_start {
                break;
            }
            if after_for {
                names.insert(token.to_owned());
                after_for = false;
                at_start = false;
                continue;
            }
            let assigned = token
                .split_once('=')
                .map(|(name, _)| name.trim_end_matches('+'))
                .filter(|name| name.starts_with(is_name_start) && name.chars().all(is_name_char));
            if let (Some(name), true) = (assigned, at_start || declaring) {
                names.insert(name.to_owned());
            } else if DECLARERS.contains(&token) && at_start {
                declaring = true;
            } else if token == "for" && at_start {
                after_for = true;
            } else {
                at_start = STARTERS.contains(&token);
            }
            if token.ends_with(';')
                || token.ends_with("&&")
                || token.ends_with("||")
                || token.ends_with('|')
                || token.ends_with('(')
            {
                at_start = true;
                declaring = false;
            }
        }
    }
    names
}

#[test]
fn variable_scanner_finds_reads_and_assignments() {
    let command = "set -eu\nexport A=1 B=\"${C:-x}\"\nif d=$(aws x --image-ids imageTag=$E); then f=1; fi\n[ \"$G\" = 1 ] && h=2\nfor i in 1; do echo \"${#J}\"; done";
    assert_eq!(
        variables_read(command),
        ["C", "E", "G", "J"].map(String::from).into()
    );
    assert_eq!(
        variables_defined(command),
        ["A", "B", "d", "f", "h", "i"].map(String::from).into()
    );
}

#[test]
fn buildspec_reads_exactly_the_bootstrap_and_codebuild_variables() {
    let yaml = buildspec_yaml();
    let buildspec = runner_buildspec(&yaml);
    let commands = all_commands(&buildspec);
    let read: BTreeSet<String> = commands
        .iter()
        .flat_map(|(_, command)| variables_read(command))
        .collect();
    let mut defined: BTreeSet<String> = commands
        .iter()
        .flat_map(|(_, command)| variables_defined(command))
        .collect();
    defined.extend(buildspec.variables.iter().map(|(name, _)| name.clone()));

    let contract: BTreeSet<String> = codebuild_env::SET_BY_BOOTSTRAP
        .iter()
        .chain(codebuild_env::PROVIDED.iter())
        .map(|name| (*name).to_owned())
        .collect();
    let overwritten: Vec<_> = defined.intersection(&contract).collect();
    assert!(
        overwritten.is_empty(),
        "buildspec.yml assigns variables it should only read: {overwritten:?}"
    );

    let from_environment: BTreeSet<String> = read.difference(&defined).cloned().collect();
    let unexpected: Vec<_> = from_environment.difference(&contract).collect();
    let unused: Vec<_> = contract.difference(&from_environment).collect();
    assert!(
        unexpected.is_empty(),
        "buildspec.yml reads variables nobody sets: {unexpected:?}; set them in the buildspec or add them to pipeline_common::codebuild_env"
    );
    assert!(
        unused.is_empty(),
        "buildspec.yml never reads {unused:?}; drop them from pipeline_common::codebuild_env or use them"
    );

    for exported in strings(&yaml["env"]["exported-variables"]) {
        assert!(
            defined.contains(&exported),
            "exported variable {exported} is never set by the buildspec"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The sample app

fn hello_app() -> PathBuf {
    workspace_root().join("examples/hello-app")
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        if name == "__pycache__" || name == "reports" || name == "FAIL_TESTS" {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn run_app_tests(app: &Path, report: &Path) -> (bool, String) {
    let output = Command::new("python3")
        .arg("run_tests.py")
        .arg("--junit")
        .arg(report)
        .env_remove("FAIL_TESTS")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(app)
        .output()
        .expect("python3 is needed to run the sample app's tests");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn sample_app_tests_pass_and_write_a_junit_report() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("hello-app");
    copy_dir(&hello_app(), &app);
    let report = dir.path().join("reports/junit.xml");
    let (passed, output) = run_app_tests(&app, &report);
    assert!(passed, "the sample app's tests fail:\n{output}");
    let xml = fs::read_to_string(&report).expect("run_tests.py writes the JUnit report");
    assert!(
        xml.contains("<testsuite")
            && xml.contains("failures=\"0\"")
            && xml.contains("errors=\"0\""),
        "{xml}"
    );
    assert!(
        xml.matches("<testcase").count() >= 5,
        "expected the whole suite in the report:\n{xml}"
    );
}

#[test]
fn sample_app_tests_fail_on_demand_and_report_the_failure() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("hello-app");
    copy_dir(&hello_app(), &app);
    fs::write(app.join("FAIL_TESTS"), "").unwrap();
    let report = dir.path().join("junit.xml");
    let (passed, output) = run_app_tests(&app, &report);
    assert!(
        !passed,
        "with FAIL_TESTS present the tests must fail:\n{output}"
    );
    let xml = fs::read_to_string(&report).expect("the report is written even when tests fail");
    assert!(
        xml.contains("failures=\"1\"") && xml.contains("<failure") && xml.contains("FAIL_TESTS"),
        "{xml}"
    );
}

#[test]
fn sample_app_dockerfile_has_the_stages_the_buildspec_relies_on() {
    let dockerfile = fs::read_to_string(hello_app().join("Dockerfile")).unwrap();
    let stages: Vec<&str> = dockerfile
        .lines()
        .filter(|line| line.trim_start().to_uppercase().starts_with("FROM "))
        .filter_map(|line| line.split_whitespace().last())
        .collect();
    assert!(
        stages.contains(&"test"),
        "the Dockerfile needs a `test` stage for `docker build --target test`: {stages:?}"
    );
    assert_ne!(
        stages.last(),
        Some(&"test"),
        "the last stage is the shipped image; it must not be the test stage"
    );
    assert!(
        dockerfile.contains("--junit /reports/junit.xml"),
        "the test stage must leave its report at /reports/junit.xml"
    );
    let ignored = fs::read_to_string(hello_app().join(".dockerignore")).unwrap_or_default();
    assert!(
        !ignored.lines().any(|line| line.trim() == "FAIL_TESTS"),
        ".dockerignore must let FAIL_TESTS reach the test stage"
    );
}

// ---------------------------------------------------------------------------------------------
// Running the phases with stand-in tools

const ACCOUNT: &str = "123456789012";
const REGION: &str = "eu-west-1";
const COMMIT_A: &str = "0123456789abcdef0123456789abcdef01234567";
const COMMIT_B: &str = "fedcba9876543210fedcba9876543210fedcba98";

/// Stand-in `aws`: `ecr get-login-password` and `ecr describe-images` against a fake
/// repository kept as files under the state directory (`ecr/<tag>` holds the digest).
const FAKE_AWS: &str = r#"#!/usr/bin/env bash
set -eu
state=__STATE__
# One write per call: `aws ... | docker login` runs both at once, and separate writes interleave.
line=aws; for arg in "$@"; do line="$line $arg"; done; printf '%s\n' "$line" >> "$state/calls.log"
case "${1:-} ${2:-}" in
  "ecr get-login-password") echo fake-ecr-password ;;
  "ecr describe-images")
    if [ -f "$state/describe-images-error" ]; then cat "$state/describe-images-error" >&2; exit 254; fi
    tag=""
    for arg in "$@"; do case "$arg" in imageTag=*) tag=${arg#imageTag=} ;; esac; done
    if [ -n "$tag" ]; then
      if [ -f "$state/ecr/$tag" ]; then cat "$state/ecr/$tag"; exit 0; fi
      echo "An error occurred (ImageNotFoundException) when calling the DescribeImages operation: The image with imageId {imageDigest:'null', imageTag:'$tag'} does not exist within the repository" >&2
      exit 254
    fi
    if [ -s "$state/push-order" ]; then tail -n 1 "$state/push-order"; else echo None; fi
    ;;
  *) echo "stand-in aws: unexpected call: $*" >&2; exit 2 ;;
esac
"#;

/// Stand-in `docker`: the test stage fails when the build context holds FAIL_TESTS (as the
/// sample app's real test stage does); `push` refuses an existing tag (immutable repository).
const FAKE_DOCKER: &str = r#"#!/usr/bin/env bash
set -eu
state=__STATE__
# One write per call: `aws ... | docker login` runs both at once, and separate writes interleave.
line=docker; for arg in "$@"; do line="$line $arg"; done; printf '%s\n' "$line" >> "$state/calls.log"
command=${1:-}
shift || true
case "$command" in
  login)
    password=$(cat)
    [ "$password" = fake-ecr-password ] || { echo "stand-in docker: login got password '$password'" >&2; exit 1; }
    echo "Login Succeeded" ;;
  build)
    target="" context=""
    while [ $# -gt 0 ]; do
      case "$1" in
        --target) target=$2; shift 2 ;;
        --tag|-t|--cache-from|--build-arg|--label|--platform) shift 2 ;;
        *) context=$1; shift ;;
      esac
    done
    [ -f "$context/Dockerfile" ] || { echo "stand-in docker: no Dockerfile in '$context'" >&2; exit 1; }
    if [ "$target" = test ] && [ -e "$context/FAIL_TESTS" ]; then
      echo "FAILED (failures=1)"; echo "ERROR: failed to solve: process did not complete successfully: exit code: 1" >&2; exit 1
    fi
    echo "Successfully built stand-in image (target '${target:-final}')" ;;
  create) echo 4f1c0ffee ;;
  cp)
    if [ -f "$state/no-reports" ]; then echo "Error: Could not find the file /reports in container" >&2; exit 1; fi
    mkdir -p "$2"
    printf '<?xml version="1.0"?>\n<testsuite name="stand-in" tests="1" failures="0"><testcase classname="t" name="t"/></testsuite>\n' > "$2/junit.xml" ;;
  rm) echo "$1" ;;
  pull)
    tag=${1##*:}
    [ -f "$state/ecr/$tag" ] || { echo "manifest for $1 not found" >&2; exit 1; }
    echo "pulled $1" ;;
  push)
    tag=${1##*:}
    if [ -f "$state/ecr/$tag" ]; then
      echo "tag invalid: The image tag '$tag' already exists in the repository and cannot be overwritten because the repository is immutable." >&2
      exit 1
    fi
    digest="sha256:$(printf '%s' "$tag" | sha256sum | cut -d' ' -f1)"
    mkdir -p "$state/ecr"
    echo "$digest" > "$state/ecr/$tag"
    echo "$tag" >> "$state/push-order"
    echo "$tag: digest: $digest size: 1573" ;;
  *) echo "stand-in docker: unexpected call: $command $*" >&2; exit 2 ;;
esac
"#;

fn write_executable(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }
}

/// A source checkout (the sample app under `examples/hello-app`), the stand-in tools and
/// their state, all in one temporary directory.
struct Sandbox {
    _dir: tempfile::TempDir,
    source: PathBuf,
    tools: PathBuf,
    state: PathBuf,
    repository_name: String,
}

impl Sandbox {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("src");
        let tools = dir.path().join("tools");
        let state = dir.path().join("state");
        copy_dir(&hello_app(), &source.join("examples/hello-app"));
        fs::create_dir_all(&tools).unwrap();
        fs::create_dir_all(state.join("ecr")).unwrap();
        let quoted_state = format!("'{}'", state.display());
        write_executable(
            &tools.join("aws"),
            &FAKE_AWS.replace("__STATE__", &quoted_state),
        );
        write_executable(
            &tools.join("docker"),
            &FAKE_DOCKER.replace("__STATE__", &quoted_state),
        );
        let env = pipeline_common::EnvName::parse("dev").expect("dev is a valid environment name");
        let repository_name = env.names().ecr_repository();
        Self {
            _dir: dir,
            source,
            tools,
            state,
            repository_name,
        }
    }

    fn repository_uri(&self) -> String {
        format!(
            "{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{}",
            self.repository_name
        )
    }

    fn run(&self, commit: &str) -> BuildOutcome {
        self.run_for(commit, "linux/amd64")
    }

    /// A build for a deploy target of `platform` (bootstrap sets IMAGE_PLATFORM from the
    /// target's architecture).
    fn run_for(&self, commit: &str, platform: &str) -> BuildOutcome {
        let mut config = RunConfig::new(&self.source, &self.tools)
            .with_env(codebuild_env::ACCOUNT_ID, ACCOUNT)
            .with_env(codebuild_env::REPOSITORY_URI, self.repository_uri())
            .with_env(codebuild_env::REPOSITORY_NAME, &self.repository_name)
            .with_env(codebuild_env::PIPELINE_ENV, "dev")
            .with_env(codebuild_env::DOCKER_CONTEXT, "examples/hello-app")
            .with_env(codebuild_env::IMAGE_PLATFORM, platform)
            .with_env("AWS_REGION", REGION)
            .with_env("AWS_DEFAULT_REGION", REGION)
            .with_env("CODEBUILD_RESOLVED_SOURCE_VERSION", commit);
        config.command_timeout = Duration::from_secs(60);
        let _ = fs::remove_file(self.state.join("calls.log"));
        run_buildspec(&runner_buildspec(&buildspec_yaml()), &config)
            .expect("the runner runs the buildspec")
    }

    fn calls(&self) -> Vec<String> {
        fs::read_to_string(self.state.join("calls.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn pushed_digest(&self, tag: &str) -> String {
        fs::read_to_string(self.state.join("ecr").join(tag))
            .unwrap()
            .trim()
            .to_owned()
    }

    fn artifact(&self, name: &str) -> Option<serde_json::Value> {
        let text = fs::read_to_string(self.source.join(name)).ok()?;
        Some(
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{name} is not JSON ({e}):\n{text}")),
        )
    }
}

fn position(calls: &[String], what: &str, matches: impl Fn(&str) -> bool) -> usize {
    calls
        .iter()
        .position(|call| matches(call))
        .unwrap_or_else(|| panic!("no {what} among the calls:\n{}", calls.join("\n")))
}

fn is_test_build(call: &str) -> bool {
    call.starts_with("docker build") && call.contains("--target test")
}

fn is_image_build(call: &str) -> bool {
    call.starts_with("docker build") && !call.contains("--target")
}

#[test]
fn a_new_commit_is_tested_then_built_pushed_and_handed_on() {
    let sandbox = Sandbox::new();
    let outcome = sandbox.run(COMMIT_A);
    assert!(outcome.succeeded(), "build failed:\n{}", outcome.log);

    let tag = &format!("{}-amd64", &COMMIT_A[..12]);
    let image = format!("{}:{tag}", sandbox.repository_uri());
    assert_eq!(
        outcome.final_env.get("IMAGE_TAG"),
        Some(tag),
        "the tag names the commit and the architecture"
    );

    let calls = sandbox.calls();
    let login = position(&calls, "ECR login", |call| call.starts_with("docker login"));
    assert!(
        calls[login].ends_with(&format!(
            "--password-stdin {ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com"
        )),
        "{}",
        calls[login]
    );
    assert!(
        calls.contains(&format!("aws ecr get-login-password --region {REGION}")),
        "{calls:#?}"
    );
    let tests = position(&calls, "test-stage build", is_test_build);
    let build = position(&calls, "image build", is_image_build);
    let push = position(&calls, "push", |call| {
        call == format!("docker push {image}")
    });
    assert!(
        login < tests && tests < build && build < push,
        "expected login, tests, build, push in that order:\n{}",
        calls.join("\n")
    );
    assert!(
        calls[build].contains(&format!("--tag {image}")),
        "{}",
        calls[build]
    );
    assert!(
        calls[build].contains(&format!("org.opencontainers.image.revision={COMMIT_A}")),
        "{}",
        calls[build]
    );
    assert!(
        !calls[build].contains("--cache-from"),
        "nothing to seed the cache from on a first build: {}",
        calls[build]
    );
    assert_eq!(
        calls
            .iter()
            .filter(|call| call.starts_with("docker push"))
            .count(),
        1,
        "{calls:#?}"
    );

    let digest = sandbox.pushed_digest(tag);
    assert!(
        calls[tests].contains("--platform linux/amd64")
            && calls[build].contains("--platform linux/amd64"),
        "both builds are for the target's platform:\n{}\n{}",
        calls[tests],
        calls[build]
    );
    assert_eq!(
        sandbox.artifact("imageDetail.json"),
        Some(
            serde_json::json!({"ImageURI": image, "ImageDigest": digest, "ImageArchitecture": "amd64"})
        )
    );
    assert_eq!(
        sandbox.artifact("imagedefinitions.json"),
        Some(serde_json::json!([{"name": sandbox.repository_name, "imageUri": image}]))
    );
    assert!(
        sandbox.source.join("reports/junit.xml").is_file(),
        "the test report is copied to reports/"
    );
}

#[test]
fn failing_tests_push_nothing_and_write_no_artifacts() {
    let sandbox = Sandbox::new();
    fs::write(sandbox.source.join("examples/hello-app/FAIL_TESTS"), "").unwrap();
    // Left over in the source: must not pass for this build's output.
    fs::write(
        sandbox.source.join("imageDetail.json"),
        r#"{"ImageURI":"stale"}"#,
    )
    .unwrap();

    let outcome = sandbox.run(COMMIT_A);
    assert!(
        !outcome.succeeded(),
        "a failing test must fail the build:\n{}",
        outcome.log
    );
    assert_eq!(
        outcome.phase("build"),
        Some(&PhaseStatus::Failed {
            command_index: 0,
            exit_code: Some(1)
        }),
        "{}",
        outcome.log
    );
    assert_eq!(
        outcome.phase("post_build"),
        Some(&PhaseStatus::Succeeded),
        "{}",
        outcome.log
    );

    let calls = sandbox.calls();
    position(&calls, "test-stage build", is_test_build);
    assert!(
        !calls.iter().any(|call| is_image_build(call)),
        "the image must not be built after failing tests:\n{}",
        calls.join("\n")
    );
    assert!(
        !calls.iter().any(|call| call.starts_with("docker push")),
        "nothing may be pushed:\n{}",
        calls.join("\n")
    );
    assert!(
        !sandbox.source.join("imageDetail.json").exists(),
        "no imageDetail.json after failing tests"
    );
    assert!(
        !sandbox.source.join("imagedefinitions.json").exists(),
        "no imagedefinitions.json after failing tests"
    );
    assert!(
        outcome
            .log
            .contains("nothing is pushed and no artifacts are written"),
        "{}",
        outcome.log
    );
}

#[test]
fn rerunning_a_pushed_commit_reuses_its_image() {
    let sandbox = Sandbox::new();
    let first = sandbox.run(COMMIT_A);
    assert!(first.succeeded(), "{}", first.log);
    let tag = &format!("{}-amd64", &COMMIT_A[..12]);
    let digest = sandbox.pushed_digest(tag);
    fs::remove_file(sandbox.source.join("imageDetail.json")).unwrap();
    fs::remove_file(sandbox.source.join("imagedefinitions.json")).unwrap();

    let second = sandbox.run(COMMIT_A);
    assert!(
        second.succeeded(),
        "a re-run of the same commit must not fail:\n{}",
        second.log
    );
    let calls = sandbox.calls();
    assert!(
        !calls.iter().any(|call| call.starts_with("docker build")),
        "nothing to build on a re-run:\n{}",
        calls.join("\n")
    );
    assert!(
        !calls.iter().any(|call| call.starts_with("docker push")),
        "nothing to push on a re-run:\n{}",
        calls.join("\n")
    );
    assert!(
        second.log.contains("is already in ECR"),
        "the log must say the image is reused:\n{}",
        second.log
    );

    let image = format!("{}:{tag}", sandbox.repository_uri());
    assert_eq!(
        sandbox.artifact("imageDetail.json"),
        Some(
            serde_json::json!({"ImageURI": image, "ImageDigest": digest, "ImageArchitecture": "amd64"})
        ),
        "the reused image's tag names its architecture, so its imageDetail.json states it"
    );
    assert_eq!(
        sandbox.artifact("imagedefinitions.json"),
        Some(serde_json::json!([{"name": sandbox.repository_name, "imageUri": image}]))
    );
}

/// The target moved to Graviton after the commit's x86_64 image was pushed: that image must
/// not be reused (it would fail to start with "exec format error"); the commit is built again
/// for arm64, under its own tag, since the x86_64 one can never be moved.
#[test]
fn a_commit_built_for_x86_64_is_rebuilt_for_an_arm64_target() {
    let sandbox = Sandbox::new();
    let first = sandbox.run_for(COMMIT_A, "linux/amd64");
    assert!(first.succeeded(), "{}", first.log);
    let amd64_tag = format!("{}-amd64", &COMMIT_A[..12]);
    let amd64_digest = sandbox.pushed_digest(&amd64_tag);

    let second = sandbox.run_for(COMMIT_A, "linux/arm64");
    assert!(second.succeeded(), "{}", second.log);
    let arm64_tag = format!("{}-arm64", &COMMIT_A[..12]);
    let image = format!("{}:{arm64_tag}", sandbox.repository_uri());
    assert!(
        second
            .log
            .contains(&format!("Image {image} is not in ECR yet: building it.")),
        "the x86_64 image must not be reused for an arm64 target:\n{}",
        second.log
    );
    let calls = sandbox.calls();
    let build = position(&calls, "image build", is_image_build);
    assert!(
        calls[build].contains("--platform linux/arm64"),
        "{}",
        calls[build]
    );
    assert!(
        calls.contains(&format!("docker push {image}")),
        "{calls:#?}"
    );
    let arm64_digest = sandbox.pushed_digest(&arm64_tag);
    assert_ne!(arm64_digest, amd64_digest);
    assert_eq!(
        second.final_env.get("IMAGE_TAG"),
        Some(&arm64_tag),
        "{}",
        second.log
    );
    assert_eq!(
        sandbox.artifact("imageDetail.json"),
        Some(
            serde_json::json!({"ImageURI": image, "ImageDigest": arm64_digest, "ImageArchitecture": "arm64"})
        )
    );

    // Both images stay: a target moved back to x86_64 reuses the first one as it was.
    let third = sandbox.run_for(COMMIT_A, "linux/amd64");
    assert!(third.succeeded(), "{}", third.log);
    let amd64_image = format!("{}:{amd64_tag}", sandbox.repository_uri());
    assert!(
        third
            .log
            .contains(&format!("Image {amd64_image} is already in ECR")),
        "{}",
        third.log
    );
    assert_eq!(
        sandbox.artifact("imageDetail.json").unwrap()["ImageArchitecture"],
        "amd64"
    );
}

#[test]
fn a_platform_other_than_amd64_or_arm64_fails_before_building() {
    let sandbox = Sandbox::new();
    let outcome = sandbox.run_for(COMMIT_A, "linux/s390x");
    assert!(
        matches!(outcome.phase("pre_build"), Some(PhaseStatus::Failed { .. })),
        "{}",
        outcome.log
    );
    assert!(
        outcome
            .log
            .contains("IMAGE_PLATFORM is 'linux/s390x', not linux/amd64 or linux/arm64"),
        "{}",
        outcome.log
    );
    assert!(sandbox.calls().is_empty(), "{:#?}", sandbox.calls());
}

#[test]
fn the_next_commit_seeds_its_layer_cache_from_the_previous_image() {
    let sandbox = Sandbox::new();
    assert!(sandbox.run(COMMIT_A).succeeded());
    let outcome = sandbox.run(COMMIT_B);
    assert!(outcome.succeeded(), "{}", outcome.log);
    let calls = sandbox.calls();
    let previous = format!("{}:{}-amd64", sandbox.repository_uri(), &COMMIT_A[..12]);
    let build = position(&calls, "image build", is_image_build);
    assert!(
        calls[build].contains(&format!("--cache-from {previous}")),
        "{}",
        calls[build]
    );
    assert!(
        calls.contains(&format!("docker pull {previous}")),
        "{calls:#?}"
    );
    assert!(
        calls.contains(&format!(
            "docker push {}:{}-amd64",
            sandbox.repository_uri(),
            &COMMIT_B[..12]
        )),
        "{calls:#?}"
    );
}

#[test]
fn a_build_without_a_commit_fails_before_building() {
    let sandbox = Sandbox::new();
    let outcome = sandbox.run("");
    assert!(
        matches!(outcome.phase("pre_build"), Some(PhaseStatus::Failed { .. })),
        "{}",
        outcome.log
    );
    assert_eq!(outcome.phase("build"), Some(&PhaseStatus::Skipped));
    assert!(
        outcome
            .log
            .contains("CODEBUILD_RESOLVED_SOURCE_VERSION is empty"),
        "{}",
        outcome.log
    );
    assert!(
        !sandbox
            .calls()
            .iter()
            .any(|call| call.starts_with("docker build") || call.starts_with("docker push"))
    );
}

#[test]
fn an_ecr_error_other_than_not_found_fails_the_build_instead_of_rebuilding() {
    let sandbox = Sandbox::new();
    fs::write(
        sandbox.state.join("describe-images-error"),
        "An error occurred (AccessDeniedException) when calling the DescribeImages operation: not authorized\n",
    )
    .unwrap();
    let outcome = sandbox.run(COMMIT_A);
    assert!(
        matches!(outcome.phase("pre_build"), Some(PhaseStatus::Failed { .. })),
        "{}",
        outcome.log
    );
    assert!(
        outcome.log.contains("AccessDeniedException"),
        "the AWS error is shown:\n{}",
        outcome.log
    );
    assert!(
        outcome.log.contains("could not check whether"),
        "{}",
        outcome.log
    );
    assert!(
        !sandbox
            .calls()
            .iter()
            .any(|call| call.starts_with("docker build")),
        "{:#?}",
        sandbox.calls()
    );
}

#[test]
fn a_test_stage_without_reports_does_not_fail_the_build() {
    let sandbox = Sandbox::new();
    fs::write(sandbox.state.join("no-reports"), "").unwrap();
    let outcome = sandbox.run(COMMIT_A);
    assert!(outcome.succeeded(), "{}", outcome.log);
    assert!(outcome.log.contains("no test report"), "{}", outcome.log);
    assert!(sandbox.artifact("imageDetail.json").is_some());
    assert!(
        fs::read_dir(sandbox.source.join("reports"))
            .map(|mut dir| dir.next().is_none())
            .unwrap_or(true)
    );
}

#[test]
fn buildspec_variables_are_applied_by_the_runner() {
    // Guards the YAML-to-runner conversion the other tests rely on.
    let yaml: Value = serde_yaml::from_str(
        "version: 0.2\nenv:\n  variables:\n    GREETING: hi\n    COUNT: 3\nphases:\n  build:\n    commands:\n      - echo \"$GREETING $COUNT\"\n",
    )
    .unwrap();
    let buildspec = runner_buildspec(&yaml);
    assert_eq!(
        buildspec.variables,
        [
            ("GREETING".to_owned(), "hi".to_owned()),
            ("COUNT".to_owned(), "3".to_owned())
        ]
    );
    let dir = tempfile::tempdir().unwrap();
    let outcome = run_buildspec(&buildspec, &RunConfig::new(dir.path(), dir.path())).unwrap();
    assert!(outcome.log.contains("hi 3\n"), "{}", outcome.log);
}
