//! Desired and observed state as data: one typed spec per resource kind.
//!
//! A spec is what the bootstrap wants a resource to look like; observing a resource yields the
//! same spec type read back from AWS, normalised to the same shape, so that [`crate::plan`] can
//! compare the two field by field without knowing any service.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

pub type Tags = BTreeMap<String, String>;

/// Declares the resource kinds once: the [`Kind`] enum (in the order a plan lists them), the
/// [`Spec`] enum with one typed spec per kind, each kind's label, and whether AWS can tag it
/// (an untaggable kind is owned through its parent). Each kind's IO lives in one module under
/// `resources/`, registered once in `resources/mod.rs`.
macro_rules! kinds {
    ($($kind:ident($spec:ident) $label:literal $tagged:ident),* $(,)?) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum Kind {
            $($kind,)*
        }

        impl Kind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [Kind] = &[$(Kind::$kind),*];

            pub fn label(self) -> &'static str {
                match self {
                    $(Kind::$kind => $label,)*
                }
            }
        }

        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type", rename_all = "snake_case")]
        pub enum Spec {
            $($kind($spec),)*
        }

        impl Spec {
            pub fn kind(&self) -> Kind {
                match self {
                    $(Spec::$kind(_) => Kind::$kind,)*
                }
            }

            /// Tags the spec asks for; `None` for kinds AWS cannot tag (their parent carries the
            /// tags and decides ownership).
            pub fn tags(&self) -> Option<&Tags> {
                match self {
                    $(Spec::$kind(s) => kinds!(@tags s $tagged),)*
                }
            }
        }

        $(
            impl From<$spec> for Spec {
                fn from(spec: $spec) -> Self {
                    Spec::$kind(spec)
                }
            }

            /// The spec inside its [`Spec`] variant; the spec itself back when it is another kind.
            impl TryFrom<Spec> for $spec {
                type Error = Spec;

                fn try_from(spec: Spec) -> Result<Self, Spec> {
                    match spec {
                        Spec::$kind(inner) => Ok(inner),
                        other => Err(other),
                    }
                }
            }
        )*
    };
    (@tags $s:ident tagged) => { Some(&$s.tags) };
    (@tags $s:ident untagged) => {{ let _ = $s; None }};
}

kinds! {
    Role(RoleSpec) "iam role" tagged,
    LogGroup(LogGroupSpec) "log group" tagged,
    Secret(SecretSpec) "secret" tagged,
    Connection(ConnectionSpec) "codestar connection" tagged,
    Bucket(BucketSpec) "s3 bucket" tagged,
    Repository(RepositorySpec) "ecr repository" tagged,
    PullThroughCacheRule(PullThroughCacheRuleSpec) "ecr pull-through cache rule" untagged,
    Topic(TopicSpec) "sns topic" tagged,
    Function(FunctionSpec) "lambda function" tagged,
    ReportGroup(ReportGroupSpec) "codebuild report group" tagged,
    Project(ProjectSpec) "codebuild project" tagged,
    Pipeline(PipelineSpec) "codepipeline" tagged,
    Webhook(WebhookSpec) "pipeline webhook" tagged,
    Rule(RuleSpec) "eventbridge rule" tagged,
    Permission(PermissionSpec) "lambda permission" untagged,
}

/// A resource's identity: its kind and its deterministic AWS name.
///
/// For a [`Kind::Permission`] the name is `FUNCTION/STATEMENT_ID`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ResourceId {
    pub kind: Kind,
    pub name: String,
}

impl ResourceId {
    pub fn new(kind: Kind, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
        }
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind.label(), self.name)
    }
}

/// One resource of the desired state.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Desired {
    pub id: ResourceId,
    pub spec: Spec,
    /// Resources that must exist before this one can be created.
    pub depends_on: Vec<ResourceId>,
}

/// What observing found for one resource.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Observed {
    /// The resource read back, normalised to the shape of its desired spec.
    pub spec: Spec,
    /// All tags on the resource (ownership is decided from these).
    pub tags: Tags,
    /// The ARN AWS reports, when it has one.
    pub arn: Option<String>,
    /// A status worth showing (e.g. a connection's PENDING), when the kind has one.
    pub status: Option<String>,
    /// Untagged, but exactly what a crash between creating and tagging leaves (only for kinds
    /// whose create call cannot carry tags, e.g. an empty S3 bucket), or what a service creates
    /// on its own for a resource of ours (CodeBuild's report group): adopted, not refused.
    pub crash_leftover: bool,
}

