//! The real event-notifier binary under the Lambda Runtime API emulator with commit statuses on:
//! the token in the emulator's Secrets Manager, statuses sent to the emulator's GitHub stand-in
//! (`emulator/awsshim/github.py`), the commit found through GetPipelineExecution of a seeded
//! execution. GitHub's rate limits, outages and refusals must never fail the invocation.

use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};
use testkit::{Emulator, LambdaProcess, RuntimeApi, lambda_binary};

const WAIT: Duration = Duration::from_secs(30);
const TOKEN: &str = "ghp_standInToken0123456789";
const REPOSITORY: &str = "octo-org/hello-app";
const SHA: &str = "7af9a5b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7";
const EXECUTION: &str = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";

fn stage_event(id: &str, stage: &str, state: &str) -> Value {
    json!({
        "version": "0", "id": id, "source": "aws.codepipeline",
        "detail-type": "CodePipeline Stage Execution State Change",
        "account": "123456789012", "time": "2026-01-24T22:03:07Z", "region": "us-east-1",
        "resources": ["arn:aws:codepipeline:us-east-1:123456789012:pipeline-dev"],
        "detail": {
            "pipeline": "pipeline-dev", "version": 1.0, "execution-id": EXECUTION,
            "start-time": "2026-01-24T22:00:00.000Z", "stage": stage, "state": state,
            "pipeline-execution-attempt": 1.0
        }
    })
}

/// An SNS topic with an SQS queue subscribed: what the notifier publishes, read back.
async fn topic_and_queue(emu: &Emulator) -> (String, aws_sdk_sqs::Client, String) {
    let sdk = emu.sdk_config().await;
    let (sns, sqs) = (
        aws_sdk_sns::Client::new(&sdk),
        aws_sdk_sqs::Client::new(&sdk),
    );
    let topic = sns.create_topic().name("notifications-dev").send().await;
    let topic_arn = topic.expect("topic").topic_arn().expect("arn").to_owned();
    let queue = sqs.create_queue().queue_name("inbox").send().await;
    let queue_url = queue.expect("queue").queue_url().expect("url").to_owned();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes");
    let queue_arn = attributes
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn));
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn.expect("queue arn"))
        .send()
        .await
        .expect("subscribe");
    (topic_arn, sqs, queue_url)
}

async fn secret_arn(emu: &Emulator) -> String {
    let sdk = emu.sdk_config().await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let created = secrets
        .create_secret()
        .name("github-status-token-dev")
        .secret_string(TOKEN)
        .send()
        .await
        .expect("create the token secret");
    created.arn().expect("secret arn").to_owned()
}

async fn invoke(runtime: &RuntimeApi, process: &LambdaProcess, event: Value) -> Value {
    let outcome = runtime.invoke(event, WAIT).await.expect("invocation");
    outcome
        .result
        .unwrap_or_else(|e| panic!("the invocation failed: {e}\n{}", process.logs()))
}

fn statuses(emu: &Emulator) -> Vec<(String, String, String, String)> {
    let recorded = emu.github_statuses().expect("recorded statuses");
    recorded
        .iter()
        .map(|s| {
            let field = |name: &str| s[name].as_str().unwrap_or_default().to_owned();
            (
                field("repository"),
                field("sha"),
                field("context"),
                field("state"),
            )
        })
        .collect()
}

fn answered(emu: &Emulator) -> Vec<u64> {
    let requests = emu.github_requests().expect("recorded requests");
    requests
        .iter()
        .filter_map(|r| r["status"].as_u64())
        .collect()
}

