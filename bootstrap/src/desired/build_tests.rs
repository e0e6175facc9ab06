//! The desired state's invariants: policies scoped to the environment, every resource named and
//! tagged as ours, edges destroy can walk, the source modes' shapes.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::config::{Layer, resolve};
use crate::policies::{WILDCARD_RESOURCE_ACTIONS, actions};
use serde_json::Value;
use std::path::PathBuf;

fn target() -> Target {
    Target {
        account_id: "123456789012".into(),
        region: "eu-west-1".into(),
    }
}

fn zip(arch: &str) -> LambdaZip {
    LambdaZip {
        package: crate::artifacts::Package::File(PathBuf::from("x.zip")),
        code_sha256: "abc=".into(),
        architecture: arch.into(),
    }
}

fn zips() -> Zips {
    Zips {
        deploy_handler: zip("arm64"),
        event_notifier: zip("x86_64"),
    }
}

fn config(source: &str) -> Config {
    let given = Layer {
        env: Some("dev".into()),
        github_repo: Some("octo/app".into()),
        source: Some(source.parse().unwrap()),
        notify_email: Some(vec!["b@example.com".into(), "a@example.com".into()]),
        ..Layer::default()
    };
    resolve(given, Layer::default()).unwrap()
}

fn statements(policy: &Value) -> Vec<&Value> {
    policy["Statement"]
        .as_array()
        .map(|s| s.iter().collect())
        .unwrap_or_default()
}

#[test]
fn no_wildcard_action_and_wildcard_resources_only_where_listed() {
    for source in ["github-webhook", "codeconnections"] {
        for want in build(&config(source), &target(), &zips(), &Late::default()) {
            let Spec::Role(role) = &want.spec else {
                continue;
            };
            for policy in [&role.inline_policy, &role.trust_policy] {
                for action in actions(policy) {
                    assert!(
                        !action.contains('*'),
                        "{}: wildcard action {action}",
                        role.name
                    );
                }
            }
            for statement in statements(&role.inline_policy) {
                let resources: Vec<&str> = match &statement["Resource"] {
                    Value::String(r) => vec![r.as_str()],
                    Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
                    other => panic!("{}: resource {other}", role.name),
                };
                if resources.contains(&"*") {
                    for action in actions(&json!({ "Statement": [statement] })) {
                        assert!(
                            WILDCARD_RESOURCE_ACTIONS.iter().any(|(a, _)| *a == action),
                            "{}: {action} on * is not a listed exception",
                            role.name
                        );
                    }
                }
            }
            // A trust condition only for a service documented to send the key when it
            // assumes the role (policies::TRUST_SOURCE_ACCOUNT); CodeBuild is one.
            let trust = &role.trust_policy["Statement"][0];
            let service = trust["Principal"]["Service"].as_str().expect("service");
            let condition = &trust["Condition"]["StringEquals"]["aws:SourceAccount"];
            if service == "codebuild.amazonaws.com" {
                assert_eq!(condition, "123456789012", "{}", role.name);
            } else {
                assert!(
                    trust.get("Condition").is_none(),
                    "{}: {service} sends no aws:SourceAccount when assuming a role, so a \
                     condition on it would make the role unusable",
                    role.name
                );
            }
        }
    }
}

#[test]
fn every_resource_is_named_for_the_env_and_tagged_as_ours() {
    let all = build(
        &config("github-webhook"),
        &target(),
        &zips(),
        &Late::default(),
    );
    assert_eq!(
        all,
        build(
            &config("github-webhook"),
            &target(),
            &zips(),
            &Late::default()
        ),
        "deterministic"
    );
    for want in &all {
        assert!(
            want.id.name.contains("dev"),
            "{} lacks the env suffix",
            want.id
        );
        if let Some(tags) = want.spec.tags() {
            assert_eq!(
                tags.get("ManagedBy").map(String::as_str),
                Some(tags::MANAGED_BY_VALUE)
            );
            assert_eq!(tags.get("Environment").map(String::as_str), Some("dev"));
            assert!(tags.contains_key("Project"));
        }
        for dep in &want.depends_on {
            assert!(
                all.iter().any(|d| &d.id == dep),
                "{} depends on {dep}, which is not desired",
                want.id
            );
        }
    }
    let inventory = inventory(&config("github-webhook").env, &target());
    for want in &all {
        assert!(
            inventory.contains(&want.id),
            "{} is missing from the inventory destroy uses",
            want.id
        );
    }
}

#[test]
fn every_edge_apply_follows_is_one_destroy_walks_in_reverse() {
    // Destroy orders kinds by `Resource::DEPENDS_ON`; apply by these finer edges. An edge the
    // kinds' graph does not cover would let destroy delete a resource before its dependant.
    let levels = crate::engine::kind_levels(crate::resources::depends_on);
    let late = Late {
        connection_arn: Some(
            "arn:aws:codestar-connections:eu-west-1:123456789012:connection/x".into(),
        ),
        ..Late::default()
    };
    for source in ["github-webhook", "codeconnections"] {
        for want in build(&config(source), &target(), &zips(), &late) {
            for dep in &want.depends_on {
                assert!(
                    levels[&want.id.kind] > levels[&dep.kind],
                    "{} depends on {dep}, but {:?} is not among the kinds {:?} depends on \
                     (resources/{:?}'s DEPENDS_ON)",
                    want.id,
                    dep.kind,
                    want.id.kind,
                    want.id.kind
                );
            }
        }
    }
}

