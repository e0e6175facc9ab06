"""Roles a service cannot assume (always on, not a fault): Lambda, CodeBuild and CodePipeline
refuse a role whose trust policy does not let their service principal sts:AssumeRole with the
condition keys the service sends. Driven through a real shim process with boto3."""

from __future__ import annotations

import json
from typing import Any, Callable
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError

from shim_helpers import ACCOUNT, REGION, client, codebuild_project, control, error_code, make_zip, pipeline_definition


def trust(principal: Any, condition: dict[str, Any] | None = None, action: Any = "sts:AssumeRole") -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Principal": principal, "Action": action}
    if condition is not None:
        statement["Condition"] = condition
    return {"Version": "2012-10-17", "Statement": [statement]}


def role(url: str, name: str, document: dict[str, Any] | str) -> str:
    text = document if isinstance(document, str) else json.dumps(document)
    return client(url, "iam").create_role(RoleName=name, AssumeRolePolicyDocument=text)["Role"]["Arn"]


def create_function(url: str, role_arn: str, name: str) -> None:
    client(url, "lambda").create_function(
        FunctionName=name, Runtime="provided.al2023", Handler="bootstrap", Role=role_arn, Code={"ZipFile": make_zip()}
    )


def update_function(url: str, role_arn: str, name: str) -> None:
    client(url, "lambda").update_function_configuration(FunctionName=name, Role=role_arn)


def function_role(url: str, name: str) -> str:
    return client(url, "lambda").get_function_configuration(FunctionName=name)["Role"]


def create_project(url: str, role_arn: str, name: str) -> None:
    client(url, "codebuild").create_project(**codebuild_project(name, role_arn))


def update_project(url: str, role_arn: str, name: str) -> None:
    client(url, "codebuild").update_project(name=name, serviceRole=role_arn)


def project_role(url: str, name: str) -> str:
    return client(url, "codebuild").batch_get_projects(names=[name])["projects"][0]["serviceRole"]


def create_pipeline(url: str, role_arn: str, name: str) -> None:
    client(url, "codepipeline").create_pipeline(pipeline=pipeline_definition(name, role_arn))


def update_pipeline(url: str, role_arn: str, name: str) -> None:
    client(url, "codepipeline").update_pipeline(pipeline=pipeline_definition(name, role_arn))


def pipeline_role(url: str, name: str) -> str:
    return client(url, "codepipeline").get_pipeline(name=name)["pipeline"]["roleArn"]


Call = Callable[[str, str, str], None]


# service -> (principal, create, update, read the stored role, error code, message for a role ARN)
SERVICES: dict[str, tuple[str, Call, Call, Callable[[str, str], str], str, Callable[[str], str]]] = {
    "lambda": (
        "lambda.amazonaws.com",
        create_function,
        update_function,
        function_role,
        "InvalidParameterValueException",
        lambda arn: "The role defined for the function cannot be assumed by Lambda.",
    ),
    "codebuild": (
        "codebuild.amazonaws.com",
        create_project,
        update_project,
        project_role,
        "InvalidInputException",
        lambda arn: f"CodeBuild is not authorized to perform: sts:AssumeRole on {arn}",
    ),
    "codepipeline": (
        "codepipeline.amazonaws.com",
        create_pipeline,
        update_pipeline,
        pipeline_role,
        "InvalidStructureException",
        lambda arn: f"CodePipeline is not authorized to perform AssumeRole on role {arn}",
    ),
}


def assert_refused(url: str, service: str, call: Callable[[], None], role_arn: str) -> None:
    code, message = SERVICES[service][4], SERVICES[service][5](role_arn)
    with pytest.raises(ClientError) as raised:
        call()
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error_code(raised.value) == code
    assert raised.value.response["Error"]["Message"] == message
    # Not a fault: nothing counts as IAM propagation.
    last = control(url, "GET", "/_shim/calls")[-1]
    assert (last["service"], last["status"], last["fault"]) == (service, 400, None)
    assert control(url, "GET", "/_shim/faults")["propagation_rejections"] == 0


