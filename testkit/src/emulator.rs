//! The local AWS emulator: one shim-over-moto process per [`Emulator`], stopped on drop.

use crate::{http, workspace_root};
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the emulator may take to import moto and start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Region and credentials every test client uses against the emulator.
pub const REGION: &str = "us-east-1";
pub const ACCESS_KEY: &str = "testing";
pub const SECRET_KEY: &str = "testing";
/// moto's account id.
pub const ACCOUNT_ID: &str = "123456789012";

/// The emulator's ECR registry (`GET /_shim/registry`).
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Registry {
    pub running: bool,
    /// Where clients push and pull (`127.0.0.1:PORT`, the emulator's own address).
    pub endpoint: Option<String>,
    /// The `docker-registry` behind it, for comparing what it holds.
    pub backend: Option<String>,
    /// Why no registry runs.
    pub reason: Option<String>,
}

/// One AWS call as the emulator recorded it.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct Call {
    pub service: String,
    pub operation: String,
    pub status: u16,
    pub mutating: bool,
    #[serde(default)]
    pub fault: Option<String>,
}

/// A running emulator process. Dropping it stops the process and what it started.
#[derive(Debug)]
pub struct Emulator {
    child: Child,
    // Held open so the shim sees EOF (and exits) when this process dies without dropping us.
    stdin: Option<ChildStdin>,
    port: u16,
    endpoint: String,
}

/// The project-local venv's Python, or an error telling the user how to create it.
pub fn venv_python() -> Result<PathBuf> {
    let python = workspace_root().join(".venv/bin/python");
    if !python.exists() {
        bail!(
            "the emulator's Python environment is missing ({}): run `cargo xtask setup` \
             (or `cargo xtask ci`, which runs it) to create it",
            python.display()
        );
    }
    Ok(python)
}