impl Observed {
    /// A resource read back as `spec`, owned by the tags the spec read back (none for a kind AWS
    /// cannot tag), with no status: what most kinds observe.
    pub fn of(spec: impl Into<Spec>, arn: Option<String>) -> Self {
        let spec = spec.into();
        Self {
            tags: spec.tags().cloned().unwrap_or_default(),
            spec,
            arn,
            status: None,
            crash_leftover: false,
        }
    }

    /// The same, with a status worth showing.
    pub fn with_status(self, status: Option<String>) -> Self {
        Self { status, ..self }
    }
}

/// The name of the one inline policy the bootstrap writes on each of its roles.
pub const INLINE_POLICY_NAME: &str = "permissions";

/// IAM role with one inline policy (named [`RoleSpec::inline_policy_name`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RoleSpec {
    pub name: String,
    pub description: String,
    pub trust_policy: Value,
    pub inline_policy_name: String,
    pub inline_policy: Value,
    /// ARN of the managed policy that is the role's permissions boundary (empty: none).
    pub permissions_boundary: String,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LogGroupSpec {
    pub name: String,
    pub retention_days: i32,
    pub tags: Tags,
}

/// A Secrets Manager secret whose value the bootstrap generates once and never rotates
/// (the GitHub webhook's HMAC secret). The value is never part of a spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SecretSpec {
    pub name: String,
    pub description: String,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConnectionSpec {
    pub name: String,
    /// `GitHub`.
    pub provider_type: String,
    pub tags: Tags,
    /// ARNs of our other connections with this name, which two first deploys at once can leave
    /// (CreateConnection does not refuse a duplicate name); always empty when desired, so a
    /// duplicate shows in `plan` and the update deletes it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub duplicates: Vec<String>,
}

