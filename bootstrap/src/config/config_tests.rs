//! The configuration's merge and validation, table by table.
#![allow(clippy::unwrap_used)]

use super::*;

fn layer(env: &str) -> Layer {
    Layer {
        env: Some(env.into()),
        github_repo: Some("octo/app".into()),
        ..Layer::default()
    }
}

#[test]
fn flags_win_over_the_file_and_defaults_fill_the_rest() {
    let file: Layer = toml::from_str(
        "env = \"prod\"\nbranch = \"release\"\nlog-retention-days = 7\n[tag]\nteam = \"a\"\n",
    )
    .unwrap();
    let mut given = layer("dev");
    given.tag = Some(vec![("team".into(), "b".into())]);
    let config = resolve(given, file).unwrap();
    assert_eq!(config.env.as_str(), "dev");
    assert_eq!(config.branch, "release");
    assert_eq!(config.log_retention_days, 7);
    assert_eq!(config.tags["team"], "b");
    assert_eq!(config.source, SourceMode::GithubWebhook);
    assert_eq!(config.artifacts_dir, None, "the zips built into bootstrap");
    assert_eq!(config.lambda_arch, None);
}

#[test]
fn the_rollout_bound_defaults_to_an_hour_and_stays_below_codepipelines_day() {
    assert_eq!(
        resolve(layer("dev"), Layer::default())
            .unwrap()
            .rollout_timeout_minutes,
        60
    );
    let file: Layer = toml::from_str("rollout-timeout-minutes = 90\n").unwrap();
    assert_eq!(
        resolve(layer("dev"), file).unwrap().rollout_timeout_minutes,
        90
    );
    for bad in [0, 1440] {
        let given = Layer {
            rollout_timeout_minutes: Some(bad),
            ..layer("dev")
        };
        let err = resolve(given, Layer::default()).unwrap_err().to_string();
        assert!(
            err.contains("--rollout-timeout-minutes") && err.contains("24 hours"),
            "{err}"
        );
    }
}

#[test]
fn each_bad_input_is_named_with_its_fix() {
    let cases: Vec<(Layer, &str)> = vec![
        (
            Layer {
                env: Some("Dev".into()),
                ..layer("x")
            },
            "lowercase",
        ),
        (
            Layer {
                github_repo: Some("no-slash".into()),
                ..layer("dev")
            },
            "OWNER/REPO",
        ),
        (
            Layer {
                log_retention_days: Some(8),
                ..layer("dev")
            },
            "retention",
        ),
        (
            Layer {
                notify_email: Some(vec!["nobody".into()]),
                ..layer("dev")
            },
            "email",
        ),
        (
            Layer {
                notify_url: Some(vec!["http://x".into()]),
                ..layer("dev")
            },
            "https://",
        ),
        (
            Layer {
                tag: Some(vec![("ManagedBy".into(), "me".into())]),
                ..layer("dev")
            },
            "reserved",
        ),
        (
            Layer {
                branch: Some("refs/heads/main".into()),
                ..layer("dev")
            },
            "plain branch",
        ),
        (
            Layer {
                topic_kms_key: Some("alias/aws/sns".into()),
                ..layer("dev")
            },
            "EventBridge cannot publish",
        ),
        (
            Layer {
                topic_kms_key: Some("arn:aws:kms:us-east-1:123456789012:alias/team".into()),
                ..layer("dev")
            },
            "is an alias",
        ),
        (
            Layer {
                topic_kms_key: Some("1234abcd-12ab-34cd-56ef-1234567890ab".into()),
                ..layer("dev")
            },
            "arn:aws:kms:REGION:ACCOUNT:key/KEY-ID",
        ),
        (
            Layer {
                deploy_webhook_url: Some("https://deploy.example.com".into()),
                deploy_webhook_secret_arn: Some("arn:aws:secretsmanager:us-east-1:1:x".into()),
                ..layer("dev")
            },
            "arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-SUFFIX",
        ),
        (
            Layer {
                deploy_webhook_url: Some("https://deploy.example.com".into()),
                deploy_webhook_secret_arn: Some("deploy key!".into()),
                ..layer("dev")
            },
            "neither a secret ARN nor a secret name",
        ),
        (
            Layer {
                deploy_webhook_secret_arn: Some("deploy-key".into()),
                ..layer("dev")
            },
            "give both, or neither",
        ),
    ];
    for (given, expected) in cases {
        let err = resolve(given, Layer::default()).unwrap_err().to_string();
        assert!(err.contains(expected), "{err} should mention {expected}");
    }
    let err = resolve_env(&Layer::default(), &Layer::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("--env"), "{err}");
    let err = resolve(
        Layer {
            env: Some("dev".into()),
            ..Layer::default()
        },
        Layer::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("--github-repo"), "{err}");
}

#[test]
fn a_topic_key_must_be_a_key_arn_in_the_stack_region() {
    let key = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    let config = resolve(
        Layer {
            topic_kms_key: Some(key.into()),
            ..layer("dev")
        },
        Layer::default(),
    )
    .unwrap();
    assert_eq!(config.topic_kms_key.as_deref(), Some(key));
    let target = |region: &str| crate::aws::Target {
        account_id: "123456789012".into(),
        region: region.into(),
    };
    config.check_target(&target("eu-west-1")).unwrap();
    let err = config
        .check_target(&target("us-east-1"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("is in eu-west-1") && err.contains("us-east-1"),
        "{err}"
    );
}

#[test]
fn unknown_file_keys_are_rejected_with_the_line() {
    let dir = std::env::temp_dir().join(format!("bootstrap-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bootstrap.toml");
    std::fs::write(&path, "env = \"dev\"\ngithub_repo = \"a/b\"\n").unwrap();
    let err = read_file(Some(&path)).unwrap_err().to_string();
    assert!(
        err.contains("github_repo") && err.contains("github-repo"),
        "{err}"
    );
    std::fs::write(&path, "env = [\n").unwrap();
    assert!(
        read_file(Some(&path))
            .unwrap_err()
            .to_string()
            .contains("not valid")
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_webhook_secret_elsewhere_than_the_stack_is_refused_once_the_target_is_known() {
    let config = |secret: &str| {
        resolve(
            Layer {
                deploy_webhook_url: Some("https://deploy.example.com".into()),
                deploy_webhook_secret_arn: Some(secret.into()),
                ..layer("dev")
            },
            Layer::default(),
        )
        .unwrap()
    };
    let target = crate::aws::Target {
        account_id: "123456789012".into(),
        region: "us-east-1".into(),
    };
    for fine in [
        "deploy/webhook-key",
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:deploy-AbCdEf",
    ] {
        config(fine).check_target(&target).unwrap();
    }
    for (elsewhere, named) in [
        (
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:k-AbCdEf",
            "eu-west-1",
        ),
        (
            "arn:aws:secretsmanager:us-east-1:999999999999:secret:k-AbCdEf",
            "999999999999",
        ),
    ] {
        let err = config(elsewhere)
            .check_target(&target)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(named) && err.contains("stack's account and region"),
            "{err}"
        );
    }
}