impl Emulator {
    /// Starts a fresh emulator on a free loopback port and waits until it answers.
    pub fn start() -> Result<Self> {
        let python = venv_python()?;
        let script = workspace_root().join("emulator/shim.py");
        let mut child = Command::new(&python)
            .arg(&script)
            .args(["--host", "127.0.0.1", "--port", "0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {} {}", python.display(), script.display()))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().context("emulator stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = tx.send(line);
            // Keep draining so the shim never blocks on a full pipe.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
        });
        let line = match rx.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the emulator did not report READY within {START_TIMEOUT:?}");
            }
        };
        let Some(endpoint) = line.trim().strip_prefix("READY ").map(str::to_owned) else {
            let status = child.wait().ok();
            bail!("the emulator exited before it was ready (status {status:?}, said {line:?})");
        };
        let port = endpoint
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .with_context(|| format!("no port in {endpoint}"))?;
        Ok(Self {
            child,
            stdin,
            port,
            endpoint,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Environment for a child process (a Lambda binary, the bootstrap CLI) to reach the emulator.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_REGION", REGION),
            ("AWS_DEFAULT_REGION", REGION),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// SDK configuration pointing at this emulator with the credentials in `env`
    /// (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`), e.g. an assumed
    /// role's: the emulator then judges the calls against that identity's policies.
    pub async fn sdk_config_with(&self, env: &[(String, String)]) -> aws_config::SdkConfig {
        let get = |key: &str| {
            env.iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_credential_types::Credentials::new(
                get("AWS_ACCESS_KEY_ID").unwrap_or_default(),
                get("AWS_SECRET_ACCESS_KEY").unwrap_or_default(),
                get("AWS_SESSION_TOKEN"),
                None,
                "testkit-role",
            ))
            .load()
            .await
    }

    /// SDK configuration pointing at this emulator with static test credentials.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(REGION))
            .endpoint_url(&self.endpoint)
            .credentials_provider(aws_credential_types::Credentials::new(
                ACCESS_KEY, SECRET_KEY, None, None, "testkit",
            ))
            .load()
            .await
    }

    fn control(&self, method: &str, path: &str, body: Option<&Value>) -> Result<Value> {
        let bytes = body.map(serde_json::to_vec).transpose()?;
        let response = http::request(self.port, method, path, bytes.as_deref())?;
        let text = String::from_utf8_lossy(&response.body);
        if !(200..300).contains(&response.status) {
            bail!(
                "emulator control {method} {path} answered {}: {text}",
                response.status
            );
        }
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text)
            .with_context(|| format!("emulator control {method} {path}: {text}"))
    }

    /// Runs the real AWS CLI of the project's virtualenv against the emulator with its
    /// administrator's keys, for a service the workspace has no SDK crate of (CloudWatch):
    /// `aws SERVICE ARGS...`. Fails with the CLI's error output.
    pub fn aws_cli(&self, service: &str, args: &[&str]) -> Result<String> {
        let cli = workspace_root().join(".venv/bin/aws");
        let output = Command::new(&cli)
            .arg(service)
            .args(args)
            .envs(self.env())
            .output()
            .with_context(|| format!("{} cannot run: create the virtualenv", cli.display()))?;
        if !output.status.success() {
            bail!(
                "aws {service} {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Clears moto's and the shim's state (resources, calls, faults, jobs).
    pub fn reset(&self) -> Result<()> {
        self.control("POST", "/_shim/reset", None).map(drop)
    }

    /// Every AWS call received since start (or since the last reset / [`Self::clear_calls`]).
    pub fn calls(&self) -> Result<Vec<Call>> {
        Ok(serde_json::from_value(self.control(
            "GET",
            "/_shim/calls",
            None,
        )?)?)
    }

    pub fn clear_calls(&self) -> Result<()> {
        self.control("DELETE", "/_shim/calls", None).map(drop)
    }

    /// Calls that changed something (create, put, update, delete, tag, ...).
    pub fn mutating_calls(&self) -> Result<Vec<Call>> {
        Ok(self.calls()?.into_iter().filter(|c| c.mutating).collect())
    }

    /// Replaces the injected faults, e.g. `{"latency_ms": 100, "throttle_probability": 0.2, "seed": 1}`.
    pub fn set_faults(&self, faults: Value) -> Result<()> {
        self.control("POST", "/_shim/faults", Some(&faults))
            .map(drop)
    }

    pub fn clear_faults(&self) -> Result<()> {
        self.control("DELETE", "/_shim/faults", None).map(drop)
    }

    pub fn faults(&self) -> Result<Value> {
        self.control("GET", "/_shim/faults", None)
    }

    /// Registers a CodePipeline job (as CodePipeline would before invoking the Lambda); returns its id.
    pub fn create_job(&self, job: Value) -> Result<String> {
        let created = self.control("POST", "/_shim/codepipeline/jobs", Some(&job))?;
        created["jobId"]
            .as_str()
            .map(str::to_owned)
            .context("emulator returned no jobId")
    }

    /// The job's status and every result reported for it.
    pub fn job(&self, job_id: &str) -> Result<Value> {
        self.control("GET", &format!("/_shim/codepipeline/jobs/{job_id}"), None)
    }

    /// Seeds what GetPipelineExecution and ListActionExecutions answer for one execution.
    pub fn seed_execution(&self, execution: Value) -> Result<()> {
        self.control("POST", "/_shim/codepipeline/executions", Some(&execution))
            .map(drop)
    }

    /// Tells the emulator a build of `project` uploaded reports to the buildspec's report groups
    /// `groups`: as CodeBuild does, it creates `<project>-<group>` (untagged) for a group that
    /// does not exist, and adds a report to each. Answers the report groups' ARNs.
    pub fn record_build_reports(&self, project: &str, groups: &[String]) -> Result<Vec<String>> {
        let answer = self.control(
            "POST",
            "/_shim/codebuild/builds",
            Some(&serde_json::json!({ "projectName": project, "reportGroups": groups })),
        )?;
        Ok(answer["reportGroupArns"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect())
    }

    /// How many calls signed with emulator-issued credentials (an assumed role's, an IAM
    /// user's) IAM enforcement judged, and every denial, as `(evaluated, denials)`.
    pub fn iam_enforcement(&self) -> Result<(u64, Vec<Value>)> {
        let settings = self.control("GET", "/_shim/iam", None)?;
        let denials = self.control("GET", "/_shim/iam/denials", None)?;
        Ok((
            settings["evaluated"].as_u64().unwrap_or(0),
            denials.as_array().cloned().unwrap_or_default(),
        ))
    }

    /// Forgets the denials recorded so far: for a test that provoked them on purpose and has
    /// checked them, so that a later check for "nothing denied" sees only what follows.
    pub fn clear_iam_denials(&self) -> Result<()> {
        self.control("DELETE", "/_shim/iam/denials", None).map(drop)
    }

    /// Every call IAM enforcement allowed for issued credentials, with the statement (`sid`)
    /// that allowed it.
    pub fn iam_grants(&self) -> Result<Vec<Value>> {
        let grants = self.control("GET", "/_shim/iam/grants", None)?;
        Ok(grants.as_array().cloned().unwrap_or_default())
    }

    /// Every mutant of the policies IAM enforcement evaluated (one Allow statement, or one
    /// action of it, removed) with the first recorded call that would then have been denied
    /// (`caughtBy`, null when none would: the grant was unused or redundant).
    pub fn iam_mutants(&self) -> Result<Vec<Value>> {
        let mutants = self.control("POST", "/_shim/iam/mutants", Some(&serde_json::json!({})))?;
        Ok(mutants.as_array().cloned().unwrap_or_default())
    }

    /// The scope lint of policy documents by name: `problems` (an action that has a resource
    /// type allowed on `*` or on every resource of its type) and `broadening` (for each
    /// statement, whether replacing its Resource by `*` is caught).
    pub fn iam_scope(&self, documents: &serde_json::Map<String, Value>) -> Result<Value> {
        self.control(
            "POST",
            "/_shim/iam/scope",
            Some(&serde_json::json!({ "documents": documents })),
        )
    }

    /// Each request (`{"action", "resource", "keys"}`) judged against `policies` alone, as IAM
    /// judges a principal holding exactly those identity policies: `{"allowed", "reason", "sid"}`
    /// per request, in order (`POST /_shim/iam/evaluate`).
    pub fn iam_evaluate(&self, policies: &[Value], requests: &[Value]) -> Result<Vec<Value>> {
        let answer = self.control(
            "POST",
            "/_shim/iam/evaluate",
            Some(&serde_json::json!({ "policies": policies, "requests": requests })),
        )?;
        Ok(answer["decisions"].as_array().cloned().unwrap_or_default())
    }

    /// Whether AWS would let `service` (e.g. `events.amazonaws.com`) make `action` on
    /// `resource` on behalf of `source_arn` (a rule) in `source_account`: judged by the
    /// resource's own policy (topic policy, function policy), as a delivery is. `Err` names the
    /// reason when it would be refused.
    pub fn service_call(
        &self,
        service: &str,
        action: &str,
        resource: &str,
        source_arn: &str,
        source_account: &str,
    ) -> Result<()> {
        let answer = self.control(
            "POST",
            "/_shim/iam/service-call",
            Some(&serde_json::json!({
                "service": service,
                "action": action,
                "resource": resource,
                "sourceArn": source_arn,
                "sourceAccount": source_account,
            })),
        )?;
        if answer["allowed"] != true {
            bail!(
                "{service} may not {action} on {resource} for {source_arn}: {}",
                answer["reason"].as_str().unwrap_or("refused")
            );
        }
        Ok(())
    }

    /// Marks an image (URI or `sha256:` digest) as one whose tasks fail to start and whose Lambda
    /// update fails, so a rollout of it fails the way ECS and Lambda fail it.
    pub fn mark_bad_image(&self, image: &str) -> Result<()> {
        self.control(
            "POST",
            "/_shim/ecs/bad-images",
            Some(&serde_json::json!({ "images": [image] })),
        )
        .map(drop)
    }

    /// Whether the emulator serves ECR's image registry (it fronts a `docker-registry` child
    /// when one is installed), and where.
    pub fn registry(&self) -> Result<Registry> {
        Ok(serde_json::from_value(self.control(
            "GET",
            "/_shim/registry",
            None,
        )?)?)
    }

    /// The digest the registry behind the emulator's ECR holds for `repository:reference`,
    /// asked of that registry itself (not through the emulator); `None` when it has none.
    pub fn registry_manifest_digest(
        &self,
        repository: &str,
        reference: &str,
    ) -> Result<Option<String>> {
        let registry = self.registry()?;
        let backend = registry
            .backend
            .with_context(|| format!("the emulator runs no registry: {:?}", registry.reason))?;
        let port: u16 = backend
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .with_context(|| format!("no port in the registry address {backend}"))?;
        let accept = "application/vnd.docker.distribution.manifest.v2+json, \
                      application/vnd.oci.image.manifest.v1+json";
        let response = http::request_with(
            port,
            "HEAD",
            &format!("/v2/{repository}/manifests/{reference}"),
            &[("Accept", accept)],
            None,
        )?;
        match response.status {
            200 => Ok(response.header("docker-content-digest").map(str::to_owned)),
            404 => Ok(None),
            status => bail!("the registry answered {status} for {repository}:{reference}"),
        }
    }

    /// Simulates the console handshake that makes a CodeStar connection AVAILABLE.
    pub fn set_connection_status(&self, connection_arn: &str, status: &str) -> Result<()> {
        let path = format!(
            "/_shim/connections/{}/status",
            percent_encode(connection_arn)
        );
        self.control(
            "POST",
            &path,
            Some(&serde_json::json!({ "status": status })),
        )
        .map(drop)
    }
}

fn percent_encode(raw: &str) -> String {
    raw.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// How long a dropped emulator may take to stop its registry and remove its files.
const GRACEFUL_STOP: Duration = Duration::from_secs(5);

impl Drop for Emulator {
    /// Closes the shim's stdin, its signal to stop its registry child, remove the registry's
    /// directory and exit; a SIGKILL would leave that directory behind (the next shim sweeps it,
    /// but the last one of a run would stay). Kills the shim if it has not gone in time.
    fn drop(&mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + GRACEFUL_STOP;
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => return,
                Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The GitHub REST API stand-in the emulator serves under `/_github` (`emulator/awsshim/github.py`).
impl Emulator {
    /// Base URL of the GitHub stand-in, what `GITHUB_API_URL` is set to (`http://127.0.0.1:PORT/_github`).
    pub fn github_api_url(&self) -> String {
        format!("{}/_github", self.endpoint())
    }

    /// Sets the tokens the stand-in accepts (each seeing every repository) and the repositories
    /// (`owner/repo`) it has; anything else answers GitHub's 401 or 404.
    pub fn github_configure(&self, tokens: &[&str], repositories: &[&str]) -> Result<()> {
        let settings = serde_json::json!({ "tokens": tokens, "repositories": repositories });
        self.control("POST", "/_shim/github", Some(&settings))
            .map(drop)
    }

    /// Queues `count` answers of `kind` (`rate-limit`, `secondary-rate-limit`, `server-error`) for
    /// the next GitHub calls; `extra` adds `status`, `retry_after` or `reset_in` (seconds).
    pub fn github_inject(&self, kind: &str, count: u32, extra: Value) -> Result<()> {
        let mut fault = serde_json::json!({ "kind": kind, "count": count });
        if let (Some(fault), Value::Object(extra)) = (fault.as_object_mut(), extra) {
            fault.extend(extra);
        }
        self.control("POST", "/_shim/github/faults", Some(&fault))
            .map(drop)
    }

    /// Every commit status created, oldest first (`repository`, `sha`, `state`, `context`, ...).
    pub fn github_statuses(&self) -> Result<Vec<Value>> {
        Ok(serde_json::from_value(self.control(
            "GET",
            "/_shim/github/statuses",
            None,
        )?)?)
    }

    /// Every GitHub call received (`method`, `path`, answered `status`; never the token).
    pub fn github_requests(&self) -> Result<Vec<Value>> {
        Ok(serde_json::from_value(self.control(
            "GET",
            "/_shim/github/requests",
            None,
        )?)?)
    }
}

/// CodePipeline's stage machinery in the emulator (`emulator/awsshim/codepipeline_runs.py`):
/// what a rehearsal reports of each stage, the manual approvals, the bake conditions and the
/// rollback executions they start.
impl Emulator {
    /// Reports a stage's outcome in an execution (`InProgress`, `Succeeded` or `Failed`); a
    /// failure of a stage declaring `onFailure: ROLLBACK` answers the rollback it started.
    pub fn stage_result(
        &self,
        pipeline: &str,
        execution_id: &str,
        stage: &str,
        status: &str,
    ) -> Result<Value> {
        let body = serde_json::json!({
            "pipelineName": pipeline,
            "pipelineExecutionId": execution_id,
            "stageName": stage,
            "status": status,
        });
        self.control("POST", "/_shim/codepipeline/stage-results", Some(&body))
    }

    /// Opens the manual approval `stage`/`action` of an execution, as CodePipeline does when the
    /// execution reaches it; answers its token (what GetPipelineState then shows approvers).
    pub fn open_approval(
        &self,
        pipeline: &str,
        execution_id: &str,
        stage: &str,
        action: &str,
    ) -> Result<String> {
        let body = serde_json::json!({
            "pipelineName": pipeline,
            "pipelineExecutionId": execution_id,
            "stageName": stage,
            "actionName": action,
        });
        let opened = self.control("POST", "/_shim/codepipeline/approvals", Some(&body))?;
        opened["token"]
            .as_str()
            .map(str::to_owned)
            .context("the emulator opened an approval without a token")
    }

    /// The approval's record: `status` (`InProgress`, `Approved`, `Rejected`), `summary`,
    /// `approvedBy`, `approvedAt`.
    pub fn approval(&self, token: &str) -> Result<Value> {
        self.control(
            "GET",
            &format!("/_shim/codepipeline/approvals/{token}"),
            None,
        )
    }

    /// Starts evaluating the `onSuccess` conditions of an execution's stage (its bake); answers
    /// the evaluation's id for [`Self::condition`].
    pub fn start_conditions(
        &self,
        pipeline: &str,
        execution_id: &str,
        stage: &str,
    ) -> Result<String> {
        let body = serde_json::json!({
            "pipelineName": pipeline,
            "pipelineExecutionId": execution_id,
            "stageName": stage,
            "condition": "onSuccess",
        });
        let started = self.control("POST", "/_shim/codepipeline/conditions", Some(&body))?;
        started["conditionExecutionId"]
            .as_str()
            .map(str::to_owned)
            .context("the emulator started a condition without an id")
    }

    /// The condition evaluation now: `status` (`InProgress`, `Succeeded`, `Failed`, `Errored`),
    /// `ruleResults`, and `rollback` (`pipelineExecutionId`, `targetPipelineExecutionId`) when
    /// its failure rolled the stage back.
    pub fn condition(&self, id: &str) -> Result<Value> {
        self.control("GET", &format!("/_shim/codepipeline/conditions/{id}"), None)
    }

    /// How many seconds a minute of a condition's `WaitTime` lasts (60 by default).
    pub fn set_pipeline_minute_seconds(&self, seconds: f64) -> Result<()> {
        let body = serde_json::json!({ "minuteSeconds": seconds });
        self.control("POST", "/_shim/codepipeline/clock", Some(&body))
            .map(drop)
    }
}
