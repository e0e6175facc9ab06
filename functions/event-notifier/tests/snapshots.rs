//! Snapshot tests: every fixture (AWS's documented sample events) through the formatter,
//! compared exactly with `tests/snapshots/<fixture>[.variant].txt`.
//!
//! After an intended format change, regenerate with
//! `UPDATE_SNAPSHOTS=1 cargo test -p event-notifier --test snapshots` and review the diff.

use std::path::{Path, PathBuf};

use event_notifier::enrich::{Enrichment, ExecutionInfo, FailedAction, SourceRevision};
use event_notifier::event::{Level, parse};
use event_notifier::message::{MessageOptions, Notification, format};
use event_notifier::text::is_valid_subject;
use serde_json::Value;

fn dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join(name)
}

fn fixtures() -> Vec<(String, Value)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir("fixtures"))
        .expect("tests/fixtures exists")
        .map(|entry| entry.expect("readable dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let name = p
                .file_stem()
                .and_then(|s| s.to_str())
                .expect("UTF-8 file name")
                .to_owned();
            let text = std::fs::read_to_string(&p).expect("readable fixture");
            let value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"));
            (name, value)
        })
        .collect()
}

/// What the handler would learn from CodePipeline about a failed execution.
fn failed_enrichment() -> Enrichment {
    Enrichment {
        execution: Some(ExecutionInfo {
            trigger_type: Some("Webhook".into()),
            trigger_detail: Some("arn:aws:codepipeline:us-west-2:123456789012:webhook:webhook-dev".into()),
            status_summary: None,
            revisions: vec![SourceRevision {
                artifact: Some("SourceArtifact".into()),
                revision_id: Some("8cf40f2e1b7c4c2f9d6a0e3b5c7d9e1f2a4b6c8d".into()),
                summary: Some("Fix flaky integration test\n\nLonger body".into()),
                url: Some("https://github.com/acme/app/commit/8cf40f2e1b7c4c2f9d6a0e3b5c7d9e1f2a4b6c8d".into()),
            }],
        }),
        failed_actions: vec![FailedAction {
            stage: "Build".into(),
            action: "BuildImage".into(),
            provider: Some("CodeBuild".into()),
            summary: Some("Build terminated with state: FAILED. Phase: BUILD, Code: COMMAND_EXECUTION_ERROR".into()),
            error_code: Some("JobFailed".into()),
            url: Some("https://console.aws.amazon.com/codebuild/home?region=us-west-2#/builds/build-dev:1/view/new".into()),
        }],
        more_failed_actions: 0,
        started_at: None,
        unavailable: None,
        succeeded_actions: vec![],
        image_digest: None,
    }
}

/// What the handler learns from CodePipeline when an approval starts: the commit, the image the
/// Build action exported, what staging did.
fn approval_enrichment() -> Enrichment {
    let digest = "sha256:4f1c0c6d2b7e9a8f3d5c1b0a9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d";
    let action = |stage: &str, action: &str, provider: &str, summary: String| FailedAction {
        stage: stage.into(),
        action: action.into(),
        provider: Some(provider.into()),
        summary: Some(summary),
        ..FailedAction::default()
    };
    Enrichment {
        execution: failed_enrichment().execution,
        succeeded_actions: vec![
            action(
                "Build",
                "BuildImage",
                "CodeBuild",
                format!("Pushed app@{digest}"),
            ),
            action(
                "staging",
                "Deploy",
                "Lambda",
                format!("Deployed app@{digest} to ecs:stg/web"),
            ),
        ],
        image_digest: Some(digest.into()),
        ..Enrichment::default()
    }
}

/// Key order of `serde_json::Map` depends on a Cargo feature other crates may switch on; sort
/// keys so snapshots do not.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: std::collections::BTreeMap<&String, Value> =
                map.iter().map(|(k, v)| (k, canonical(v))).collect();
            serde_json::to_value(sorted).expect("serialises")
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

fn render(n: &Notification) -> String {
    let message: Value = serde_json::from_str(&n.message).expect("message is JSON");
    let mut keys: Vec<&String> = message.as_object().expect("object").keys().collect();
    keys.sort();
    let https: Value =
        serde_json::from_str(message["https"].as_str().expect("https is a string")).expect("JSON");
    let mut out = format!("subject: {}\n", n.subject);
    for (k, v) in &n.attributes {
        out.push_str(&format!("attribute {k}: {v}\n"));
    }
    out.push_str(&format!(
        "message keys: {keys:?}\n\n--- text ---\n{}\n--- body (sqs) ---\n",
        n.text
    ));
    out.push_str(&serde_json::to_string_pretty(&canonical(&n.body)).expect("serialises"));
    out.push_str("\n--- https ---\n");
    out.push_str(&serde_json::to_string_pretty(&canonical(&https)).expect("serialises"));
    out.push('\n');
    out
}

