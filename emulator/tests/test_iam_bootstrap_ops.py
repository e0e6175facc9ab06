"""The IAM mapping of every operation the bootstrap CLI calls (emulator/awsshim/iam/operations, OPERATIONS):
the table itself, and enforcement through a real shim process for an IAM user whose policy grants
exactly the documented action on exactly the documented ARN."""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from botocore.exceptions import ClientError

from shim_helpers import ACCOUNT, EMULATOR, REGION, client, create_role, denied, iam_user, trust_policy

sys.path.insert(0, str(EMULATOR))

from awsshim.iam.catalogue import known_action  # noqa: E402
from awsshim.iam.operations import checks_for  # noqa: E402
from awsshim.iam.operations.s3 import s3_delete_entries  # noqa: E402

# Every (service, operation) bootstrap/src/resources/*.rs sends, as the shim records it.
BOOTSTRAP_OPERATIONS: dict[str, tuple[str, ...]] = {
    "s3": (
        "CreateBucket DeleteBucket HeadBucket ListObjectVersions DeleteObjects GetBucketEncryption "
        "PutBucketEncryption DeleteBucketEncryption GetBucketLifecycleConfiguration "
        "PutBucketLifecycleConfiguration DeleteBucketLifecycle GetBucketOwnershipControls "
        "PutBucketOwnershipControls DeleteBucketOwnershipControls GetBucketPolicy PutBucketPolicy "
        "DeleteBucketPolicy GetBucketTagging PutBucketTagging DeleteBucketTagging GetBucketVersioning "
        "PutBucketVersioning GetPublicAccessBlock PutPublicAccessBlock DeletePublicAccessBlock"
    ).split(),
    "ecr": (
        "CreateRepository DeleteRepository DescribeRepositories GetLifecyclePolicy PutLifecyclePolicy "
        "DeleteLifecyclePolicy GetRepositoryPolicy SetRepositoryPolicy DeleteRepositoryPolicy "
        "ListTagsForResource TagResource UntagResource PutImageScanningConfiguration PutImageTagMutability"
    ).split(),
    "iam": (
        "CreateRole GetRole DeleteRole UpdateRole UpdateAssumeRolePolicy PutRolePolicy GetRolePolicy "
        "DeleteRolePolicy ListRolePolicies ListAttachedRolePolicies DetachRolePolicy "
        "ListInstanceProfilesForRole RemoveRoleFromInstanceProfile ListRoleTags TagRole UntagRole"
    ).split(),
    "lambda": (
        "CreateFunction GetFunction GetFunctionConfiguration UpdateFunctionCode UpdateFunctionConfiguration "
        "DeleteFunction AddPermission RemovePermission GetPolicy ListTags TagResource UntagResource "
        "GetFunctionEventInvokeConfig PutFunctionEventInvokeConfig DeleteFunctionEventInvokeConfig"
    ).split(),
    "codebuild": (
        "BatchGetProjects CreateProject UpdateProject DeleteProject BatchGetReportGroups CreateReportGroup "
        "UpdateReportGroup DeleteReportGroup"
    ).split(),
    "codepipeline": (
        "GetPipeline CreatePipeline UpdatePipeline DeletePipeline ListTagsForResource TagResource "
        "UntagResource ListWebhooks PutWebhook DeleteWebhook RegisterWebhookWithThirdParty "
        "DeregisterWebhookWithThirdParty"
    ).split(),
    "logs": (
        "CreateLogGroup DeleteLogGroup DescribeLogGroups PutRetentionPolicy ListTagsForResource TagResource "
        "UntagResource"
    ).split(),
    "sns": (
        "CreateTopic DeleteTopic GetTopicAttributes SetTopicAttributes Subscribe Unsubscribe "
        "ListSubscriptionsByTopic ListTagsForResource TagResource UntagResource"
    ).split(),
    "events": (
        "PutRule DescribeRule DeleteRule PutTargets RemoveTargets ListTargetsByRule ListTagsForResource "
        "TagResource UntagResource"
    ).split(),
    "secretsmanager": (
        "CreateSecret DescribeSecret GetSecretValue DeleteSecret RestoreSecret UpdateSecret TagResource "
        "UntagResource"
    ).split(),
    "codestar-connections": (
        "CreateConnection GetConnection DeleteConnection ListConnections ListTagsForResource TagResource "
        "UntagResource"
    ).split(),
    "tagging": ["GetResources"],
    "sts": ["GetCallerIdentity"],
}