impl ConnectionSpec {
    /// A GitHub connection as desired: no duplicate.
    pub fn github(name: String, tags: Tags) -> Self {
        Self {
            name,
            provider_type: "GitHub".to_owned(),
            tags,
            duplicates: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BucketSpec {
    pub name: String,
    pub versioning: bool,
    /// `AES256` or `aws:kms`.
    pub sse_algorithm: String,
    pub kms_key_id: Option<String>,
    /// Days after which current objects expire.
    pub expire_days: i32,
    /// Days after which noncurrent versions expire.
    pub noncurrent_expire_days: i32,
    pub abort_multipart_days: i32,
    /// All four Block Public Access settings on.
    pub block_public_access: bool,
    /// `BucketOwnerEnforced`.
    pub object_ownership: String,
    pub policy: Value,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RepositorySpec {
    pub name: String,
    pub tag_immutable: bool,
    pub scan_on_push: bool,
    /// `AES256` or `KMS`.
    pub encryption_type: String,
    pub kms_key: Option<String>,
    pub lifecycle_policy: Value,
    pub repository_policy: Value,
    pub tags: Tags,
}

/// An ECR pull-through cache rule: the first pull of `<prefix>/<name>` from the registry makes
/// ECR fetch `<name>` from the upstream registry and cache it in that repository. AWS cannot tag
/// a rule, so it is observed with the tags of the environment's image repository and is ours
/// exactly when that repository is, as a Lambda permission is its function's. Its id's name is
/// `REPOSITORY/PREFIX`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PullThroughCacheRuleSpec {
    /// The environment's image repository, whose tags decide ownership.
    pub repository: String,
    /// The rule's ECR repository prefix (its identity in the registry).
    pub prefix: String,
    /// `public.ecr.aws`: ECR Public, which needs no credentials.
    pub upstream_registry_url: String,
}

impl PullThroughCacheRuleSpec {
    /// The id's name: `REPOSITORY/PREFIX`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.repository, self.prefix)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Subscription {
    /// `email` or `https`.
    pub protocol: String,
    pub endpoint: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TopicSpec {
    pub name: String,
    pub policy: Value,
    /// KMS key for encryption at rest, when one is configured.
    pub kms_key_id: Option<String>,
    /// Sorted.
    pub subscriptions: Vec<Subscription>,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FunctionSpec {
    pub name: String,
    pub role_arn: String,
    /// `provided.al2023`.
    pub runtime: String,
    /// `bootstrap`.
    pub handler: String,
    /// `x86_64` or `arm64`, read from the zip's ELF header.
    pub architecture: String,
    pub memory_mb: i32,
    pub timeout_seconds: i32,
    pub environment: BTreeMap<String, String>,
    pub log_group: String,
    /// `JSON`.
    pub log_format: String,
    /// Base64 SHA-256 of the zip, as Lambda reports `CodeSha256`.
    pub code_sha256: String,
    /// The zip, on disk or built into bootstrap; not compared (the hash stands for it).
    #[serde(skip)]
    pub package: crate::artifacts::Package,
    /// Asynchronous invocation: where failed events go, and how often Lambda retries.
    pub on_failure_destination: Option<String>,
    pub max_retry_attempts: Option<i32>,
    pub tags: Tags,
}

/// A statement in a function's resource policy letting a service invoke it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PermissionSpec {
    pub function_name: String,
    pub statement_id: String,
    pub principal: String,
    pub source_arn: String,
    pub source_account: String,
}

/// The report group a build's `reports:` section writes to (`<project>-<group>`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReportGroupSpec {
    pub name: String,
    /// `TEST`.
    pub report_type: String,
    /// `NO_EXPORT`: reports stay in CodeBuild (kept 30 days).
    pub export_config: String,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProjectSpec {
    pub name: String,
    pub service_role_arn: String,
    pub image: String,
    pub compute_type: String,
    /// `LINUX_CONTAINER` or `ARM_CONTAINER`.
    pub environment_type: String,
    pub privileged_mode: bool,
    pub environment: BTreeMap<String, String>,
    /// Path of the buildspec in the source (`buildspec.yml`).
    pub buildspec: String,
    pub log_group: String,
    pub timeout_minutes: i32,
    pub queued_timeout_minutes: i32,
    /// Local cache modes, e.g. `LOCAL_DOCKER_LAYER_CACHE`.
    pub cache_modes: Vec<String>,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "provider", rename_all = "snake_case")]
pub enum SourceSpec {
    /// GitHub version 1 action (owner ThirdParty), started by a CodePipeline webhook.
    GithubWebhook {
        owner: String,
        repo: String,
        branch: String,
    },
    /// CodeStarSourceConnection with a push trigger (V2 pipeline).
    Connection {
        /// `None` until the connection exists ("known after apply").
        connection_arn: Option<String>,
        full_repository_id: String,
        branch: String,
        file_path_includes: Vec<String>,
        file_path_excludes: Vec<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PipelineSpec {
    pub name: String,
    pub role_arn: String,
    /// `V1` or `V2`.
    pub pipeline_type: String,
    pub artifact_bucket: String,
    /// The KMS key (key or alias ARN) the artifact store encrypts artifacts with; empty leaves
    /// CodePipeline's default.
    pub artifact_key: String,
    pub source: SourceSpec,
    pub build_project: String,
    pub deploy_function: String,
    /// JSON text handed to the deploy-handler as `UserParameters` (≤ 1000 chars).
    pub deploy_user_parameters: String,
    /// The deploy stages in order (a V2 pipeline); empty: the one `Deploy` stage above.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<DeployStageSpec>,
    pub tags: Tags,
}

/// One deploy stage of a pipeline with stages: an optional approval stage before it, the
/// deploy-handler's action, rollback on failure, and a bake watching alarms after it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeployStageSpec {
    pub name: String,
    /// The manual approval stage `Approve-NAME` that runs before it, when asked for.
    pub approval: Option<ApprovalSpec>,
    /// JSON text handed to the deploy-handler as `UserParameters` (target and stage included).
    pub user_parameters: String,
    /// `onFailure: ROLLBACK` (re-runs the stage with the last successful execution's artifacts).
    pub rollback_on_failure: bool,
    /// Minutes each alarm is watched after the stage deployed (the rules' `WaitTime`).
    pub bake_minutes: u32,
    /// CloudWatch alarms of the `onSuccess` condition; ALARM rolls the stage back.
    pub alarms: Vec<String>,
}

/// A manual approval action's configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApprovalSpec {
    /// `CustomData`: what the approver reads (≤ 500 characters).
    pub custom_data: String,
    /// `ExternalEntityLink`: where to review what is approved.
    pub external_link: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookFilter {
    pub json_path: String,
    pub match_equals: String,
}

/// CodePipeline webhook for the GitHub version 1 source. Its secret token lives in the
/// [`SecretSpec`] named by `secret_name` and is never part of the spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WebhookSpec {
    pub name: String,
    pub target_pipeline: String,
    pub target_action: String,
    pub filters: Vec<WebhookFilter>,
    /// `GITHUB_HMAC`.
    pub authentication: String,
    pub secret_name: String,
    /// Registered with GitHub (RegisterWebhookWithThirdParty).
    pub registered: bool,
    pub tags: Tags,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleTarget {
    pub id: String,
    pub arn: String,
    pub max_event_age_seconds: i32,
    pub max_retry_attempts: i32,
    /// `InputTransformer` as (paths map, template), for readable messages sent straight to SNS.
    pub input_paths: Option<BTreeMap<String, String>>,
    pub input_template: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RuleSpec {
    pub name: String,
    pub description: String,
    pub event_pattern: Value,
    /// Sorted by id.
    pub targets: Vec<RuleTarget>,
    pub tags: Tags,
}
