"""IAM policy evaluation (emulator/awsshim/iam): the evaluator, the action
catalogue check, the operation table, and enforcement through a real shim
process for emulator-issued credentials."""

from __future__ import annotations

import json
import sys
import urllib.error
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shim_helpers import (
    ACCOUNT,
    ACCOUNT_ROOT,
    EMULATOR,
    assumed_client,
    client,
    control,
    create_role,
    denied,
    iam_user,
    policy,
    session_client,
    trust_policy,
)

sys.path.insert(0, str(EMULATOR))

from awsshim.iam.catalogue import arn_fits_template, catalogue_resource_arns, known_action, unknown_actions  # noqa: E402
from awsshim.iam.evaluation import evaluate  # noqa: E402
from awsshim.iam.operations import OPERATIONS, action_for, checks_for, resource_for  # noqa: E402
from awsshim.iam.policy import RequestContext  # noqa: E402

ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/deployer"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/s1"


def allow(action: Any = "s3:GetObject", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: Any = "s3:GetObject", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


def ctx(action: str = "s3:GetObject", resource: Any = "arn:aws:s3:::b1/k", **kw: Any) -> RequestContext:
    kw.setdefault("principal_arn", ALICE)
    return RequestContext(action=action, resources=resource, **kw)


def allowed(context: RequestContext, *statements: dict[str, Any], resource_policy: Any = None, **kw: Any) -> bool:
    return evaluate(context, [policy(*statements)] if statements else [], resource_policy, **kw).allowed


# --------------------------------------------------------------------------
# The evaluator
# --------------------------------------------------------------------------


def test_allow_and_implicit_deny() -> None:
    statement = allow(resource="arn:aws:s3:::b1/*", Sid="ReadB1")
    decision = evaluate(ctx(), [("inline policy p", policy(statement))])
    assert decision.allowed and decision.sid == "ReadB1" and "inline policy p" in decision.reason
    denied = evaluate(ctx(resource="arn:aws:s3:::b2/k"), [policy(statement)])
    assert not denied.allowed and denied.reason == "no statement allows" and denied.sid is None
    assert not evaluate(ctx(), []).allowed


def test_explicit_deny_wins_over_allow_in_any_policy() -> None:
    decision = evaluate(
        ctx(),
        [("grant", policy(allow(Sid="All"))), ("guard", policy(deny(resource="arn:aws:s3:::b1/*", Sid="NoB1")))],
    )
    assert not decision.allowed
    assert decision.sid == "NoB1" and decision.reason.startswith("explicitly denied by statement 'NoB1' in guard")
    # a Deny in the resource policy also beats an identity Allow
    resource_deny = policy({**deny(), "Principal": "*", "Sid": "R"})
    assert not evaluate(ctx(), [policy(allow())], resource_deny).allowed


def test_action_and_notaction_wildcards_are_case_insensitive() -> None:
    assert allowed(ctx(), allow("S3:get*"))
    assert allowed(ctx(), allow(["ecr:*", "s3:GetObjec?"]))
    assert not allowed(ctx(), allow("s3:Put*"))
    assert allowed(ctx(), {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"})
    assert not allowed(ctx(), {"Effect": "Allow", "NotAction": ["iam:*", "s3:*"], "Resource": "*"})


def test_resource_and_notresource_wildcards_are_case_sensitive() -> None:
    assert allowed(ctx(), allow(resource="arn:aws:s3:::b?/*"))
    assert not allowed(ctx(), allow(resource="arn:aws:s3:::B1/*"))
    assert allowed(ctx(), allow(resource=["arn:aws:s3:::other/*", "arn:aws:s3:::b1/k"]))
    assert allowed(ctx(), {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::b2/*"})
    assert not allowed(ctx(), {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::b1/*"})
    logs = ctx("logs:PutLogEvents", "arn:aws:logs:us-east-1:123456789012:log-group:/aws/codebuild/p:log-stream:s")
    # the resource part may hold colons; wildcards in the other parts stay within their part
    assert allowed(logs, allow("logs:*", "arn:aws:logs:*:*:log-group:/aws/codebuild/p:*"))
    assert not allowed(logs, allow("logs:*", "arn:aws:logs:us-*123456789012:log-group:*"))


def test_every_resource_must_be_allowed() -> None:
    both = ctx("events:PutEvents", ["arn:aws:events:us-east-1:123456789012:event-bus/default",
                                    "arn:aws:events:us-east-1:123456789012:event-bus/other"])
    assert not allowed(both, allow("events:PutEvents", "arn:aws:events:*:*:event-bus/default"))
    assert allowed(both, allow("events:PutEvents", "arn:aws:events:*:*:event-bus/*"))


def condition_allows(condition: dict[str, Any], keys: dict[str, Any] | None = None) -> bool:
    return allowed(ctx(condition_keys=keys or {}), allow(Condition=condition))


@pytest.mark.parametrize(
    "condition, keys, expected",
    [
        ({"StringEquals": {"aws:SourceAccount": "123456789012"}}, {"aws:SourceAccount": "123456789012"}, True),
        ({"StringEquals": {"aws:SourceAccount": "123456789012"}}, {"aws:SourceAccount": "999999999999"}, False),
        ({"StringEquals": {"aws:SourceAccount": "1234*"}}, {"aws:SourceAccount": "123456789012"}, False),
        ({"StringEquals": {"aws:SourceAccount": "123456789012"}}, {}, False),  # absent key: false
        ({"StringNotEquals": {"aws:SourceAccount": "999999999999"}}, {"aws:SourceAccount": "123456789012"}, True),
        ({"StringNotEquals": {"aws:SourceAccount": "123456789012"}}, {"aws:SourceAccount": "123456789012"}, False),
        # AWS: a negated operator on an absent key is true
        ({"StringNotEquals": {"aws:SourceAccount": "123456789012"}}, {}, True),
        ({"StringLike": {"aws:SourceArn": "arn:aws:codepipeline:*:*:app-*"}},
         {"aws:SourceArn": "arn:aws:codepipeline:us-east-1:123456789012:app-pipeline"}, True),
        ({"StringLike": {"aws:SourceArn": "arn:aws:codepipeline:*:*:web-*"}},
         {"aws:SourceArn": "arn:aws:codepipeline:us-east-1:123456789012:app-pipeline"}, False),
        ({"StringNotLike": {"aws:SourceArn": "arn:aws:codepipeline:*"}}, {"aws:SourceArn": "arn:aws:sns:x"}, True),
        ({"StringNotLike": {"aws:SourceArn": "arn:aws:codepipeline:*"}},
         {"aws:SourceArn": "arn:aws:codepipeline:us-east-1:123456789012:p"}, False),
        ({"StringEqualsIgnoreCase": {"iam:PassedToService": "LAMBDA.amazonaws.com"}},
         {"iam:PassedToService": "lambda.amazonaws.com"}, True),
        ({"ArnEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:topic"}},
         {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:topic"}, True),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:123456789012:*"}},
         {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:topic"}, True),
        ({"ArnLike": {"aws:SourceArn": "arn:aws:sns:*:123456789012"}},
         {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:topic"}, False),
        ({"ArnNotEquals": {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:topic"}},
         {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:other"}, True),
        ({"ArnNotLike": {"aws:SourceArn": "arn:aws:sns:*:*:*"}},
         {"aws:SourceArn": "arn:aws:sns:us-east-1:123456789012:topic"}, False),
        ({"Bool": {"aws:SecureTransport": "false"}}, {"aws:SecureTransport": False}, True),
        ({"Bool": {"aws:SecureTransport": True}}, {"aws:SecureTransport": "false"}, False),
        ({"Bool": {"aws:SecureTransport": "true"}}, {}, False),
        ({"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}, {}, True),
        ({"BoolIfExists": {"aws:MultiFactorAuthPresent": "true"}}, {"aws:MultiFactorAuthPresent": "false"}, False),
        ({"StringEqualsIfExists": {"aws:SourceAccount": "123456789012"}}, {}, True),
        ({"StringEqualsIfExists": {"aws:SourceAccount": "123456789012"}}, {"aws:SourceAccount": "1"}, False),
        ({"Null": {"aws:SourceArn": "true"}}, {}, True),
        ({"Null": {"aws:SourceArn": "true"}}, {"aws:SourceArn": "arn:aws:sns:x:y:z"}, False),
        ({"Null": {"aws:SourceArn": "false"}}, {"aws:SourceArn": "arn:aws:sns:x:y:z"}, True),
        # several keys in a block are ANDed, several values for one key ORed
        ({"StringEquals": {"aws:SourceAccount": ["1", "123456789012"], "iam:PassedToService": "lambda.amazonaws.com"}},
         {"aws:SourceAccount": "123456789012", "iam:PassedToService": "lambda.amazonaws.com"}, True),
        ({"StringEquals": {"aws:SourceAccount": "123456789012", "iam:PassedToService": "lambda.amazonaws.com"}},
         {"aws:SourceAccount": "123456789012", "iam:PassedToService": "codebuild.amazonaws.com"}, False),
        # several operators are ANDed too
        ({"StringEquals": {"aws:SourceAccount": "123456789012"}, "Bool": {"aws:SecureTransport": "true"}},
         {"aws:SourceAccount": "123456789012", "aws:SecureTransport": "false"}, False),
        # condition key names are case-insensitive
        ({"StringEquals": {"AWS:SOURCEACCOUNT": "123456789012"}}, {"aws:SourceAccount": "123456789012"}, True),
        # multivalued keys
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["env", "team"]}}, {"aws:TagKeys": ["x", "team"]}, True),
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["env"]}}, {}, False),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}, {"aws:TagKeys": ["env", "team"]}, True),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["env", "team"]}}, {"aws:TagKeys": ["env", "x"]}, False),
        ({"ForAllValues:StringEquals": {"aws:TagKeys": ["env"]}}, {}, True),
        ({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["secret"]}}, {"aws:TagKeys": ["env", "team"]}, True),
        ({"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["env"]}}, {"aws:TagKeys": ["env"]}, False),
        # numbers, dates and addresses
        ({"NumericLessThan": {"s3:max-keys": "10"}}, {"s3:max-keys": "5"}, True),
        ({"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}, {"aws:CurrentTime": "2025-06-01T00:00:00Z"}, True),
        ({"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}, {"aws:SourceIp": "127.0.0.1"}, True),
        ({"NotIpAddress": {"aws:SourceIp": "10.0.0.0/8"}}, {"aws:SourceIp": "127.0.0.1"}, True),
    ],
)
def test_condition_operators(condition: dict[str, Any], keys: dict[str, Any], expected: bool) -> None:
    assert condition_allows(condition, keys) is expected


def test_principal_keys_are_derived_from_the_principal() -> None:
    session = RequestContext(action="s3:GetObject", resources="arn:aws:s3:::b1/k", principal_arn=SESSION, role_arn=ROLE)
    role_only = allow(Condition={"ArnEquals": {"aws:PrincipalArn": ROLE}})
    assert allowed(session, role_only)
    assert not allowed(ctx(), role_only)
    assert allowed(ctx(), allow(Condition={"StringEquals": {"aws:PrincipalAccount": ACCOUNT, "aws:PrincipalType": "User"}}))


def test_policy_variables_in_resources_and_conditions() -> None:
    home = allow(resource="arn:aws:s3:::home/${aws:username}/*")
    assert allowed(ctx(resource="arn:aws:s3:::home/alice/notes"), home)
    assert not allowed(ctx(resource="arn:aws:s3:::home/bob/notes"), home)
    # in a 2008-10-17 policy a variable is plain text
    old = {"Version": "2008-10-17", "Statement": [home]}
    assert not evaluate(ctx(resource="arn:aws:s3:::home/alice/notes"), [old]).allowed
    literal = allow(resource="arn:aws:s3:::home/${*}")
    assert allowed(ctx(resource="arn:aws:s3:::home/*"), literal)
    assert not allowed(ctx(resource="arn:aws:s3:::home/x"), literal)


def test_unknown_operator_fails_closed_and_is_named() -> None:
    statement = allow(Sid="Odd", Condition={"StringMatchesRegex": {"aws:SourceAccount": ".*"}})
    decision = evaluate(ctx(condition_keys={"aws:SourceAccount": ACCOUNT}), [policy(statement)])
    assert not decision.allowed
    assert decision.unknown_operators == ("StringMatchesRegex",)
    assert "StringMatchesRegex" in decision.reason and "'Odd'" in decision.reason
    # a Deny with an unknown operator still denies (fail safe), even next to an Allow
    guarded = evaluate(ctx(), [policy(allow(), deny(Sid="Guard", Condition={"Whatever": {"k": "v"}}))])
    assert not guarded.allowed and guarded.sid == "Guard" and guarded.unknown_operators == ("Whatever",)
    # but a Deny whose known conditions are false does not apply
    assert allowed(
        ctx(condition_keys={"aws:SecureTransport": "true"}),
        allow(),
        deny(Condition={"Whatever": {"k": "v"}, "Bool": {"aws:SecureTransport": "false"}}),
    )


def test_resource_policy_allow_for_the_principal() -> None:
    bucket = policy({**allow(resource="arn:aws:s3:::b1/*"), "Principal": {"AWS": [ALICE]}, "Sid": "Alice"})
    decision = evaluate(ctx(), [], bucket)
    assert decision.allowed and decision.policy_type == "resource" and decision.sid == "Alice"
    bob = RequestContext(action="s3:GetObject", resources="arn:aws:s3:::b1/k", principal_arn=f"arn:aws:iam::{ACCOUNT}:user/bob")
    assert not evaluate(bob, [], bucket).allowed
    # a role ARN covers its sessions; "*" covers everyone
    session = RequestContext(action="s3:GetObject", resources="arn:aws:s3:::b1/k", principal_arn=SESSION, role_arn=ROLE)
    assert evaluate(session, [], policy({**allow(), "Principal": {"AWS": ROLE}})).allowed
    assert evaluate(bob, [], policy({**allow(), "Principal": "*"})).allowed
    # naming the account delegates to IAM policies: no grant on its own
    for account in (ACCOUNT, f"arn:aws:iam::{ACCOUNT}:root"):
        delegated = policy({**allow(), "Principal": {"AWS": account}})
        assert not evaluate(ctx(), [], delegated).allowed
        assert evaluate(ctx(), [policy(allow())], delegated).allowed
    # a resource statement without a matching Principal never applies; NotPrincipal exempts
    assert evaluate(ctx(), [policy(allow())], policy({**deny(), "Principal": {"AWS": "arn:aws:iam::1:user/x"}})).allowed
    assert evaluate(ctx(), [policy(allow())], policy({**deny(), "NotPrincipal": {"AWS": ALICE}})).allowed
    assert not evaluate(bob, [policy(allow())], policy({**deny(), "NotPrincipal": {"AWS": ALICE}})).allowed


def test_service_principal_matches_only_that_service() -> None:
    topic = "arn:aws:sns:us-east-1:123456789012:notify"
    events_may_publish = policy({**allow("sns:Publish", topic), "Principal": {"Service": "events.amazonaws.com"}})
    as_events = RequestContext(action="sns:Publish", resources=topic, service_principal="events.amazonaws.com")
    assert evaluate(as_events, [], events_may_publish).allowed
    as_s3 = RequestContext(action="sns:Publish", resources=topic, service_principal="s3.amazonaws.com")
    assert not evaluate(as_s3, [], events_may_publish).allowed
    assert not evaluate(ctx("sns:Publish", topic), [], events_may_publish).allowed  # a user is not the service
    # with aws:SourceArn / aws:SourceAccount, only when the service acts for that resource
    scoped = policy(
        {
            **allow("sns:Publish", topic),
            "Principal": {"Service": "events.amazonaws.com"},
            "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:events:*:123456789012:rule/app-*"}},
        }
    )
    assert not evaluate(as_events, [], scoped).allowed
    from_rule = RequestContext(
        action="sns:Publish",
        resources=topic,
        service_principal="events.amazonaws.com",
        condition_keys={"aws:SourceArn": "arn:aws:events:us-east-1:123456789012:rule/app-failed"},
    )
    assert evaluate(from_rule, [], scoped).allowed


def test_required_resource_policy_for_role_trust() -> None:
    assume = ctx("sts:AssumeRole", ROLE)
    identity = [policy(allow("sts:AssumeRole", ROLE))]
    trusts_lambda = policy({"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"})
    trusts_account = policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"})
    trusts_alice = policy({"Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": "sts:AssumeRole"})
    refused = evaluate(assume, identity, trusts_lambda, resource_policy_required=True)
    assert not refused.allowed and refused.kind == "resource_policy_required"
    assert evaluate(assume, identity, trusts_account, resource_policy_required=True).allowed
    assert not evaluate(assume, [], trusts_account, resource_policy_required=True).allowed
    assert evaluate(assume, [], trusts_alice, resource_policy_required=True).allowed


def test_aws_style_message_tail() -> None:
    assert evaluate(ctx(), []).aws_suffix("s3:GetObject") == "because no identity-based policy allows the s3:GetObject action"
    explicit = evaluate(ctx(), [policy(deny())])
    assert explicit.aws_suffix("s3:GetObject") == "with an explicit deny in an identity-based policy"


# --------------------------------------------------------------------------
# The action catalogue
# --------------------------------------------------------------------------


def test_catalogue_catches_a_typo() -> None:
    assert known_action("s3:GetObject")
    assert known_action("S3:getobject")
    assert known_action("s3:Get*") and known_action("*") and known_action("ecr:*")
    assert not known_action("s3:GetObjects")
    assert not known_action("s4:GetObject")
    document = policy(allow(["s3:GetObjects", "s3:PutObject"]), {"Effect": "Deny", "NotAction": "iam:PassRoles", "Resource": "*"})
    assert unknown_actions(json.dumps(document)) == ["s3:GetObjects", "iam:PassRoles"]


# --------------------------------------------------------------------------
# The operation table
# --------------------------------------------------------------------------

SAMPLE_PARAMS: dict[str, dict[str, Any]] = {
    "s3": {
        "Bucket": "artifacts",
        "Key": "app/build.zip",
        "CopySource": "/src-bucket/app/old.zip?versionId=3",
        "Delete": [{"Key": "app/a.zip"}, {"Key": "app/b.zip", "VersionId": "3"}],
    },
    "ecr": {
        "repositoryName": "app",
        "tags": [{"Key": "owner", "Value": "ci"}],
        "resourceArn": f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/app",
    },
    "codebuild": {
        "projectName": "build",
        "name": "build",
        "names": ["build", f"arn:aws:codebuild:us-east-1:{ACCOUNT}:project/test"],
        "ids": ["build:0a1b"],
        "reportGroupArn": f"arn:aws:codebuild:us-east-1:{ACCOUNT}:report-group/tests",
        "reportGroupArns": [f"arn:aws:codebuild:us-east-1:{ACCOUNT}:report-group/tests"],
        "arn": f"arn:aws:codebuild:us-east-1:{ACCOUNT}:report-group/tests",
        "serviceRole": f"arn:aws:iam::{ACCOUNT}:role/cb",
    },
    "codepipeline": {
        "name": "app",
        "pipelineName": "app",
        "stageName": "prod",
        "actionName": "Approval",
        "webhookName": "app-push",
        "resourceArn": f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:app",
        "pipeline": {
            "name": "app",
            "roleArn": f"arn:aws:iam::{ACCOUNT}:role/cp",
            "stages": [
                {
                    "name": "Source",
                    "actions": [
                        {"configuration": {"ConnectionArn": f"arn:aws:codestar-connections:us-east-1:{ACCOUNT}:connection/0a1b"}}
                    ],
                }
            ],
        },
        "webhook": {"name": "app-push", "targetPipeline": "app"},
        "tags": [{"key": "owner", "value": "ci"}],
    },
    "lambda": {
        "FunctionName": "deploy",
        "Role": f"arn:aws:iam::{ACCOUNT}:role/fn",
        "Tags": {"owner": "ci"},
        "Resource": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:deploy",
        "Code": {"ImageUri": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/app:v1"},
        "ImageUri": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/app@sha256:{'0' * 64}",
    },
    "ecs": {
        "cluster": "prod",
        "clusterName": "prod",
        "clusters": ["prod"],
        "service": "web",
        "serviceName": "web",
        "services": ["web", f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/prod/api"],
        "family": "web",
        "taskDefinition": "web:3",
        "taskRoleArn": f"arn:aws:iam::{ACCOUNT}:role/task",
        "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/execution",
        "tags": [{"key": "owner", "value": "ci"}],
        "resourceArn": f"arn:aws:ecs:us-east-1:{ACCOUNT}:service/prod/web",
    },
    "sns": {
        "TopicArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:notify",
        "Name": "notify",
        "ResourceArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:notify",
        "Tags.member.1.Key": "owner",
    },
    "logs": {
        "logGroupName": "/aws/codebuild/build",
        "logStreamName": "s",
        "tags": {"owner": "ci"},
        "resourceArn": f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/codebuild/build",
    },
    "events": {
        "Entries": [{"EventBusName": "default"}],
        "Name": "on-push",
        "Rule": "on-push",
        "Tags": [{"Key": "owner", "Value": "ci"}],
        "ResourceARN": f"arn:aws:events:us-east-1:{ACCOUNT}:rule/on-push",
    },
    "secretsmanager": {
        "SecretId": f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:token-AbCdEf",
        "Name": "token",
        "Tags": [{"Key": "owner", "Value": "ci"}],
    },
    "iam": {
        "RoleName": "deployer",
        "Path": "/ci/",
        "Tags.member.1.Key": "owner",
        "PolicyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess",
        "PolicyName": "boundary",
        "PermissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/boundary",
        "InstanceProfileName": "builder",
    },
    "codestar-connections": {
        "ConnectionName": "github",
        "ConnectionArn": f"arn:aws:codestar-connections:us-east-1:{ACCOUNT}:connection/0a1b",
        "ResourceArn": f"arn:aws:codestar-connections:us-east-1:{ACCOUNT}:connection/0a1b",
        "Tags": [{"Key": "owner", "Value": "ci"}],
    },
    "monitoring": {
        "AlarmName": "web-5xx",
        "AlarmNames": ["web-5xx"],
        "Tags": [{"Key": "owner", "Value": "ci"}],
        "ResourceARN": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:web-5xx",
    },
    "tagging": {"TagFilters": [{"Key": "owner", "Values": ["ci"]}]},
    "kms": {"KeyId": "0d3b1a1e-0000-4000-8000-000000000000"},
    "sts": {"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/deployer"},
}


@pytest.mark.parametrize("service, operation", sorted(OPERATIONS))
def test_every_mapped_action_exists_and_its_resource_fits_the_catalogue(service: str, operation: str) -> None:
    checks = checks_for(service, operation, SAMPLE_PARAMS[service], ACCOUNT, "us-east-1")
    assert checks
    for check in checks:
        assert known_action(check.action), check.action
        templates = catalogue_resource_arns(check.action)
        assert templates is not None
        for resource in check.resources:
            if not templates:
                assert resource == "*", f"{check.action} takes Resource * only"
            else:
                assert any(arn_fits_template(resource, t) for t in templates), (check.action, resource, templates)


def test_table_examples() -> None:
    r = resource_for
    assert r("s3", "GetObject", {"Bucket": "b", "Key": "a/b.zip"}, ACCOUNT, "us-east-1") == "arn:aws:s3:::b/a/b.zip"
    assert action_for("s3", "GetObject", {"Bucket": "b", "Key": "k", "VersionId": "3"}) == "s3:GetObjectVersion"
    assert action_for("s3", "ListObjectsV2") == "s3:ListBucket"
    assert r("ecr", "GetAuthorizationToken", {}, ACCOUNT, "us-east-1") == "*"
    assert r("ecr", "PutImage", {"repositoryName": "app"}, ACCOUNT, "eu-west-1") == f"arn:aws:ecr:eu-west-1:{ACCOUNT}:repository/app"
    assert r("codepipeline", "PutJobSuccessResult", {"jobId": "j"}, ACCOUNT, "us-east-1") == "*"
    assert r("codepipeline", "StartPipelineExecution", {"name": "app"}, ACCOUNT, "us-east-1") == f"arn:aws:codepipeline:us-east-1:{ACCOUNT}:app"
    assert r("codebuild", "BatchGetBuilds", {"ids": ["a:1", "b:2", "a:3"]}, ACCOUNT, "us-east-1") == [
        f"arn:aws:codebuild:us-east-1:{ACCOUNT}:project/a",
        f"arn:aws:codebuild:us-east-1:{ACCOUNT}:project/b",
    ]
    assert action_for("lambda", "Invoke") == "lambda:InvokeFunction"
    assert r("lambda", "Invoke", {"FunctionName": "deploy", "Qualifier": "live"}, ACCOUNT, "us-east-1") == (
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:deploy:live"
    )
    assert r("lambda", "GetFunction", {"FunctionName": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:deploy"}, ACCOUNT, "us-east-1") == (
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:deploy"
    )
    assert r("logs", "PutLogEvents", {"logGroupName": "/g", "logStreamName": "s"}, ACCOUNT, "us-east-1") == (
        f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/g:log-stream:s"
    )
    assert r("secretsmanager", "GetSecretValue", {"SecretId": "token"}, ACCOUNT, "us-east-1",
             resolve=lambda kind, value, region: f"arn:aws:secretsmanager:{region}:{ACCOUNT}:secret:{value}-AbCdEf") == (
        f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:token-AbCdEf"
    )
    passes = checks_for("lambda", "CreateFunction", {"FunctionName": "f", "Role": "arn:aws:iam::1:role/r"}, ACCOUNT, "us-east-1")
    assert passes is not None and passes[1].action == "iam:PassRole"
    assert dict(passes[1].context) == {"iam:PassedToService": "lambda.amazonaws.com"}
    assert checks_for("iam", "CreateUser", {}, ACCOUNT, "us-east-1") is None


# --------------------------------------------------------------------------
# Enforcement through a real shim process
# --------------------------------------------------------------------------


def buckets(url: str, *names: str) -> None:
    s3 = client(url, "s3")
    for name in names:
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="k", Body=b"data")


def test_issued_user_key_is_enforced_and_denial_names_user_action_resource(shim: str) -> None:
    buckets(shim, "allowed-bucket", "other-bucket")
    alice = iam_user(shim, "alice", allow("s3:GetObject", "arn:aws:s3:::allowed-bucket/*", Sid="ReadAllowed"))
    s3 = client(shim, "s3", *alice)
    assert s3.get_object(Bucket="allowed-bucket", Key="k")["Body"].read() == b"data"
    # the grant that allowed it is recorded with its statement
    [grant] = control(shim, "GET", "/_shim/iam/grants")
    assert (grant["principal"], grant["operation"], grant["action"], grant["resource"], grant["sid"]) == (
        ALICE,
        "s3:GetObject",
        "s3:GetObject",
        "arn:aws:s3:::allowed-bucket/k",
        "ReadAllowed",
    )

    error = denied(lambda: s3.get_object(Bucket="other-bucket", Key="k"))
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error.response["Error"]["Code"] == "AccessDenied"
    assert error.response["Error"]["Message"] == (
        f"User: {ALICE} is not authorized to perform: s3:GetObject on resource: arn:aws:s3:::other-bucket/k "
        "because no identity-based policy allows the s3:GetObject action"
    )
    head = denied(lambda: s3.head_object(Bucket="other-bucket", Key="k"))
    assert head.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # an operation the table does not map fails closed
    unmapped = denied(lambda: s3.list_buckets())
    assert unmapped.response["Error"]["Code"] == "AccessDenied"
    assert "no IAM mapping for s3 ListBuckets" in unmapped.response["Error"]["Message"]

    calls = control(shim, "GET", "/_shim/calls")
    get_denied = [c for c in calls if c["operation"] == "GetObject" and c["status"] == 403]
    assert get_denied[0]["denied"] == {
        "principal": ALICE,
        "action": "s3:GetObject",
        "resource": "arn:aws:s3:::other-bucket/k",
        "reason": "no statement allows",
    }
    assert "denied" not in [c for c in calls if c["operation"] == "GetObject" and c["status"] == 200][0]
    denials = control(shim, "GET", "/_shim/iam/denials")
    assert [(d["operation"], d["action"]) for d in denials] == [
        ("GetObject", "s3:GetObject"),
        ("HeadObject", "s3:GetObject"),
        ("ListBuckets", "s3:ListBuckets"),
    ]


def test_fixed_test_keys_are_not_enforced_and_the_switch_turns_enforcement_off(shim: str) -> None:
    buckets(shim, "other-bucket")
    alice = iam_user(shim, "alice", allow("s3:GetObject", "arn:aws:s3:::allowed-bucket/*"))
    assert client(shim, "s3").get_object(Bucket="other-bucket", Key="k")["Body"].read() == b"data"
    s3 = client(shim, "s3", *alice)
    denied(lambda: s3.get_object(Bucket="other-bucket", Key="k"))
    assert control(shim, "POST", "/_shim/iam", {"enforce": False})["enforce"] is False
    assert s3.get_object(Bucket="other-bucket", Key="k")["Body"].read() == b"data"
    assert control(shim, "POST", "/_shim/iam", {"enforce": True})["enforce"] is True
    denied(lambda: s3.get_object(Bucket="other-bucket", Key="k"))
    with pytest.raises(urllib.error.HTTPError) as bad:
        control(shim, "POST", "/_shim/iam", {"enforce": "yes"})
    assert bad.value.code == 400
    control(shim, "POST", "/_shim/reset")
    assert control(shim, "GET", "/_shim/iam") == {"enforce": True, "secure_transport": True, "evaluated": 0, "denials": 0}


def test_assumed_role_is_enforced_with_the_role_policies(shim: str) -> None:
    buckets(shim, "allowed-bucket", "other-bucket")
    iam = client(shim, "iam")
    iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=json.dumps(trust_policy(ACCOUNT_ROOT)))
    managed = iam.create_policy(
        PolicyName="read-other", PolicyDocument=json.dumps(policy(allow("s3:GetObject", "arn:aws:s3:::other-bucket/*")))
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="deployer", PolicyArn=managed)

    s3 = assumed_client(shim, "s3", ROLE, "s1")
    assert s3.get_object(Bucket="other-bucket", Key="k")["Body"].read() == b"data"
    error = denied(lambda: s3.get_object(Bucket="allowed-bucket", Key="k"))
    assert error.response["Error"]["Message"].startswith(f"User: {SESSION} is not authorized to perform: s3:GetObject")

    # the user's own AssumeRole is enforced: its identity policy must allow it (the trust names the account)
    alice = iam_user(shim, "alice", allow("s3:GetObject", "arn:aws:s3:::allowed-bucket/*"))
    sts = client(shim, "sts", *alice)
    refused = denied(lambda: sts.assume_role(RoleArn=ROLE, RoleSessionName="alice-session"))
    assert refused.response["Error"]["Code"] == "AccessDenied"
    assert refused.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert sts.get_caller_identity()["Arn"] == ALICE  # needs no permission
    iam.put_user_policy(UserName="alice", PolicyName="assume", PolicyDocument=json.dumps(policy(allow("sts:AssumeRole", ROLE))))
    session = sts.assume_role(RoleArn=ROLE, RoleSessionName="alice-session")["Credentials"]
    as_role = session_client(shim, "s3", session)
    assert as_role.get_object(Bucket="other-bucket", Key="k")["Body"].read() == b"data"


def test_bucket_policy_grants_and_the_tls_only_statement_denies_plain_http(shim: str) -> None:
    buckets(shim, "shared", "artifacts")
    alice = iam_user(shim, "alice", allow("s3:GetObject", "arn:aws:s3:::artifacts/*"))
    admin = client(shim, "s3")
    admin.put_bucket_policy(
        Bucket="shared",
        Policy=json.dumps(policy({**allow("s3:GetObject", "arn:aws:s3:::shared/*"), "Principal": {"AWS": ALICE}})),
    )
    tls_only = {**deny("s3:*", ["arn:aws:s3:::artifacts", "arn:aws:s3:::artifacts/*"]), "Principal": "*", "Sid": "TlsOnly",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
    admin.put_bucket_policy(Bucket="artifacts", Policy=json.dumps(policy(tls_only)))
    s3 = client(shim, "s3", *alice)
    assert s3.get_object(Bucket="shared", Key="k")["Body"].read() == b"data"
    control(shim, "POST", "/_shim/iam", {"secure_transport": False})
    error = denied(lambda: s3.get_object(Bucket="artifacts", Key="k"))
    assert error.response["Error"]["Message"].endswith("with an explicit deny in a resource-based policy")
    control(shim, "POST", "/_shim/iam", {"secure_transport": True})
    assert s3.get_object(Bucket="artifacts", Key="k")["Body"].read() == b"data"


def test_each_protocol_answers_its_access_denied_shape(shim: str) -> None:
    topic = client(shim, "sns").create_topic(Name="notify")["TopicArn"]
    creds = iam_user(shim, "alice", allow("s3:GetObject", "arn:aws:s3:::nothing/*"))
    cases = [
        (lambda: client(shim, "secretsmanager", *creds).get_secret_value(SecretId="token"), "AccessDeniedException", 400, "secretsmanager:GetSecretValue"),
        (lambda: client(shim, "ecr", *creds).describe_images(repositoryName="app"), "AccessDeniedException", 400, "ecr:DescribeImages"),
        (lambda: client(shim, "sns", *creds).publish(TopicArn=topic, Message="m"), "AuthorizationError", 403, "sns:Publish"),
        (lambda: client(shim, "lambda", *creds).get_function(FunctionName="deploy"), "AccessDeniedException", 403, "lambda:GetFunction"),
        (lambda: client(shim, "iam", *creds).list_users(), "AccessDenied", 403, "iam:ListUsers"),
    ]
    for call, code, status, action in cases:
        error = denied(call)
        assert (error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]) == (code, status), action
        assert f"User: {ALICE} is not authorized to perform: {action}" in error.response["Error"]["Message"]


def test_denial_points_at_a_typo_in_the_policy(shim: str) -> None:
    buckets(shim, "artifacts")
    alice = iam_user(shim, "alice", allow("s3:GetObjects", "arn:aws:s3:::artifacts/*"))
    denied(lambda: client(shim, "s3", *alice).get_object(Bucket="artifacts", Key="k"))
    [denial] = control(shim, "GET", "/_shim/iam/denials")
    assert "actions unknown to IAM's catalogue" in denial["reason"] and "s3:GetObjects" in denial["reason"]


def test_resources_are_resolved_to_the_arns_policies_name(shim: str) -> None:
    secret_arn = client(shim, "secretsmanager").create_secret(Name="token", SecretString="s3cr3t")["ARN"]
    kms = client(shim, "kms")
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/artifacts", TargetKeyId=key["KeyId"])
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    creds = iam_user(
        shim,
        "alice",
        allow("secretsmanager:GetSecretValue", f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:token-??????"),
        allow(["kms:Decrypt", "kms:GenerateDataKey"], key["Arn"]),
        allow("iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/fn",
              Condition={"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}),
    )
    assert secret_arn.split(":secret:")[1].startswith("token-")
    assert client(shim, "secretsmanager", *creds).get_secret_value(SecretId="token")["SecretString"] == "s3cr3t"
    as_alice = client(shim, "kms", *creds)
    assert as_alice.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"  # key found from the ciphertext
    assert as_alice.generate_data_key(KeyId="alias/artifacts", KeySpec="AES_256")["KeyId"]
    other = kms.create_key()["KeyMetadata"]
    error = denied(lambda: as_alice.generate_data_key(KeyId=other["KeyId"], KeySpec="AES_256"))
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    assert other["Arn"] in error.response["Error"]["Message"]

    # CreateFunction needs lambda:CreateFunction and iam:PassRole for lambda.amazonaws.com
    role = create_role(shim, "fn", "lambda.amazonaws.com")
    lam = client(shim, "lambda", *creds)
    create = {"FunctionName": "deploy", "Runtime": "python3.12", "Role": role, "Handler": "h.h", "Code": {"ZipFile": b"PK\x05\x06" + b"\0" * 18}}
    error = denied(lambda: lam.create_function(**create))
    assert "lambda:CreateFunction" in error.response["Error"]["Message"]
    client(shim, "iam").put_user_policy(UserName="alice", PolicyName="fn", PolicyDocument=json.dumps(policy(allow("lambda:CreateFunction", f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:deploy"))))
    assert control(shim, "GET", "/_shim/iam/denials")[-1]["action"] == "lambda:CreateFunction"
    try:
        lam.create_function(**create)
    except ClientError as rejected:  # whatever moto thinks of the zip, IAM let it through
        assert rejected.response["Error"]["Code"] not in ("AccessDeniedException", "AccessDenied")
    # iam:PassRole (with iam:PassedToService) passed: the last denial is still the earlier one
    assert control(shim, "GET", "/_shim/iam/denials")[-1]["action"] == "lambda:CreateFunction"
    assert len(control(shim, "GET", "/_shim/iam/denials")) == 2

    # a function policy naming the user grants Invoke without an identity policy
    admin_lambda = client(shim, "lambda")
    admin_lambda.add_permission(FunctionName="deploy", StatementId="alice", Action="lambda:InvokeFunction", Principal=ALICE)
    assert lam.invoke(FunctionName="deploy", InvocationType="DryRun")["StatusCode"] in (200, 204)
    error = denied(lambda: lam.get_function(FunctionName="deploy"))
    assert error.response["Error"]["Code"] == "AccessDeniedException"


def test_a_service_delivery_is_judged_by_the_resource_policy_and_its_source(shim: str) -> None:
    rule = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/failed"
    other_rule = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/someone-elses"
    sns = client(shim, "sns")
    topic = sns.create_topic(Name="notify")["TopicArn"]
    sns.set_topic_attributes(TopicArn=topic, AttributeName="Policy", AttributeValue=json.dumps(policy({
        "Sid": "FailedRulePublishes", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sns:Publish", "Resource": topic, "Condition": {"ArnEquals": {"aws:SourceArn": rule}}})))
    publish = {"service": "events.amazonaws.com", "action": "sns:Publish", "resource": topic, "sourceAccount": ACCOUNT}
    allowed = control(shim, "POST", "/_shim/iam/service-call", {**publish, "sourceArn": rule})
    assert (allowed["allowed"], allowed["sid"]) == (True, "FailedRulePublishes")
    assert control(shim, "POST", "/_shim/iam/service-call", {**publish, "sourceArn": other_rule})["allowed"] is False
    # a delivery AWS makes without a source ARN does not satisfy a statement conditioned on one
    assert control(shim, "POST", "/_shim/iam/service-call", publish)["allowed"] is False
    assert control(shim, "GET", "/_shim/iam/denials")[-1]["principal"] == "events.amazonaws.com"
