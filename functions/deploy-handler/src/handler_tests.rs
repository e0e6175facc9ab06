//! Handler tests over fakes of every dependency.
#![allow(clippy::unwrap_used)]

use std::sync::Mutex;

use lambda_runtime::Context;

use super::*;
use crate::BoxFuture;
use crate::artifact::ArtifactError;
use crate::artifact::tests::{IMAGE, image_detail_zip, zip_of};
use crate::delivery::secret::{StaticSecret, WebhookSecret};
use crate::delivery::webhook::{SIGNATURE_HEADER, signature};
use crate::event::tests::sample_event;
use crate::event::{ArtifactCredentials, EncryptionKey, S3Location};
use crate::report::MAX_CONTINUATION_TOKEN_CHARS;
use crate::rollout::{self, RolloutState};
use crate::transport::tests::{FakeTransport, response};

const JOB: &str = "11111111-abcd-1111-abcd-111111abcdef";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Put {
    Success(SuccessReport),
    Failure(FailureReport),
}

struct FakeReporter {
    puts: Mutex<Vec<Put>>,
    answer: Mutex<Option<Result<ReportOutcome, String>>>,
}

impl FakeReporter {
    fn new() -> Self {
        Self {
            puts: Mutex::default(),
            answer: Mutex::new(None),
        }
    }
    fn answering(answer: Result<ReportOutcome, String>) -> Self {
        Self {
            puts: Mutex::default(),
            answer: Mutex::new(Some(answer)),
        }
    }
    fn answer(&self, job_id: &str) -> Result<ReportOutcome, ReportError> {
        match self.answer.lock().unwrap().clone() {
            None => Ok(ReportOutcome::Accepted),
            Some(Ok(outcome)) => Ok(outcome),
            Some(Err(detail)) => Err(ReportError {
                job_id: job_id.to_owned(),
                detail,
            }),
        }
    }
    fn only_put(&self) -> Put {
        let puts = self.puts.lock().unwrap();
        assert_eq!(puts.len(), 1, "expected exactly one report, got {puts:?}");
        puts[0].clone()
    }
}

impl JobReporter for FakeReporter {
    fn succeed<'a>(
        &'a self,
        job_id: &'a str,
        report: SuccessReport,
    ) -> BoxFuture<'a, Result<ReportOutcome, ReportError>> {
        self.puts.lock().unwrap().push(Put::Success(report));
        let answer = self.answer(job_id);
        Box::pin(async move { answer })
    }
    fn fail<'a>(
        &'a self,
        job_id: &'a str,
        report: FailureReport,
    ) -> BoxFuture<'a, Result<ReportOutcome, ReportError>> {
        self.puts.lock().unwrap().push(Put::Failure(report));
        let answer = self.answer(job_id);
        Box::pin(async move { answer })
    }
    fn pipeline_context<'a>(&'a self, _job_id: &'a str) -> BoxFuture<'a, Option<PipelineContext>> {
        Box::pin(async {
            Some(PipelineContext {
                pipeline_name: Some("pipeline-dev".into()),
                execution_id: Some("exec-1".into()),
            })
        })
    }
}

enum StoreAnswer {
    Bytes(Vec<u8>),
    Error(ArtifactError),
    Hang,
}

struct FakeStore(StoreAnswer);

impl ArtifactStore for FakeStore {
    fn fetch<'a>(
        &'a self,
        location: &'a S3Location,
        credentials: &'a ArtifactCredentials,
        _key: Option<&'a EncryptionKey>,
        _deadline: Instant,
    ) -> BoxFuture<'a, Result<Vec<u8>, ArtifactError>> {
        assert_eq!(location.bucket_name, "artifacts-111111111111-dev");
        assert_eq!(
            credentials.access_key_id, "AKIASECRETACCESSKEYID",
            "must use the job's artifact credentials"
        );
        Box::pin(async move {
            match &self.0 {
                StoreAnswer::Bytes(b) => Ok(b.clone()),
                StoreAnswer::Error(e) => Err(e.clone()),
                StoreAnswer::Hang => std::future::pending().await,
            }
        })
    }
}

#[derive(Default)]
struct FakePublisher {
    published: Mutex<Vec<(String, String)>>,
    fail: bool,
}

impl EventPublisher for FakePublisher {
    fn publish<'a>(
        &'a self,
        bus: &'a str,
        detail: &'a str,
    ) -> BoxFuture<'a, Result<(), TargetError>> {
        self.published
            .lock()
            .unwrap()
            .push((bus.to_owned(), detail.to_owned()));
        let fail = self.fail;
        Box::pin(async move {
            if fail {
                Err(TargetError::Failed(
                    "EventBridge rejected the deployment event".into(),
                ))
            } else {
                Ok(())
            }
        })
    }
}