/// The emulator, the Runtime API and the notifier binary running with commit statuses on.
struct Running {
    emu: Emulator,
    runtime: RuntimeApi,
    process: LambdaProcess,
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

async fn start() -> Running {
    let emu = Emulator::start().expect("start the AWS emulator");
    let (topic_arn, sqs, queue_url) = topic_and_queue(&emu).await;
    let secret = secret_arn(&emu).await;
    emu.github_configure(&[TOKEN], &[REPOSITORY])
        .expect("configure GitHub");
    emu.seed_execution(json!({
        "pipelineName": "pipeline-dev",
        "pipelineExecution": {
            "pipelineExecutionId": EXECUTION, "pipelineVersion": 1, "status": "InProgress",
            "artifactRevisions": [{"name": "SourceArtifact", "revisionId": SHA, "revisionSummary": "Add the health check"}]
        },
        "actionExecutionDetails": [{
            "actionExecutionId": "b-1", "stageName": "Build", "actionName": "BuildImage", "status": "Succeeded",
            "startTime": "2026-01-24T22:00:10Z", "lastUpdateTime": "2026-01-24T22:02:10Z",
            "input": {"actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"}},
            "output": {"executionResult": {"externalExecutionSummary": "Built app@sha256:ab12"}, "outputVariables": {"IMAGE_DIGEST": "sha256:ab12"}}
        }]
    }))
    .expect("seed the execution");

    let binary = lambda_binary("event-notifier").expect("build event-notifier");
    let runtime = RuntimeApi::start().await.expect("Runtime API emulator");
    let mut env = emu.env();
    env.extend([
        ("NOTIFY_TOPIC_ARN".to_owned(), topic_arn),
        ("PIPELINE_ENV".to_owned(), "dev".to_owned()),
        ("GITHUB_STATUS_TOKEN_SECRET".to_owned(), secret),
        ("GITHUB_REPOSITORY".to_owned(), REPOSITORY.to_owned()),
        ("GITHUB_API_URL".to_owned(), emu.github_api_url()),
    ]);
    let process = LambdaProcess::spawn(&binary, &runtime, &env).expect("spawn the function");
    runtime
        .wait_for_first_next(WAIT)
        .await
        .expect("the function polls for work");
    Running {
        emu,
        runtime,
        process,
        sqs,
        queue_url,
    }
}

/// Source sets nothing; a deploy stage goes pending, then success, on the seeded commit.
async fn statuses_follow_the_stage(r: &Running) {
    let (emu, runtime, process) = (&r.emu, &r.runtime, &r.process);
    // The Source stage sets no status; the commit is not the pipeline's until it has run.
    invoke(runtime, process, stage_event("s-0", "Source", "SUCCEEDED")).await;
    assert!(answered(emu).is_empty(), "{}", process.logs());

    // STARTED then SUCCEEDED: pending, then success, on the execution's commit.
    let started = invoke(runtime, process, stage_event("s-1", "prod", "STARTED")).await;
    assert_eq!(
        started["outcome"], "filtered",
        "a stage STARTED does not notify: {started}"
    );
    invoke(runtime, process, stage_event("s-2", "prod", "SUCCEEDED")).await;
    let context = "pipeline-dev/prod".to_owned();
    let expected = |state: &str| {
        (
            REPOSITORY.to_owned(),
            SHA.to_owned(),
            context.clone(),
            state.to_owned(),
        )
    };
    assert_eq!(
        statuses(emu),
        vec![expected("pending"), expected("success")],
        "{}",
        process.logs()
    );
    let recorded = emu.github_statuses().expect("statuses");
    let first = &recorded[0];
    assert_eq!(first["description"], "prod: deploying");
    assert_eq!(recorded[1]["description"], "prod: deployed");
    let url = first["target_url"].as_str().unwrap_or_default();
    assert!(
        url.contains(&format!(
            "/pipelines/pipeline-dev/executions/{EXECUTION}/timeline"
        )),
        "{url}"
    );
}

