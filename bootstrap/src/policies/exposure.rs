//! What one environment's policies still allow on another environment's resources: the grants
//! AWS leaves no way to scope to one environment, each with what remains and AWS's page. The
//! cross-environment test (`bootstrap/tests/cross_environment.rs`) asks the emulator's IAM
//! evaluator, for every request `dev`'s policies allow, whether the same request on `prod`'s
//! resources (and on `devx`'s, `dev-2`'s, `de`'s) is denied; every one that is not must be
//! listed here, and SECURITY.md lists them (a marked block the same test checks).

/// (action, what the holder of one environment's policy can still do to another's, why AWS
/// leaves no narrower scope, with the page that says so).
pub const CROSS_ENVIRONMENT: [(&str, &str, &str); 16] = [
    (
        "codepipeline:GetJobDetails",
        "the deploy-handler role could read another environment's job, given its id (job ids reach \
         a function only in its own invocations; it holds no codepipeline:PollForJobs)",
        JOBS,
    ),
    (
        "codepipeline:PutJobFailureResult",
        "the deploy-handler role could fail another environment's Deploy job, given its id",
        JOBS,
    ),
    (
        "codepipeline:PutJobSuccessResult",
        "the deploy-handler role could pass another environment's Deploy job, given its id",
        JOBS,
    ),
    (
        "ecr:GetAuthorizationToken",
        "the build role gets the registry's login token; every pull and push still needs the \
         repository's own grants, which name the environment's repository only",
        "ECR defines no resource type for it (Service Authorization Reference, \"Actions, resources, \
         and condition keys for Amazon Elastic Container Registry\", \
         https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html)",
    ),
    (
        "ecr:DescribePullThroughCacheRules",
        "reading the account's pull-through cache rules (their prefixes and upstream registries)",
        "ECR's pull-through cache rules have no ARN: ECR defines no resource type for it (Service \
         Authorization Reference, \"Actions, resources, and condition keys for Amazon Elastic \
         Container Registry\", \
         https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html)",
    ),
    (
        "ecr:CreatePullThroughCacheRule",
        "creating a pull-through cache rule under any free prefix of the account's registry; with \
         --base-image-source pull-through-cache only (a prefix already taken, another \
         environment's included, is refused by ECR)",
        PULL_THROUGH_CACHE_RULES,
    ),
    (
        "ecr:DeletePullThroughCacheRule",
        "deleting another environment's pull-through cache rule: that environment's builds pull \
         base images through no cache (and fail) until its next deploy creates the rule again; \
         with --base-image-source pull-through-cache only. Only an account per environment \
         closes this",
        PULL_THROUGH_CACHE_RULES,
    ),
    (
        "ecr:DescribeRepositories",
        "reading the settings of every repository in the account (names, URIs, tag mutability, \
         encryption; not images); with --base-image-source pull-through-cache only, where destroy \
         must find the repositories the cache created under the environment's prefix. A \
         repository creation template tagging them (so tag:GetResources finds them) would close \
         it",
        "ECR lists repositories by exact name or all of them: DescribeRepositories without names \
         is authorised on every repository, and no condition key selects by prefix (ECR API \
         Reference, DescribeRepositories; Service Authorization Reference, \"Actions, resources, \
         and condition keys for Amazon Elastic Container Registry\", \
         https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html)",
    ),
    (
        "iam:CreateServiceLinkedRole",
        "creating the account's one AWSServiceRoleForECRPullThroughCache role, which ECR makes with \
         the account's first pull-through cache rule and every rule shares (nothing else: the \
         grant names that role and its service); with --base-image-source pull-through-cache only",
        "a service-linked role is one per account and service, its name fixed by AWS (IAM User \
         Guide, \"Service-linked role permissions\"; ECR User Guide, \"Amazon ECR service-linked \
         role for pull through cache\", \
         https://docs.aws.amazon.com/AmazonECR/latest/userguide/slr-pullthroughcache.html)",
    ),
    (
        "ecs:DescribeTaskDefinition",
        "reading any task definition of the account (its containers, environment and roles); with \
         an ECS deploy target only",
        ECS_READS,
    ),
    (
        "ecs:ListTaskDefinitions",
        "listing the account's task definitions; with an ECS deploy target only",
        ECS_READS,
    ),
    (
        "tag:GetResources",
        "reading which resources of the account carry which tags",
        "the Resource Groups Tagging API defines no resource type (Service Authorization Reference, \
         \"Actions, resources, and condition keys for Resource Group Tagging API\", \
         https://docs.aws.amazon.com/service-authorization/latest/reference/list_resourcegrouptaggingapi.html)",
    ),
    (
        "logs:DescribeLogGroups",
        "reading the names, retention and keys of the account's log groups (not their events)",
        "CloudWatch Logs defines no resource type for it (Service Authorization Reference, \
         \"Actions, resources, and condition keys for Amazon CloudWatch Logs\", \
         https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html)",
    ),
    (
        "sns:Unsubscribe",
        "removing any subscription of the account whose ARN it is given, another environment's \
         subscribers included: their notifications stop until that environment's next deploy \
         subscribes them again (an email address must then confirm again). Only an account per \
         environment closes this",
        "SNS defines no resource type and no condition key for Unsubscribe (Service Authorization \
         Reference, \"Actions, resources, and condition keys for Amazon SNS\", \
         https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonsns.html), \
         and the topic owner's account may remove any subscription of its topics (SNS API \
         Reference, Unsubscribe); bootstrap has no other call that removes one subscriber",
    ),
    (
        "codestar-connections:ListConnections",
        "listing the account's connections (names, ARNs, status)",
        "bootstrap finds its connection by name, and a connection's ARN holds a random id \
         (Service Authorization Reference, \"Actions, resources, and condition keys for AWS \
         CodeStar Connections\": ListConnections is authorised on every connection)",
    ),
    (
        "codepipeline:ListWebhooks",
        "listing the account's webhooks with their definitions, another environment's webhook URL \
         and its GitHub HMAC secret included: with them a push event can be forged that starts \
         that environment's pipeline on its own branch (it builds that branch's head, nothing the \
         holder chooses)",
        "bootstrap finds its webhook by name in the account's list; ListWebhooks is authorised on \
         every webhook (Service Authorization Reference, \"Actions, resources, and condition keys \
         for AWS CodePipeline\", \
         https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscodepipeline.html)",
    ),
];

const JOBS: &str = "CodePipeline's job actions have no resource type: jobs have no ARN \
    (Service Authorization Reference, \"Actions, resources, and condition keys for AWS \
    CodePipeline\", https://docs.aws.amazon.com/service-authorization/latest/reference/list_awscodepipeline.html)";

const PULL_THROUGH_CACHE_RULES: &str = "ECR's pull-through cache rules have no ARN and ECR \
    defines no resource type and no condition key for their actions (Service Authorization \
    Reference, \"Actions, resources, and condition keys for Amazon Elastic Container Registry\", \
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerregistry.html)";

const ECS_READS: &str = "ECS defines no resource type for it (Service Authorization Reference, \
    \"Actions, resources, and condition keys for Amazon Elastic Container Service\", \
    https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonelasticcontainerservice.html)";

/// The exception listed for `action`, if any: (what remains, why and where AWS says so).
pub fn exception(action: &str) -> Option<(&'static str, &'static str)> {
    CROSS_ENVIRONMENT
        .iter()
        .find(|(listed, _, _)| *listed == action)
        .map(|(_, remains, why)| (*remains, *why))
}