struct Fixture {
    reporter: Arc<FakeReporter>,
    transport: Arc<FakeTransport>,
    publisher: Arc<FakePublisher>,
    deps: Deps,
}

fn fixture(
    store: StoreAnswer,
    transport: FakeTransport,
    settings: Settings,
    secret: Option<&str>,
) -> Fixture {
    fixture_with(
        FakeReporter::new(),
        store,
        transport,
        FakePublisher::default(),
        settings,
        secret,
    )
}

fn fixture_with(
    reporter: FakeReporter,
    store: StoreAnswer,
    transport: FakeTransport,
    publisher: FakePublisher,
    settings: Settings,
    secret: Option<&str>,
) -> Fixture {
    let reporter = Arc::new(reporter);
    let transport = Arc::new(transport);
    let publisher = Arc::new(publisher);
    let deps = Deps {
        reporter: reporter.clone(),
        artifacts: Arc::new(FakeStore(store)),
        http: transport.clone(),
        webhook_secret: secret
            .map(|s| Arc::new(StaticSecret(WebhookSecret::new(s))) as Arc<dyn SecretSource>),
        events: publisher.clone(),
        rollout: Arc::new(rollout::fake::FakeApi::default()),
        registry: Arc::new(crate::image_platform::fake::FakeRegistry::single(
            "linux", "amd64",
        )),
        settings,
    };
    Fixture {
        reporter,
        transport,
        publisher,
        deps,
    }
}

fn settings() -> Settings {
    Settings {
        deadline_margin: DEFAULT_DEADLINE_MARGIN,
        pipeline_env: Some("dev".into()),
        ..Settings::default()
    }
}

fn webhook_settings() -> Settings {
    Settings {
        webhook_url: Some("http://127.0.0.1:9/hook".into()),
        ..settings()
    }
}

fn context_with_remaining(remaining: Duration) -> Context {
    let mut context = Context::default();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    context.deadline = u64::try_from((now + remaining).as_millis()).unwrap();
    context
}

fn invoke(event: serde_json::Value) -> LambdaEvent<serde_json::Value> {
    LambdaEvent::new(event, context_with_remaining(Duration::from_secs(60)))
}

fn expect_failure(put: Put, kind: FailureKind, needle: &str) -> FailureReport {
    match put {
        Put::Failure(report) => {
            assert_eq!(report.kind, kind, "{report:?}");
            assert!(
                report.message.contains(needle),
                "`{needle}` not in: {}",
                report.message
            );
            report
        }
        other => panic!("expected a {kind:?} failure, got {other:?}"),
    }
}

