//! SDK clients for every service the stack uses, built once from the standard AWS chain.

use crate::progress::CallCount;
use crate::retry_notice::RetryNotice;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use std::time::Duration;

/// The account and region being deployed to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub account_id: String,
    pub region: String,
}

impl Target {
    /// `aws`, `aws-cn` or `aws-us-gov`, from the region.
    pub fn partition(&self) -> &'static str {
        if self.region.starts_with("cn-") {
            "aws-cn"
        } else if self.region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        }
    }

    /// `arn:{partition}:{service}:{region}:{account}:{resource}`.
    pub fn arn(&self, service: &str, resource: &str) -> String {
        format!(
            "arn:{}:{service}:{}:{}:{resource}",
            self.partition(),
            self.region,
            self.account_id
        )
    }

    /// IAM ARNs have no region.
    pub fn iam_arn(&self, resource: &str) -> String {
        format!(
            "arn:{}:iam::{}:{resource}",
            self.partition(),
            self.account_id
        )
    }

    pub fn role_arn(&self, role: &str) -> String {
        self.iam_arn(&format!("role/{role}"))
    }

    pub fn dns_suffix(&self) -> &'static str {
        if self.partition() == "aws-cn" {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        }
    }
}

/// One client per service, sharing one configuration.
#[derive(Clone, Debug)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub ecr: aws_sdk_ecr::Client,
    pub iam: aws_sdk_iam::Client,
    pub lambda: aws_sdk_lambda::Client,
    /// Reads the `--deploy-target` service; nothing of ECS is ours.
    pub ecs: aws_sdk_ecs::Client,
    pub codebuild: aws_sdk_codebuild::Client,
    pub codepipeline: aws_sdk_codepipeline::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub sns: aws_sdk_sns::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub sts: aws_sdk_sts::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub connections: aws_sdk_codestarconnections::Client,
    pub tagging: aws_sdk_resourcegroupstagging::Client,
}

/// Loads the standard chain (env, profile, SSO, IMDS...) with `region` overriding it, us-east-1
/// when nothing is configured, and a retry budget sized for control-plane throttling unless
/// the user set one (`AWS_MAX_ATTEMPTS` / `max_attempts` in the profile win).
pub async fn load_config(region: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if std::env::var_os("AWS_MAX_ATTEMPTS").is_none() {
        loader = loader.retry_config(
            RetryConfig::standard()
                .with_max_attempts(8)
                .with_initial_backoff(Duration::from_millis(200))
                .with_max_backoff(Duration::from_secs(10)),
        );
    }
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_owned()));
    }
    let config = loader.load().await;
    if config.region().is_some() {
        return config;
    }
    config
        .into_builder()
        .region(Region::new("us-east-1"))
        .build()
}

impl Clients {
    /// Clients that print nothing when they retry (tests, and commands whose output is JSON).
    pub fn new(config: &SdkConfig) -> Self {
        Self::with_notice(config, RetryNotice::new(true))
    }

    /// Clients that announce each retry through `notice` and count each request for the step
    /// that sends it (`--progress json`).
    pub fn with_notice(config: &SdkConfig, notice: RetryNotice) -> Self {
        // A custom endpoint (AWS_ENDPOINT_URL, e.g. a local emulator) cannot serve virtual-host
        // bucket addressing, so S3 goes path-style whenever one is configured.
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(
                config.endpoint_url().is_some()
                    || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some(),
            )
            .interceptor(notice.clone())
            .interceptor(CallCount)
            .build();
        macro_rules! client {
            ($sdk:ident) => {
                $sdk::Client::from_conf(
                    $sdk::config::Builder::from(config)
                        .interceptor(notice.clone())
                        .interceptor(CallCount)
                        .build(),
                )
            };
        }
        Self {
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            ecr: client!(aws_sdk_ecr),
            iam: client!(aws_sdk_iam),
            lambda: client!(aws_sdk_lambda),
            ecs: client!(aws_sdk_ecs),
            codebuild: client!(aws_sdk_codebuild),
            codepipeline: client!(aws_sdk_codepipeline),
            logs: client!(aws_sdk_cloudwatchlogs),
            sns: client!(aws_sdk_sns),
            events: client!(aws_sdk_eventbridge),
            sts: client!(aws_sdk_sts),
            secrets: client!(aws_sdk_secretsmanager),
            connections: client!(aws_sdk_codestarconnections),
            tagging: client!(aws_sdk_resourcegroupstagging),
        }
    }
}