@pytest.mark.parametrize("service", sorted(SERVICES))
@pytest.mark.parametrize(
    "principal",
    [{"Service": "ec2.amazonaws.com"}, {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}],
    ids=["other-service", "aws-account-only"],
)
def test_trust_without_the_service_principal_is_refused(shim: str, service: str, principal: dict[str, Any]) -> None:
    _, create, _, _, _, _ = SERVICES[service]
    arn = role(shim, "untrusting", trust(principal))
    assert_refused(shim, service, lambda: create(shim, arn, "thing"), arn)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_trust_naming_the_service_without_condition_is_accepted(shim: str, service: str) -> None:
    principal, create, update, read, _, _ = SERVICES[service]
    arn = role(shim, "trusting", trust({"Service": principal}))
    create(shim, arn, "thing")
    assert read(shim, "thing") == arn
    other = role(shim, "also-trusting", trust({"Service": principal}))
    update(shim, other, "thing")
    assert read(shim, "thing") == other


# moto 5.2.5's own CreatePipeline check reads `Principal.Service` as one string, so a list
# only reaches the shim's check for Lambda and CodeBuild.
@pytest.mark.parametrize("service", ["codebuild", "lambda"])
def test_service_principal_in_a_list_and_wildcard_actions_count(shim: str, service: str) -> None:
    principal, create, _, read, _, _ = SERVICES[service]
    listed = role(shim, "listed", trust({"Service": ["ec2.amazonaws.com", principal]}, action=["sts:TagSession", "sts:Assume*"]))
    create(shim, listed, "thing")
    assert read(shim, "thing") == listed


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_source_account_condition_is_met_only_by_codebuild(shim: str, service: str) -> None:
    principal, create, _, read, _, _ = SERVICES[service]
    arn = role(shim, "account-bound", trust({"Service": principal}, {"StringEquals": {"aws:SourceAccount": ACCOUNT}}))
    if service == "codebuild":
        create(shim, arn, "thing")
        assert read(shim, "thing") == arn
    else:
        # Lambda and CodePipeline send no aws:SourceAccount when they assume the role.
        assert_refused(shim, service, lambda: create(shim, arn, "thing"), arn)


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_update_to_a_role_the_service_cannot_assume_is_refused_and_changes_nothing(shim: str, service: str) -> None:
    principal, create, update, read, _, _ = SERVICES[service]
    good = role(shim, "good", trust({"Service": principal}))
    create(shim, good, "thing")
    bad = role(shim, "bad", trust({"Service": "ec2.amazonaws.com"}))
    assert_refused(shim, service, lambda: update(shim, bad, "thing"), bad)
    assert read(shim, "thing") == good


