//! `--base-image-source` in the desired state: the registry the build gets, the cache rule and
//! its edges in pull-through-cache mode only, and the build role's grants for pulling through it.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::artifacts::{LambdaZip, Package};
use crate::config::{Layer, read_file, resolve};
use std::path::PathBuf;

fn target() -> Target {
    Target {
        account_id: "123456789012".into(),
        region: "eu-west-1".into(),
    }
}

fn zips() -> Zips {
    let zip = LambdaZip {
        package: Package::File(PathBuf::from("x.zip")),
        code_sha256: "abc=".into(),
        architecture: "arm64".into(),
    };
    Zips {
        deploy_handler: zip.clone(),
        event_notifier: zip,
    }
}

fn config(source: Option<&str>) -> Config {
    let given = Layer {
        env: Some("dev".into()),
        github_repo: Some("octo/app".into()),
        base_image_source: source.map(|s| s.parse().unwrap()),
        ..Layer::default()
    };
    resolve(given, Layer::default()).unwrap()
}

fn stack(source: Option<&str>) -> Vec<Desired> {
    build(&config(source), &target(), &zips(), &Late::default())
}

fn project(stack: &[Desired]) -> &ProjectSpec {
    stack
        .iter()
        .find_map(|d| match &d.spec {
            Spec::Project(p) => Some(p),
            _ => None,
        })
        .unwrap()
}

fn build_role_statement<'a>(stack: &'a [Desired], sid: &str) -> Option<&'a serde_json::Value> {
    stack
        .iter()
        .find_map(|d| match &d.spec {
            Spec::Role(r) if r.name == "codebuild-role-dev" => Some(&r.inline_policy),
            _ => None,
        })
        .unwrap()["Statement"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Sid"] == sid)
}

#[test]
fn the_build_gets_the_registry_of_the_chosen_source() {
    let cases = [
        (None, "docker.io/library"),
        (Some("docker-hub"), "docker.io/library"),
        (Some("ecr-public"), "public.ecr.aws/docker/library"),
        (
            Some("pull-through-cache"),
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/base-images-dev/docker/library",
        ),
    ];
    for (source, registry) in cases {
        let stack = stack(source);
        assert_eq!(
            project(&stack).environment[codebuild_env::BASE_IMAGE_REGISTRY],
            registry,
            "{source:?}"
        );
    }
}

#[test]
fn only_pull_through_cache_has_a_rule_and_the_build_grants_to_use_it() {
    for source in [None, Some("ecr-public")] {
        let stack = stack(source);
        assert!(
            stack
                .iter()
                .all(|d| d.id.kind != Kind::PullThroughCacheRule)
        );
        assert!(build_role_statement(&stack, "PullBaseImagesThroughCache").is_none());
    }
    let stack = stack(Some("pull-through-cache"));
    let rule = stack
        .iter()
        .find(|d| d.id.kind == Kind::PullThroughCacheRule)
        .unwrap();
    assert_eq!(rule.id.name, "app-dev/base-images-dev");
    assert_eq!(
        rule.spec,
        Spec::PullThroughCacheRule(PullThroughCacheRuleSpec {
            repository: "app-dev".into(),
            prefix: "base-images-dev".into(),
            upstream_registry_url: "public.ecr.aws".into(),
        })
    );
    assert_eq!(
        rule.depends_on,
        vec![ResourceId::new(Kind::Repository, "app-dev")]
    );
    let project = stack.iter().find(|d| d.id.kind == Kind::Project).unwrap();
    assert!(
        project.depends_on.contains(&rule.id),
        "builds pull through it"
    );
    assert!(inventory(&config(None).env, &target()).contains(&rule.id));

    let grant = build_role_statement(&stack, "PullBaseImagesThroughCache").unwrap();
    assert_eq!(
        grant["Resource"],
        json!(["arn:aws:ecr:eu-west-1:123456789012:repository/base-images-dev/*"])
    );
    for action in ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"] {
        assert!(
            grant["Action"].as_array().unwrap().contains(&json!(action)),
            "{action}"
        );
    }
}

#[test]
fn the_option_is_read_from_the_file_and_an_unknown_source_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bootstrap.toml");
    std::fs::write(&path, "base-image-source = \"ecr-public\"\n").unwrap();
    let file = read_file(Some(&path)).unwrap();
    let given = Layer {
        env: Some("dev".into()),
        github_repo: Some("octo/app".into()),
        ..Layer::default()
    };
    let config = resolve(given, file).unwrap();
    assert_eq!(config.base_image_source, BaseImageSource::EcrPublic);
    let refused = "quay".parse::<BaseImageSource>().unwrap_err();
    assert!(refused.contains("pull-through-cache"), "{refused}");
}
