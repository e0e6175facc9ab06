//! The real event-notifier binary under the Lambda Runtime API emulator, publishing to the
//! local AWS emulator's SNS topic; messages are read back through an SQS subscription (raw
//! delivery off, so subject and attributes travel in the SNS envelope).

use std::path::Path;
use std::time::{Duration, Instant};

use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::{Value, json};
use testkit::{Emulator, LambdaProcess, RuntimeApi, lambda_binary};

const WAIT: Duration = Duration::from_secs(30);

fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture readable"))
        .expect("fixture is JSON")
}

struct Inbox {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl Inbox {
    /// Every SNS envelope currently in the queue (deleting them), waiting up to `wait` for the first.
    async fn drain(&self, wait: Duration) -> Vec<Value> {
        let deadline = Instant::now() + wait;
        let mut envelopes = Vec::new();
        loop {
            let out = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("receive from the subscription queue");
            let messages = out.messages();
            for m in messages {
                envelopes.push(
                    serde_json::from_str(m.body().expect("body")).expect("SNS envelope is JSON"),
                );
                self.sqs
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .receipt_handle(m.receipt_handle().expect("handle"))
                    .send()
                    .await
                    .expect("delete message");
            }
            if (messages.is_empty() && !envelopes.is_empty()) || Instant::now() > deadline {
                return envelopes;
            }
        }
    }
}

async fn topic_with_inbox(emu: &Emulator) -> (String, Inbox) {
    let sdk = emu.sdk_config().await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let topic_arn = sns
        .create_topic()
        .name("notifications-dev")
        .send()
        .await
        .expect("create topic")
        .topic_arn()
        .expect("topic arn")
        .to_owned();
    let queue_url = sqs
        .create_queue()
        .queue_name("notify-inbox")
        .send()
        .await
        .expect("create queue")
        .queue_url()
        .expect("queue url")
        .to_owned();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes");
    let queue_arn = attributes
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::QueueArn))
        .expect("queue arn");
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(queue_arn)
        .attributes("RawMessageDelivery", "false")
        .send()
        .await
        .expect("subscribe queue");
    (topic_arn, Inbox { sqs, queue_url })
}