#[test]
fn source_modes_shape_the_pipeline() {
    let webhook = build(
        &config("github-webhook"),
        &target(),
        &zips(),
        &Late::default(),
    );
    assert!(webhook.iter().any(|d| d.id.kind == Kind::Webhook));
    assert!(webhook.iter().any(|d| d.id.kind == Kind::Secret));
    assert!(!webhook.iter().any(|d| d.id.kind == Kind::Connection));
    let late = Late {
        connection_arn: Some(
            "arn:aws:codestar-connections:eu-west-1:123456789012:connection/x".into(),
        ),
        ..Late::default()
    };
    let connections = build(&config("codeconnections"), &target(), &zips(), &late);
    assert!(!connections.iter().any(|d| d.id.kind == Kind::Webhook));
    let pipeline = connections.iter().find_map(|d| match &d.spec {
        Spec::Pipeline(p) => Some(p),
        _ => None,
    });
    let pipeline = pipeline.expect("pipeline");
    assert_eq!(pipeline.pipeline_type, "V2");
    assert!(matches!(
        &pipeline.source,
        SourceSpec::Connection {
            connection_arn: Some(_),
            ..
        }
    ));
    assert!(pipeline.deploy_user_parameters.len() <= 1000);
    let parameters: Value = serde_json::from_str(&pipeline.deploy_user_parameters).unwrap();
    assert_eq!(
        parameters["timeoutSeconds"],
        i64::from(config("codeconnections").rollout_timeout_minutes) * 60,
        "the Deploy action bounds its rollout: {parameters}"
    );
    let role = connections
        .iter()
        .find_map(|d| match &d.spec {
            Spec::Role(r) if r.name.starts_with("codepipeline-role") => Some(r),
            _ => None,
        })
        .expect("pipeline role");
    assert!(
        actions(&role.inline_policy).contains(&"codestar-connections:UseConnection".to_owned())
    );
}

#[test]
fn the_build_caches_docker_layers_only_as_its_source_comes_from_the_pipeline() {
    for source in ["github-webhook", "codeconnections"] {
        let late = Late {
            connection_arn: Some("arn:aws:codestar-connections:eu-west-1:1:connection/x".into()),
            ..Late::default()
        };
        let project = build(&config(source), &target(), &zips(), &late)
            .into_iter()
            .find_map(|d| match d.spec {
                Spec::Project(p) => Some(p),
                _ => None,
            })
            .expect("a build project");
        assert_eq!(
            project.cache_modes,
            ["LOCAL_DOCKER_LAYER_CACHE"],
            "{source}"
        );
    }
}

/// The artifacts are SSE-KMS under the AWS managed key `aws/s3`, named on the artifact store;
/// anything else in the bucket falls back to the bucket's default, SSE-S3.
#[test]
fn artifacts_are_encrypted_under_the_aws_managed_s3_key_and_the_bucket_defaults_to_sse_s3() {
    let desired = build(
        &config("github-webhook"),
        &target(),
        &zips(),
        &Late::default(),
    );
    let pipeline = desired
        .iter()
        .find_map(|d| match &d.spec {
            Spec::Pipeline(p) => Some(p),
            _ => None,
        })
        .expect("pipeline");
    assert_eq!(
        pipeline.artifact_key,
        "arn:aws:kms:eu-west-1:123456789012:alias/aws/s3"
    );
    let bucket = desired
        .iter()
        .find_map(|d| match &d.spec {
            Spec::Bucket(b) => Some(b),
            _ => None,
        })
        .expect("bucket");
    assert_eq!(bucket.name, pipeline.artifact_bucket);
    assert_eq!(
        (bucket.sse_algorithm.as_str(), bucket.kms_key_id.as_deref()),
        ("AES256", None)
    );
}

#[test]
fn functions_take_the_architecture_of_their_zip() {
    for want in build(
        &config("github-webhook"),
        &target(),
        &zips(),
        &Late::default(),
    ) {
        if let Spec::Function(f) = &want.spec {
            let expected = if f.name.starts_with("deploy-handler") {
                "arm64"
            } else {
                "x86_64"
            };
            assert_eq!(f.architecture, expected);
        }
    }
}

#[test]
fn a_topic_key_encrypts_the_topic_and_only_the_notifier_may_use_it() {
    let key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let mut with_key = config("github-webhook");
    with_key.topic_kms_key = Some(key.into());
    for (config, expected) in [(config("github-webhook"), None), (with_key, Some(key))] {
        for want in build(&config, &target(), &zips(), &Late::default()) {
            match &want.spec {
                Spec::Topic(topic) => assert_eq!(topic.kms_key_id.as_deref(), expected),
                Spec::Role(role) => {
                    let kms: Vec<_> = statements(&role.inline_policy)
                        .into_iter()
                        .filter(|s| s["Action"].to_string().contains("kms:"))
                        .collect();
                    let may_use = expected.is_some() && role.name.starts_with("event-notifier");
                    assert_eq!(kms.len(), usize::from(may_use), "{}", role.name);
                    if let Some(statement) = kms.first() {
                        assert_eq!(statement["Resource"], json!([key]));
                    }
                }
                _ => {}
            }
        }
    }
}
