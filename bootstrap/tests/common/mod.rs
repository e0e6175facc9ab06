//! Shared by the stack and reliability tests: the real `bootstrap` binary run against an
//! emulator with fake (but valid) Lambda zips.

#![allow(dead_code)]

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use testkit::Emulator;

pub const BIN: &str = env!("CARGO_BIN_EXE_bootstrap");

pub struct Cli<'a> {
    pub emulator: &'a Emulator,
    pub artifacts: PathBuf,
    pub workdir: PathBuf,
    /// Removes `workdir` when the test ends, passed or failed.
    _workdir_guard: tempfile::TempDir,
}

impl Cli<'_> {
    /// Runs `bootstrap` with the artifacts; before a `plan` or `deploy`, does what the
    /// administrator does once per environment: creates the roles' permissions boundary.
    pub fn run(&self, args: &[&str]) -> Output {
        if matches!(args.first(), Some(&"plan" | &"deploy")) {
            self.ensure_boundary(args);
        }
        self.run_as_is(args)
    }

    /// Runs `bootstrap` with the artifacts, and nothing else first.
    pub fn run_as_is(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .arg("--artifacts-dir")
            .arg(&self.artifacts)
            .envs(self.emulator.env())
            .env("GITHUB_TOKEN", "gh-token-for-tests-0123456789")
            .current_dir(&self.workdir)
            .output()
            .expect("bootstrap runs")
    }

    /// Creates the permissions boundary `bootstrap deployer-policy --boundary` prints for the
    /// command's options, as the administrator, unless it exists. The deploy target is left out:
    /// no role acts in these tests, and a test may name a target that is not there. A command
    /// line `deployer-policy` refuses (a test of a bad option) gets no boundary: the command
    /// itself refuses it first.
    fn ensure_boundary(&self, args: &[&str]) {
        let Some(env) = args.windows(2).find(|w| w[0] == "--env").map(|w| w[1]) else {
            return;
        };
        let mut policy_args = vec!["deployer-policy", "--boundary"];
        let mut rest = args[1..].iter();
        while let Some(arg) = rest.next() {
            match *arg {
                "--yes" => {}
                "--output" | "--progress" | "--deploy-target" => {
                    rest.next();
                }
                other => policy_args.push(other),
            }
        }
        self.create_boundary(env, policy_args);
    }

    /// What the administrator does before a test that counts every write: creates the
    /// environment's permissions boundary as `deployer-policy --boundary` prints it.
    pub fn administrator_creates_boundary(&self, env: &str) {
        self.create_boundary(env, vec!["deployer-policy", "--boundary", "--env", env]);
    }

    /// Unless the boundary exists: prints it with `policy_args` and creates it. Only a missing
    /// boundary costs a write, so a test counting writes sees none from here once it exists.
    fn create_boundary(&self, env: &str, mut policy_args: Vec<&str>) {
        policy_args.extend(["--output", "json"]);
        let name = format!("pipeline-boundary-{env}");
        // The tests are async; the SDK calls get their own runtime on their own thread.
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime");
                runtime.block_on(async {
                    let iam = aws_sdk_iam::Client::new(&self.emulator.sdk_config().await);
                    let arn = format!("arn:aws:iam::{}:policy/{name}", testkit::ACCOUNT_ID);
                    if iam.get_policy().policy_arn(&arn).send().await.is_ok() {
                        return;
                    }
                    let printed = self.run_as_is(&policy_args);
                    if printed.status.success() {
                        let document = String::from_utf8_lossy(&printed.stdout).into_owned();
                        create_policy(&iam, &name, document).await;
                    }
                });
            });
        });
    }

    pub fn run_env_only(&self, args: &[&str]) -> Output {
        Command::new(BIN)
            .args(args)
            .envs(self.emulator.env())
            .current_dir(&self.workdir)
            .output()
            .expect("bootstrap runs")
    }
}

/// Creates the customer managed policy `name` as the administrator (one made a moment ago by
/// another test process of the same emulator is fine).
async fn create_policy(iam: &aws_sdk_iam::Client, name: &str, document: String) {
    let created = iam
        .create_policy()
        .policy_name(name)
        .policy_document(document)
        .send()
        .await;
    if let Err(err) = created {
        let exists = err
            .as_service_error()
            .is_some_and(|e| e.is_entity_already_exists_exception());
        assert!(exists, "creating the permissions boundary {name}: {err:?}");
    }
}

pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[track_caller]
pub fn assert_code(output: &Output, code: i32) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "exit code; output:\n{}",
        text(output)
    );
}

/// A zip holding a `bootstrap` that is an x86_64 ELF header: enough for Lambda's emulator.
pub fn fake_lambda_zips(dir: &Path) {
    for function in ["deploy-handler", "event-notifier"] {
        let mut elf = vec![0x7f, b'E', b'L', b'F', 2, 1, 1, 0];
        elf.resize(18, 0);
        elf.extend_from_slice(&0x3E_u16.to_le_bytes());
        elf.extend_from_slice(function.as_bytes());
        elf.resize(256, 0);
        std::fs::create_dir_all(dir.join(function)).expect("dir");
        let file =
            std::fs::File::create(dir.join(function).join("bootstrap.zip")).expect("zip file");
        let mut zip = zip::ZipWriter::new(file);
        zip.start_file(
            "bootstrap",
            zip::write::SimpleFileOptions::default().unix_permissions(0o755),
        )
        .expect("entry");
        zip.write_all(&elf).expect("write");
        zip.finish().expect("finish");
    }
}

