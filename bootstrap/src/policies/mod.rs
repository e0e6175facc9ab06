//! Every IAM and resource policy the stack creates, as pure functions of names and ARNs.
//!
//! Actions are always explicit; a wildcard resource appears only for the actions listed in
//! [`WILDCARD_RESOURCE_ACTIONS`], each with the reason AWS leaves no narrower choice.

use crate::aws::Target;
use crate::target_facts::TargetFacts;
use serde_json::{Value, json};

pub mod approver;
pub mod boundary;
pub mod deployer;
pub mod exposure;

/// Actions that AWS authorises only on `"Resource": "*"`.
pub const WILDCARD_RESOURCE_ACTIONS: [(&str, &str); 4] = [
    (
        "ecr:GetAuthorizationToken",
        "the registry login token is account-wide; ECR defines no resource type for it",
    ),
    (
        "codepipeline:PutJobSuccessResult",
        "job-result actions support no resource-level permissions (jobs have no ARN)",
    ),
    (
        "codepipeline:PutJobFailureResult",
        "job-result actions support no resource-level permissions (jobs have no ARN)",
    ),
    (
        "codepipeline:GetJobDetails",
        "job actions support no resource-level permissions (jobs have no ARN)",
    ),
];

/// One `Allow` statement of `actions` on `resources`.
pub fn statement(sid: &str, actions: &[&str], resources: Vec<String>) -> Value {
    json!({ "Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resources })
}

fn document(statements: Vec<Value>) -> Value {
    json!({ "Version": "2012-10-17", "Statement": statements })
}

/// What each service's documentation says it sends when it assumes its role. A trust policy may
/// require `aws:SourceAccount` only from a service that sends it: a condition the service never
/// satisfies makes CreatePipeline / CreateFunction fail on a real account with the very error
/// IAM propagation gives, so the deploy would wait out the whole budget for nothing.
pub const TRUST_SOURCE_ACCOUNT: [(&str, bool, &str); 3] = [
    (
        "codebuild.amazonaws.com",
        true,
        "CodeBuild User Guide, 'Allow CodeBuild to interact with other AWS services' \
         (setting-up-service-role): the service role's trust policy conditions on \
         aws:SourceAccount and aws:SourceArn",
    ),
    (
        "codepipeline.amazonaws.com",
        false,
        "CodePipeline User Guide, service role and CLI examples (TrustPolicy.json): no condition; \
         no source keys documented for assuming the service role",
    ),
    (
        "lambda.amazonaws.com",
        false,
        "Lambda Developer Guide, 'Defining Lambda function permissions with an execution role': \
         the trust policy has no condition; no source keys documented for the execution role",
    ),
];

/// Trust policy for one service principal. Limited to our account by `aws:SourceAccount`
/// (confused-deputy protection) where the service documents sending it, see
/// [`TRUST_SOURCE_ACCOUNT`]; elsewhere only a principal in this account with `iam:PassRole` on
/// the role can hand it to the service.
pub fn trust(service: &str, target: &Target) -> Value {
    let sends_source_account = TRUST_SOURCE_ACCOUNT
        .iter()
        .any(|(name, sends, _)| *name == service && *sends);
    let mut statement = json!({
        "Effect": "Allow",
        "Principal": { "Service": service },
        "Action": "sts:AssumeRole"
    });
    if sends_source_account {
        statement["Condition"] =
            json!({ "StringEquals": { "aws:SourceAccount": target.account_id } });
    }
    document(vec![statement])
}

/// The ARNs the policies refer to, all computable before anything exists.
#[derive(Clone, Debug)]
pub struct Arns {
    pub bucket: String,
    pub repository: String,
    pub project: String,
    pub report_group: String,
    pub pipeline: String,
    pub deploy_handler: String,
    pub codebuild_log_group: String,
    pub deploy_handler_log_group: String,
    pub event_notifier_log_group: String,
    pub topic: String,
    pub failed_rule: String,
    pub event_bus: String,
    /// The source of the deploy-handler's events: the only one its role may put.
    pub deployment_event_source: String,
    pub codebuild_role: String,
    pub pipeline_role: String,
}

fn log_write(sid: &str, group_arn: &str) -> Value {
    statement(
        sid,
        &["logs:CreateLogStream", "logs:PutLogEvents"],
        vec![format!("{group_arn}:*")],
    )
}

pub fn codebuild_role(arns: &Arns) -> Value {
    codebuild_role_with(arns, None)
}

/// The build role; with `base_image_cache` (the ARN pattern of the repositories under the
/// pull-through cache's prefix), also what pulling through the cache needs: besides the pull,
/// `ecr:BatchImportUpstreamImage` to fetch an image from the upstream and `ecr:CreateRepository`
/// for the repository its first pull creates (Amazon ECR User Guide, "IAM permissions required to
/// sync an upstream registry with an Amazon ECR private registry",
/// https://docs.aws.amazon.com/AmazonECR/latest/userguide/pull-through-cache-iam.html).
pub fn codebuild_role_with(arns: &Arns, base_image_cache: Option<&str>) -> Value {
    let mut statements = vec![
        log_write("WriteBuildLogs", &arns.codebuild_log_group),
        statement(
            "ReadSourceWriteArtifacts",
            &["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            vec![format!("{}/*", arns.bucket)],
        ),
        statement(
            "LocateArtifactBucket",
            &["s3:GetBucketAcl", "s3:GetBucketLocation"],
            vec![arns.bucket.clone()],
        ),
        statement(
            "LogInToEcr",
            &["ecr:GetAuthorizationToken"],
            vec!["*".to_owned()],
        ),
        statement(
            "PushAndPullImages",
            &[
                "ecr:BatchCheckLayerAvailability",
                "ecr:BatchGetImage",
                "ecr:CompleteLayerUpload",
                "ecr:DescribeImages",
                "ecr:GetDownloadUrlForLayer",
                "ecr:InitiateLayerUpload",
                "ecr:PutImage",
                "ecr:UploadLayerPart",
            ],
            vec![arns.repository.clone()],
        ),
        // The bootstrap creates the one report group the buildspec names, so the build needs
        // no codebuild:CreateReportGroup: a report group it was not given fails the build
        // instead of leaving an untagged group behind.
        statement(
            "PublishTestReports",
            &[
                "codebuild:BatchPutTestCases",
                "codebuild:CreateReport",
                "codebuild:UpdateReport",
            ],
            vec![arns.report_group.clone()],
        ),
    ];
    if let Some(cached) = base_image_cache {
        statements.push(statement(
            "PullBaseImagesThroughCache",
            &[
                "ecr:BatchGetImage",
                "ecr:BatchImportUpstreamImage",
                "ecr:CreateRepository",
                "ecr:GetDownloadUrlForLayer",
            ],
            vec![cached.to_owned()],
        ));
    }
    document(statements)
}

pub fn pipeline_role(arns: &Arns, connection_arn: Option<&str>) -> Value {
    pipeline_role_watching(arns, connection_arn, &[])
}

/// The pipeline's role when stages bake: CodePipeline evaluates a stage condition's
/// CloudWatchAlarm rules as the pipeline's service role, reading the named alarms (CodePipeline
/// User Guide, rule reference "CloudWatchAlarm"; DescribeAlarms takes the alarm resource type in
/// the Service Authorization Reference, Amazon CloudWatch), so the read is scoped to them.
pub fn pipeline_role_watching(
    arns: &Arns,
    connection_arn: Option<&str>,
    alarm_arns: &[String],
) -> Value {
    let mut statements = vec![
        statement(
            "ArtifactObjects",
            &["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
            vec![format!("{}/*", arns.bucket)],
        ),
        statement(
            "ArtifactBucket",
            &["s3:GetBucketLocation", "s3:GetBucketVersioning"],
            vec![arns.bucket.clone()],
        ),
        statement(
            "RunBuild",
            &["codebuild:BatchGetBuilds", "codebuild:StartBuild"],
            vec![arns.project.clone()],
        ),
        statement(
            "InvokeDeployHandler",
            &["lambda:InvokeFunction"],
            vec![arns.deploy_handler.clone()],
        ),
    ];
    if let Some(connection) = connection_arn {
        let action = if connection.contains(":codeconnections:") {
            "codeconnections:UseConnection"
        } else {
            "codestar-connections:UseConnection"
        };
        statements.push(statement(
            "UseGitHubConnection",
            &[action],
            vec![connection.to_owned()],
        ));
    }
    if !alarm_arns.is_empty() {
        statements.push(statement(
            "WatchBakeAlarms",
            &["cloudwatch:DescribeAlarms"],
            alarm_arns.to_vec(),
        ));
    }
    document(statements)
}

pub fn deploy_handler_role(
    arns: &Arns,
    event_bus: bool,
    webhook_secret_arn: Option<&str>,
    targets: &[&TargetFacts],
) -> Value {
    deploy_handler_role_shifting(arns, event_bus, webhook_secret_arn, targets, &[])
}

/// The deploy-handler's role when stages shift a Lambda alias's traffic: it reads the stages'
/// alarms between steps (UserParameters `alarms`) with DescribeAlarms, which takes the alarm
/// resource type (Service Authorization Reference, Amazon CloudWatch), so the read is scoped to
/// those alarms' ARNs.
pub fn deploy_handler_role_shifting(
    arns: &Arns,
    event_bus: bool,
    webhook_secret_arn: Option<&str>,
    targets: &[&TargetFacts],
    shift_alarm_arns: &[String],
) -> Value {
    let mut statements = vec![
        log_write("WriteFunctionLogs", &arns.deploy_handler_log_group),
        statement(
            "ReportJobResults",
            &[
                "codepipeline:GetJobDetails",
                "codepipeline:PutJobFailureResult",
                "codepipeline:PutJobSuccessResult",
            ],
            vec!["*".to_owned()],
        ),
    ];
    if event_bus {
        // Only the environment's own source and detail type, so no environment emits events
        // shaped like another's (EventBridge User Guide, "Using IAM policy conditions in Amazon
        // EventBridge"; its PutEvents example takes `ForAllValues:StringEquals` on the multivalued
        // `events:source` and `StringEquals` on `events:detail-type`). `Null` keeps a request without
        // a source from passing `ForAllValues` vacuously (IAM User Guide, "Single-valued vs.
        // multivalued context keys"). EventBridge judges each entry: one of another source fails
        // alone, with `NotAuthorizedForSourceException` (API Reference, PutEventsResultEntry).
        statements.push(json!({
            "Sid": "EmitDeploymentEvents",
            "Effect": "Allow",
            "Action": ["events:PutEvents"],
            "Resource": [arns.event_bus],
            "Condition": {
                "ForAllValues:StringEquals": { "events:source": [arns.deployment_event_source] },
                "StringEquals": {
                    "events:detail-type": pipeline_common::DEPLOYMENT_REQUESTED_DETAIL_TYPE
                },
                "Null": { "events:source": "false" }
            }
        }));
    }
    if let Some(secret) = webhook_secret_arn {
        statements.push(statement(
            "ReadWebhookSigningSecret",
            &["secretsmanager:GetSecretValue"],
            vec![secret.to_owned()],
        ));
    }
    let rollouts = targets
        .iter()
        .flat_map(|target| rollout_statements(arns, target))
        .collect();
    statements.extend(merge_statements(rollouts));
    if !shift_alarm_arns.is_empty() {
        statements.push(statement(
            "WatchShiftAlarms",
            &["cloudwatch:DescribeAlarms"],
            shift_alarm_arns.to_vec(),
        ));
    }
    document(statements)
}

/// One statement per Sid: statements of several targets that differ only in their resources
/// become one over all of them (IAM wants each Sid once in a policy: IAM User Guide, "IAM JSON
/// policy elements: Sid"); ones that differ otherwise keep their own, numbered Sid.
pub fn merge_statements(statements: Vec<Value>) -> Vec<Value> {
    let mut merged: Vec<Value> = Vec::new();
    for statement in statements {
        let same = merged.iter_mut().find(|m| {
            m["Sid"] == statement["Sid"]
                && m["Action"] == statement["Action"]
                && m["Condition"] == statement["Condition"]
                && m["Effect"] == statement["Effect"]
        });
        match same {
            Some(existing) => {
                let mut resources = resources_of(&existing["Resource"]);
                for resource in resources_of(&statement["Resource"]) {
                    if !resources.contains(&resource) {
                        resources.push(resource);
                    }
                }
                existing["Resource"] = json!(resources);
            }
            None => {
                let mut statement = statement;
                let sid = statement["Sid"].as_str().unwrap_or_default().to_owned();
                let taken = |candidate: &str| merged.iter().any(|m| m["Sid"] == candidate);
                if taken(&sid) {
                    let n = (2..).find(|n| !taken(&format!("{sid}{n}"))).unwrap_or(2);
                    statement["Sid"] = json!(format!("{sid}{n}"));
                }
                merged.push(statement);
            }
        }
    }
    merged
}

pub(crate) fn resources_of(resource: &Value) -> Vec<Value> {
    match resource {
        Value::Array(items) => items.clone(),
        Value::Null => Vec::new(),
        one => vec![one.clone()],
    }
}

/// What a rollout to the `--deploy-target` needs, scoped to that service or function.
fn rollout_statements(arns: &Arns, target: &TargetFacts) -> Vec<Value> {
    match target {
        TargetFacts::Ecs {
            service_arn,
            family,
            pass_roles,
            ..
        } => {
            let revisions = format!("{family}:*");
            let mut statements = vec![
                statement(
                    "RollOutToService",
                    &["ecs:DescribeServices", "ecs:UpdateService"],
                    vec![service_arn.clone()],
                ),
                // Reading task definitions is authorised on no narrower resource (Service
                // Authorization Reference, Amazon ECS: DescribeTaskDefinition and
                // ListTaskDefinitions list no resource type).
                statement(
                    "ReadTaskDefinitions",
                    &["ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions"],
                    vec!["*".to_owned()],
                ),
                statement(
                    "RegisterRevisions",
                    &["ecs:RegisterTaskDefinition"],
                    vec![revisions.clone()],
                ),
                // Registering with tags is also authorised as tagging, only at creation (ECS
                // Developer Guide, "Grant permission to tag resources on creation").
                json!({
                    "Sid": "TagNewRevisions",
                    "Effect": "Allow",
                    "Action": ["ecs:TagResource"],
                    "Resource": [revisions],
                    "Condition": { "StringEquals": { "ecs:CreateAction": "RegisterTaskDefinition" } }
                }),
            ];
            // The deploy-handler reads what an image is built for from its config in ECR when
            // the build artifact does not say (BatchGetImage for the manifest, then
            // GetDownloadUrlForLayer for the config blob; both act on the repository ARN:
            // Service Authorization Reference, Amazon ECR). A Lambda target holds these already
            // (ReadImageForFunction).
            statements.push(statement(
                "ReadImagePlatform",
                &["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                vec![arns.repository.clone()],
            ));
            if !pass_roles.is_empty() {
                statements.push(json!({
                    "Sid": "PassTaskRoles",
                    "Effect": "Allow",
                    "Action": ["iam:PassRole"],
                    "Resource": pass_roles,
                    "Condition": { "StringEquals": { "iam:PassedToService": "ecs-tasks.amazonaws.com" } }
                }));
            }
            statements
        }
        TargetFacts::Lambda { function_arn, .. } => vec![
            statement(
                "RollOutToFunction",
                &[
                    "lambda:GetAlias",
                    "lambda:GetFunction",
                    // A rollback finds the version that already runs the older image.
                    "lambda:ListVersionsByFunction",
                    "lambda:PublishVersion",
                    "lambda:UpdateAlias",
                    "lambda:UpdateFunctionCode",
                ],
                vec![function_arn.clone()],
            ),
            // Updating a function to an image reads the image as the caller (Lambda Developer
            // Guide, "Create a Lambda function using a container image": Amazon ECR permissions).
            statement(
                "ReadImageForFunction",
                &["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
                vec![arns.repository.clone()],
            ),
        ],
    }
}

/// Repository policy: only when a Lambda function runs the image, which Lambda itself pulls.
/// The shape is the Lambda Developer Guide's ("Create a Lambda function using a container
/// image", Amazon ECR permissions; its conditioned example `LambdaECRImageCrossAccountRetrievalPolicy`
/// is `StringLike` on `aws:sourceARN` = `arn:aws:lambda:REGION:ACCOUNT:function:*`), narrowed to
/// the one function: its unqualified ARN and every qualified form (`NAME:VERSION`, `NAME:$LATEST`),
/// since the guide does not say which form Lambda's pull carries and an exact match on the
/// unqualified ARN refuses a pull made for a version. Without this statement Lambda adds its own
/// only when the caller may `ecr:GetRepositoryPolicy` and `ecr:SetRepositoryPolicy`, which the
/// deploy-handler may not. The build role's own policy grants push and pull (see [`bucket`]).
pub fn repository(targets: &[&TargetFacts]) -> Value {
    let source_arns: Vec<String> = targets
        .iter()
        .filter_map(|target| match target {
            TargetFacts::Lambda { function_arn, .. } => Some(lambda_source_arns(function_arn)),
            TargetFacts::Ecs { .. } => None,
        })
        .flatten()
        .collect();
    if source_arns.is_empty() {
        return Value::Null;
    }
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "LambdaPullsTheDeployedImage",
            "Effect": "Allow",
            "Principal": { "Service": "lambda.amazonaws.com" },
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Condition": {
                "StringLike": { "aws:sourceArn": source_arns }
            }
        }]
    })
}

/// The `aws:sourceArn` values a pull on behalf of `function_arn` (unqualified) may carry.
fn lambda_source_arns(function_arn: &str) -> Vec<String> {
    vec![function_arn.to_owned(), format!("{function_arn}:*")]
}

pub fn event_notifier_role(arns: &Arns, topic_kms_key: Option<&str>) -> Value {
    event_notifier_role_with_statuses(arns, topic_kms_key, None)
}

/// The event-notifier's role when it sets commit statuses: it reads the GitHub token from the
/// one secret named (`GITHUB_STATUS_TOKEN_SECRET`), by its full ARN.
pub fn event_notifier_role_with_statuses(
    arns: &Arns,
    topic_kms_key: Option<&str>,
    status_token_secret_arn: Option<&str>,
) -> Value {
    let mut statements = vec![
        log_write("WriteFunctionLogs", &arns.event_notifier_log_group),
        statement(
            "PublishNotifications",
            &["sns:Publish"],
            vec![arns.topic.clone()],
        ),
        statement(
            "ReadFailureDetails",
            &[
                "codepipeline:GetPipelineExecution",
                "codepipeline:ListActionExecutions",
            ],
            vec![arns.pipeline.clone()],
        ),
    ];
    if let Some(key) = topic_kms_key {
        // Publishing to an encrypted topic makes SNS generate and use a data key as the caller.
        statements.push(statement(
            "UseTopicKey",
            &["kms:GenerateDataKey", "kms:Decrypt"],
            vec![key.to_owned()],
        ));
    }
    if let Some(secret) = status_token_secret_arn {
        statements.push(statement(
            "ReadCommitStatusToken",
            &["secretsmanager:GetSecretValue"],
            vec![secret.to_owned()],
        ));
    }
    document(statements)
}

/// Bucket policy: TLS only. It grants nothing: the pipeline and build roles' own policies grant
/// their object calls, and within one account either kind of policy suffices (IAM User Guide,
/// "Policy evaluation for requests within a single account"), so an Allow here would be a
/// second, redundant grant of the same calls (the rehearsal's mutation test flags exactly that).
pub fn bucket(arns: &Arns) -> Value {
    let objects = format!("{}/*", arns.bucket);
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [arns.bucket, objects],
                "Condition": { "Bool": { "aws:SecureTransport": "false" } }
            }
        ]
    })
}

/// Expire untagged images after 7 days; keep the newest `keep` tagged images.
pub fn repository_lifecycle(keep: u32) -> Value {
    json!({
        "rules": [
            {
                "rulePriority": 1,
                "description": "expire untagged images after 7 days",
                "selection": { "tagStatus": "untagged", "countType": "sinceImagePushed", "countUnit": "days", "countNumber": 7 },
                "action": { "type": "expire" }
            },
            {
                "rulePriority": 2,
                "description": format!("keep the last {keep} tagged images"),
                "selection": { "tagStatus": "tagged", "tagPatternList": ["*"], "countType": "imageCountMoreThan", "countNumber": keep },
                "action": { "type": "expire" }
            }
        ]
    })
}

/// Topic policy: only our FAILED rule (by source ARN) may publish as a service. The notifier
/// role needs no statement here: it publishes with its own credentials in the same account, so
/// its identity policy's `sns:Publish` suffices (a statement conditioned on `aws:SourceAccount`
/// would never apply to it: the key is present only when a service calls on a resource owner's
/// behalf, IAM User Guide, global condition keys).
pub fn topic(arns: &Arns) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "FailedRulePublishes",
                "Effect": "Allow",
                "Principal": { "Service": "events.amazonaws.com" },
                "Action": "sns:Publish",
                "Resource": arns.topic,
                "Condition": { "ArnEquals": { "aws:SourceArn": arns.failed_rule } }
            }
        ]
    })
}

/// Every action in a policy document, for audits.
pub fn actions(policy: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for statement in policy["Statement"].as_array().into_iter().flatten() {
        match &statement["Action"] {
            Value::String(a) => out.push(a.clone()),
            Value::Array(list) => {
                out.extend(list.iter().filter_map(|a| a.as_str().map(str::to_owned)))
            }
            _ => {}
        }
    }
    out
}

/// The IAM role ARNs a resource policy names as principals: what AWS checks when the policy is
/// set, and so what may not have propagated yet.
pub fn role_principals(policy: &Value) -> Vec<String> {
    let mut roles = Vec::new();
    let statements = match &policy["Statement"] {
        Value::Array(list) => list.iter().collect(),
        single @ Value::Object(_) => vec![single],
        _ => Vec::new(),
    };
    for statement in statements {
        for key in ["Principal", "NotPrincipal"] {
            let arns = match &statement[key]["AWS"] {
                Value::String(one) => vec![one.as_str()],
                Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            for arn in arns {
                if arn.contains(":role/") && !roles.iter().any(|r| r == arn) {
                    roles.push(arn.to_owned());
                }
            }
        }
    }
    roles
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn role_principals_are_read_from_every_statement_form() {
        let policy = json!({"Statement": [
            {"Principal": {"AWS": "arn:aws:iam::1:role/a"}},
            {"Principal": {"AWS": ["arn:aws:iam::1:role/b", "arn:aws:iam::1:root", "arn:aws:iam::1:role/a"]}},
            {"Principal": {"Service": "events.amazonaws.com"}},
            {"Principal": "*"}
        ]});
        assert_eq!(
            role_principals(&policy),
            vec![
                "arn:aws:iam::1:role/a".to_owned(),
                "arn:aws:iam::1:role/b".to_owned()
            ]
        );
        assert!(role_principals(&Value::Null).is_empty());
    }
}
