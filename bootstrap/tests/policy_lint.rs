//! Every IAM policy the stack creates, and the deployer's, audited by an independent linter
//! (parliament).
//! Zero findings are allowed except those in `ACCEPTED`, each with its reason.

use bootstrap::artifacts::LambdaZip;
use bootstrap::aws::Target;
use bootstrap::config::{Layer, resolve};
use bootstrap::desired::{Late, Zips, build};
use bootstrap::model::Spec;
use bootstrap::policies::deployer;
use bootstrap::resources::deploy_target::TargetFacts;
use std::process::Command;

/// (policy, issue code, what in the finding it concerns, why it is accepted); policy `*` is any.
const ACCEPTED: [(&str, &str, &str, &str); 3] = [
    (
        "*",
        "RESOURCE_STAR",
        "codepipeline:PutJobSuccessResult",
        "job-result and job-detail actions support no resource-level permissions (see policies::WILDCARD_RESOURCE_ACTIONS)",
    ),
    (
        "deployer",
        "RESOURCE_POLICY_PRIVILEGE_ESCALATION",
        "",
        "the deployer writes the bucket's and the repository's policies by design (TLS-only, Lambda's pull): \
         whoever may run bootstrap administers those two resources (README, Permissions)",
    ),
    (
        "deployer",
        "RESOURCE_MISMATCH",
        "codepipeline:PutWebhook",
        "PutWebhook is authorised on the webhook and on the pipeline it targets, one check each, so each of two \
         statements grants it on one of them (deployer.rs, WebhookTargetsPipeline)",
    ),
];

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
    let ecs = TargetFacts::Ecs {
        service_arn: "arn:aws:ecs:us-east-1:123456789012:service/prod/web".into(),
        family: "arn:aws:ecs:us-east-1:123456789012:task-definition/web".into(),
        pass_roles: vec!["arn:aws:iam::123456789012:role/web-task".into()],
        rollback: true,
    };
    let function = TargetFacts::Lambda {
        function_arn: "arn:aws:lambda:us-east-1:123456789012:function:api".into(),
    };
    let targets = [
        (None, None),
        (Some("ecs:prod/web"), Some(ecs)),
        (Some("lambda:api:live"), Some(function)),
    ];
    let mut audited = 0;
    let mut unaccepted = Vec::new();
    let mut lint = |name: &str, policy: &serde_json::Value| {
        let output = Command::new(&parliament)
            .args(["--json", "--string", &policy.to_string()])
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
            let location = format!("{} {}", finding["location"], finding["detail"]);
            let accepted = ACCEPTED.iter().any(|(policy, code, what, _)| {
                (*policy == "*" || *policy == name) && *code == issue && location.contains(what)
            });
            if !accepted {
                unaccepted.push(format!("{name}: {issue} {location} {}", finding["title"]));
            }
        }
        assert!(
            output.status.success() || !output.stdout.is_empty(),
            "parliament failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    for source in ["github-webhook", "codeconnections"] {
        for (spec, facts) in &targets {
            let webhook = spec.is_none();
            let given = Layer {
                env: Some("dev".into()),
                github_repo: Some("octo/app".into()),
                source: Some(source.parse().expect("source")),
                deploy_webhook_url: webhook.then(|| "https://deploy.example.com/hook".into()),
                deploy_webhook_secret_arn: webhook.then(|| {
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:hook-AbCdEf".into()
                }),
                deploy_target: spec.map(str::to_owned),
                topic_kms_key: Some(
                    "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
                        .into(),
                ),
                ..Layer::default()
            };
            let config = resolve(given, Layer::default()).expect("config");
            let late = Late {
                connection_arn: Some(
                    "arn:aws:codestar-connections:us-east-1:123456789012:connection/abc".into(),
                ),
                deploy_webhook_secret_arn: config.deploy_webhook_secret_arn.clone(),
                deploy_target: facts.clone(),
            };
            for desired in build(&config, &target, &zips, &late) {
                if let Spec::Role(role) = &desired.spec {
                    lint(&role.name, &role.inline_policy);
                }
            }
            let deployer = deployer::policy(&deployer::Scope {
                env: &config.env,
                target: &target,
                source: config.source,
                connection_arn: None,
                github_token_secret: Some("gh-token"),
                deploy_webhook_secret_arn: config.deploy_webhook_secret_arn.as_deref(),
                deploy_target: config.deploy_target.as_ref(),
            });
            lint("deployer", &deployer);
        }
    }
    assert_eq!(
        audited, 30,
        "four roles and the deployer, in each source mode, with each kind of deploy target"
    );
    assert!(
        unaccepted.is_empty(),
        "parliament findings:\n{}",
        unaccepted.join("\n")
    );
}