pub fn setup<'a>(name: &str, emulator: &'a Emulator) -> Cli<'a> {
    let guard = tempfile::Builder::new()
        .prefix(&format!("bootstrap-stack-{name}-"))
        .tempdir()
        .expect("a temporary directory");
    let workdir = guard.path().to_path_buf();
    let artifacts = workdir.join("lambda");
    fake_lambda_zips(&artifacts);
    let cli = Cli {
        emulator,
        artifacts,
        workdir,
        _workdir_guard: guard,
    };
    // Set up before the test begins, as on an account where bootstrap runs: `dev`'s boundary
    // (another environment's comes with its first plan or deploy), its calls not counted.
    cli.administrator_creates_boundary("dev");
    emulator.clear_calls().expect("calls cleared");
    cli
}

pub fn plan_json(cli: &Cli<'_>, env: &str) -> (i32, Value) {
    plan_json_with(cli, env, &[])
}

/// `plan --output json` with more flags.
pub fn plan_json_with(cli: &Cli<'_>, env: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        "plan",
        "--env",
        env,
        "--github-repo",
        "octo/app",
        "--output",
        "json",
    ];
    args.extend(extra);
    let output = cli.run(&args);
    let code = output.status.code().unwrap_or(-1);
    let json = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("plan json: {e}\n{}", text(&output)));
    (code, json)
}

pub fn changed(plan: &Value) -> Vec<(String, String, Vec<String>)> {
    plan["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["action"] != "unchanged")
        .map(|c| {
            let fields = c["fields"]
                .as_array()
                .map(|f| {
                    f.iter()
                        .filter_map(|x| x.as_str().map(String::from))
                        .collect()
                })
                .unwrap_or_default();
            (
                c["action"].as_str().unwrap_or_default().to_owned(),
                c["id"]["name"].as_str().unwrap_or_default().to_owned(),
                fields,
            )
        })
        .collect()
}

/// Everything in the emulator's account that a deploy could have created, as `kind name` lines.
pub async fn inventory(emulator: &Emulator) -> Vec<String> {
    let config = emulator.sdk_config().await;
    let s3 = testkit::s3_client(&config);
    let mut found = Vec::new();
    for b in s3.list_buckets().send().await.expect("buckets").buckets() {
        found.push(format!("bucket {}", b.name().unwrap_or_default()));
    }
    for r in aws_sdk_ecr::Client::new(&config)
        .describe_repositories()
        .send()
        .await
        .expect("repos")
        .repositories()
    {
        found.push(format!(
            "repository {}",
            r.repository_name().unwrap_or_default()
        ));
    }
    for r in aws_sdk_iam::Client::new(&config)
        .list_roles()
        .send()
        .await
        .expect("roles")
        .roles()
    {
        found.push(format!("role {}", r.role_name()));
    }
    for f in aws_sdk_lambda::Client::new(&config)
        .list_functions()
        .send()
        .await
        .expect("functions")
        .functions()
    {
        found.push(format!(
            "function {}",
            f.function_name().unwrap_or_default()
        ));
    }
    for g in aws_sdk_cloudwatchlogs::Client::new(&config)
        .describe_log_groups()
        .send()
        .await
        .expect("groups")
        .log_groups()
    {
        found.push(format!(
            "log-group {}",
            g.log_group_name().unwrap_or_default()
        ));
    }
    let sns = aws_sdk_sns::Client::new(&config);
    for t in sns.list_topics().send().await.expect("topics").topics() {
        found.push(format!("topic {}", t.topic_arn().unwrap_or_default()));
    }
    for s in sns
        .list_subscriptions()
        .send()
        .await
        .expect("subscriptions")
        .subscriptions()
    {
        found.push(format!(
            "subscription {} {}",
            s.protocol().unwrap_or_default(),
            s.endpoint().unwrap_or_default()
        ));
    }
    let codebuild = aws_sdk_codebuild::Client::new(&config);
    for p in codebuild
        .list_projects()
        .send()
        .await
        .expect("projects")
        .projects()
    {
        found.push(format!("project {p}"));
    }
    for g in codebuild
        .list_report_groups()
        .send()
        .await
        .expect("report groups")
        .report_groups()
    {
        found.push(format!("report-group {g}"));
    }
    let codepipeline = aws_sdk_codepipeline::Client::new(&config);
    for p in codepipeline
        .list_pipelines()
        .send()
        .await
        .expect("pipelines")
        .pipelines()
    {
        found.push(format!("pipeline {}", p.name().unwrap_or_default()));
    }
    for w in codepipeline
        .list_webhooks()
        .send()
        .await
        .expect("webhooks")
        .webhooks()
    {
        found.push(format!(
            "webhook {}",
            w.definition().map(|d| d.name()).unwrap_or_default()
        ));
    }
    let events = aws_sdk_eventbridge::Client::new(&config);
    for r in events.list_rules().send().await.expect("rules").rules() {
        let name = r.name().unwrap_or_default();
        found.push(format!("rule {name}"));
        for t in events
            .list_targets_by_rule()
            .rule(name)
            .send()
            .await
            .expect("targets")
            .targets()
        {
            found.push(format!("target {name} {}", t.id()));
        }
    }
    for s in aws_sdk_secretsmanager::Client::new(&config)
        .list_secrets()
        .send()
        .await
        .expect("secrets")
        .secret_list()
    {
        found.push(format!("secret {}", s.name().unwrap_or_default()));
    }
    for c in aws_sdk_codestarconnections::Client::new(&config)
        .list_connections()
        .send()
        .await
        .expect("connections")
        .connections()
    {
        found.push(format!(
            "connection {}",
            c.connection_name().unwrap_or_default()
        ));
    }
    found.sort();
    found
}
