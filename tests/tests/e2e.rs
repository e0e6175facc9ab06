//! The whole pipeline on the local emulator, rolling out to an ECS service: a green commit that
//! is built, pushed and deployed, a commit whose unit test fails, and one whose image crashes
//! and is rolled back, then destroy. Same flow as `cargo xtask demo`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use integration_tests::e2e::support::lambda_zips;
use integration_tests::e2e::{DemoOptions, run_pipeline_demo};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_is_built_deployed_and_notified_and_a_failing_test_stops_the_pipeline() {
    let scratch = tempfile::tempdir().unwrap();
    let options = DemoOptions::for_workspace(lambda_zips(scratch.path()).unwrap()).unwrap();
    let report = run_pipeline_demo(&options)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));

    assert!(
        report.outputs["pipelineUrl"]
            .as_str()
            .unwrap()
            .contains("pipeline-demo"),
        "{}",
        report.outputs
    );

    // Least privilege: every grant of the four roles was used by some call of the runs, or is
    // listed with the reason the rehearsal cannot exercise it; no listed reason is stale.
    let unused: Vec<String> = report
        .grants
        .iter()
        .filter(|g| g.used_by.is_empty() && g.excused("demo").is_none())
        .map(|g| format!("{} {} {}", g.role, g.sid, g.action))
        .collect();
    assert!(
        unused.is_empty(),
        "grants no call used (over-privilege; remove them, or list them with the reason in \
         tests/src/e2e/grants.rs NOT_REHEARSED): {unused:?}"
    );
    // Every grant needed (a run without it would have been denied), none broader than its
    // resources: the emulator's replay and scope lint of the exercised policies.
    assert!(
        report.audit.is_clean(),
        "the IAM audit found: {:#?}",
        report.audit
    );
    assert!(
        report.audit.mutants > 100 && report.audit.caught > 0,
        "the mutation replay saw too few mutants to mean anything: {:?}",
        report.audit
    );
    // The real build (podman, the emulator's registry) is what CI proves: it uses the grants
    // the stand-in leaves unused.
    assert!(
        report.real_build || std::env::var_os("CI").is_none(),
        "CI must rehearse the real build"
    );
    let standin_only: &[_] = if report.real_build {
        integration_tests::e2e::grants::NOT_REHEARSED_BY_STANDIN_DOCKER
    } else {
        &[]
    };
    for (role, sid, action, _) in standin_only {
        assert!(
            report
                .grants
                .iter()
                .filter(|g| g.role == format!("{role}-demo") && g.sid == *sid)
                .all(|g| (*action != "*" && g.action != *action) || !g.used_by.is_empty()),
            "the real build left {role} {sid} {action} unused, which only the stand-in should"
        );
    }
    for (role, sid, action, _) in integration_tests::e2e::grants::NOT_REHEARSED {
        assert!(
            report
                .grants
                .iter()
                .any(|g| g.role == format!("{role}-demo")
                    && g.sid == *sid
                    && (*action == "*" || g.action == *action)
                    && g.used_by.is_empty()),
            "NOT_REHEARSED lists {role} {sid} {action}, which is no longer an unused grant"
        );
    }
    assert!(
        report
            .grants
            .iter()
            .filter(|g| !g.used_by.is_empty())
            .count()
            >= 10,
        "the runs used too few grants for the check to mean anything"
    );

    // A push to another branch is signed correctly but filtered out, and changes nothing.
    let wrong = &report.wrong_branch_push;
    assert!(wrong.signature_valid, "{wrong:?}");
    assert!(!wrong.starts_execution, "{wrong:?}");
    assert_eq!(
        wrong.filters[0].expected.as_deref(),
        Some("refs/heads/main")
    );
    assert!(wrong.mutating_calls.is_empty(), "{wrong:?}");

    assert_eq!(
        report.runs.len(),
        3,
        "green, failing unit test, failing rollout"
    );
    let green = &report.runs[0];
    assert!(green.push.starts_execution);
    assert!(green.build.succeeded, "{}", green.build.log);
    assert_eq!(green.pipeline_state, "SUCCEEDED");
    // The rehearsal's service runs on x86_64: the tag names the commit and that architecture.
    let tag = format!("{}-amd64", &green.commit[..12]);
    let tag = tag.as_str();
    let image = green
        .image
        .as_ref()
        .expect("the green run's image is in ECR");
    assert_eq!(image.tag, tag);
    assert!(image.digest.starts_with("sha256:"), "{image:?}");
    assert_eq!(
        green.build.exported.get("IMAGE_TAG").map(String::as_str),
        Some(tag)
    );
    assert_eq!(
        green.retag_refused,
        Some(true),
        "the repository must be tag-immutable"
    );
    assert!(
        green
            .build
            .tool_calls
            .iter()
            .any(|c| c[..2] == ["docker", "push"]),
        "{:?}",
        green.build.tool_calls
    );
    let deploy = green.deploy.as_ref().expect("Deploy ran");
    assert_eq!(deploy.status, "Succeeded", "{:#}", deploy.job);
    assert_eq!(
        deploy.output_variables.get("IMAGE_TAG").map(String::as_str),
        Some(tag)
    );
    assert_eq!(
        deploy.output_variables.get("COMMIT_ID"),
        Some(&green.commit)
    );
    assert!(
        deploy
            .output_variables
            .get("IMAGE_URI")
            .unwrap()
            .contains(&format!("app-demo:{tag}"))
    );
    let subjects: Vec<&str> = green
        .notifications
        .iter()
        .filter_map(|n| n.subject.as_deref())
        .collect();
    assert!(
        subjects
            .iter()
            .any(|s| s.starts_with("[STARTED] pipeline-demo")),
        "{subjects:?}"
    );
    assert!(
        subjects
            .iter()
            .any(|s| s.starts_with("[SUCCEEDED] pipeline-demo")),
        "{subjects:?}"
    );
    assert!(
        !subjects.iter().any(|s| s.starts_with("[FAILED]")),
        "{subjects:?}"
    );
    let succeeded = green
        .notifications
        .iter()
        .find(|n| {
            n.subject
                .as_deref()
                .is_some_and(|s| s.starts_with("[SUCCEEDED]"))
        })
        .unwrap();
    assert!(
        succeeded.message.contains(&green.execution_id),
        "{}",
        succeeded.message
    );
    // Stage events match no rule; the notifier acknowledges action progress without mail.
    assert!(
        green
            .events
            .iter()
            .filter(|e| e.detail_type.contains("Stage"))
            .all(|e| e.matched_rules.is_empty())
    );

    let red = &report.runs[1];
    assert!(!red.build.succeeded);
    assert_eq!(
        red.build.failure.as_ref().map(|f| f.0.as_str()),
        Some("build"),
        "{}",
        red.build.log
    );
    assert_eq!(red.pipeline_state, "FAILED");
    assert!(
        red.image.is_none(),
        "nothing may be pushed: {:?}",
        red.image
    );
    assert!(
        !red.build
            .tool_calls
            .iter()
            .any(|c| c[..2] == ["docker", "push"]),
        "{:?}",
        red.build.tool_calls
    );
    assert!(
        red.deploy.is_none(),
        "Deploy must not run after a failed build"
    );
    assert_eq!(
        red.job_result_calls, 0,
        "no CodePipeline job may be reported in the failing run"
    );
    let failed: Vec<_> = red
        .notifications
        .iter()
        .filter(|n| {
            n.subject
                .as_deref()
                .is_some_and(|s| s.starts_with("[FAILED] pipeline-demo"))
        })
        .collect();
    assert!(
        failed
            .iter()
            .any(|n| n.subject.as_deref().unwrap().contains("Build")),
        "{:?}",
        red.notifications
    );
    let pipeline_failed = failed
        .iter()
        .find(|n| {
            n.attributes
                .get("detail_type")
                .is_some_and(|d| d.contains("Pipeline Execution"))
        })
        .expect("a pipeline FAILED notification");
    let body: serde_json::Value = serde_json::from_str(&pipeline_failed.message).unwrap();
    assert_eq!(body["failures"][0]["stage"], "Build", "{body:#}");
    assert!(
        body["failures"][0]["summary"]
            .as_str()
            .unwrap()
            .contains("--target test"),
        "{body:#}"
    );
    assert_eq!(body["commit"]["id"], red.commit.as_str());
    assert!(
        red.notifications
            .iter()
            .any(|n| n.subject.is_none() && n.message.contains("Pipeline pipeline-demo FAILED")),
        "the FAILED rule's direct SNS message: {:?}",
        red.notifications
    );

    // The green image reached the team's ECS service, pinned by digest, as a new revision.
    let team_image = green
        .team_image
        .as_deref()
        .expect("the service's image after the green run");
    assert!(
        team_image.ends_with(&format!("/app-demo@{}", image.digest)),
        "{team_image}"
    );
    assert_eq!(
        deploy.output_variables.get("TARGET").map(String::as_str),
        Some("ecs:team/web")
    );
    assert!(
        deploy.output_variables["NEW_REVISION"].ends_with("task-definition/web:2")
            && deploy.output_variables["PREVIOUS_REVISION"].ends_with("task-definition/web:1"),
        "{:?}",
        deploy.output_variables
    );

    // A rollout whose tasks do not start: the job fails with ECS's reason, the circuit breaker
    // rolls the service back to the green revision, and the notification says both.
    let crash = &report.runs[2];
    assert!(crash.build.succeeded, "{}", crash.build.log);
    assert_eq!(crash.pipeline_state, "FAILED");
    let failed_deploy = crash.deploy.as_ref().expect("Deploy ran");
    assert_eq!(failed_deploy.status, "Failed", "{:#}", failed_deploy.job);
    assert_eq!(
        crash.team_image.as_deref(),
        Some(team_image),
        "rolled back to the green image"
    );
    let failure = crash
        .notifications
        .iter()
        .find(|n| n.message.contains("tasks failed to start"))
        .unwrap_or_else(|| {
            panic!(
                "no notification names the failed rollout: {:?}",
                crash.notifications
            )
        });
    assert!(
        failure
            .message
            .contains("ECS rolled the service back to web:2"),
        "{}",
        failure.message
    );

    assert!(report.destroy.remaining.is_empty(), "{:?}", report.destroy);
    assert!(report.destroy.leftovers.is_empty(), "{:?}", report.destroy);
    assert!(!report.destroy.deleted.is_empty());
}
