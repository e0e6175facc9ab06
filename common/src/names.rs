//! Deterministic resource names derived from the environment suffix, and the rules they obey.

use std::fmt;

/// Longest environment suffix for which every derived name satisfies its service's limits.
///
/// The tightest limit is the artifact bucket: `artifacts-{12-digit account}-{env}` must fit in
/// S3's 63 characters, which leaves 40 for the suffix.
pub const MAX_ENV_LEN: usize = 40;

/// A validated environment suffix: lowercase letters, digits and single hyphens,
/// starting with a letter, at most [`MAX_ENV_LEN`] characters.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EnvName(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvNameError {
    #[error("environment name is empty: pass --env with a short suffix such as `dev` or `prod`")]
    Empty,
    #[error(
        "environment name `{name}` is {len} characters; the longest allowed is {max}, \
         because the artifact bucket `artifacts-<account-id>-<env>` must fit S3's 63-character limit"
    )]
    TooLong {
        name: String,
        len: usize,
        max: usize,
    },
    #[error(
        "environment name `{name}` contains `{bad}`: use only lowercase letters a-z, digits and \
         single hyphens, because S3 bucket and ECR repository names must be lowercase"
    )]
    BadCharacter { name: String, bad: char },
    #[error(
        "environment name `{name}` must start with a lowercase letter (IAM, Lambda and S3 names derive from it)"
    )]
    BadStart { name: String },
    #[error(
        "environment name `{name}` must not end with a hyphen or contain `--` (S3 and ECR reject such names)"
    )]
    BadHyphen { name: String },
}

impl EnvName {
    pub fn parse(raw: &str) -> Result<Self, EnvNameError> {
        let name = raw.to_owned();
        let Some(first) = raw.chars().next() else {
            return Err(EnvNameError::Empty);
        };
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(EnvNameError::BadCharacter { name, bad });
        }
        if raw.len() > MAX_ENV_LEN {
            return Err(EnvNameError::TooLong {
                len: raw.len(),
                name,
                max: MAX_ENV_LEN,
            });
        }
        if !first.is_ascii_lowercase() {
            return Err(EnvNameError::BadStart { name });
        }
        if raw.ends_with('-') || raw.contains("--") {
            return Err(EnvNameError::BadHyphen { name });
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn names(&self) -> ResourceNames<'_> {
        ResourceNames { env: self }
    }
}

impl fmt::Display for EnvName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::str::FromStr for EnvName {
    type Err = EnvNameError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Every resource name of one environment, `{resource-type}-{env}`.
#[derive(Clone, Copy, Debug)]
pub struct ResourceNames<'a> {
    env: &'a EnvName,
}