fn check(name: &str, actual: &str, mismatches: &mut Vec<String>) {
    let path = dir("snapshots").join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    match std::fs::read_to_string(&path) {
        Ok(expected) if expected == actual => {}
        Ok(expected) => mismatches.push(format!(
            "{name}: differs\n--- expected\n{expected}\n--- actual\n{actual}"
        )),
        Err(_) => mismatches.push(format!("{name}: no snapshot at {}", path.display())),
    }
}

#[test]
fn every_fixture_formats_exactly_as_its_snapshot() {
    let options = MessageOptions {
        environment: Some("dev".into()),
        ..MessageOptions::default()
    };
    let mut mismatches = Vec::new();
    let all = fixtures();
    assert!(all.len() >= 15, "fixtures missing: found {}", all.len());
    for (name, raw) in &all {
        let event = parse(raw).unwrap_or_else(|e| panic!("{name}: {e}"));
        let plain = format(&event, &Enrichment::default(), &options);
        assert!(
            is_valid_subject(&plain.subject),
            "{name}: {}",
            plain.subject
        );
        check(name, &render(&plain), &mut mismatches);
        if event.level == Level::Pipeline && event.state == "FAILED" {
            check(
                &format!("{name}.enriched"),
                &render(&format(&event, &failed_enrichment(), &options)),
                &mut mismatches,
            );
        }
    }
    let failed = parse(
        &all.iter()
            .find(|(n, _)| n == "pipeline-failed")
            .expect("fixture")
            .1,
    )
    .expect("parses");
    let unavailable = Enrichment {
        unavailable: Some("CodePipeline did not answer within 3000 ms".into()),
        ..Enrichment::default()
    };
    check(
        "pipeline-failed.unavailable",
        &render(&format(&failed, &unavailable, &options)),
        &mut mismatches,
    );
    let chatbot = MessageOptions {
        chatbot: true,
        ..options.clone()
    };
    check(
        "pipeline-failed.chatbot",
        &render(&format(&failed, &failed_enrichment(), &chatbot)),
        &mut mismatches,
    );
    let approval = all.iter().find(|(n, _)| n == "action-approval-started");
    let approval = parse(&approval.expect("fixture").1).expect("parses");
    check(
        "action-approval-started.enriched",
        &render(&format(&approval, &approval_enrichment(), &options)),
        &mut mismatches,
    );
    assert!(
        mismatches.is_empty(),
        "{}\n\nIf the change is intended: UPDATE_SNAPSHOTS=1 cargo test -p event-notifier --test snapshots",
        mismatches.join("\n\n")
    );
}

#[test]
fn every_documented_detail_type_and_level_is_covered() {
    let all = fixtures();
    for level in [Level::Pipeline, Level::Stage, Level::Action] {
        assert!(
            all.iter()
                .any(|(_, raw)| parse(raw).is_ok_and(|e| e.level == level)),
            "{level:?}"
        );
    }
    for state in [
        "STARTED",
        "SUCCEEDED",
        "FAILED",
        "STOPPING",
        "STOPPED",
        "RESUMED",
        "ABANDONED",
        "SUPERSEDED",
    ] {
        assert!(
            all.iter()
                .any(|(_, raw)| parse(raw).is_ok_and(|e| e.state == state)),
            "{state}"
        );
    }
}

#[test]
fn action_failed_event_explains_the_failure_from_its_own_execution_result() {
    let raw = fixtures()
        .into_iter()
        .find(|(n, _)| n == "action-failed")
        .expect("fixture")
        .1;
    let n = format(
        &parse(&raw).expect("parses"),
        &Enrichment::default(),
        &MessageOptions::default(),
    );
    assert_eq!(n.subject, "[FAILED] myPipeline: Deploy/Deploy failed");
    assert!(
        n.text
            .contains("Deploy / Deploy (CodeDeploy): Deployment <ID> failed [JobFailed]"),
        "{}",
        n.text
    );
    assert_eq!(n.body["failures"][0]["errorCode"], "JobFailed");
}