/// Rate limits are waited out; an outage and a revoked token are logged, never failing.
async fn github_failures_only_log(r: &Running) {
    let (emu, runtime, process) = (&r.emu, &r.runtime, &r.process);
    // A rate-limited first answer (403, x-ratelimit-remaining 0) is waited out and retried; so is a
    // 429 with retry-after.
    emu.github_inject("rate-limit", 1, json!({"status": 403, "reset_in": 1}))
        .expect("inject");
    invoke(runtime, process, stage_event("s-3", "prod", "STARTED")).await;
    assert_eq!(answered(emu)[2..], [403, 201], "{}", process.logs());
    assert_eq!(statuses(emu).len(), 3);
    emu.github_inject(
        "secondary-rate-limit",
        1,
        json!({"status": 429, "retry_after": 1}),
    )
    .expect("inject");
    invoke(runtime, process, stage_event("s-3b", "prod", "SUCCEEDED")).await;
    assert_eq!(answered(emu)[4..], [429, 201], "{}", process.logs());
    assert_eq!(statuses(emu).len(), 4);

    // An outage (every attempt a 5xx) is logged; the invocation succeeds, the FAILED stage still notifies.
    emu.github_inject("server-error", 3, json!({}))
        .expect("inject");
    let failed = invoke(runtime, process, stage_event("s-4", "prod", "FAILED")).await;
    assert_eq!(failed["outcome"], "published", "{failed}");
    assert_eq!(answered(emu)[6..], [503, 503, 503]);
    assert_eq!(statuses(emu).len(), 4);
    assert!(
        process.logs().contains("GitHub kept failing"),
        "{}",
        process.logs()
    );

    // A revoked token: GitHub's "Bad credentials" is logged with the fix, the token never.
    emu.github_configure(&["another-token"], &[REPOSITORY])
        .expect("revoke");
    invoke(runtime, process, stage_event("s-5", "prod", "STARTED")).await;
    let logs = process.logs();
    assert!(
        logs.contains("Bad credentials") && logs.contains("GITHUB_STATUS_TOKEN_SECRET"),
        "{logs}"
    );
    assert!(!logs.contains(TOKEN), "the token reached the logs");
    assert_eq!(answered(emu).last(), Some(&401));
}

/// The approval action: "approval needed" on the topic, with the commit and the image.
async fn approval_is_announced(r: &Running) {
    let (runtime, process) = (&r.runtime, &r.process);
    let mut approval: Value =
        serde_json::from_str(include_str!("fixtures/action-approval-started.json"))
            .expect("fixture");
    approval["detail"]["pipeline"] = json!("pipeline-dev");
    approval["detail"]["execution-id"] = json!(EXECUTION);
    let published = invoke(runtime, process, approval).await;
    assert_eq!(published["outcome"], "published", "{published}");
    let received = r
        .sqs
        .receive_message()
        .queue_url(&r.queue_url)
        .max_number_of_messages(10)
        .wait_time_seconds(5)
        .send()
        .await
        .expect("receive");
    let envelopes: Vec<Value> = received
        .messages()
        .iter()
        .map(|m| serde_json::from_str(m.body().unwrap_or("{}")).expect("SNS envelope"))
        .collect();
    let approval = envelopes
        .iter()
        .find(|e| {
            e["Subject"]
                .as_str()
                .is_some_and(|s| s.contains("approval needed"))
        })
        .unwrap_or_else(|| panic!("no approval message in {envelopes:?}"));
    let body: Value = serde_json::from_str(approval["Message"].as_str().unwrap_or("{}"))
        .expect("the sqs body is JSON");
    assert_eq!(body["imageDigest"], "sha256:ab12", "{body}");
    assert_eq!(body["commit"]["id"], SHA, "{body}");
    assert!(
        body["approveUrl"]
            .as_str()
            .is_some_and(|u| u.ends_with("/pipelines/pipeline-dev/view?region=us-east-1")),
        "{body}"
    );
    assert_eq!(
        approval["Subject"],
        "[STARTED] pipeline-dev: approval needed to deploy to prod"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stage_events_set_commit_statuses_and_github_failures_never_fail_the_invocation() {
    let running = start().await;
    statuses_follow_the_stage(&running).await;
    github_failures_only_log(&running).await;
    approval_is_announced(&running).await;
}
