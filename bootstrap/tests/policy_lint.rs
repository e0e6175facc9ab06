//! Every IAM policy the stack creates, and the deployer's, audited by an independent linter
//! (parliament).
//! Zero findings are allowed except those in `ACCEPTED`, each with its reason.

use bootstrap::artifacts::{LambdaZip, Package};
use bootstrap::aws::Target;
use bootstrap::config::{Layer, resolve};
use bootstrap::desired::{Late, Zips, build};
use bootstrap::model::Spec;
use bootstrap::policies::deployer;
use bootstrap::target_facts::TargetFacts;
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
        package: Package::File("x.zip".into()),
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
        architecture: pipeline_common::CpuArchitecture::X86_64,
    };
    let function = TargetFacts::Lambda {
        function_arn: "arn:aws:lambda:us-east-1:123456789012:function:api".into(),
        architecture: pipeline_common::CpuArchitecture::Arm64,
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
                stage_targets: Vec::new(),
                // the commit status token's grant, linted with the rest
                github_status_token_secret_arn: Some(
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:gh-status-AbCdEf".into(),
                ),
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
                stage_targets: &[],
                // The mode with the most grants: the others' are a subset.
                base_image_source: bootstrap::config::BaseImageSource::PullThroughCache,
                github_status_token_secret: Some("gh-status"),
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

/// Every `"Resource": "*"` grant and every type-wide listing in the deployer's policy, over
/// every source mode and kind of deploy target, as README's Permissions section lists them.
fn wildcard_grants_of_every_scope() -> (Vec<String>, Vec<String>) {
    let target = Target {
        account_id: "123456789012".into(),
        region: "us-east-1".into(),
    };
    let env = bootstrap::config::resolve_env(
        &Layer {
            env: Some("dev".into()),
            ..Layer::default()
        },
        &Layer::default(),
    )
    .expect("env");
    let targets = [
        None,
        Some(pipeline_common::DeployTarget::parse("ecs:prod/web").expect("ecs")),
        Some(pipeline_common::DeployTarget::parse("lambda:api:live").expect("lambda")),
    ];
    let (mut star, mut type_wide) = (Vec::new(), Vec::new());
    for source in [
        bootstrap::config::SourceMode::GithubWebhook,
        bootstrap::config::SourceMode::Codeconnections,
    ] {
        for deploy_target in &targets {
            let document = deployer::policy(&deployer::Scope {
                env: &env,
                target: &target,
                source,
                connection_arn: None,
                github_token_secret: Some("gh-token"),
                deploy_webhook_secret_arn: None,
                deploy_target: deploy_target.as_ref(),
                stage_targets: &[],
                // The mode with the most grants: the others' are a subset.
                base_image_source: bootstrap::config::BaseImageSource::PullThroughCache,
                github_status_token_secret: Some("gh-status"),
            });
            for statement in document["Statement"].as_array().expect("statements") {
                let resources: Vec<&str> = match &statement["Resource"] {
                    serde_json::Value::String(one) => vec![one.as_str()],
                    many => many
                        .as_array()
                        .map(|a| a.iter().filter_map(|r| r.as_str()).collect())
                        .unwrap_or_default(),
                };
                let actions: Vec<String> = match &statement["Action"] {
                    serde_json::Value::String(one) => vec![one.clone()],
                    many => many
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|x| x.as_str().map(String::from))
                                .collect()
                        })
                        .unwrap_or_default(),
                };
                let condition = statement["Condition"].as_object().map(|operators| {
                    operators
                        .iter()
                        .flat_map(|(operator, keys)| {
                            keys.as_object()
                                .into_iter()
                                .flat_map(|k| k.keys())
                                .map(move |key| format!("{operator} {key}"))
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                });
                let shown = actions.into_iter().map(|action| match &condition {
                    Some(condition) => format!("{action}` only under `{condition}"),
                    None => action,
                });
                if resources.contains(&"*") {
                    star.extend(shown);
                } else if resources
                    .iter()
                    .any(|r| r.ends_with('*') && !r.contains("dev"))
                {
                    type_wide.extend(shown);
                }
            }
        }
    }
    for list in [&mut star, &mut type_wide] {
        list.sort();
        list.dedup();
    }
    (star, type_wide)
}

/// README's Permissions section lists the wildcard grants as the policy has them (a test keeps
/// them one list; the failure prints the block to paste).
#[test]
fn the_readme_lists_exactly_the_wildcard_grants_of_the_deployer_policy() {
    let (star, type_wide) = wildcard_grants_of_every_scope();
    let reason = |action: &str| {
        if action.contains("aws:RequestTag") {
            return "creating: nothing exists yet to name, so the request must carry the environment's tag";
        }
        if action.contains("aws:ResourceTag") {
            return "a connection's ARN holds a random id, so its grants are scoped by its Environment tag";
        }
        deployer::WILDCARD_ACTIONS
            .iter()
            .chain(&deployer::ACCOUNT_WIDE_LISTS)
            .find(|(a, _)| *a == action)
            .map(|(_, why)| *why)
            .unwrap_or_else(|| {
                panic!("{action} has no reason in WILDCARD_ACTIONS or ACCOUNT_WIDE_LISTS")
            })
    };
    let line = |action: &String| format!("- `{action}`: {}", reason(action));
    let expected = format!(
        "<!-- wildcard-grants: generated from the deployer policy; the policy_lint test checks it -->\n\
         `Resource: \"*\"`, where AWS authorises the action on nothing narrower:\n{}\n\n\
         Every resource of a type: listings AWS authorises that way, and grants scoped by tag:\n{}\n\
         <!-- /wildcard-grants -->",
        star.iter().map(line).collect::<Vec<_>>().join("\n"),
        type_wide.iter().map(line).collect::<Vec<_>>().join("\n"),
    );
    let readme =
        std::fs::read_to_string(testkit::workspace_root().join("README.md")).expect("README");
    let start = readme.find("<!-- wildcard-grants").unwrap_or(0);
    let end = readme
        .find("<!-- /wildcard-grants -->")
        .map_or(0, |i| i + "<!-- /wildcard-grants -->".len());
    assert_eq!(
        readme.get(start..end).unwrap_or_default(),
        expected,
        "README's Permissions section must hold exactly this block:\n{expected}"
    );
}

/// README's "It is about N characters" is the size of the policy of the default options (the
/// webhook source, no deploy target), within 5%.
#[test]
fn the_readme_states_the_deployer_policy_size() {
    let target = Target {
        account_id: "123456789012".into(),
        region: "us-east-1".into(),
    };
    let env = pipeline_common::EnvName::parse("dev").expect("env");
    let document = deployer::policy(&deployer::Scope {
        env: &env,
        target: &target,
        source: bootstrap::config::SourceMode::GithubWebhook,
        connection_arn: None,
        github_token_secret: None,
        deploy_webhook_secret_arn: None,
        deploy_target: None,
        stage_targets: &[],
        base_image_source: bootstrap::config::BaseImageSource::DockerHub,
        github_status_token_secret: None,
    });
    let size = deployer::size(&document);
    let readme =
        std::fs::read_to_string(testkit::workspace_root().join("README.md")).expect("README");
    let stated: usize = readme
        .split("It is about ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .map(|n| n.replace(',', ""))
        .and_then(|n| n.parse().ok())
        .expect("README says \"It is about N characters\"");
    assert!(
        stated.abs_diff(size) * 20 <= size,
        "README says about {stated} characters; the policy has {size}: update README's Permissions"
    );
}