def test_codebuild_source_arn_must_name_the_project(shim: str) -> None:
    project_arn = f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/app-build"
    other_project = f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/other-build"
    for name, condition in [
        ("string-equals", {"StringEquals": {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": other_project}}),
        ("arn-like", {"ArnLike": {"aws:SourceArn": f"arn:aws:codebuild:*:{ACCOUNT}:project/other-*"}}),
        ("other-region", {"ArnEquals": {"aws:SourceArn": f"arn:aws:codebuild:eu-west-1:{ACCOUNT}:project/app-build"}}),
        ("other-account", {"StringEquals": {"aws:SourceAccount": "111122223333"}}),
    ]:
        arn = role(shim, f"for-other-{name}", trust({"Service": "codebuild.amazonaws.com"}, condition))
        assert_refused(shim, "codebuild", lambda: create_project(shim, arn, "app-build"), arn)

    for name, condition in [
        ("string-equals", {"StringEquals": {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": project_arn}}),
        ("string-like", {"StringLike": {"aws:SourceArn": f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/app-*"}}),
        ("arn-like", {"StringEquals": {"aws:SourceAccount": ACCOUNT}, "ArnLike": {"aws:SourceArn": f"arn:aws:codebuild:*:{ACCOUNT}:project/app-build"}}),
        ("arn-equals-list", {"ArnEquals": {"aws:SourceArn": [other_project, project_arn]}}),
    ]:
        arn = role(shim, f"for-own-{name}", trust({"Service": "codebuild.amazonaws.com"}, condition))
        create_project(shim, arn, "app-build")
        assert project_role(shim, "app-build") == arn
        client(shim, "codebuild").delete_project(name="app-build")


def test_codebuild_update_project_checks_against_the_projects_own_arn(shim: str) -> None:
    create_project(shim, role(shim, "plain", trust({"Service": "codebuild.amazonaws.com"})), "app-build")
    scoped = {"ArnLike": {"aws:SourceArn": f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/app-build"}}
    own = role(shim, "own", trust({"Service": "codebuild.amazonaws.com"}, scoped))
    update_project(shim, own, "app-build")
    assert project_role(shim, "app-build") == own
    create_project(shim, role(shim, "plain-2", trust({"Service": "codebuild.amazonaws.com"})), "other-build")
    assert_refused(shim, "codebuild", lambda: update_project(shim, own, "other-build"), own)


def test_condition_on_a_key_codebuild_does_not_send_is_refused_unless_negated(shim: str) -> None:
    unsent = role(shim, "org-bound", trust({"Service": "codebuild.amazonaws.com"}, {"StringEquals": {"aws:PrincipalOrgID": "o-123"}}))
    assert_refused(shim, "codebuild", lambda: create_project(shim, unsent, "app-build"), unsent)
    # IAM: an absent key fails positive tests and satisfies negated and ...IfExists ones.
    negated = role(
        shim,
        "negated",
        trust(
            {"Service": "codebuild.amazonaws.com"},
            {"StringNotEquals": {"aws:PrincipalOrgID": "o-123"}, "StringEqualsIfExists": {"aws:SourceVpc": "vpc-1"}},
        ),
    )
    create_project(shim, negated, "app-build")


def test_unknown_condition_operator_fails_closed(shim: str) -> None:
    arn = role(shim, "odd", trust({"Service": "codebuild.amazonaws.com"}, {"StringEqualsSometimes": {"aws:SourceAccount": ACCOUNT}}))
    assert_refused(shim, "codebuild", lambda: create_project(shim, arn, "app-build"), arn)


def test_a_matching_deny_statement_refuses(shim: str) -> None:
    document = trust({"Service": "codebuild.amazonaws.com"})
    document["Statement"].append(
        {
            "Effect": "Deny",
            "Principal": {"Service": "codebuild.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringNotEquals": {"aws:SourceAccount": "111122223333"}},
        }
    )
    arn = role(shim, "denying", document)
    assert_refused(shim, "codebuild", lambda: create_project(shim, arn, "app-build"), arn)


def test_trust_policy_is_read_when_the_call_arrives(shim: str) -> None:
    """The check reads moto's current document (URL-encoded, as moto keeps one CreateRole got
    that way), and UpdateAssumeRolePolicy takes effect at once."""
    arn = role(shim, "fn-role", quote(json.dumps(trust({"Service": "ec2.amazonaws.com"}))))
    assert_refused(shim, "lambda", lambda: create_function(shim, arn, "fn"), arn)
    client(shim, "iam").update_assume_role_policy(
        RoleName="fn-role", PolicyDocument=json.dumps(trust({"Service": "lambda.amazonaws.com"}))
    )
    create_function(shim, arn, "fn")
    assert function_role(shim, "fn") == arn


def test_unknown_roles_and_resources_answer_as_before(shim: str) -> None:
    missing = f"arn:aws:iam::{ACCOUNT}:role/missing"
    # moto stores a CodeBuild project with any role ARN; the check leaves unknown roles alone.
    create_project(shim, missing, "app-build")
    # Lambda refuses an unknown role itself, with the same message.
    with pytest.raises(ClientError) as raised:
        create_function(shim, missing, "fn")
    assert error_code(raised.value) == "InvalidParameterValueException"
    # Updating something that does not exist is a not-found error, whatever the role.
    bad = role(shim, "bad", trust({"Service": "ec2.amazonaws.com"}))
    with pytest.raises(ClientError) as raised:
        update_project(shim, bad, "no-such-project")
    assert error_code(raised.value) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as raised:
        update_function(shim, bad, "no-such-function")
    assert error_code(raised.value) == "ResourceNotFoundException"