def checks(service: str, operation: str, params: dict[str, Any], resolve: Any = None) -> list[tuple[str, tuple[str, ...]]]:
    found = checks_for(service, operation, params, ACCOUNT, REGION, resolve)
    assert found is not None, f"{service} {operation} is not mapped"
    return [(c.action, c.resources) for c in found]


# --------------------------------------------------------------------------
# The table
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "service, operation", [(s, o) for s, ops in BOOTSTRAP_OPERATIONS.items() for o in ops]
)
def test_every_bootstrap_operation_is_mapped_to_known_actions(service: str, operation: str) -> None:
    found = checks_for(service, operation, {}, ACCOUNT, REGION)
    assert found, f"{service} {operation} is not mapped: enforcement would deny it"
    for check in found:
        assert known_action(check.action), check.action


def test_s3_bucket_subresource_deletes_use_the_put_actions() -> None:
    bucket = {"Bucket": "artifacts"}
    assert checks("s3", "DeleteBucketEncryption", bucket) == [("s3:PutEncryptionConfiguration", ("arn:aws:s3:::artifacts",))]
    assert checks("s3", "DeleteBucketLifecycle", bucket)[0][0] == "s3:PutLifecycleConfiguration"
    assert checks("s3", "DeleteBucketOwnershipControls", bucket)[0][0] == "s3:PutBucketOwnershipControls"
    assert checks("s3", "DeleteBucketTagging", bucket)[0][0] == "s3:PutBucketTagging"
    assert checks("s3", "DeletePublicAccessBlock", bucket)[0][0] == "s3:PutBucketPublicAccessBlock"
    assert checks("s3", "GetPublicAccessBlock", bucket)[0][0] == "s3:GetBucketPublicAccessBlock"
    assert checks("s3", "DeleteBucketPolicy", bucket)[0][0] == "s3:DeleteBucketPolicy"


def test_delete_objects_is_authorized_per_key_from_the_xml_body() -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<Object><Key>a/1.zip</Key></Object><Object><Key>a/2.zip</Key><VersionId>v2</VersionId></Object>"
        b"<Object><Key>a/1.zip</Key></Object><Quiet>true</Quiet></Delete>"
    )
    entries = s3_delete_entries(body)
    assert entries == [{"Key": "a/1.zip"}, {"Key": "a/2.zip", "VersionId": "v2"}, {"Key": "a/1.zip"}]
    assert checks("s3", "DeleteObjects", {"Bucket": "b", "Delete": entries}) == [
        ("s3:DeleteObject", ("arn:aws:s3:::b/a/1.zip",)),
        ("s3:DeleteObjectVersion", ("arn:aws:s3:::b/a/2.zip",)),
    ]
    # an unreadable body cannot slip through unchecked
    assert s3_delete_entries(b"<not xml") == []
    assert checks("s3", "DeleteObjects", {"Bucket": "b", "Delete": []}) == [("s3:DeleteObject", ("arn:aws:s3:::b/*",))]