impl ResourceNames<'_> {
    fn with(&self, kind: &str) -> String {
        format!("{kind}-{}", self.env)
    }
    /// S3 names are global, so the bucket also carries the account id.
    pub fn artifact_bucket(&self, account_id: &str) -> String {
        format!("artifacts-{account_id}-{}", self.env)
    }
    pub fn ecr_repository(&self) -> String {
        self.with("app")
    }
    pub fn codebuild_project(&self) -> String {
        self.with("build")
    }
    pub fn pipeline(&self) -> String {
        self.with("pipeline")
    }
    pub fn deploy_handler(&self) -> String {
        self.with("deploy-handler")
    }
    pub fn event_notifier(&self) -> String {
        self.with("event-notifier")
    }
    pub fn notification_topic(&self) -> String {
        self.with("notifications")
    }
    /// The EventBridge source of the deploy-handler's events (`rust-pipeline.deploy-handler.<env>`):
    /// the function's role may put events of this source only, so one environment cannot emit
    /// events shaped like another's (EventBridge User Guide, "Using IAM policy conditions":
    /// `events:source`).
    pub fn deployment_event_source(&self) -> String {
        format!("{}.{}", crate::DEPLOYMENT_EVENT_SOURCE, self.env)
    }
    pub fn codebuild_role(&self) -> String {
        self.with("codebuild-role")
    }
    pub fn pipeline_role(&self) -> String {
        self.with("codepipeline-role")
    }
    pub fn deploy_handler_role(&self) -> String {
        self.with("deploy-handler-role")
    }
    pub fn event_notifier_role(&self) -> String {
        self.with("event-notifier-role")
    }
    /// Customer managed policy that is the permissions boundary of the four roles: the most they
    /// may ever do. The administrator creates it (`bootstrap deployer-policy --boundary`); the
    /// deployer may create and change the roles only with it attached.
    pub fn permissions_boundary(&self) -> String {
        self.with("pipeline-boundary")
    }
    /// Rule that sends pipeline, stage and failed-action state changes to the event-notifier.
    pub fn events_rule(&self) -> String {
        self.with("pipeline-events")
    }
    /// Rule that sends FAILED straight to SNS, so failure mail arrives even if the notifier is broken.
    pub fn failed_rule(&self) -> String {
        self.with("pipeline-failed")
    }
    pub fn webhook(&self) -> String {
        self.with("webhook")
    }
    /// Secrets Manager secret holding the GitHub webhook's HMAC secret (stable across deploys).
    pub fn webhook_secret(&self) -> String {
        self.with("pipeline-webhook-secret")
    }
    /// CodeStar connection names are limited to 32 characters: a long suffix is shortened
    /// deterministically (prefix plus a hash of the whole suffix), so the name stays unique.
    pub fn connection(&self) -> String {
        let full = self.with("github");
        if full.len() <= 32 {
            return full;
        }
        let hash = self.env_hash();
        let prefix = self.env.as_str()[..15].trim_end_matches('-');
        format!("github-{prefix}-{:08x}", hash as u32)
    }
    /// Repository prefix of the ECR pull-through cache rule of `--base-image-source
    /// pull-through-cache`: the cached images live in `<prefix>/docker/library/<name>`. ECR allows
    /// a prefix of at most 30 characters (API Reference, CreatePullThroughCacheRule,
    /// `ecrRepositoryPrefix`), so a long suffix is shortened as [`Self::connection`] does.
    pub fn base_image_cache(&self) -> String {
        let full = self.with("base-images");
        if full.len() <= 30 {
            return full;
        }
        let prefix = self.env.as_str()[..8].trim_end_matches('-');
        format!("base-images-{prefix}-{:08x}", self.env_hash() as u32)
    }
    /// FNV-1a of the whole suffix: what a shortened name keeps of the part it drops.
    fn env_hash(&self) -> u64 {
        self.env
            .as_str()
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
            })
    }
    /// The report group `buildspec.yml`'s `reports:` section names, as CodeBuild names it:
    /// `<project>-<group>`.
    pub fn codebuild_report_group(&self) -> String {
        format!(
            "{}-{}",
            self.codebuild_project(),
            crate::codebuild_env::REPORT_GROUP
        )
    }
    pub fn codebuild_log_group(&self) -> String {
        format!("/aws/codebuild/{}", self.codebuild_project())
    }
    pub fn deploy_handler_log_group(&self) -> String {
        format!("/aws/lambda/{}", self.deploy_handler())
    }
    pub fn event_notifier_log_group(&self) -> String {
        format!("/aws/lambda/{}", self.event_notifier())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_suffixes() {
        for ok in ["dev", "prod", "pr-123", "a", "team-a-staging"] {
            assert_eq!(EnvName::parse(ok).map(|e| e.to_string()), Ok(ok.to_owned()));
        }
    }

    #[test]
    fn rejects_each_rule_with_its_own_error() {
        assert_eq!(EnvName::parse(""), Err(EnvNameError::Empty));
        assert!(matches!(
            EnvName::parse("Dev"),
            Err(EnvNameError::BadCharacter { bad: 'D', .. })
        ));
        assert!(matches!(
            EnvName::parse("dev_1"),
            Err(EnvNameError::BadCharacter { bad: '_', .. })
        ));
        assert!(matches!(
            EnvName::parse("1dev"),
            Err(EnvNameError::BadStart { .. })
        ));
        assert!(matches!(
            EnvName::parse("dev-"),
            Err(EnvNameError::BadHyphen { .. })
        ));
        assert!(matches!(
            EnvName::parse("a--b"),
            Err(EnvNameError::BadHyphen { .. })
        ));
        let long = "a".repeat(MAX_ENV_LEN + 1);
        let err = EnvName::parse(&long).unwrap_err();
        assert!(
            err.to_string()
                .contains(&format!("longest allowed is {MAX_ENV_LEN}"))
        );
    }

    #[test]
    fn longest_suffix_fits_every_service_limit() {
        let env = EnvName::parse(&"a".repeat(MAX_ENV_LEN)).unwrap();
        let n = env.names();
        let bucket = n.artifact_bucket("123456789012");
        assert!(bucket.len() <= 63, "{bucket}");
        for role in [
            n.codebuild_role(),
            n.pipeline_role(),
            n.deploy_handler_role(),
            n.event_notifier_role(),
        ] {
            assert!(role.len() <= 64, "IAM role {role}");
        }
        // IAM API Reference, CreatePolicy: PolicyName is at most 128 characters.
        assert!(n.permissions_boundary().len() <= 128);
        for f in [n.deploy_handler(), n.event_notifier()] {
            assert!(f.len() <= 64, "Lambda {f}");
        }
        for r in [n.events_rule(), n.failed_rule()] {
            assert!(r.len() <= 64, "rule {r}");
        }
        assert!(n.pipeline().len() <= 100);
        assert!(n.webhook().len() <= 100);
        assert!(n.connection().len() <= 32, "{}", n.connection());
        let other = EnvName::parse(&format!("{}b", "a".repeat(MAX_ENV_LEN - 1))).unwrap();
        assert_ne!(n.connection(), other.names().connection());
        assert!(n.ecr_repository().len() <= 256);
        let cache = n.base_image_cache();
        assert!((2..=30).contains(&cache.len()), "{cache}");
        assert_ne!(cache, other.names().base_image_cache());
        assert_eq!(
            EnvName::parse("dev").unwrap().names().base_image_cache(),
            "base-images-dev"
        );
        assert!(n.codebuild_project().len() <= 150);
    }
}
