//! The whole pipeline on the local emulator, rolling out to a Lambda container-image function
//! behind an alias: the green image is published as a new version and the alias moves to it;
//! an image whose update fails leaves the alias where it was, and the job says so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use integration_tests::e2e::support::lambda_zips;
use integration_tests::e2e::team::Rollout;
use integration_tests::e2e::{DemoOptions, run_pipeline_demo};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_is_rolled_out_to_a_lambda_function_and_a_failed_update_keeps_the_alias() {
    let scratch = tempfile::tempdir().unwrap();
    let options = DemoOptions {
        env: "fn".into(),
        rollout: Some(Rollout::Lambda),
        ..DemoOptions::for_workspace(lambda_zips(scratch.path()).unwrap()).unwrap()
    };
    let report = run_pipeline_demo(&options)
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        report.audit.is_clean(),
        "the IAM audit found: {:#?}",
        report.audit
    );

    let green = &report.runs[0];
    let image = green.image.as_ref().expect("the green run's image");
    let deploy = green.deploy.as_ref().expect("Deploy ran");
    assert_eq!(deploy.status, "Succeeded", "{:#}", deploy.job);
    assert_eq!(deploy.output_variables["TARGET"], "lambda:api:live");
    assert_eq!(deploy.output_variables["PREVIOUS_REVISION"], "1");
    assert_eq!(deploy.output_variables["NEW_REVISION"], "2");
    let running = green.team_image.as_deref().expect("the alias's image");
    assert!(
        running.ends_with(&format!("/app-fn@{}", image.digest)),
        "{running}"
    );

    let crash = &report.runs[2];
    let failed = crash.deploy.as_ref().expect("Deploy ran");
    assert_eq!(failed.status, "Failed", "{:#}", failed.job);
    assert_eq!(
        crash.team_image.as_deref(),
        Some(running),
        "the alias stays on the green version"
    );
    assert!(
        crash
            .notifications
            .iter()
            .any(|n| n.message.contains("alias live stays on version 2")),
        "{:?}",
        crash.notifications
    );
    assert!(report.destroy.leftovers.is_empty(), "{:?}", report.destroy);
}
