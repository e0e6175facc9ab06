//! The road to production on the local emulator: one build per release promoted from staging (a
//! Lambda function) to production (an ECS service) after an approval made with `bootstrap
//! approver-policy`'s role alone; the second release's production alarm fires during the bake
//! and CodePipeline rolls production back to the first release's digest; the notifications and
//! GitHub's commit statuses say so. Same flow as `cargo xtask demo --promotion`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use integration_tests::e2e::DemoOptions;
use integration_tests::e2e::promotion::run_promotion_demo;
use integration_tests::e2e::support::lambda_zips;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_is_built_once_promoted_after_approval_and_rolled_back_when_its_alarm_fires() {
    let scratch = tempfile::tempdir().unwrap();
    let options = DemoOptions {
        env: "rel".into(),
        ..DemoOptions::for_workspace(lambda_zips(scratch.path()).unwrap()).unwrap()
    };
    let report = run_promotion_demo(&options)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    let [first, second] = &report.releases[..] else {
        panic!("two releases, got {}", report.releases.len())
    };

    for release in [first, second] {
        // Built once: one build per release, and every stage deployed that build's digest.
        assert_eq!(release.builds, 1, "{}: {release:#?}", release.label);
        for stage in ["staging", "prod"] {
            assert_eq!(
                release.deployed.get(stage),
                Some(&release.digest),
                "{}: {stage} deployed another image: {:?}",
                release.label,
                release.deployed
            );
        }
        // Approved by the approvers' role, made from `bootstrap approver-policy` alone.
        assert_eq!(release.approvals.len(), 1, "{release:#?}");
        assert_eq!(release.approvals[0]["status"], "Approved");
        assert!(
            release.approvals[0]["approvedBy"]
                .as_str()
                .unwrap()
                .contains("approvers-rel"),
            "{}",
            release.approvals[0]
        );
        let approval_needed = release.notifications.iter().any(|n| {
            n.subject
                .as_deref()
                .is_some_and(|s| s.contains("approval needed to deploy to prod"))
        });
        assert!(
            approval_needed,
            "{}: {:#?}",
            release.label, release.notifications
        );
    }
    assert_ne!(
        first.digest, second.digest,
        "each release builds its own image"
    );

    // The first release bakes quietly and stays.
    assert_eq!(first.pipeline_state, "SUCCEEDED");
    assert_eq!(first.bake.as_ref().unwrap()["status"], "Succeeded");
    assert!(first.rollback.is_none());
    for stage in ["staging", "prod"] {
        assert!(
            first.running[stage].ends_with(&first.digest),
            "{stage} runs {}",
            first.running[stage]
        );
    }

    // The second release's alarm fires during the bake: production is rolled back to the first
    // release's digest by a rollback execution that targets the first release's execution;
    // staging keeps the second release.
    assert_eq!(second.pipeline_state, "FAILED");
    assert_eq!(second.bake.as_ref().unwrap()["status"], "Failed");
    let rollback = second.rollback.as_ref().expect("a rollback execution");
    assert_eq!(rollback.target_execution_id, first.execution_id);
    assert_eq!(
        rollback.deploy.status, "Succeeded",
        "{:#}",
        rollback.deploy.job
    );
    assert_eq!(
        rollback.deploy.output_variables["IMAGE_DIGEST"],
        first.digest
    );
    assert!(
        second.running["prod"].ends_with(&first.digest),
        "production runs {} after the rollback, not the first release's {}",
        second.running["prod"],
        first.digest
    );
    assert!(
        second.running["staging"].ends_with(&second.digest),
        "{}",
        second.running["staging"]
    );
    let failed = second.notifications.iter().any(|n| {
        n.subject.as_deref().is_some_and(|s| s.contains("FAILED")) || n.message.contains("FAILED")
    });
    assert!(failed, "{:#?}", second.notifications);

    // GitHub: each stage's context on each commit; the second commit's production fails, and the
    // rollback's run on the first commit succeeds again.
    let last = |sha: &str, stage: &str| -> Option<String> {
        let context = format!("pipeline-rel/{stage}");
        report
            .statuses
            .iter()
            .filter(|s| s["sha"] == sha && s["context"] == context.as_str())
            .filter_map(|s: &Value| s["state"].as_str().map(str::to_owned))
            .next_back()
    };
    assert_eq!(
        last(&first.commit, "staging").as_deref(),
        Some("success"),
        "{:#?}",
        report.statuses
    );
    assert_eq!(
        last(&first.commit, "prod").as_deref(),
        Some("success"),
        "{:#?}",
        report.statuses
    );
    assert_eq!(
        last(&second.commit, "staging").as_deref(),
        Some("success"),
        "{:#?}",
        report.statuses
    );
    assert_eq!(
        last(&second.commit, "prod").as_deref(),
        Some("failure"),
        "{:#?}",
        report.statuses
    );
    // Least privilege: every grant stages add was used by a call of the releases, and the
    // replayed mutation test found no survivor among them (each was needed).
    for (role, action) in [
        ("codepipeline-role-rel", "cloudwatch:DescribeAlarms"),
        ("deploy-handler-role-rel", "lambda:ListVersionsByFunction"),
        (
            "event-notifier-role-rel",
            "codepipeline:ListActionExecutions",
        ),
        ("event-notifier-role-rel", "secretsmanager:GetSecretValue"),
    ] {
        let used = report
            .grants
            .iter()
            .any(|g| g.role == role && g.action == action && !g.used_by.is_empty());
        assert!(used, "{role} {action}: no call used it");
        let survivor = report
            .audit
            .survivors
            .iter()
            .find(|s| s.contains(role) && s.contains(action));
        assert!(
            survivor.is_none(),
            "{survivor:?}: a release would not miss it"
        );
    }
    // The approvers' policy is exactly what the approval needed: every grant used, none spare.
    let approver_findings: Vec<&String> = report
        .audit
        .survivors
        .iter()
        .chain(&report.audit.scope_problems)
        .filter(|finding| finding.starts_with("approvers"))
        .collect();
    assert!(approver_findings.is_empty(), "{approver_findings:#?}");
    let approver_unused: Vec<String> = report
        .grants
        .iter()
        .filter(|g| g.role == "approvers-rel" && g.used_by.is_empty())
        .map(|g| format!("{} {}", g.sid, g.action))
        .collect();
    assert!(approver_unused.is_empty(), "{approver_unused:?}");
    let pending_first = report
        .statuses
        .iter()
        .any(|s| s["sha"] == second.commit.as_str() && s["state"] == "pending");
    assert!(
        pending_first,
        "each stage is pending while it runs: {:#?}",
        report.statuses
    );
}