fn attribute<'a>(envelope: &'a Value, name: &str) -> Option<&'a str> {
    let attribute = &envelope["MessageAttributes"][name];
    assert_eq!(
        attribute["Type"], "String",
        "attribute {name} in {envelope}"
    );
    attribute["Value"].as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_readable_notifications_through_sns() {
    let emu = Emulator::start().expect("start the AWS emulator");
    let (topic_arn, inbox) = topic_with_inbox(&emu).await;
    let binary = lambda_binary("event-notifier").expect("build event-notifier");
    let runtime = RuntimeApi::start()
        .await
        .expect("start the Runtime API emulator");
    let mut env: Vec<(String, String)> = emu.env();
    env.push(("NOTIFY_TOPIC_ARN".into(), topic_arn.clone()));
    env.push(("PIPELINE_ENV".into(), "dev".into()));
    let process = LambdaProcess::spawn(&binary, &runtime, &env).expect("spawn the function");
    let first_next = runtime
        .wait_for_first_next(WAIT)
        .await
        .expect("function polls for work");
    eprintln!(
        "spawn -> first /next: {:?}",
        first_next.duration_since(process.spawned_at())
    );

    // A pipeline STARTED event (AWS's sample) arrives as one notification with everything in it.
    let started = fixture("pipeline-started");
    let outcome = runtime
        .invoke(started.clone(), WAIT)
        .await
        .expect("invocation");
    let response = outcome
        .result
        .unwrap_or_else(|e| panic!("handler failed: {e}\n{}", process.logs()));
    assert_eq!(response["outcome"], "published", "{response}");
    let envelopes = inbox.drain(Duration::from_secs(10)).await;
    assert_eq!(envelopes.len(), 1, "{envelopes:?}");
    let envelope = &envelopes[0];
    assert_eq!(envelope["Type"], "Notification");
    assert_eq!(envelope["TopicArn"], json!(topic_arn));
    assert_eq!(
        envelope["Subject"],
        "[STARTED] myPipeline: execution started"
    );
    assert_eq!(attribute(envelope, "state"), Some("STARTED"));
    assert_eq!(attribute(envelope, "pipeline"), Some("myPipeline"));
    assert_eq!(attribute(envelope, "environment"), Some("dev"));
    assert_eq!(
        attribute(envelope, "detail_type"),
        Some("CodePipeline Pipeline Execution State Change")
    );
    // The SQS subscriber gets the machine-readable body (the `sqs` key of the JSON message).
    let body: Value = serde_json::from_str(envelope["Message"].as_str().expect("message string"))
        .expect("sqs body is JSON");
    assert_eq!(body["version"], "1");
    assert_eq!(body["eventId"], "01234567-EXAMPLE");
    assert_eq!(body["state"], "STARTED");
    assert_eq!(body["trigger"]["type"], "StartPipelineExecution");
    assert_eq!(
        body["consoleUrl"],
        "https://us-east-1.console.aws.amazon.com/codesuite/codepipeline/pipelines/myPipeline/executions/12345678-1234-5678-abcd-12345678abcd/timeline?region=us-east-1"
    );

    // At-least-once delivery: the same event again is acknowledged without a second message.
    let again = runtime.invoke(started, WAIT).await.expect("invocation");
    assert_eq!(again.result.expect("acknowledged")["outcome"], "duplicate");

    // An unrelated event is acknowledged (retrying cannot fix it) and publishes nothing.
    let unrelated = runtime
        .invoke(json!({"id": "s3-1", "source": "aws.s3", "detail-type": "Object Created", "detail": {}}), WAIT)
        .await
        .expect("invocation");
    assert_eq!(
        unrelated.result.expect("acknowledged")["outcome"],
        "ignored"
    );

    // A FAILED pipeline: what failed and which commit come from CodePipeline.
    emu.seed_execution(json!({
        "pipelineName": "pipeline-dev",
        "pipelineExecution": {
            "pipelineExecutionId": "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0",
            "pipelineVersion": 1,
            "status": "Failed",
            "trigger": {"triggerType": "Webhook", "triggerDetail": "arn:aws:codepipeline:us-east-1:123456789012:webhook:webhook-dev"},
            "artifactRevisions": [{
                "name": "SourceArtifact",
                "revisionId": "8cf40f2e1b7c",
                "revisionSummary": "Fix flaky integration test",
                "revisionUrl": "https://github.com/acme/app/commit/8cf40f2e1b7c"
            }]
        },
        "actionExecutionDetails": [
            {"stageName": "Source", "actionName": "Source", "status": "Succeeded",
             "startTime": "2024-05-01T10:00:00Z", "lastUpdateTime": "2024-05-01T10:00:20Z"},
            {"stageName": "Build", "actionName": "BuildImage", "status": "Failed",
             "startTime": "2024-05-01T10:00:30Z", "lastUpdateTime": "2024-05-01T10:04:00Z",
             "input": {"actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"}},
             "output": {"executionResult": {
                 "externalExecutionSummary": "cargo test exited with 101",
                 "externalExecutionUrl": "https://console.aws.amazon.com/codebuild/home#/builds/build-dev:1",
                 "errorDetails": {"code": "JobFailed", "message": "cargo test exited with 101"}}}}
        ]
    }))
    .expect("seed the failed execution");
    let failed = json!({
        "version": "0", "id": "failed-event-1", "detail-type": "CodePipeline Pipeline Execution State Change",
        "source": "aws.codepipeline", "account": "123456789012", "time": "2024-05-01T10:04:05Z", "region": "us-east-1",
        "resources": ["arn:aws:codepipeline:us-east-1:123456789012:pipeline-dev"],
        "detail": {"pipeline": "pipeline-dev", "execution-id": "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0", "state": "FAILED", "version": 1.0,
                   "pipeline-execution-attempt": 1.0}
    });
    let outcome = runtime.invoke(failed, WAIT).await.expect("invocation");
    assert_eq!(
        outcome
            .result
            .unwrap_or_else(|e| panic!("{e}\n{}", process.logs()))["outcome"],
        "published"
    );
    let envelopes = inbox.drain(Duration::from_secs(10)).await;
    assert_eq!(envelopes.len(), 1, "{envelopes:?}");
    let envelope = &envelopes[0];
    assert_eq!(envelope["Subject"], "[FAILED] pipeline-dev: Build failed");
    assert_eq!(attribute(envelope, "state"), Some("FAILED"));
    let body: Value =
        serde_json::from_str(envelope["Message"].as_str().expect("message")).expect("JSON body");
    assert_eq!(body["failures"][0]["stage"], "Build");
    assert_eq!(body["failures"][0]["action"], "BuildImage");
    assert_eq!(body["failures"][0]["provider"], "CodeBuild");
    assert_eq!(body["failures"][0]["summary"], "cargo test exited with 101");
    assert_eq!(body["failures"][0]["errorCode"], "JobFailed");
    assert_eq!(body["commit"]["id"], "8cf40f2e1b7c");
    assert_eq!(body["commit"]["message"], "Fix flaky integration test");
    assert_eq!(body["trigger"]["type"], "Webhook");
    assert_eq!(body["startTime"], "2024-05-01T10:00:00Z");
    assert_eq!(body["durationSeconds"], 245);
    assert!(body.get("failureDetailsUnavailable").is_none(), "{body}");
    let calls = emu.calls().expect("calls");
    for operation in ["GetPipelineExecution", "ListActionExecutions", "Publish"] {
        assert!(
            calls
                .iter()
                .any(|c| c.operation == operation && c.status == 200),
            "{operation} in {calls:?}"
        );
    }

    // Logs are JSON lines, and carry the event id.
    let logs = process.logs();
    let published: Vec<Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["message"] == "published")
        .collect();
    assert_eq!(published.len(), 2, "{logs}");
    assert_eq!(
        published[1]["fields"]["event_id"], "failed-event-1",
        "{logs}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_pipeline_still_notifies_when_codepipeline_cannot_explain_it() {
    let emu = Emulator::start().expect("start the AWS emulator");
    let (topic_arn, inbox) = topic_with_inbox(&emu).await;
    let binary = lambda_binary("event-notifier").expect("build event-notifier");
    let runtime = RuntimeApi::start()
        .await
        .expect("start the Runtime API emulator");
    let mut env: Vec<(String, String)> = emu.env();
    env.push(("NOTIFY_TOPIC_ARN".into(), topic_arn));
    let process = LambdaProcess::spawn(&binary, &runtime, &env).expect("spawn the function");

    // Nothing seeded: the pipeline is unknown to CodePipeline.
    let outcome = runtime
        .invoke(fixture("pipeline-failed"), WAIT)
        .await
        .expect("invocation");
    assert_eq!(
        outcome
            .result
            .unwrap_or_else(|e| panic!("{e}\n{}", process.logs()))["outcome"],
        "published"
    );
    let envelopes = inbox.drain(Duration::from_secs(10)).await;
    assert_eq!(envelopes.len(), 1, "{envelopes:?}");
    let body: Value =
        serde_json::from_str(envelopes[0]["Message"].as_str().expect("message")).expect("JSON");
    let why = body["failureDetailsUnavailable"]
        .as_str()
        .expect("reason given");
    assert!(why.contains("no pipeline `myPipeline`"), "{why}");
    assert_eq!(attribute(&envelopes[0], "environment"), Some("unknown"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_failure_is_an_invocation_error() {
    let emu = Emulator::start().expect("start the AWS emulator");
    let binary = lambda_binary("event-notifier").expect("build event-notifier");
    let runtime = RuntimeApi::start()
        .await
        .expect("start the Runtime API emulator");
    let mut env: Vec<(String, String)> = emu.env();
    env.push((
        "NOTIFY_TOPIC_ARN".into(),
        "arn:aws:sns:us-east-1:123456789012:no-such-topic".into(),
    ));
    let process = LambdaProcess::spawn(&binary, &runtime, &env).expect("spawn the function");
    let outcome = runtime
        .invoke(fixture("pipeline-started"), WAIT)
        .await
        .expect("invocation");
    let error = outcome.result.expect_err(&format!(
        "publishing to a missing topic must fail\n{}",
        process.logs()
    ));
    assert_eq!(error["errorType"], "PublishError.TopicNotFound", "{error}");
    assert!(
        error["errorMessage"]
            .as_str()
            .expect("message")
            .contains("check NOTIFY_TOPIC_ARN"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_fails_init_with_the_fix() {
    let binary = lambda_binary("event-notifier").expect("build event-notifier");
    let runtime = RuntimeApi::start()
        .await
        .expect("start the Runtime API emulator");
    let mut process =
        LambdaProcess::spawn(&binary, &runtime, &[("NOTIFY_STATES", "FAILED")]).expect("spawn");
    let status = process.wait_exit(WAIT).expect("exits on bad configuration");
    assert!(!status.success());
    let logs = process.logs();
    // stdout (the JSON log) and stderr (`Error: ...` from main) share one capture, so a line may
    // start with the other stream's text: the JSON object is read from its first brace.
    let error_line = logs
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(&l[l.find('{').unwrap_or(0)..]).ok())
        .find(|l| l["level"] == "ERROR")
        .unwrap_or_else(|| panic!("no JSON error log line in {logs}"));
    let error = error_line["fields"]["error"].as_str().expect("error field");
    assert!(
        error.contains("NOTIFY_TOPIC_ARN is not set; set it to the ARN of the SNS topic"),
        "{error}"
    );
}
