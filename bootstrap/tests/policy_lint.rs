//! Every IAM policy the stack creates, audited by an independent linter (parliament).
//! Zero findings are allowed except those in `ACCEPTED`, each with its reason.

use bootstrap::artifacts::LambdaZip;
use bootstrap::aws::Target;
use bootstrap::config::{Layer, resolve};
use bootstrap::desired::{Late, Zips, build};
use bootstrap::model::Spec;
use std::process::Command;

/// (issue code, action or resource it concerns, why it is accepted).
const ACCEPTED: [(&str, &str, &str); 1] = [(
    "RESOURCE_STAR",
    "codepipeline:PutJobSuccessResult",
    "job-result and job-detail actions support no resource-level permissions (see policies::WILDCARD_RESOURCE_ACTIONS)",
)];

fn zip() -> LambdaZip {
    LambdaZip {
        path: "x.zip".into(),
        code_sha256: "x".into(),
        architecture: "x86_64".into(),
    }
}

#[test]
fn parliament_finds_nothing_unaccepted_in_any_role_policy() {
    let parliament = testkit::workspace_root().join(".venv/bin/parliament");
    assert!(
        parliament.exists(),
        "parliament is missing: run `cargo xtask setup`"
    );
    let target = Target {
        account_id: "123456789012".into(),
        region: "us-east-1".into(),
    };
    let zips = Zips {
        deploy_handler: zip(),
        event_notifier: zip(),
    };
    let late = Late {
        connection_arn: Some(
            "arn:aws:codestar-connections:us-east-1:123456789012:connection/abc".into(),
        ),
        deploy_webhook_secret_arn: Some(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:hook-AbCdEf".into(),
        ),
    };
    let mut audited = 0;
    let mut unaccepted = Vec::new();
    for source in ["github-webhook", "codeconnections"] {
        let given = Layer {
            env: Some("dev".into()),
            github_repo: Some("octo/app".into()),
            source: Some(source.parse().expect("source")),
            deploy_webhook_url: Some("https://deploy.example.com/hook".into()),
            deploy_webhook_secret_arn: Some(
                "arn:aws:secretsmanager:us-east-1:123456789012:secret:hook-AbCdEf".into(),
            ),
            topic_kms_key: Some(
                "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                    .into(),
            ),
            ..Layer::default()
        };
        let config = resolve(given, Layer::default()).expect("config");
        for desired in build(&config, &target, &zips, &late) {
            let Spec::Role(role) = &desired.spec else {
                continue;
            };
            let output = Command::new(&parliament)
                .args(["--json", "--string", &role.inline_policy.to_string()])
                .output()
                .expect("parliament runs");
            audited += 1;
            for line in String::from_utf8_lossy(&output.stdout)
                .lines()
                .filter(|l| !l.trim().is_empty())
            {
                let finding: serde_json::Value =
                    serde_json::from_str(line).expect("parliament json line");
                let issue = finding["issue"].as_str().unwrap_or_default();
                let location = finding["location"].to_string();
                let accepted = ACCEPTED
                    .iter()
                    .any(|(code, what, _)| *code == issue && location.contains(what));
                if !accepted {
                    unaccepted.push(format!(
                        "{}: {issue} {location} {}",
                        role.name, finding["title"]
                    ));
                }
            }
            assert!(
                output.status.success() || !output.stdout.is_empty(),
                "parliament failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    assert_eq!(audited, 8, "four roles in each source mode");
    assert!(
        unaccepted.is_empty(),
        "parliament findings:\n{}",
        unaccepted.join("\n")
    );
}
