//! The compiled deploy-handler under the Lambda Runtime API emulator, against the local AWS
//! emulator: real zips in its S3, jobs registered in its CodePipeline, results read back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::convert::Infallible;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hmac::{Hmac, KeyInit, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use serde_json::{Value, json};
use testkit::{Emulator, LambdaProcess, RuntimeApi};

const BUCKET: &str = "artifacts-123456789012-dev";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const DIGEST_URI: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/app-dev@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
const WAIT: Duration = Duration::from_secs(60);

struct Harness {
    emu: Emulator,
    rt: RuntimeApi,
    process: LambdaProcess,
    s3: testkit::aws_sdk_s3::Client,
    init_ms: u128,
}

impl Harness {
    async fn start(extra_env: &[(&str, &str)]) -> Self {
        let emu = Emulator::start().expect("the local AWS emulator starts");
        let config = emu.sdk_config().await;
        let s3 = testkit::s3_client(&config);
        s3.create_bucket()
            .bucket(BUCKET)
            .send()
            .await
            .expect("create the artifact bucket");
        let rt = RuntimeApi::start()
            .await
            .expect("the Runtime API emulator starts");
        let mut env: Vec<(String, String)> = emu.env();
        env.push(("PIPELINE_ENV".into(), "dev".into()));
        env.extend(
            extra_env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        // Cargo builds this package's binary for its integration tests, so it is always current.
        let binary = PathBuf::from(env!("CARGO_BIN_EXE_deploy-handler"));
        let process = LambdaProcess::spawn(&binary, &rt, &env).expect("the function starts");
        let first_next = rt
            .wait_for_first_next(Duration::from_secs(20))
            .await
            .expect("the function polls /next");
        let init_ms = first_next.duration_since(process.spawned_at()).as_millis();
        Self {
            emu,
            rt,
            process,
            s3,
            init_ms,
        }
    }

    async fn put_artifact(&self, key: &str, body: Vec<u8>) {
        self.s3
            .put_object()
            .bucket(BUCKET)
            .key(key)
            .body(body.into())
            .send()
            .await
            .expect("upload the artifact");
    }

    fn job_event(
        &self,
        job_id: &str,
        key: &str,
        user_parameters: Option<&str>,
        continuation: Option<&str>,
    ) -> Value {
        let mut event = json!({"CodePipeline.job": {
            "id": job_id,
            "accountId": "123456789012",
            "data": {
                "actionConfiguration": {"configuration": {"FunctionName": "deploy-handler-dev"}},
                "inputArtifacts": [{
                    "name": "BuildOutput",
                    "revision": COMMIT,
                    "location": {"type": "S3", "s3Location": {"bucketName": BUCKET, "objectKey": key}}
                }],
                "outputArtifacts": [],
                "artifactCredentials": {
                    "accessKeyId": "ASIAARTIFACTCREDENTIALS",
                    "secretAccessKey": "artifact-secret-access-key",
                    "sessionToken": "artifact-session-token",
                    "expirationTime": 1_900_000_000_000_u64
                }
            }
        }});
        let data = &mut event["CodePipeline.job"]["data"];
        if let Some(p) = user_parameters {
            data["actionConfiguration"]["configuration"]["UserParameters"] = p.into();
        }
        if let Some(t) = continuation {
            data["continuationToken"] = t.into();
        }
        event
    }

    fn new_job(&self) -> String {
        self.emu
            .create_job(json!({"pipelineName": "pipeline-dev", "actionName": "Deploy"}))
            .expect("register the job")
    }

    async fn invoke(&self, event: Value) -> testkit::Invocation {
        self.rt
            .invoke(event, WAIT)
            .await
            .unwrap_or_else(|e| panic!("{e:#}\nfunction logs:\n{}", self.process.logs()))
    }

    fn job(&self, job_id: &str) -> Value {
        self.emu.job(job_id).expect("read the job")
    }

    fn assert_logs_clean(&self) {
        let logs = self.process.logs();
        for secret in [
            "artifact-secret-access-key",
            "artifact-session-token",
            "ASIAARTIFACTCREDENTIALS",
            "hook-secret-value",
        ] {
            assert!(
                !logs.contains(secret),
                "{secret} leaked into the logs:\n{logs}"
            );
        }
    }
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, content) in entries {
        writer
            .start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        writer.write_all(content).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// An imageDetail.json as the buildspec writes it, architecture included (without it the
/// handler asks ECR, where these tests' images do not exist).
fn image_detail_zip() -> Vec<u8> {
    zip_of(&[(
        "imageDetail.json",
        format!(r#"{{"ImageURI":"{DIGEST_URI}","ImageArchitecture":"amd64"}}"#).as_bytes(),
    )])
}

fn failure(job: &Value) -> (&str, &str) {
    let details = &job["results"][0]["failureDetails"];
    (
        details["type"].as_str().unwrap_or_default(),
        details["message"].as_str().unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_detail_succeeds_with_output_variables() {
    let h = Harness::start(&[]).await;
    h.put_artifact("p/ok.zip", image_detail_zip()).await;
    let job_id = h.new_job();
    let invocation = h.invoke(h.job_event(&job_id, "p/ok.zip", None, None)).await;
    assert!(
        invocation.result.is_ok(),
        "{:?}\n{}",
        invocation.result,
        h.process.logs()
    );

    let job = h.job(&job_id);
    assert_eq!(job["status"], "Succeeded", "{job:#}");
    let result = &job["results"][0];
    let variables = &result["outputVariables"];
    assert_eq!(variables["IMAGE_URI"], DIGEST_URI);
    assert_eq!(
        variables["IMAGE_DIGEST"],
        DIGEST_URI.split_once('@').unwrap().1
    );
    assert_eq!(variables["COMMIT_ID"], COMMIT);
    assert_eq!(variables["DEPLOYMENT_ID"], job_id.as_str());
    assert!(
        result["executionDetails"]["summary"]
            .as_str()
            .unwrap()
            .contains("recorded only"),
        "{result:#}"
    );
    assert!(result.get("continuationToken").is_none());

    let logs = h.process.logs();
    let line = logs
        .lines()
        .find(|l| l.contains(r#""message":"deployment""#))
        .unwrap_or_else(|| panic!("no deployment log line:\n{logs}"));
    let line: Value = serde_json::from_str(line).expect("the deployment log line is JSON");
    let fields = &line["fields"];
    assert_eq!(fields["job_id"], job_id.as_str(), "{line:#}");
    assert_eq!(fields["outcome"], "succeeded", "{line:#}");
    assert_eq!(fields["image_uri"], DIGEST_URI, "{line:#}");
    assert_eq!(fields["commit"], COMMIT, "{line:#}");
    assert_eq!(fields["pipeline"], "pipeline-dev", "{line:#}");
    assert!(fields["duration_ms"].is_u64(), "{line:#}");
    h.assert_logs_clean();
    eprintln!(
        "init (spawn to first /next): {} ms; invocation {:?}",
        h.init_ms, invocation.duration
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn image_definitions_succeeds_for_the_named_service() {
    let h = Harness::start(&[]).await;
    let defs = br#"[{"name":"worker","imageUri":"123456789012.dkr.ecr.us-east-1.amazonaws.com/worker:1"},
                    {"name":"api","imageUri":"123456789012.dkr.ecr.us-east-1.amazonaws.com/api-dev:v42"}]"#;
    h.put_artifact("p/defs.zip", zip_of(&[("imagedefinitions.json", defs)]))
        .await;
    let job_id = h.new_job();
    h.invoke(h.job_event(&job_id, "p/defs.zip", Some(r#"{"service":"api"}"#), None))
        .await;
    let job = h.job(&job_id);
    assert_eq!(job["status"], "Succeeded", "{job:#}");
    let variables = &job["results"][0]["outputVariables"];
    assert_eq!(
        variables["IMAGE_URI"],
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/api-dev:v42"
    );
    assert_eq!(variables["IMAGE_TAG"], "v42");
    assert!(variables.get("IMAGE_DIGEST").is_none(), "{variables:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_object_and_non_zip_fail_with_their_types() {
    let h = Harness::start(&[]).await;
    let missing = h.new_job();
    h.invoke(h.job_event(&missing, "p/nothing-here.zip", None, None))
        .await;
    let job = h.job(&missing);
    assert_eq!(job["status"], "Failed", "{job:#}");
    let (kind, message) = failure(&job);
    assert_eq!(kind, "RevisionUnavailable", "{message}");
    assert!(
        message.contains("p/nothing-here.zip") && message.contains("re-run the pipeline"),
        "{message}"
    );

    h.put_artifact("p/text.zip", b"this is not a zip".to_vec())
        .await;
    let not_zip = h.new_job();
    h.invoke(h.job_event(&not_zip, "p/text.zip", None, None))
        .await;
    let job = h.job(&not_zip);
    let (kind, message) = failure(&job);
    assert_eq!(
        (job["status"].as_str(), kind),
        (Some("Failed"), "JobFailed"),
        "{job:#}"
    );
    assert!(message.contains("not a zip archive"), "{message}");

    let bad_params = h.new_job();
    h.invoke(h.job_event(&bad_params, "p/text.zip", Some(r#"{"region":"x"}"#), None))
        .await;
    let job = h.job(&bad_params);
    let (kind, message) = failure(&job);
    assert_eq!(kind, "ConfigurationError", "{message}");
    assert!(message.contains("unknown field `region`"), "{message}");
    h.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_delivery_is_success_not_an_error() {
    let h = Harness::start(&[]).await;
    h.put_artifact("p/ok.zip", image_detail_zip()).await;
    let job_id = h.new_job();
    let event = h.job_event(&job_id, "p/ok.zip", None, None);
    let first = h.invoke(event.clone()).await;
    let second = h.invoke(event).await;
    assert!(first.result.is_ok(), "{:?}", first.result);
    let second = second
        .result
        .expect("a re-delivered job must not be an invocation error");
    assert_eq!(second["report"], "already_finished", "{second:#}");
    let job = h.job(&job_id);
    assert_eq!(job["status"], "Succeeded");
    assert_eq!(
        job["outcomes"],
        json!(["accepted", "InvalidJobStateException"]),
        "{job:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panic_is_reported_as_the_jobs_failure() {
    let h = Harness::start(&[]).await;
    let job_id = h.new_job();
    let started = Instant::now();
    let invocation = h
        .invoke(h.job_event(&job_id, "p/any.zip", Some(r#"{"panicForTest":true}"#), None))
        .await;
    assert!(
        invocation.result.is_err(),
        "the panic surfaces as an invocation error too: {:?}",
        invocation.result
    );
    let job = h.job(&job_id);
    assert_eq!(job["status"], "Failed", "{job:#}\n{}", h.process.logs());
    let (kind, message) = failure(&job);
    assert_eq!(kind, "JobFailed");
    assert!(
        message
            .starts_with("deploy-handler panicked: panic requested by UserParameters panicForTest"),
        "{message}"
    );
    assert!(
        message.contains("handler.rs:") && message.contains("see the function's logs"),
        "{message}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "reporting the panic took {:?}",
        started.elapsed()
    );

    // The process survives (unwinding build) and the next job is handled normally.
    h.put_artifact("p/ok.zip", image_detail_zip()).await;
    let next = h.new_job();
    h.invoke(h.job_event(&next, "p/ok.zip", None, None)).await;
    assert_eq!(h.job(&next)["status"], "Succeeded");
}

/// A webhook receiver on 127.0.0.1:0 that records requests and answers from a script.
#[derive(Clone, Debug)]
struct Received {
    method: String,
    path: String,
    signature: Option<String>,
    deployment_id: Option<String>,
    body: Bytes,
}

struct Receiver {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

async fn receiver(script: Vec<(u16, Option<&'static str>, &'static str)>) -> Receiver {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/deploy", listener.local_addr().unwrap());
    let received = Arc::new(Mutex::new(Vec::new()));
    let script = Arc::new(Mutex::new(VecDeque::from(script)));
    let log = received.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let (log, script) = (log.clone(), script.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let (log, script) = (log.clone(), script.clone());
                    async move {
                        let header = |name: &str| {
                            req.headers()
                                .get(name)
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_owned)
                        };
                        let (method, path) =
                            (req.method().to_string(), req.uri().path().to_owned());
                        let (signature, deployment_id) =
                            (header("x-signature-256"), header("x-deployment-id"));
                        let body = req
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        log.lock().unwrap().push(Received {
                            method,
                            path,
                            signature,
                            deployment_id,
                            body,
                        });
                        let (status, location, text) = script
                            .lock()
                            .unwrap()
                            .pop_front()
                            .unwrap_or((500, None, "script exhausted"));
                        let mut response = Response::builder().status(status);
                        if let Some(location) = location {
                            response = response.header("location", location);
                        }
                        Ok::<_, Infallible>(response.body(Full::new(Bytes::from(text))).unwrap())
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    });
    Receiver { url, received }
}

fn verify(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(hex_mac) = header.and_then(|h| h.strip_prefix("sha256=")) else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_mac) else {
        return false;
    };
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret).unwrap();
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_receives_a_verifiable_signed_event() {
    let hook = receiver(vec![(503, None, "warming up"), (200, None, "ok")]).await;
    let h = Harness::start(&[
        ("DEPLOY_WEBHOOK_URL", hook.url.as_str()),
        ("DEPLOY_WEBHOOK_SECRET", "hook-secret-value"),
    ])
    .await;
    h.put_artifact("p/ok.zip", image_detail_zip()).await;
    let job_id = h.new_job();
    h.invoke(h.job_event(
        &job_id,
        "p/ok.zip",
        Some(r#"{"environment":"staging"}"#),
        None,
    ))
    .await;

    let job = h.job(&job_id);
    assert_eq!(job["status"], "Succeeded", "{job:#}\n{}", h.process.logs());
    let received = hook.received.lock().unwrap().clone();
    assert_eq!(received.len(), 2, "one retry after the 503: {received:?}");
    for request in &received {
        assert_eq!(
            (request.method.as_str(), request.path.as_str()),
            ("POST", "/hooks/deploy")
        );
        assert!(
            verify(
                b"hook-secret-value",
                &request.body,
                request.signature.as_deref()
            ),
            "bad signature on {request:?}"
        );
        assert!(!verify(
            b"another-secret",
            &request.body,
            request.signature.as_deref()
        ));
        assert_eq!(request.deployment_id.as_deref(), Some(job_id.as_str()));
    }
    let event: Value = serde_json::from_slice(&received[1].body).unwrap();
    assert_eq!(event["deploymentId"], job_id.as_str());
    assert_eq!(event["image"]["uri"], DIGEST_URI);
    assert_eq!(event["image"]["repository"], "app-dev");
    assert_eq!(event["commit"], COMMIT);
    assert_eq!(event["environment"], "staging");
    assert_eq!(event["pipeline"], "pipeline-dev");
    assert!(
        event["requestedAt"].as_str().unwrap().ends_with('Z'),
        "{event:#}"
    );
    h.assert_logs_clean();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_webhook_continues_until_the_deployment_succeeds() {
    let hook = receiver(vec![
        (202, Some("/deployments/42"), ""),
        (
            200,
            None,
            r#"{"status":"IN_PROGRESS","message":"1 of 2 tasks healthy"}"#,
        ),
        (
            200,
            None,
            r#"{"status":"SUCCEEDED","message":"2 of 2 tasks healthy"}"#,
        ),
    ])
    .await;
    let h = Harness::start(&[
        ("DEPLOY_WEBHOOK_URL", hook.url.as_str()),
        ("DEPLOY_WEBHOOK_SECRET", "hook-secret-value"),
    ])
    .await;
    h.put_artifact("p/ok.zip", image_detail_zip()).await;
    let job_id = h.new_job();

    h.invoke(h.job_event(&job_id, "p/ok.zip", None, None)).await;
    let job = h.job(&job_id);
    assert_eq!(job["status"], "InProgress", "{job:#}\n{}", h.process.logs());
    let token = job["results"][0]["continuationToken"]
        .as_str()
        .expect("a continuation token")
        .to_owned();
    assert!(
        job["results"][0].get("outputVariables").is_none(),
        "{job:#}"
    );
    let state: Value = serde_json::from_str(&token).unwrap();
    assert!(
        state["location"]
            .as_str()
            .unwrap()
            .ends_with("/deployments/42"),
        "{state:#}"
    );
    assert_eq!(state["deploymentId"], job_id.as_str());

    h.invoke(h.job_event(&job_id, "p/ok.zip", None, Some(&token)))
        .await;
    let job = h.job(&job_id);
    assert_eq!(job["status"], "InProgress", "{job:#}");
    assert_eq!(job["results"][1]["continuationToken"], token.as_str());

    h.invoke(h.job_event(&job_id, "p/ok.zip", None, Some(&token)))
        .await;
    let job = h.job(&job_id);
    assert_eq!(job["status"], "Succeeded", "{job:#}");
    assert_eq!(
        job["results"][2]["outputVariables"]["IMAGE_URI"],
        DIGEST_URI
    );
    assert!(
        job["results"][2]["executionDetails"]["summary"]
            .as_str()
            .unwrap()
            .contains("2 of 2 tasks healthy")
    );

    let received = hook.received.lock().unwrap().clone();
    let polls: Vec<_> = received.iter().filter(|r| r.method == "GET").collect();
    assert_eq!(polls.len(), 2, "{received:?}");
    for poll in polls {
        assert_eq!(poll.path, "/deployments/42");
        assert!(
            verify(b"hook-secret-value", b"", poll.signature.as_deref()),
            "status GET must be signed over the empty body"
        );
    }
}

/// The team's ECS service as teams run it: `app` beside a FireLens log router and an agent
/// sidecar, secrets, an EFS volume, an x86-64 runtime platform; cluster `prod`, service `web`.
async fn team_service(h: &Harness, circuit_breaker: bool) -> aws_sdk_ecs::Client {
    use aws_sdk_ecs::types::{
        ContainerDefinition, CpuArchitecture, DeploymentCircuitBreaker, DeploymentConfiguration,
        EfsVolumeConfiguration, FirelensConfiguration, FirelensConfigurationType, RuntimePlatform,
        Secret, Volume,
    };
    let ecs = aws_sdk_ecs::Client::new(&h.emu.sdk_config().await);
    ecs.create_cluster()
        .cluster_name("prod")
        .send()
        .await
        .expect("cluster");
    let secret = |name: &str, from: &str| {
        Secret::builder()
            .name(name)
            .value_from(from)
            .build()
            .expect("secret")
    };
    let container = |name: &str, image: &str| {
        ContainerDefinition::builder()
            .name(name)
            .image(image)
            .memory(256)
    };
    ecs.register_task_definition()
        .family("web")
        .cpu("512")
        .memory("1024")
        .execution_role_arn("arn:aws:iam::123456789012:role/web-exec")
        .runtime_platform(
            RuntimePlatform::builder()
                .cpu_architecture(CpuArchitecture::X8664)
                .build(),
        )
        .volumes(
            Volume::builder()
                .name("shared")
                .efs_volume_configuration(
                    EfsVolumeConfiguration::builder()
                        .file_system_id("fs-12345678")
                        .build()
                        .expect("efs"),
                )
                .build(),
        )
        .container_definitions(
            container(
                "log_router",
                "public.ecr.aws/aws-observability/aws-for-fluent-bit:stable",
            )
            .firelens_configuration(
                FirelensConfiguration::builder()
                    .r#type(FirelensConfigurationType::Fluentbit)
                    .build()
                    .expect("firelens"),
            )
            .build(),
        )
        .container_definitions(
            container(
                "app",
                "123456789012.dkr.ecr.us-east-1.amazonaws.com/app-dev:old",
            )
            .secrets(secret(
                "DB_PASSWORD",
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
            ))
            .build(),
        )
        .container_definitions(
            container("datadog-agent", "public.ecr.aws/datadog/agent:7")
                .secrets(secret(
                    "DD_API_KEY",
                    "arn:aws:ssm:us-east-1:123456789012:parameter/dd",
                ))
                .build(),
        )
        .send()
        .await
        .expect("task definition");
    let breaker = DeploymentCircuitBreaker::builder()
        .enable(circuit_breaker)
        .rollback(circuit_breaker)
        .build();
    ecs.create_service()
        .cluster("prod")
        .service_name("web")
        .task_definition("web:1")
        .desired_count(2)
        .deployment_configuration(
            DeploymentConfiguration::builder()
                .deployment_circuit_breaker(breaker)
                .build(),
        )
        .send()
        .await
        .expect("service");
    ecs
}

async fn task_definition(
    ecs: &aws_sdk_ecs::Client,
    arn: &str,
) -> aws_sdk_ecs::types::TaskDefinition {
    ecs.describe_task_definition()
        .task_definition(arn)
        .send()
        .await
        .expect("describe")
        .task_definition
        .expect("task definition")
}

/// How many revisions family `web` has: a job refused up front registers none.
async fn web_revisions(ecs: &aws_sdk_ecs::Client) -> usize {
    let listed = ecs
        .list_task_definitions()
        .family_prefix("web")
        .send()
        .await
        .expect("list");
    listed.task_definition_arns().len()
}

/// The pipeline's UserParameters name the ECR repository as `service`; the task's `app`
/// container gets the image all the same, every other field of the revision as it was, and
/// every continuation (a job of its own id) reports the first job's DEPLOYMENT_ID.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ecs_rollout_changes_only_the_app_containers_image_of_a_task_with_sidecars() {
    let h = Harness::start(&[("DEPLOY_TARGET", "ecs:prod/web")]).await;
    let ecs = team_service(&h, true).await;
    h.put_artifact("p/ok.zip", image_detail_zip()).await;
    let params = r#"{"environment":"dev","service":"app-dev","timeoutSeconds":3600}"#;
    let first = h.new_job();
    h.invoke(h.job_event(&first, "p/ok.zip", Some(params), None))
        .await;
    let mut job = h.job(&first);
    let mut token = job["results"][0]["continuationToken"]
        .as_str()
        .map(str::to_owned);
    assert_eq!(job["status"], "InProgress", "{job:#}\n{}", h.process.logs());
    let mut last = first.clone();
    for _ in 0..6 {
        let Some(current) = token.clone() else { break };
        last = h.new_job();
        h.invoke(h.job_event(&last, "p/ok.zip", Some(params), Some(&current)))
            .await;
        job = h.job(&last);
        token = job["results"][0]["continuationToken"]
            .as_str()
            .map(str::to_owned);
    }
    assert_eq!(job["status"], "Succeeded", "{job:#}\n{}", h.process.logs());
    assert_ne!(last, first);
    let variables = &job["results"][0]["outputVariables"];
    assert_eq!(variables["DEPLOYMENT_ID"], first.as_str(), "{variables:#}");

    let old = task_definition(&ecs, "web:1").await;
    let new = task_definition(
        &ecs,
        variables["NEW_REVISION"].as_str().expect("NEW_REVISION"),
    )
    .await;
    assert_eq!(new.revision, 2);
    let mut expected = old.container_definitions.clone().expect("containers");
    expected[1].image = Some(DIGEST_URI.to_owned());
    assert_eq!(new.container_definitions, Some(expected));
    assert_eq!(new.volumes, old.volumes);
    assert_eq!(new.runtime_platform, old.runtime_platform);
    assert_eq!(new.execution_role_arn, old.execution_role_arn);
    assert_eq!((new.cpu, new.memory), (old.cpu, old.memory));
    h.assert_logs_clean();
}

/// An amd64 image for a service whose tasks run on ARM64 (the task definition's runtimePlatform,
/// read through the SDK) is refused before a revision is registered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_for_another_architecture_than_the_tasks_is_refused_before_registering() {
    use aws_sdk_ecs::types::{ContainerDefinition, CpuArchitecture, RuntimePlatform};
    let h = Harness::start(&[("DEPLOY_TARGET", "ecs:prod/web")]).await;
    let ecs = team_service(&h, true).await;
    ecs.register_task_definition()
        .family("web")
        .runtime_platform(
            RuntimePlatform::builder()
                .cpu_architecture(CpuArchitecture::Arm64)
                .build(),
        )
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/app-dev:old")
                .memory(256)
                .build(),
        )
        .send()
        .await
        .expect("arm64 task definition");
    ecs.update_service()
        .cluster("prod")
        .service("web")
        .task_definition("web:2")
        .send()
        .await
        .expect("service on web:2");
    let detail = format!(r#"{{"ImageURI":"{DIGEST_URI}","ImageArchitecture":"amd64"}}"#);
    h.put_artifact(
        "p/amd64.zip",
        zip_of(&[("imageDetail.json", detail.as_bytes())]),
    )
    .await;
    let job_id = h.new_job();
    h.invoke(h.job_event(&job_id, "p/amd64.zip", None, None))
        .await;
    let job = h.job(&job_id);
    assert_eq!(job["status"], "Failed", "{job:#}\n{}", h.process.logs());
    let (kind, message) = failure(&job);
    assert_eq!(kind, "ConfigurationError");
    assert!(message.contains("runs on arm64"), "{message}");
    assert_eq!(web_revisions(&ecs).await, 2);
}

/// Without a circuit breaker a failing deployment never ends; the rollout's bound fails the job
/// naming the deployment, its task counts and the newest event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_that_never_ends_fails_at_its_bound_naming_what_still_runs() {
    let h = Harness::start(&[("DEPLOY_TARGET", "ecs:prod/web")]).await;
    team_service(&h, false).await;
    h.emu
        .mark_bad_image(DIGEST_URI)
        .expect("mark the image bad");
    h.put_artifact("p/ok.zip", image_detail_zip()).await;
    let params = r#"{"timeoutSeconds":1}"#;
    let job_id = h.new_job();
    h.invoke(h.job_event(&job_id, "p/ok.zip", Some(params), None))
        .await;
    let job = h.job(&job_id);
    let token = job["results"][0]["continuationToken"]
        .as_str()
        .expect("continuation")
        .to_owned();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let next = h.new_job();
    h.invoke(h.job_event(&next, "p/ok.zip", Some(params), Some(&token)))
        .await;
    let job = h.job(&next);
    assert_eq!(job["status"], "Failed", "{job:#}\n{}", h.process.logs());
    let (kind, message) = failure(&job);
    assert_eq!(kind, "JobFailed");
    for needle in [
        "beyond its bound of 1 s",
        "still running: Rolling out",
        "deployment ecs-svc/",
        "0/2 tasks of web:2 running",
        "failed to start",
        "newest event: (service web)",
    ] {
        assert!(message.contains(needle), "{needle}: {message}");
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Pushes a manifest (its config differing by `label`) and returns its digest.
async fn push_image(ecr: &aws_sdk_ecr::Client, tag: &str, label: &str) -> String {
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Labels":{{"v":"{label}"}}}}}}"#
    );
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": config.len(),
            "digest": format!("sha256:{}", sha256_hex(config.as_bytes()))},
        "layers": []
    })
    .to_string();
    ecr.put_image()
        .repository_name("team-app")
        .image_manifest(&manifest)
        .image_tag(tag)
        .send()
        .await
        .expect("push image");
    format!("sha256:{}", sha256_hex(manifest.as_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lambda_rollout_updates_the_code_publishes_a_version_and_moves_the_alias() {
    let h = Harness::start(&[("DEPLOY_TARGET", "lambda:team-fn:live")]).await;
    let config = h.emu.sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&config);
    let ecr = aws_sdk_ecr::Client::new(&config);
    let lambda = aws_sdk_lambda::Client::new(&config);
    let role = iam
        .create_role()
        .role_name("team-fn-role")
        .assume_role_policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
            .to_string(),
        )
        .send()
        .await
        .expect("role");
    let repo = ecr
        .create_repository()
        .repository_name("team-app")
        .send()
        .await
        .expect("repository");
    let uri = repo
        .repository()
        .and_then(|r| r.repository_uri())
        .unwrap()
        .to_owned();
    push_image(&ecr, "v1", "one").await;
    let second = push_image(&ecr, "v2", "two").await;
    lambda
        .create_function()
        .function_name("team-fn")
        .role(role.role().map(|r| r.arn().to_owned()).unwrap())
        .package_type(aws_sdk_lambda::types::PackageType::Image)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .image_uri(format!("{uri}:v1"))
                .build(),
        )
        .send()
        .await
        .expect("function");
    let v1 = lambda
        .publish_version()
        .function_name("team-fn")
        .send()
        .await
        .expect("v1");
    lambda
        .create_alias()
        .function_name("team-fn")
        .name("live")
        .function_version(v1.version().unwrap())
        .send()
        .await
        .expect("alias");

    let image = format!("{uri}@{second}");
    h.put_artifact(
        "p/fn.zip",
        zip_of(&[(
            "imageDetail.json",
            format!(r#"{{"ImageURI":"{image}","ImageArchitecture":"amd64"}}"#).as_bytes(),
        )]),
    )
    .await;
    let first = h.new_job();
    h.invoke(h.job_event(&first, "p/fn.zip", None, None)).await;
    let mut job = h.job(&first);
    let mut token = job["results"][0]["continuationToken"]
        .as_str()
        .map(str::to_owned);
    assert_eq!(job["status"], "InProgress", "{job:#}\n{}", h.process.logs());
    for _ in 0..6 {
        let Some(current) = token.clone() else { break };
        let next = h.new_job();
        h.invoke(h.job_event(&next, "p/fn.zip", None, Some(&current)))
            .await;
        job = h.job(&next);
        token = job["results"][0]["continuationToken"]
            .as_str()
            .map(str::to_owned);
    }
    assert_eq!(job["status"], "Succeeded", "{job:#}\n{}", h.process.logs());
    let alias = lambda
        .get_alias()
        .function_name("team-fn")
        .name("live")
        .send()
        .await
        .expect("alias");
    let moved_to = alias.function_version().unwrap().to_owned();
    assert_ne!(Some(moved_to.as_str()), v1.version(), "{job:#}");
    let at = lambda
        .get_function()
        .function_name("team-fn")
        .qualifier(&moved_to)
        .send()
        .await
        .expect("version");
    let resolved = at
        .code()
        .and_then(|c| c.resolved_image_uri())
        .unwrap_or_default();
    assert!(resolved.ends_with(&second), "{resolved}");
    h.assert_logs_clean();
}

/// One HTTP/1.1 exchange with the emulator's registry front (`127.0.0.1:PORT`), as docker makes it.
fn registry_http(
    endpoint: &str,
    request_line: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(endpoint).expect("connect to the registry");
    let mut head = format!("{request_line} HTTP/1.1\r\nHost: {endpoint}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

/// Pushes an image built for `architecture` through the registry as docker does (the config
/// blob in one upload's POST and PUT, then the manifest under `tag`); returns the manifest digest.
fn registry_push(endpoint: &str, token: &str, tag: &str, architecture: &str) -> String {
    let auth = format!("Basic {token}");
    let config = format!(
        r#"{{"architecture":"{architecture}","os":"linux","config":{{"Labels":{{"tag":"{tag}"}}}},"rootfs":{{"type":"layers","diff_ids":[]}}}}"#
    );
    let config_digest = format!("sha256:{}", sha256_hex(config.as_bytes()));
    let (status, answer) = registry_http(
        endpoint,
        "POST /v2/team-app/blobs/uploads/",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(status, 202, "upload start:\n{answer}");
    let location = answer
        .lines()
        .find_map(|line| line.strip_prefix("Location: "))
        .expect("the upload's Location")
        .trim()
        .to_owned();
    let separator = if location.contains('?') { '&' } else { '?' };
    let (status, answer) = registry_http(
        endpoint,
        &format!("PUT {location}{separator}digest={config_digest}"),
        &[
            ("Authorization", &auth),
            ("Content-Type", "application/octet-stream"),
        ],
        config.as_bytes(),
    );
    assert_eq!(status, 201, "config upload:\n{answer}");
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
            "size": config.len(), "digest": config_digest},
        "layers": []
    })
    .to_string();
    let (status, answer) = registry_http(
        endpoint,
        &format!("PUT /v2/team-app/manifests/{tag}"),
        &[
            ("Authorization", &auth),
            (
                "Content-Type",
                "application/vnd.docker.distribution.manifest.v2+json",
            ),
        ],
        manifest.as_bytes(),
    );
    assert_eq!(status, 201, "manifest push:\n{answer}");
    format!("sha256:{}", sha256_hex(manifest.as_bytes()))
}

/// An artifact that does not say what the image was built for (an imageDetail.json of an older
/// build; imagedefinitions.json never says, but a rollout refuses it for want of a digest anyway):
/// the handler reads it from the image's config in ECR. An x86_64 image for an arm64 function is refused before the code
/// changes, naming both architectures; the arm64 image of the same repository rolls out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unlabelled_image_is_checked_against_its_config_in_the_registry() {
    let h = Harness::start(&[("DEPLOY_TARGET", "lambda:team-fn:live")]).await;
    let registry = h.emu.registry().expect("registry status");
    let endpoint = registry.endpoint.clone().filter(|_| registry.running);
    let endpoint = endpoint.unwrap_or_else(|| {
        panic!(
            "this test needs the emulator's registry (install docker-registry with `cargo xtask setup`): {:?}",
            registry.reason
        )
    });
    let config = h.emu.sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&config);
    let ecr = aws_sdk_ecr::Client::new(&config);
    let lambda = aws_sdk_lambda::Client::new(&config);
    let role = iam
        .create_role()
        .role_name("team-fn-role")
        .assume_role_policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
            .to_string(),
        )
        .send()
        .await
        .expect("role");
    let repo = ecr
        .create_repository()
        .repository_name("team-app")
        .send()
        .await
        .expect("repository");
    let uri = repo
        .repository()
        .and_then(|r| r.repository_uri())
        .unwrap()
        .to_owned();
    let token = ecr.get_authorization_token().send().await.expect("token");
    let token = token.authorization_data()[0]
        .authorization_token()
        .unwrap()
        .to_owned();
    registry_push(&endpoint, &token, "v1", "arm64");
    let amd64 = registry_push(&endpoint, &token, "v2-amd64", "amd64");
    let arm64 = registry_push(&endpoint, &token, "v3-arm64", "arm64");
    lambda
        .create_function()
        .function_name("team-fn")
        .role(role.role().map(|r| r.arn().to_owned()).unwrap())
        .package_type(aws_sdk_lambda::types::PackageType::Image)
        .architectures(aws_sdk_lambda::types::Architecture::Arm64)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .image_uri(format!("{uri}:v1"))
                .build(),
        )
        .send()
        .await
        .expect("function");
    let v1 = lambda
        .publish_version()
        .function_name("team-fn")
        .send()
        .await
        .expect("v1");
    lambda
        .create_alias()
        .function_name("team-fn")
        .name("live")
        .function_version(v1.version().unwrap())
        .send()
        .await
        .expect("alias");
    // As an older build wrote it: the image and its digest, but not what it was built for.
    let unlabelled = |tag: &str, digest: &str| {
        zip_of(&[(
            "imageDetail.json",
            format!(r#"{{"ImageURI":"{uri}:{tag}","ImageDigest":"{digest}"}}"#).as_bytes(),
        )])
    };
    let service = Some(r#"{"service":"team-app"}"#);

    h.put_artifact("p/amd64.zip", unlabelled("v2-amd64", &amd64))
        .await;
    let refused = h.new_job();
    h.invoke(h.job_event(&refused, "p/amd64.zip", service, None))
        .await;
    let job = h.job(&refused);
    assert_eq!(job["status"], "Failed", "{job:#}\n{}", h.process.logs());
    let (_, message) = failure(&job);
    assert!(
        message.contains("was built for x86_64") && message.contains("runs on arm64"),
        "the failure names both architectures: {message}"
    );
    let alias = lambda
        .get_alias()
        .function_name("team-fn")
        .name("live")
        .send()
        .await
        .expect("alias");
    assert_eq!(alias.function_version(), v1.version(), "the alias stays");

    h.put_artifact("p/arm64.zip", unlabelled("v3-arm64", &arm64))
        .await;
    let first = h.new_job();
    h.invoke(h.job_event(&first, "p/arm64.zip", service, None))
        .await;
    let mut job = h.job(&first);
    for _ in 0..6 {
        let Some(token) = job["results"][0]["continuationToken"]
            .as_str()
            .map(str::to_owned)
        else {
            break;
        };
        let next = h.new_job();
        h.invoke(h.job_event(&next, "p/arm64.zip", service, Some(&token)))
            .await;
        job = h.job(&next);
    }
    assert_eq!(job["status"], "Succeeded", "{job:#}\n{}", h.process.logs());
    let live = lambda
        .get_alias()
        .function_name("team-fn")
        .name("live")
        .send()
        .await
        .expect("alias");
    let at = lambda
        .get_function()
        .function_name("team-fn")
        .qualifier(live.function_version().unwrap())
        .send()
        .await
        .expect("version");
    let resolved = at
        .code()
        .and_then(|c| c.resolved_image_uri())
        .unwrap_or_default();
    assert!(resolved.ends_with(&arm64), "{resolved}");
}

// ---- stages: a stage rollback deploys the older image cleanly, and again changes nothing ----

impl Harness {
    /// One job of a stage from its first invocation through its continuations (each a job of
    /// its own id, as CodePipeline makes them); the last job's record.
    async fn run_stage_job(&self, key: &str, params: &str) -> Value {
        let first = self.new_job();
        self.invoke(self.job_event(&first, key, Some(params), None))
            .await;
        let mut job = self.job(&first);
        for _ in 0..8 {
            let Some(token) = job["results"][0]["continuationToken"].as_str() else {
                break;
            };
            let next = self.new_job();
            self.invoke(self.job_event(&next, key, Some(params), Some(token)))
                .await;
            job = self.job(&next);
        }
        assert_eq!(
            job["status"],
            "Succeeded",
            "{job:#}\n{}",
            self.process.logs()
        );
        job
    }
}

fn image_artifact(image: &str) -> Vec<u8> {
    zip_of(&[(
        "imageDetail.json",
        format!(r#"{{"ImageURI":"{image}","ImageArchitecture":"amd64"}}"#).as_bytes(),
    )])
}

/// The stage's action names the target (no DEPLOY_TARGET): B replaces A, then a rollback (a new
/// job with A's artifact) moves the alias back to A's version without updating the code or
/// publishing, and a repeat of the rollback changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lambda_stage_rolls_back_to_the_version_that_ran_the_older_image() {
    let h = Harness::start(&[]).await;
    let config = h.emu.sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&config);
    let ecr = aws_sdk_ecr::Client::new(&config);
    let lambda = aws_sdk_lambda::Client::new(&config);
    let role = iam
        .create_role()
        .role_name("team-fn-role")
        .assume_role_policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
            .to_string(),
        )
        .send()
        .await
        .expect("role");
    let repo = ecr
        .create_repository()
        .repository_name("team-app")
        .send()
        .await
        .expect("repository");
    let uri = repo
        .repository()
        .and_then(|r| r.repository_uri())
        .unwrap()
        .to_owned();
    let older = push_image(&ecr, "a", "older").await;
    let newer = push_image(&ecr, "b", "newer").await;
    lambda
        .create_function()
        .function_name("team-fn")
        .role(role.role().map(|r| r.arn().to_owned()).unwrap())
        .package_type(aws_sdk_lambda::types::PackageType::Image)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .image_uri(format!("{uri}@{older}"))
                .build(),
        )
        .send()
        .await
        .expect("function");
    let first = lambda
        .publish_version()
        .function_name("team-fn")
        .send()
        .await
        .expect("v1");
    let first = first.version().unwrap().to_owned();
    lambda
        .create_alias()
        .function_name("team-fn")
        .name("live")
        .function_version(&first)
        .send()
        .await
        .expect("alias");
    let params = r#"{"environment":"dev","stage":"prod","target":"lambda:team-fn:live"}"#;
    let alias_version = || async {
        let alias = lambda
            .get_alias()
            .function_name("team-fn")
            .name("live")
            .send()
            .await;
        alias.expect("alias").function_version().unwrap().to_owned()
    };
    let versions = || async {
        let listed = lambda
            .list_versions_by_function()
            .function_name("team-fn")
            .send()
            .await;
        listed.expect("versions").versions().len()
    };

    h.put_artifact("p/newer.zip", image_artifact(&format!("{uri}@{newer}")))
        .await;
    let forward = h.run_stage_job("p/newer.zip", params).await;
    let forward_vars = &forward["results"][0]["outputVariables"];
    let second = alias_version().await;
    assert_ne!(second, first, "{forward:#}");
    assert_eq!(forward_vars["STAGE"], "prod", "{forward_vars:#}");
    let published = versions().await;

    h.put_artifact("p/older.zip", image_artifact(&format!("{uri}@{older}")))
        .await;
    for attempt in ["rollback", "repeat"] {
        let job = h.run_stage_job("p/older.zip", params).await;
        let result = &job["results"][0];
        let variables = &result["outputVariables"];
        assert_eq!(alias_version().await, first, "{attempt}: {job:#}");
        assert_eq!(
            variables["NEW_REVISION"],
            first.as_str(),
            "{attempt}: {variables:#}"
        );
        assert_eq!(variables["STAGE"], "prod");
        assert_eq!(versions().await, published, "{attempt}: nothing published");
        let summary = result["executionDetails"]["summary"]
            .as_str()
            .unwrap_or_default();
        let expected = if attempt == "rollback" {
            format!("alias live moved from version {second} to it")
        } else {
            "alias live already points at it".to_owned()
        };
        assert!(
            summary.starts_with("Stage prod: ") && summary.contains(&expected),
            "{attempt}: {summary}"
        );
    }
    // $LATEST still holds the newer image: the code was not updated back.
    let latest = lambda
        .get_function()
        .function_name("team-fn")
        .send()
        .await
        .expect("function");
    let resolved = latest
        .code()
        .and_then(|c| c.resolved_image_uri())
        .unwrap_or_default();
    assert!(resolved.ends_with(&newer), "{resolved}");
    h.assert_logs_clean();
}

/// ECS: A, then B, then a rollback to A goes back to A's revision, registering nothing; a repeat
/// of the rollback registers nothing and leaves the service on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ecs_stage_rolls_back_to_the_revision_that_ran_the_older_image() {
    let h = Harness::start(&[]).await;
    let ecs = team_service(&h, true).await;
    let params = r#"{"environment":"dev","stage":"prod","target":"ecs:prod/web"}"#;
    let older = DIGEST_URI;
    let newer = format!("{}{}", &DIGEST_URI[..DIGEST_URI.len() - 4], "ffff");
    h.put_artifact("p/older.zip", image_artifact(older)).await;
    h.put_artifact("p/newer.zip", image_artifact(&newer)).await;
    let revisions = || web_revisions(&ecs);

    let first = h.run_stage_job("p/older.zip", params).await;
    let older_revision = first["results"][0]["outputVariables"]["NEW_REVISION"]
        .as_str()
        .expect("NEW_REVISION")
        .to_owned();
    let second = h.run_stage_job("p/newer.zip", params).await;
    let newer_revision = second["results"][0]["outputVariables"]["NEW_REVISION"]
        .as_str()
        .expect("NEW_REVISION")
        .to_owned();
    assert_ne!(older_revision, newer_revision);
    let registered = revisions().await;

    for attempt in ["rollback", "repeat"] {
        let job = h.run_stage_job("p/older.zip", params).await;
        let variables = &job["results"][0]["outputVariables"];
        assert_eq!(
            variables["NEW_REVISION"],
            older_revision.as_str(),
            "{attempt}: {variables:#}"
        );
        assert_eq!(variables["STAGE"], "prod");
        assert_eq!(
            revisions().await,
            registered,
            "{attempt}: nothing registered"
        );
        let service = ecs
            .describe_services()
            .cluster("prod")
            .services("web")
            .send()
            .await;
        let service = service.expect("service");
        assert_eq!(
            service.services()[0].task_definition(),
            Some(older_revision.as_str()),
            "{attempt}"
        );
    }
    h.assert_logs_clean();
}

/// CloudWatch through the real AWS CLI of the project's virtualenv (the workspace carries no
/// CloudWatch SDK crate), against the emulator.
fn cloudwatch(h: &Harness, args: &[&str]) {
    h.emu
        .aws_cli("cloudwatch", args)
        .unwrap_or_else(|e| panic!("{e:#}"));
}

/// A canary shift gives the new version 10% of the alias's traffic and waits; the stage's alarm
/// going into ALARM sends all traffic back to the previous version and fails the job naming it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_during_a_canary_shift_sends_the_traffic_back() {
    let h = Harness::start(&[]).await;
    let config = h.emu.sdk_config().await;
    let iam = aws_sdk_iam::Client::new(&config);
    let ecr = aws_sdk_ecr::Client::new(&config);
    let lambda = aws_sdk_lambda::Client::new(&config);
    let role = iam
        .create_role()
        .role_name("team-fn-role")
        .assume_role_policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
            .to_string(),
        )
        .send()
        .await
        .expect("role");
    let repo = ecr
        .create_repository()
        .repository_name("team-app")
        .send()
        .await
        .expect("repository");
    let uri = repo
        .repository()
        .and_then(|r| r.repository_uri())
        .unwrap()
        .to_owned();
    let older = push_image(&ecr, "a", "older").await;
    let newer = push_image(&ecr, "b", "newer").await;
    lambda
        .create_function()
        .function_name("team-fn")
        .role(role.role().map(|r| r.arn().to_owned()).unwrap())
        .package_type(aws_sdk_lambda::types::PackageType::Image)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .image_uri(format!("{uri}@{older}"))
                .build(),
        )
        .send()
        .await
        .expect("function");
    let first = lambda
        .publish_version()
        .function_name("team-fn")
        .send()
        .await
        .expect("v1");
    let first = first.version().unwrap().to_owned();
    lambda
        .create_alias()
        .function_name("team-fn")
        .name("live")
        .function_version(&first)
        .send()
        .await
        .expect("alias");
    cloudwatch(
        &h,
        &[
            "put-metric-alarm",
            "--alarm-name",
            "api-errors",
            "--namespace",
            "AWS/Lambda",
            "--metric-name",
            "Errors",
            "--statistic",
            "Sum",
            "--period",
            "60",
            "--evaluation-periods",
            "1",
            "--threshold",
            "1",
            "--comparison-operator",
            "GreaterThanOrEqualToThreshold",
        ],
    );
    cloudwatch(
        &h,
        &[
            "set-alarm-state",
            "--alarm-name",
            "api-errors",
            "--state-value",
            "OK",
            "--state-reason",
            "quiet",
        ],
    );
    let alias = || async {
        let alias = lambda
            .get_alias()
            .function_name("team-fn")
            .name("live")
            .send()
            .await;
        let alias = alias.expect("alias");
        let weights = alias
            .routing_config()
            .and_then(|r| r.additional_version_weights())
            .cloned()
            .unwrap_or_default();
        (alias.function_version().unwrap().to_owned(), weights)
    };

    let params = r#"{"stage":"prod","target":"lambda:team-fn:live","trafficShift":"canary10-5m","alarms":["api-errors"]}"#;
    h.put_artifact("p/newer.zip", image_artifact(&format!("{uri}@{newer}")))
        .await;
    let mut job = h.new_job();
    h.invoke(h.job_event(&job, "p/newer.zip", Some(params), None))
        .await;
    let mut record = h.job(&job);
    for _ in 0..8 {
        let summary = record["results"][0]["executionDetails"]["summary"]
            .as_str()
            .unwrap_or_default();
        if summary.contains("10% of its traffic") {
            break;
        }
        let token = record["results"][0]["continuationToken"]
            .as_str()
            .expect("in progress")
            .to_owned();
        job = h.new_job();
        h.invoke(h.job_event(&job, "p/newer.zip", Some(params), Some(&token)))
            .await;
        record = h.job(&job);
    }
    assert_eq!(
        record["status"],
        "InProgress",
        "{record:#}\n{}",
        h.process.logs()
    );
    let (primary, weights) = alias().await;
    assert_eq!(primary, first, "the previous version stays primary");
    assert_eq!(weights.len(), 1, "{weights:?}");
    let (new_version, weight) = weights.iter().next().unwrap();
    assert_ne!(new_version, &first);
    assert!((weight - 0.1).abs() < 1e-9, "{weights:?}");

    // Quiet alarm, wait not over: the shift stays where it is.
    let token = record["results"][0]["continuationToken"]
        .as_str()
        .unwrap()
        .to_owned();
    job = h.new_job();
    h.invoke(h.job_event(&job, "p/newer.zip", Some(params), Some(&token)))
        .await;
    record = h.job(&job);
    assert_eq!(record["status"], "InProgress", "{record:#}");
    assert_eq!(alias().await.1.len(), 1);

    cloudwatch(
        &h,
        &[
            "set-alarm-state",
            "--alarm-name",
            "api-errors",
            "--state-value",
            "ALARM",
            "--state-reason",
            "Threshold Crossed: 3 errors",
        ],
    );
    let token = record["results"][0]["continuationToken"]
        .as_str()
        .unwrap()
        .to_owned();
    job = h.new_job();
    h.invoke(h.job_event(&job, "p/newer.zip", Some(params), Some(&token)))
        .await;
    record = h.job(&job);
    assert_eq!(
        record["status"],
        "Failed",
        "{record:#}\n{}",
        h.process.logs()
    );
    let (kind, message) = failure(&record);
    assert_eq!(kind, "JobFailed");
    assert!(
        message.starts_with(
            "stage prod: alarm api-errors (Threshold Crossed: 3 errors) went into ALARM"
        ) && message.contains(&format!("all traffic is back on version {first}")),
        "{message}"
    );
    let (primary, weights) = alias().await;
    assert_eq!(primary, first);
    assert!(weights.is_empty(), "{weights:?}");
    h.assert_logs_clean();
}

/// A service whose deployment alarm goes into ALARM during a rolling deployment: the summary in
/// progress names the alarm, ECS (the emulator) fails the deployment and rolls back, and the job
/// fails naming the alarm, quoting ECS's reason and saying the service was rolled back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ecs_deployment_alarm_in_alarm_fails_the_rollout_and_ecs_rolls_back() {
    use aws_sdk_ecs::types::{DeploymentAlarms, DeploymentConfiguration};
    let h = Harness::start(&[("DEPLOY_TARGET", "ecs:prod/web")]).await;
    let ecs = team_service(&h, true).await;
    cloudwatch(
        &h,
        &[
            "put-metric-alarm",
            "--alarm-name",
            "web-5xx",
            "--namespace",
            "AWS/ApplicationELB",
            "--metric-name",
            "HTTPCode_Target_5XX_Count",
            "--statistic",
            "Sum",
            "--period",
            "60",
            "--evaluation-periods",
            "1",
            "--threshold",
            "1",
            "--comparison-operator",
            "GreaterThanOrEqualToThreshold",
        ],
    );
    let alarms = DeploymentAlarms::builder()
        .alarm_names("web-5xx")
        .enable(true)
        .rollback(true)
        .build()
        .expect("alarms");
    ecs.update_service()
        .cluster("prod")
        .service("web")
        .deployment_configuration(DeploymentConfiguration::builder().alarms(alarms).build())
        .send()
        .await
        .expect("deployment alarms");
    h.put_artifact("p/ok.zip", image_detail_zip()).await;
    let params = r#"{"timeoutSeconds":3600}"#;
    let first = h.new_job();
    h.invoke(h.job_event(&first, "p/ok.zip", Some(params), None))
        .await;
    let job = h.job(&first);
    assert_eq!(job["status"], "InProgress", "{job:#}\n{}", h.process.logs());
    let summary = job["results"][0]["executionDetails"]["summary"]
        .as_str()
        .unwrap_or_default();
    assert!(
        summary.contains("the deployment alarms web-5xx (rollback on)"),
        "{summary}"
    );
    let token = job["results"][0]["continuationToken"]
        .as_str()
        .expect("continuation")
        .to_owned();
    cloudwatch(
        &h,
        &[
            "set-alarm-state",
            "--alarm-name",
            "web-5xx",
            "--state-value",
            "ALARM",
            "--state-reason",
            "5xx above 1",
        ],
    );
    let next = h.new_job();
    h.invoke(h.job_event(&next, "p/ok.zip", Some(params), Some(&token)))
        .await;
    let job = h.job(&next);
    assert_eq!(job["status"], "Failed", "{job:#}\n{}", h.process.logs());
    let (kind, message) = failure(&job);
    assert_eq!(kind, "JobFailed");
    for needle in [
        "ECS failed the deployment on its deployment alarms (web-5xx)",
        "alarm web-5xx is in ALARM state",
        "ECS rolled the service back to web:1",
    ] {
        assert!(message.contains(needle), "{needle}: {message}");
    }
    let running = ecs
        .describe_services()
        .cluster("prod")
        .services("web")
        .send()
        .await
        .expect("describe");
    let running = running.services()[0].task_definition().unwrap_or_default();
    assert!(running.ends_with("/web:1"), "{running}");
    h.assert_logs_clean();
}

/// A cluster `prod` with a one-container task definition `web:1` and service `web` made by
/// `create`, as a team with another kind of service would have it.
async fn plain_service(
    h: &Harness,
    create: impl FnOnce(
        aws_sdk_ecs::operation::create_service::builders::CreateServiceFluentBuilder,
    )
        -> aws_sdk_ecs::operation::create_service::builders::CreateServiceFluentBuilder,
) -> aws_sdk_ecs::Client {
    use aws_sdk_ecs::types::ContainerDefinition;
    let ecs = aws_sdk_ecs::Client::new(&h.emu.sdk_config().await);
    ecs.create_cluster()
        .cluster_name("prod")
        .send()
        .await
        .expect("cluster");
    ecs.register_task_definition()
        .family("web")
        .container_definitions(
            ContainerDefinition::builder()
                .name("app")
                .image("123456789012.dkr.ecr.us-east-1.amazonaws.com/app-dev:old")
                .memory(256)
                .build(),
        )
        .send()
        .await
        .expect("task definition");
    let request = ecs
        .create_service()
        .cluster("prod")
        .service_name("web")
        .task_definition("web:1")
        .desired_count(2);
    create(request).send().await.expect("service");
    ecs
}

/// ECS answers no `rolloutState` for a service behind a Classic Load Balancer (API Reference,
/// Deployment: "only for services that use the rolling update (ECS) deployment type that aren't
/// behind a Classic Load Balancer"); the rollout ends when the service is stable, as botocore's
/// ServicesStable waiter judges it, instead of being polled until CodePipeline gives up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_behind_a_classic_load_balancer_completes_without_a_rollout_state() {
    use aws_sdk_ecs::types::LoadBalancer;
    let h = Harness::start(&[("DEPLOY_TARGET", "ecs:prod/web")]).await;
    let clb = LoadBalancer::builder()
        .load_balancer_name("web-clb")
        .container_name("app")
        .container_port(80)
        .build();
    let ecs = plain_service(&h, |create| create.load_balancers(clb)).await;
    h.put_artifact("p/ok.zip", image_detail_zip()).await;
    let first = h.new_job();
    h.invoke(h.job_event(&first, "p/ok.zip", None, None)).await;
    let mut job = h.job(&first);
    assert_eq!(job["status"], "InProgress", "{job:#}\n{}", h.process.logs());
    let described = ecs
        .describe_services()
        .cluster("prod")
        .services("web")
        .send()
        .await
        .expect("describe");
    let deployments = described.services()[0].deployments();
    assert!(
        deployments.iter().all(|d| d.rollout_state().is_none()),
        "{deployments:?}"
    );
    for _ in 0..8 {
        let Some(token) = job["results"][0]["continuationToken"].as_str() else {
            break;
        };
        let next = h.new_job();
        h.invoke(h.job_event(&next, "p/ok.zip", None, Some(token)))
            .await;
        job = h.job(&next);
    }
    assert_eq!(job["status"], "Succeeded", "{job:#}\n{}", h.process.logs());
    let summary = job["results"][0]["executionDetails"]["summary"]
        .as_str()
        .unwrap_or_default();
    assert!(summary.contains("web:2"), "{summary}");
    h.assert_logs_clean();
}

/// A service deployed by CodeDeploy takes no new task definition from UpdateService (API
/// Reference, UpdateService); the job fails before anything is registered, saying what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_deployed_by_codedeploy_is_refused_before_a_revision_is_registered() {
    use aws_sdk_ecs::types::{DeploymentController, DeploymentControllerType};
    let h = Harness::start(&[("DEPLOY_TARGET", "ecs:prod/web")]).await;
    let controller = DeploymentController::builder()
        .r#type(DeploymentControllerType::CodeDeploy)
        .build()
        .expect("controller");
    let ecs = plain_service(&h, |create| create.deployment_controller(controller)).await;
    h.put_artifact("p/ok.zip", image_detail_zip()).await;
    let job_id = h.new_job();
    h.invoke(h.job_event(&job_id, "p/ok.zip", None, None)).await;
    let job = h.job(&job_id);
    assert_eq!(job["status"], "Failed", "{job:#}\n{}", h.process.logs());
    let (kind, message) = failure(&job);
    assert_eq!(kind, "ConfigurationError");
    assert!(message.contains("CODE_DEPLOY"), "{message}");
    assert_eq!(web_revisions(&ecs).await, 1);
}