def test_tag_on_create_only_when_the_create_carries_tags() -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/ci/deployer"
    assert checks("iam", "CreateRole", {"RoleName": "deployer", "Path": "/ci/"}) == [("iam:CreateRole", (role,))]
    assert checks("iam", "CreateRole", {"RoleName": "deployer", "Path": "/ci/", "Tags.member.1.Key": "k"}) == [
        ("iam:CreateRole", (role,)),
        ("iam:TagRole", (role,)),
    ]
    tagged: list[tuple[str, str, dict[str, Any], str]] = [
        ("ecr", "CreateRepository", {"repositoryName": "app", "tags": [{"Key": "k", "Value": "v"}]}, "ecr:TagResource"),
        ("lambda", "CreateFunction", {"FunctionName": "f", "Tags": {"k": "v"}}, "lambda:TagResource"),
        ("logs", "CreateLogGroup", {"logGroupName": "/g", "tags": {"k": "v"}}, "logs:TagResource"),
        ("sns", "CreateTopic", {"Name": "t", "Tags.member.1.Key": "k"}, "sns:TagResource"),
        ("events", "PutRule", {"Name": "r", "Tags": [{"Key": "k", "Value": "v"}]}, "events:TagResource"),
        ("codepipeline", "CreatePipeline", {"pipeline": {"name": "p"}, "tags": [{"key": "k", "value": "v"}]}, "codepipeline:TagResource"),
        ("codepipeline", "PutWebhook", {"webhook": {"name": "w", "targetPipeline": "p"}, "tags": [{"key": "k"}]}, "codepipeline:TagResource"),
        ("secretsmanager", "CreateSecret", {"Name": "s", "Tags": [{"Key": "k", "Value": "v"}]}, "secretsmanager:TagResource"),
        ("codestar-connections", "CreateConnection", {"ConnectionName": "c", "Tags": [{"Key": "k", "Value": "v"}]}, "codestar-connections:TagResource"),
    ]
    for service, operation, params, tag_action in tagged:
        with_tags = [action for action, _ in checks(service, operation, params)]
        assert tag_action in with_tags, (service, operation)
        untagged = {k: v for k, v in params.items() if not k.lower().startswith("tags")}
        assert tag_action not in [action for action, _ in checks(service, operation, untagged)], (service, operation)
    # CodeBuild has no tagging action: tags on create are a condition on the create action only
    assert [a for a, _ in checks("codebuild", "CreateProject", {"name": "b", "tags": [{"key": "k"}]})] == ["codebuild:CreateProject"]
    # PutRule ignores tags for a rule that exists, and so does its authorization
    existing = lambda kind, value, region: f"arn:aws:events:{region}:{ACCOUNT}:rule/r" if kind == "events-rule" else None  # noqa: E731
    assert checks("events", "PutRule", {"Name": "r", "Tags": [{"Key": "k"}]}, existing) == [
        ("events:PutRule", (f"arn:aws:events:{REGION}:{ACCOUNT}:rule/r",))
    ]