#[tokio::test]
async fn image_detail_without_targets_is_recorded_only_with_all_variables() {
    let f = fixture(
        StoreAnswer::Bytes(image_detail_zip(IMAGE)),
        FakeTransport::default(),
        settings(),
        None,
    );
    let outcome = handle(invoke(sample_event(None, None)), &f.deps)
        .await
        .unwrap();
    assert_eq!(outcome.result, JobResult::Succeeded);
    let Put::Success(SuccessReport::Final {
        summary,
        output_variables,
        external_execution_id,
    }) = f.reporter.only_put()
    else {
        panic!("expected a final success");
    };
    assert!(summary.contains("recorded only"), "{summary}");
    assert_eq!(external_execution_id, JOB);
    assert_eq!(output_variables["IMAGE_URI"], IMAGE);
    assert_eq!(
        output_variables["IMAGE_DIGEST"],
        IMAGE.split_once('@').unwrap().1
    );
    assert_eq!(
        output_variables["COMMIT_ID"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    assert_eq!(output_variables["DEPLOYMENT_ID"], JOB);
    assert!(
        !output_variables.contains_key("IMAGE_TAG"),
        "the digest-only URI has no tag"
    );
}

#[tokio::test]
async fn image_definitions_via_signed_webhook_and_eventbridge() {
    let defs =
        br#"[{"name":"api","imageUri":"123456789012.dkr.ecr.us-east-1.amazonaws.com/api-dev:v7"}]"#;
    let settings = Settings {
        event_bus: Some("default".into()),
        ..webhook_settings()
    };
    let f = fixture(
        StoreAnswer::Bytes(zip_of(&[("imagedefinitions.json", defs)])),
        FakeTransport::new(vec![response(200, None, "ok")]),
        settings,
        Some("hook-secret"),
    );
    let event = sample_event(Some(r#"{"service":"api","environment":"staging"}"#), None);
    handle(invoke(event), &f.deps).await.unwrap();

    let sent = f.transport.sent();
    assert_eq!(sent.len(), 1);
    let (_, header) = sent[0]
        .headers
        .iter()
        .find(|(n, _)| *n == SIGNATURE_HEADER)
        .unwrap();
    assert_eq!(header, &signature(b"hook-secret", &sent[0].body));
    let body: DeploymentEvent = serde_json::from_slice(&sent[0].body).unwrap();
    assert_eq!(body.deployment_id, JOB);
    assert_eq!(body.pipeline.as_deref(), Some("pipeline-dev"));
    assert_eq!(body.execution_id.as_deref(), Some("exec-1"));
    assert_eq!(body.image.repository, "api-dev");
    assert_eq!(body.image.tag.as_deref(), Some("v7"));
    assert_eq!(body.environment.as_deref(), Some("staging"));
    assert_eq!(
        body.commit.as_deref(),
        Some("0123456789abcdef0123456789abcdef01234567")
    );

    let published = f.publisher.published.lock().unwrap().clone();
    assert_eq!(published.len(), 1);
    assert_eq!(published[0].0, "default");
    assert_eq!(
        serde_json::from_str::<DeploymentEvent>(&published[0].1).unwrap(),
        body
    );

    let Put::Success(SuccessReport::Final {
        summary,
        output_variables,
        ..
    }) = f.reporter.only_put()
    else {
        panic!("expected a final success");
    };
    assert_eq!(output_variables["IMAGE_TAG"], "v7");
    assert!(!output_variables.contains_key("IMAGE_DIGEST"));
    assert!(
        summary.contains("webhook http://127.0.0.1:9/hook")
            && summary.contains("EventBridge bus default"),
        "{summary}"
    );
}

#[tokio::test]
async fn each_failure_maps_to_its_failure_type() {
    let artifact_failures = [
        (
            ArtifactError::NotFound {
                bucket: "b".into(),
                key: "k".into(),
                detail: "NoSuchKey".into(),
            },
            FailureKind::RevisionUnavailable,
            "does not exist",
        ),
        (
            ArtifactError::AccessDenied {
                bucket: "b".into(),
                key: "k".into(),
                detail: "AccessDenied".into(),
            },
            FailureKind::PermissionError,
            "s3:GetObject",
        ),
        (
            ArtifactError::KmsAccessDenied {
                bucket: "b".into(),
                key: "k".into(),
                key_id: "kid".into(),
                detail: "x".into(),
            },
            FailureKind::PermissionError,
            "kms:Decrypt",
        ),
    ];
    for (error, kind, needle) in artifact_failures {
        let f = fixture(
            StoreAnswer::Error(error),
            FakeTransport::default(),
            settings(),
            None,
        );
        let outcome = handle(invoke(sample_event(None, None)), &f.deps)
            .await
            .unwrap();
        assert_eq!(outcome.result, JobResult::Failed);
        expect_failure(f.reporter.only_put(), kind, needle);
    }

    let cases: [(StoreAnswer, Option<&str>, Settings, FailureKind, &str); 5] = [
        (
            StoreAnswer::Bytes(b"not a zip".to_vec()),
            None,
            settings(),
            FailureKind::JobFailed,
            "not a zip archive",
        ),
        (
            StoreAnswer::Bytes(zip_of(&[("x.txt", b"x")])),
            None,
            settings(),
            FailureKind::JobFailed,
            "neither imageDetail.json",
        ),
        (
            StoreAnswer::Bytes(image_detail_zip("nginx:1")),
            None,
            settings(),
            FailureKind::JobFailed,
            "not an ECR image URI",
        ),
        (
            StoreAnswer::Bytes(image_detail_zip(IMAGE)),
            Some(r#"{"env":"dev"}"#),
            settings(),
            FailureKind::ConfigurationError,
            "unknown field `env`",
        ),
        (
            StoreAnswer::Bytes(image_detail_zip(IMAGE)),
            None,
            webhook_settings(),
            FailureKind::ConfigurationError,
            "DEPLOY_WEBHOOK_SECRET",
        ),
    ];
    for (store, params, settings, kind, needle) in cases {
        let f = fixture(store, FakeTransport::default(), settings, None);
        handle(invoke(sample_event(params, None)), &f.deps)
            .await
            .unwrap();
        expect_failure(f.reporter.only_put(), kind, needle);
    }

    let insecure = Settings {
        webhook_url: Some("http://deploy.example.com/hook".into()),
        ..settings()
    };
    let f = fixture(
        StoreAnswer::Bytes(image_detail_zip(IMAGE)),
        FakeTransport::default(),
        insecure,
        Some("k"),
    );
    handle(invoke(sample_event(None, None)), &f.deps)
        .await
        .unwrap();
    expect_failure(
        f.reporter.only_put(),
        FailureKind::ConfigurationError,
        "plain http",
    );
}

#[tokio::test]
async fn missing_input_artifact_and_target_failures() {
    let mut event = sample_event(None, None);
    event["CodePipeline.job"]["data"]["inputArtifacts"] = serde_json::json!([]);
    let f = fixture(
        StoreAnswer::Bytes(vec![]),
        FakeTransport::default(),
        settings(),
        None,
    );
    handle(invoke(event), &f.deps).await.unwrap();
    expect_failure(
        f.reporter.only_put(),
        FailureKind::ConfigurationError,
        "no input artifact",
    );

    let f = fixture(
        StoreAnswer::Bytes(image_detail_zip(IMAGE)),
        FakeTransport::new(vec![response(422, None, "image not allowed")]),
        webhook_settings(),
        Some("k"),
    );
    handle(invoke(sample_event(None, None)), &f.deps)
        .await
        .unwrap();
    expect_failure(f.reporter.only_put(), FailureKind::JobFailed, "HTTP 422");

    let publisher = FakePublisher {
        fail: true,
        ..FakePublisher::default()
    };
    let f = fixture_with(
        FakeReporter::new(),
        StoreAnswer::Bytes(image_detail_zip(IMAGE)),
        FakeTransport::default(),
        publisher,
        Settings {
            event_bus: Some("bus".into()),
            ..settings()
        },
        None,
    );
    handle(invoke(sample_event(None, None)), &f.deps)
        .await
        .unwrap();
    expect_failure(
        f.reporter.only_put(),
        FailureKind::JobFailed,
        "EventBridge rejected",
    );
}

#[tokio::test]
async fn redelivered_job_is_success_and_report_errors_surface() {
    let f = fixture_with(
        FakeReporter::answering(Ok(ReportOutcome::AlreadyFinished)),
        StoreAnswer::Bytes(image_detail_zip(IMAGE)),
        FakeTransport::default(),
        FakePublisher::default(),
        settings(),
        None,
    );
    let outcome = handle(invoke(sample_event(None, None)), &f.deps)
        .await
        .unwrap();
    assert_eq!(outcome.report, ReportOutcome::AlreadyFinished);
    assert_eq!(outcome.result, JobResult::Succeeded);

    let f = fixture_with(
        FakeReporter::answering(Err("throttled".into())),
        StoreAnswer::Bytes(image_detail_zip(IMAGE)),
        FakeTransport::default(),
        FakePublisher::default(),
        settings(),
        None,
    );
    let err = handle(invoke(sample_event(None, None)), &f.deps)
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::Report(_)), "{err}");
    assert_eq!(Diagnostic::from(err).error_type, "JobReportFailed");
}

#[tokio::test]
async fn not_a_job_is_an_error_and_malformed_job_is_reported() {
    let f = fixture(
        StoreAnswer::Hang,
        FakeTransport::default(),
        settings(),
        None,
    );
    let err = handle(invoke(serde_json::json!({"hello": "world"})), &f.deps)
        .await
        .unwrap_err();
    assert!(matches!(err, HandlerError::NotAJob(_)));
    assert!(f.reporter.puts.lock().unwrap().is_empty());

    let malformed =
        serde_json::json!({"CodePipeline.job": {"id": "job-9", "data": {"inputArtifacts": 5}}});
    handle(invoke(malformed), &f.deps).await.unwrap();
    expect_failure(f.reporter.only_put(), FailureKind::JobFailed, "malformed");
}

#[tokio::test]
async fn long_deployment_continuation_round_trip() {
    let f = fixture(
        StoreAnswer::Bytes(image_detail_zip(IMAGE)),
        FakeTransport::new(vec![
            response(202, Some("/deployments/1"), ""),
            response(
                200,
                None,
                r#"{"status":"IN_PROGRESS","message":"2 of 3 tasks"}"#,
            ),
            response(200, None, r#"{"status":"SUCCEEDED"}"#),
        ]),
        webhook_settings(),
        Some("k"),
    );
    let first = handle(invoke(sample_event(None, None)), &f.deps)
        .await
        .unwrap();
    assert_eq!(first.result, JobResult::InProgress);
    let token = match f.reporter.puts.lock().unwrap()[0].clone() {
        Put::Success(SuccessReport::Continue {
            continuation_token, ..
        }) => continuation_token,
        other => panic!("expected a continuation, got {other:?}"),
    };
    let state: ContinuationState = serde_json::from_str(&token).unwrap();
    assert_eq!(state.location, "http://127.0.0.1:9/deployments/1");
    assert_eq!(state.deployment_id, JOB);
    assert!(token.len() <= MAX_CONTINUATION_TOKEN_CHARS);

    let second = handle(invoke(sample_event(None, Some(&token))), &f.deps)
        .await
        .unwrap();
    assert_eq!(second.result, JobResult::InProgress);
    assert!(
        second.summary.contains("2 of 3 tasks"),
        "{}",
        second.summary
    );
    let third = handle(invoke(sample_event(None, Some(&token))), &f.deps)
        .await
        .unwrap();
    assert_eq!(third.result, JobResult::Succeeded);

    let puts = f.reporter.puts.lock().unwrap().clone();
    assert!(
        matches!(&puts[1], Put::Success(SuccessReport::Continue { continuation_token, .. }) if continuation_token == &token)
    );
    match &puts[2] {
        Put::Success(SuccessReport::Final {
            output_variables, ..
        }) => assert_eq!(output_variables["IMAGE_URI"], IMAGE),
        other => panic!("expected the final success, got {other:?}"),
    }
    let sent = f.transport.sent();
    assert_eq!(sent[1].method, hyper::Method::GET);
    assert_eq!(sent[1].uri.to_string(), "http://127.0.0.1:9/deployments/1");
    assert!(
        sent[1]
            .headers
            .contains(&(SIGNATURE_HEADER, signature(b"k", b"")))
    );
}

#[tokio::test]
async fn long_deployment_failure_and_timeout() {
    let state = ContinuationState {
        location: "http://127.0.0.1:9/deployments/1".into(),
        deployment_id: JOB.into(),
        started_at: "2020-01-01T00:00:00Z".into(),
    };
    let token = continuation_token(&state).unwrap();
    let f = fixture(
        StoreAnswer::Bytes(image_detail_zip(IMAGE)),
        FakeTransport::new(vec![
            response(
                200,
                None,
                r#"{"status":"FAILED","message":"health check failed"}"#,
            ),
            response(200, None, r#"{"status":"IN_PROGRESS"}"#),
        ]),
        webhook_settings(),
        Some("k"),
    );
    handle(invoke(sample_event(None, Some(&token))), &f.deps)
        .await
        .unwrap();
    expect_failure(
        f.reporter.only_put(),
        FailureKind::JobFailed,
        "health check failed",
    );
    f.reporter.puts.lock().unwrap().clear();

    handle(
        invoke(sample_event(Some(r#"{"timeoutSeconds":60}"#), Some(&token))),
        &f.deps,
    )
    .await
    .unwrap();
    expect_failure(
        f.reporter.only_put(),
        FailureKind::JobFailed,
        "timeoutSeconds 60",
    );
    f.reporter.puts.lock().unwrap().clear();

    handle(invoke(sample_event(None, Some("not-json"))), &f.deps)
        .await
        .unwrap();
    expect_failure(
        f.reporter.only_put(),
        FailureKind::JobFailed,
        "continuation token",
    );

    let long = ContinuationState {
        location: format!("http://127.0.0.1:9/{}", "x".repeat(2100)),
        ..state
    };
    assert!(
        continuation_token(&long)
            .unwrap_err()
            .message
            .contains("too long")
    );
}

#[tokio::test]
async fn stops_before_the_deadline_margin() {
    let f = fixture(
        StoreAnswer::Hang,
        FakeTransport::default(),
        Settings {
            deadline_margin: Duration::from_millis(200),
            ..settings()
        },
        None,
    );
    let started = std::time::Instant::now();
    let event = LambdaEvent::new(
        sample_event(None, None),
        context_with_remaining(Duration::from_millis(500)),
    );
    let outcome = handle(event, &f.deps).await.unwrap();
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(250) && elapsed < Duration::from_millis(490),
        "{elapsed:?}"
    );
    assert_eq!(outcome.result, JobResult::Failed);
    expect_failure(
        f.reporter.only_put(),
        FailureKind::JobFailed,
        "stopped 200 ms before its Lambda deadline",
    );

    // A long deployment being polled keeps going instead of failing.
    let f = fixture(
        StoreAnswer::Hang,
        FakeTransport::default(),
        Settings {
            deadline_margin: Duration::from_millis(200),
            ..settings()
        },
        None,
    );
    let event = LambdaEvent::new(
        sample_event(None, Some("tok")),
        context_with_remaining(Duration::from_millis(300)),
    );
    let outcome = handle(event, &f.deps).await.unwrap();
    assert_eq!(outcome.result, JobResult::InProgress);
    assert!(
        matches!(f.reporter.only_put(), Put::Success(SuccessReport::Continue { continuation_token, .. }) if continuation_token == "tok")
    );

    // Already past the margin: report at once.
    let f = fixture(
        StoreAnswer::Hang,
        FakeTransport::default(),
        settings(),
        None,
    );
    let event = LambdaEvent::new(
        sample_event(None, None),
        context_with_remaining(Duration::from_millis(1000)),
    );
    assert_eq!(
        handle(event, &f.deps).await.unwrap().result,
        JobResult::Failed
    );
}

#[test]
fn output_variables_skip_unknown_values() {
    let image = ImageRef::parse("123456789012.dkr.ecr.us-east-1.amazonaws.com/app:1").unwrap();
    let vars = output_variables(&image, None, "job");
    assert_eq!(
        vars.keys().map(String::as_str).collect::<Vec<_>>(),
        ["DEPLOYMENT_ID", "IMAGE_TAG", "IMAGE_URI"]
    );
}

// ---- rollouts (DEPLOY_TARGET) ----

fn rollout_fixture(
    api: rollout::fake::FakeApi,
    settings: Settings,
) -> (Fixture, Arc<rollout::fake::FakeApi>) {
    let api = Arc::new(api);
    let mut f = fixture(
        StoreAnswer::Bytes(image_detail_zip(IMAGE)),
        FakeTransport::default(),
        settings,
        None,
    );
    f.deps.rollout = api.clone();
    (f, api)
}

fn lambda_target() -> Settings {
    Settings {
        deploy_target: Some("lambda:api:live".into()),
        ..settings()
    }
}

fn image_function(status: &str, digest: &str) -> serde_json::Value {
    serde_json::json!({
        "Configuration": {"PackageType": "Image", "LastUpdateStatus": status, "CodeSha256": "c0de"},
        "Code": {"ResolvedImageUri": format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/app-dev@{digest}")}
    })
}

#[tokio::test]
async fn a_rollout_starts_with_a_continuation_token_and_finishes_with_the_revisions() {
    let digest = IMAGE.split_once('@').unwrap().1;
    let api = rollout::fake::FakeApi::default();
    api.answer(
        "GET /2015-03-31/functions/api",
        Ok(image_function("Successful", "sha256:00")),
    )
    .answer(
        "GET /2015-03-31/functions/api/aliases/live",
        Ok(serde_json::json!({"FunctionVersion": "7"})),
    )
    .answer(
        "GET /2015-03-31/functions/api/versions",
        Ok(serde_json::json!({"Versions": []})),
    )
    .answer(
        "PUT /2015-03-31/functions/api/code",
        Ok(serde_json::json!({})),
    );
    let (f, api) = rollout_fixture(api, lambda_target());
    let outcome = handle(invoke(sample_event(None, None)), &f.deps)
        .await
        .unwrap();
    assert_eq!(outcome.result, JobResult::InProgress);
    let Put::Success(SuccessReport::Continue {
        continuation_token,
        summary,
        ..
    }) = f.reporter.only_put()
    else {
        panic!("expected a continuation");
    };
    assert!(
        summary.contains("alias live stays on version 7"),
        "{summary}"
    );
    assert_eq!(
        api.calls_to("PUT /2015-03-31/functions/api/code")[0]["ImageUri"],
        IMAGE,
        "the image is pinned by digest"
    );

    // CodePipeline re-invokes with the token: one poll, done.
    let api = rollout::fake::FakeApi::default();
    api.answer(
        "GET /2015-03-31/functions/api",
        Ok(image_function("Successful", digest)),
    )
    .answer(
        "POST /2015-03-31/functions/api/versions",
        Ok(serde_json::json!({"Version": "8"})),
    )
    .answer(
        "PUT /2015-03-31/functions/api/aliases/live",
        Ok(serde_json::json!({})),
    );
    let (f, _) = rollout_fixture(api, lambda_target());
    // Each continuation is a job of its own id; the deployment keeps the first job's.
    let mut continued = sample_event(None, Some(&continuation_token));
    continued["CodePipeline.job"]["id"] = "22222222-abcd-2222-abcd-222222abcdef".into();
    let outcome = handle(invoke(continued), &f.deps).await.unwrap();
    assert_eq!(outcome.result, JobResult::Succeeded);
    let Put::Success(SuccessReport::Final {
        output_variables, ..
    }) = f.reporter.only_put()
    else {
        panic!("expected a final success");
    };
    assert_eq!(output_variables["TARGET"], "lambda:api:live");
    assert_eq!(output_variables["NEW_REVISION"], "8");
    assert_eq!(output_variables["PREVIOUS_REVISION"], "7");
    assert_eq!(output_variables["IMAGE_DIGEST"], digest);
    assert_eq!(output_variables["DEPLOYMENT_ID"], JOB);
}

#[tokio::test]
async fn a_rollout_past_timeout_seconds_fails_and_says_it_goes_on() {
    let api = rollout::fake::FakeApi::default();
    api.answer(
        "GET /2015-03-31/functions/api",
        Ok(image_function("InProgress", "sha256:00")),
    );
    let (f, _) = rollout_fixture(api, lambda_target());
    let token = serde_json::to_string(&RolloutState::Lambda {
        function: "api".into(),
        alias: Some("live".into()),
        digest: "sha256:00".into(),
        previous_version: Some("7".into()),
        started_at: "2020-01-01T00:00:00Z".into(),
        deployment_id: JOB.into(),
        shifting: None,
    })
    .unwrap();
    let event = sample_event(Some(r#"{"timeoutSeconds": 600}"#), Some(&token));
    handle(invoke(event), &f.deps).await.unwrap();
    let report = expect_failure(
        f.reporter.only_put(),
        FailureKind::JobFailed,
        "beyond its bound of 600 s",
    );
    assert!(
        report
            .message
            .contains("still running: Updating Lambda function api to")
            && report.message.contains("LastUpdateStatus InProgress"),
        "{}",
        report.message
    );

    // Without timeoutSeconds a rollout still has a bound, below CodePipeline's 24 hours.
    let api = rollout::fake::FakeApi::default();
    api.answer(
        "GET /2015-03-31/functions/api",
        Ok(image_function("InProgress", "sha256:00")),
    );
    let (f, _) = rollout_fixture(api, lambda_target());
    handle(invoke(sample_event(None, Some(&token))), &f.deps)
        .await
        .unwrap();
    expect_failure(
        f.reporter.only_put(),
        FailureKind::JobFailed,
        "beyond its bound of 3600 s",
    );
}

#[tokio::test]
async fn a_bad_target_or_a_target_with_a_webhook_is_a_configuration_error() {
    let cases = [
        (
            Settings {
                deploy_target: Some("kubernetes:web".into()),
                ..settings()
            },
            "DEPLOY_TARGET: deploy target `kubernetes:web` has no kind",
        ),
        (
            Settings {
                deploy_target: Some("ecs:prod/web".into()),
                ..webhook_settings()
            },
            "both a deploy target (ecs:prod/web) and a deployment webhook",
        ),
    ];
    for (settings, needle) in cases {
        let (f, api) = rollout_fixture(rollout::fake::FakeApi::default(), settings);
        handle(invoke(sample_event(None, None)), &f.deps)
            .await
            .unwrap();
        expect_failure(
            f.reporter.only_put(),
            FailureKind::ConfigurationError,
            needle,
        );
        assert!(api.calls.lock().unwrap().is_empty(), "nothing was called");
    }
}

#[tokio::test]
async fn a_stage_s_action_names_its_own_target_over_deploy_target() {
    let api = rollout::fake::FakeApi::default();
    api.answer(
        "GET /2015-03-31/functions/api",
        Ok(image_function("Successful", "sha256:00")),
    )
    .answer(
        "GET /2015-03-31/functions/api/aliases/live",
        Ok(serde_json::json!({"FunctionVersion": "7"})),
    )
    .answer(
        "GET /2015-03-31/functions/api/versions",
        Ok(serde_json::json!({"Versions": []})),
    )
    .answer(
        "PUT /2015-03-31/functions/api/code",
        Ok(serde_json::json!({})),
    );
    // The function's DEPLOY_TARGET names another service: the action's target wins.
    let elsewhere = Settings {
        deploy_target: Some("ecs:other/web".into()),
        ..settings()
    };
    let (f, api) = rollout_fixture(api, elsewhere);
    let params = r#"{"environment":"dev","stage":"prod","target":"lambda:api:live"}"#;
    handle(invoke(sample_event(Some(params), None)), &f.deps)
        .await
        .unwrap();
    assert_eq!(api.calls_to("PUT /2015-03-31/functions/api/code").len(), 1);
    let Put::Success(SuccessReport::Continue { summary, .. }) = f.reporter.only_put() else {
        panic!("the rollout goes on with a continuation")
    };
    assert!(
        summary.starts_with("Stage prod: Updating Lambda function api"),
        "{summary}"
    );

    // A bad target in the action fails the job, naming where it came from; nothing is called.
    let (f, api) = rollout_fixture(rollout::fake::FakeApi::default(), settings());
    let params = r#"{"stage":"prod","target":"kubernetes:web"}"#;
    handle(invoke(sample_event(Some(params), None)), &f.deps)
        .await
        .unwrap();
    expect_failure(
        f.reporter.only_put(),
        FailureKind::ConfigurationError,
        "stage prod: UserParameters target: deploy target `kubernetes:web` has no kind",
    );
    assert!(api.calls.lock().unwrap().is_empty(), "nothing was called");
}

#[tokio::test]
async fn a_stage_s_final_success_exports_its_name() {
    let f = fixture(
        StoreAnswer::Bytes(image_detail_zip(IMAGE)),
        FakeTransport::default(),
        settings(),
        None,
    );
    let params = r#"{"environment":"dev","stage":"staging"}"#;
    handle(invoke(sample_event(Some(params), None)), &f.deps)
        .await
        .unwrap();
    let Put::Success(SuccessReport::Final {
        summary,
        output_variables,
        ..
    }) = f.reporter.only_put()
    else {
        panic!("a recorded-only job succeeds at once")
    };
    assert!(
        summary.starts_with("Stage staging: Deployment of"),
        "{summary}"
    );
    assert_eq!(output_variables["STAGE"], "staging");

    // Without a stage: no STAGE variable, the summary as before.
    let f = fixture(
        StoreAnswer::Bytes(image_detail_zip(IMAGE)),
        FakeTransport::default(),
        settings(),
        None,
    );
    handle(invoke(sample_event(None, None)), &f.deps)
        .await
        .unwrap();
    let Put::Success(SuccessReport::Final {
        summary,
        output_variables,
        ..
    }) = f.reporter.only_put()
    else {
        panic!("a recorded-only job succeeds at once")
    };
    assert!(summary.starts_with("Deployment of"), "{summary}");
    assert!(!output_variables.contains_key("STAGE"));
}

// ---- the image's architecture, from ECR when the artifact does not say ----

#[tokio::test]
async fn an_unreadable_registry_fails_the_job_naming_the_grant_before_any_rollout_call() {
    let (mut f, api) = rollout_fixture(rollout::fake::FakeApi::default(), lambda_target());
    f.deps.registry = Arc::new(crate::image_platform::fake::FakeRegistry {
        manifest: Some(Err(RegistryError::Denied {
            action: "ecr:BatchGetImage",
            repository: "app-dev".to_owned(),
            message: "not authorized to perform: ecr:BatchGetImage".to_owned(),
        })),
        blobs: Vec::new(),
    });
    let outcome = handle(invoke(sample_event(None, None)), &f.deps)
        .await
        .unwrap();
    assert_eq!(outcome.result, JobResult::Failed);
    expect_failure(
        f.reporter.only_put(),
        FailureKind::PermissionError,
        "grant the role ecr:BatchGetImage and ecr:GetDownloadUrlForLayer",
    );
    assert!(
        api.calls_to("GET /2015-03-31/functions/api").is_empty(),
        "nothing of the target is touched"
    );
}

#[tokio::test]
async fn an_image_the_registry_says_is_for_another_platform_is_refused() {
    let (mut f, _) = rollout_fixture(rollout::fake::FakeApi::default(), lambda_target());
    f.deps.registry = Arc::new(crate::image_platform::fake::FakeRegistry::single(
        "linux", "s390x",
    ));
    let outcome = handle(invoke(sample_event(None, None)), &f.deps)
        .await
        .unwrap();
    assert_eq!(outcome.result, JobResult::Failed);
    expect_failure(
        f.reporter.only_put(),
        FailureKind::JobFailed,
        "is built for linux/s390x (its config in ECR says so)",
    );
}

#[tokio::test]
async fn a_traffic_shift_needs_a_lambda_alias_and_must_fit_the_rollout_bound() {
    let cases = [
        (
            r#"{"target":"ecs:prod/web","trafficShift":"canary10-5m"}"#,
            "an ECS service's own deploymentConfiguration",
        ),
        (
            r#"{"target":"lambda:api","alarms":["api-errors"]}"#,
            "the target names no alias",
        ),
        (
            r#"{"target":"lambda:api:live","trafficShift":"linear10-10m","timeoutSeconds":3600}"#,
            "waits 5400 s in all, not less than the rollout's bound of 3600 s",
        ),
    ];
    for (params, needle) in cases {
        let (f, api) = rollout_fixture(rollout::fake::FakeApi::default(), settings());
        handle(invoke(sample_event(Some(params), None)), &f.deps)
            .await
            .unwrap();
        expect_failure(
            f.reporter.only_put(),
            FailureKind::ConfigurationError,
            needle,
        );
        assert!(
            api.calls.lock().unwrap().is_empty(),
            "{params}: nothing was called"
        );
    }
}