def test_resource_arns_are_the_ones_aws_builds() -> None:
    assert checks("logs", "PutRetentionPolicy", {"logGroupName": "/aws/x"}) == [
        ("logs:PutRetentionPolicy", (f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/x",))
    ]
    assert checks("logs", "DescribeLogGroups", {"logGroupNamePrefix": "/aws"}) == [("logs:DescribeLogGroups", ("*",))]
    assert checks("events", "DescribeRule", {"Name": "r", "EventBusName": "custom"}) == [
        ("events:DescribeRule", (f"arn:aws:events:{REGION}:{ACCOUNT}:rule/custom/r",))
    ]
    assert checks("codepipeline", "ListWebhooks", {}) == [("codepipeline:ListWebhooks", (f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:webhook:*",))]
    assert checks("codepipeline", "RegisterWebhookWithThirdParty", {"webhookName": "w"}) == [
        ("codepipeline:RegisterWebhookWithThirdParty", (f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:webhook:w",))
    ]
    assert checks("codepipeline", "PutWebhook", {"webhook": {"name": "w", "targetPipeline": "p"}}) == [
        ("codepipeline:PutWebhook", (f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:webhook:w", f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:p"))
    ]
    topic = f"arn:aws:sns:{REGION}:{ACCOUNT}:t"
    assert checks("sns", "CreateTopic", {"Name": "t"}) == [("sns:CreateTopic", (topic,))]
    assert checks("sns", "Subscribe", {"TopicArn": topic, "Protocol": "email"}) == [("sns:Subscribe", (topic,))]
    assert checks("sns", "Unsubscribe", {"SubscriptionArn": f"{topic}:0a1b"}) == [("sns:Unsubscribe", ("*",))]
    connection = f"arn:aws:codestar-connections:{REGION}:{ACCOUNT}:connection/0a1b"
    assert checks("codestar-connections", "GetConnection", {"ConnectionArn": connection}) == [
        ("codestar-connections:GetConnection", (connection,))
    ]
    assert checks("tagging", "GetResources", {}) == [("tag:GetResources", ("*",))]
    # the role's path comes from the role itself
    with_path = lambda kind, value, region: f"arn:aws:iam::{ACCOUNT}:role/ci/{value}" if kind == "iam-role" else None  # noqa: E731
    assert checks("iam", "GetRole", {"RoleName": "deployer"}, with_path) == [("iam:GetRole", (f"arn:aws:iam::{ACCOUNT}:role/ci/deployer",))]
    assert checks("iam", "GetRole", {"RoleName": "deployer"}) == [("iam:GetRole", (f"arn:aws:iam::{ACCOUNT}:role/deployer",))]
    assert checks("iam", "RemoveRoleFromInstanceProfile", {"RoleName": "r", "InstanceProfileName": "p"}) == [
        ("iam:RemoveRoleFromInstanceProfile", (f"arn:aws:iam::{ACCOUNT}:instance-profile/p",))
    ]
    # Lambda: qualified for the calls that take a Qualifier
    assert checks("lambda", "GetPolicy", {"FunctionName": "f", "Qualifier": "live"}) == [
        ("lambda:GetPolicy", (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f:live",))
    ]
    assert checks("lambda", "UntagResource", {"Resource": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f"}) == [
        ("lambda:UntagResource", (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f",))
    ]
    # CreateSecret: the ARN the new secret will have, random suffix included
    [(action, (arn,))] = checks("secretsmanager", "CreateSecret", {"Name": "token"})
    assert action == "secretsmanager:CreateSecret"
    assert re.fullmatch(rf"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:token-[A-Za-z0-9]{{6}}", arn)


def test_pipelines_pass_their_role_and_their_connections() -> None:
    connection = f"arn:aws:codestar-connections:{REGION}:{ACCOUNT}:connection/0a1b"
    pipeline = {
        "name": "app",
        "roleArn": f"arn:aws:iam::{ACCOUNT}:role/cp",
        "stages": [{"name": "Source", "actions": [{"name": "S", "configuration": {"ConnectionArn": connection}}]}],
    }
    for operation in ("CreatePipeline", "UpdatePipeline"):
        found = checks_for("codepipeline", operation, {"pipeline": pipeline}, ACCOUNT, REGION)
        assert found is not None
        assert [(c.action, c.resources, dict(c.context)) for c in found] == [
            (f"codepipeline:{operation}", (f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:app",), {}),
            ("iam:PassRole", (f"arn:aws:iam::{ACCOUNT}:role/cp",), {"iam:PassedToService": "codepipeline.amazonaws.com"}),
            ("codestar-connections:PassConnection", (connection,), {"codestar-connections:PassedToService": "codepipeline.amazonaws.com"}),
        ]


# --------------------------------------------------------------------------
# Enforcement through a real shim process
# --------------------------------------------------------------------------


def allow(action: Any, resource: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def assert_denied(error: ClientError, name: str, action: str, resource: str, code: str) -> None:
    assert error.response["Error"]["Code"] == code, error.response
    assert error.response["Error"]["Message"] == (
        f"User: arn:aws:iam::{ACCOUNT}:user/{name} is not authorized to perform: {action} on resource: {resource} "
        f"because no identity-based policy allows the {action} action"
    )


ZIP = b"PK\x05\x06" + b"\0" * 18  # an empty zip archive


def trust(service: str) -> str:
    return json.dumps(trust_policy({"Service": service}))


@dataclass
class Case:
    """One representative call per service: `setup` (with unenforced keys) returns what `call`
    needs; `resource` names the ARN the documented action is checked against."""

    id: str
    service: str
    action: str
    setup: Callable[[str], dict[str, Any]]
    call: Callable[[Any, dict[str, Any]], Any]
    resource: Callable[[dict[str, Any]], str]
    code: str


def _setup_bucket(url: str) -> dict[str, Any]:
    client(url, "s3").create_bucket(Bucket="artifacts")
    return {}


def _setup_repository(url: str) -> dict[str, Any]:
    return {"arn": client(url, "ecr").create_repository(repositoryName="app")["repository"]["repositoryArn"]}


def _setup_role_with_path(url: str) -> dict[str, Any]:
    role = client(url, "iam").create_role(RoleName="builder", Path="/ci/", AssumeRolePolicyDocument=trust("codebuild.amazonaws.com"))
    return {"arn": role["Role"]["Arn"]}


def _setup_function(url: str) -> dict[str, Any]:
    role = create_role(url, "fn", "lambda.amazonaws.com")
    created = client(url, "lambda").create_function(
        FunctionName="deploy", Runtime="python3.12", Role=role, Handler="h.h", Code={"ZipFile": ZIP}, Tags={"owner": "ci"}
    )
    return {"arn": created["FunctionArn"]}


def _setup_log_group(url: str) -> dict[str, Any]:
    client(url, "logs").create_log_group(logGroupName="/aws/codebuild/build")
    return {}


def _setup_topic(url: str) -> dict[str, Any]:
    return {"arn": client(url, "sns").create_topic(Name="notify")["TopicArn"]}


def _setup_rule(url: str) -> dict[str, Any]:
    client(url, "events").put_rule(Name="on-push", EventPattern=json.dumps({"source": ["aws.codecommit"]}))
    return {}


def _setup_secret(url: str) -> dict[str, Any]:
    return {"arn": client(url, "secretsmanager").create_secret(Name="github-token", SecretString="t")["ARN"]}


def _setup_connection(url: str) -> dict[str, Any]:
    created = client(url, "codestar-connections").create_connection(ConnectionName="github", ProviderType="GitHub")
    return {"arn": created["ConnectionArn"]}


def _nothing(url: str) -> dict[str, Any]:
    return {}


CASES = [
    Case(
        "s3", "s3", "s3:PutEncryptionConfiguration", _setup_bucket,
        lambda c, ctx: c.delete_bucket_encryption(Bucket="artifacts"),
        lambda ctx: "arn:aws:s3:::artifacts", "AccessDenied",
    ),
    Case(
        "ecr", "ecr", "ecr:PutImageTagMutability", _setup_repository,
        lambda c, ctx: c.put_image_tag_mutability(repositoryName="app", imageTagMutability="IMMUTABLE"),
        lambda ctx: ctx["arn"], "AccessDeniedException",
    ),
    Case(
        "iam", "iam", "iam:GetRole", _setup_role_with_path,
        lambda c, ctx: c.get_role(RoleName="builder"),
        lambda ctx: ctx["arn"], "AccessDenied",
    ),
    Case(
        "lambda", "lambda", "lambda:ListTags", _setup_function,
        lambda c, ctx: c.list_tags(Resource=ctx["arn"]),
        lambda ctx: ctx["arn"], "AccessDeniedException",
    ),
    Case(
        "codebuild", "codebuild", "codebuild:BatchGetProjects", _nothing,
        lambda c, ctx: c.batch_get_projects(names=["build"]),
        lambda ctx: f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/build", "AccessDeniedException",
    ),
    Case(
        "codepipeline", "codepipeline", "codepipeline:ListWebhooks", _nothing,
        lambda c, ctx: c.list_webhooks(),
        lambda ctx: f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:webhook:*", "AccessDeniedException",
    ),
    Case(
        "logs", "logs", "logs:PutRetentionPolicy", _setup_log_group,
        lambda c, ctx: c.put_retention_policy(logGroupName="/aws/codebuild/build", retentionInDays=30),
        lambda ctx: f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/codebuild/build", "AccessDeniedException",
    ),
    Case(
        "sns", "sns", "sns:GetTopicAttributes", _setup_topic,
        lambda c, ctx: c.get_topic_attributes(TopicArn=ctx["arn"]),
        lambda ctx: ctx["arn"], "AuthorizationError",
    ),
    Case(
        "events", "events", "events:DescribeRule", _setup_rule,
        lambda c, ctx: c.describe_rule(Name="on-push"),
        lambda ctx: f"arn:aws:events:{REGION}:{ACCOUNT}:rule/on-push", "AccessDeniedException",
    ),
    Case(
        "secretsmanager", "secretsmanager", "secretsmanager:DescribeSecret", _setup_secret,
        lambda c, ctx: c.describe_secret(SecretId="github-token"),
        lambda ctx: ctx["arn"], "AccessDeniedException",
    ),
    Case(
        "codestar-connections", "codestar-connections", "codestar-connections:GetConnection", _setup_connection,
        lambda c, ctx: c.get_connection(ConnectionArn=ctx["arn"]),
        lambda ctx: ctx["arn"], "AccessDeniedException",
    ),
    Case(
        "tagging", "resourcegroupstaggingapi", "tag:GetResources", _nothing,
        lambda c, ctx: c.get_resources(),
        lambda ctx: "*", "AccessDeniedException",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_the_documented_action_on_the_documented_arn_is_what_it_takes(shim: str, case: Case) -> None:
    ctx = case.setup(shim)
    resource = case.resource(ctx)
    granted = client(shim, case.service, *iam_user(shim, "granted", allow(case.action, resource)))
    case.call(granted, ctx)  # exactly this grant suffices: no other check stands in the way
    # the same action on another resource of the kind grants nothing
    elsewhere = resource[:-1] + ("x" if resource[-1] != "x" else "y") if resource != "*" else "arn:aws:s3:::nothing"
    others = client(shim, case.service, *iam_user(shim, "elsewhere", allow(case.action, elsewhere)))
    assert_denied(denied(lambda: case.call(others, ctx)), "elsewhere", case.action, resource, case.code)
    # every other action on the very resource grants nothing either
    lacking = client(shim, case.service, *iam_user(shim, "lacking", {"Effect": "Allow", "NotAction": case.action, "Resource": resource}))
    assert_denied(denied(lambda: case.call(lacking, ctx)), "lacking", case.action, resource, case.code)


def test_create_role_with_tags_also_needs_tag_role(shim: str) -> None:
    role = f"arn:aws:iam::{ACCOUNT}:role/deployer"
    create = {"RoleName": "deployer", "AssumeRolePolicyDocument": trust("codebuild.amazonaws.com")}
    iam = client(shim, "iam", *iam_user(shim, "creator", allow("iam:CreateRole", role)))
    error = denied(lambda: iam.create_role(**create, Tags=[{"Key": "owner", "Value": "bootstrap"}]))
    assert_denied(error, "creator", "iam:TagRole", role, "AccessDenied")
    assert "deployer" not in [r["RoleName"] for r in client(shim, "iam").list_roles()["Roles"]]
    iam.create_role(**create)  # without tags iam:CreateRole is enough
    client(shim, "iam").delete_role(RoleName="deployer")
    tagger = client(shim, "iam", *iam_user(shim, "tagger", allow(["iam:CreateRole", "iam:TagRole"], role)))
    tagger.create_role(**create, Tags=[{"Key": "owner", "Value": "bootstrap"}])
    assert client(shim, "iam").list_role_tags(RoleName="deployer")["Tags"] == [{"Key": "owner", "Value": "bootstrap"}]


def test_put_rule_tags_are_authorized_only_for_a_new_rule(shim: str) -> None:
    pattern = json.dumps({"source": ["aws.codecommit"]})
    client(shim, "events").put_rule(Name="existing", EventPattern=pattern)
    events = client(shim, "events", *iam_user(shim, "ruler", allow("events:PutRule", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/*")))
    events.put_rule(Name="existing", EventPattern=pattern, Tags=[{"Key": "owner", "Value": "ci"}])  # tags ignored
    error = denied(lambda: events.put_rule(Name="fresh", EventPattern=pattern, Tags=[{"Key": "owner", "Value": "ci"}]))
    assert_denied(error, "ruler", "events:TagResource", f"arn:aws:events:{REGION}:{ACCOUNT}:rule/fresh", "AccessDeniedException")


def test_delete_objects_checks_each_key_and_each_version(shim: str) -> None:
    s3 = client(shim, "s3")
    s3.create_bucket(Bucket="artifacts")
    s3.put_bucket_versioning(Bucket="artifacts", VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket="artifacts", Key="app/old.zip", Body=b"x")["VersionId"]
    s3.put_object(Bucket="artifacts", Key="app/new.zip", Body=b"y")
    deleter = client(shim, "s3", *iam_user(shim, "deleter", allow("s3:DeleteObject", "arn:aws:s3:::artifacts/app/*")))
    deleter.delete_objects(Bucket="artifacts", Delete={"Objects": [{"Key": "app/new.zip"}]})
    error = denied(
        lambda: deleter.delete_objects(
            Bucket="artifacts", Delete={"Objects": [{"Key": "app/new.zip"}, {"Key": "app/old.zip", "VersionId": version}]}
        )
    )
    assert_denied(error, "deleter", "s3:DeleteObjectVersion", "arn:aws:s3:::artifacts/app/old.zip", "AccessDenied")
    outside = denied(lambda: deleter.delete_objects(Bucket="artifacts", Delete={"Objects": [{"Key": "other/k"}]}))
    assert_denied(outside, "deleter", "s3:DeleteObject", "arn:aws:s3:::artifacts/other/k", "AccessDenied")
