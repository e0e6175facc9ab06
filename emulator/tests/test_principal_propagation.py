"""IAM propagation of principals named in resource policies (the `iam_propagation_seconds`
fault), driven through a real shim process with boto3."""

from __future__ import annotations

import json
import time
from typing import Any, Callable

import pytest
from botocore.exceptions import ClientError

from shim_helpers import ACCOUNT, client, control, create_role, error_code, make_zip

# Long enough that no refusal below can outlive it, even on a loaded machine.
LONG_WINDOW = 30.0


def policy(principal: Any, action: str, resource: str = "*") -> str:
    statement: dict[str, Any] = {"Sid": "Grant", "Effect": "Allow", "Principal": principal, "Action": action}
    if resource:
        statement["Resource"] = resource
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def s3_put(url: str, principal: Any) -> None:
    s3 = client(url, "s3")
    if not s3.list_buckets()["Buckets"]:
        s3.create_bucket(Bucket="artifacts")
    s3.put_bucket_policy(Bucket="artifacts", Policy=policy(principal, "s3:GetObject", "arn:aws:s3:::artifacts/*"))


def ecr_put(url: str, principal: Any) -> None:
    ecr = client(url, "ecr")
    if not ecr.describe_repositories()["repositories"]:
        ecr.create_repository(repositoryName="app")
    ecr.set_repository_policy(repositoryName="app", policyText=policy(principal, "ecr:BatchGetImage", ""))


def sns_create(url: str, principal: Any) -> None:
    client(url, "sns").create_topic(Name="notices", Attributes={"Policy": policy(principal, "sns:Publish")})


def sns_set(url: str, principal: Any) -> None:
    sns = client(url, "sns")
    arn = sns.create_topic(Name="alerts")["TopicArn"]
    sns.set_topic_attributes(TopicArn=arn, AttributeName="Policy", AttributeValue=policy(principal, "sns:Publish", arn))


def lambda_add(url: str, principal: Any) -> None:
    arn = principal["AWS"] if isinstance(principal, dict) else principal
    arn = arn[-1] if isinstance(arn, list) else arn
    client(url, "lambda").add_permission(
        FunctionName="handler", StatementId=f"s{time.monotonic_ns()}", Action="lambda:InvokeFunction", Principal=arn
    )


# (setter, code, message): what AWS answers (HTTP 400) while a named role propagates.
REFUSALS: dict[str, tuple[Callable[[str, Any], None], str, str]] = {
    "s3-put-bucket-policy": (s3_put, "MalformedPolicy", "Invalid principal in policy"),
    "ecr-set-repository-policy": (
        ecr_put,
        "InvalidParameterException",
        "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Principal not found'",
    ),
    "sns-create-topic": (sns_create, "InvalidParameter", "Invalid parameter: Policy Error: PrincipalNotFound"),
    "sns-set-topic-attributes": (sns_set, "InvalidParameter", "Invalid parameter: Policy Error: PrincipalNotFound"),
    "lambda-add-permission": (
        lambda_add,
        "InvalidParameterValueException",
        "The provided principal was invalid. Please check the principal and try again.",
    ),
}


def prepare(url: str, case: str) -> None:
    """What each case needs before any fault is set (a function for AddPermission)."""
    if case == "lambda-add-permission":
        role = create_role(url, "handler-role", "lambda.amazonaws.com")
        client(url, "lambda").create_function(
            FunctionName="handler", Runtime="provided.al2023", Handler="bootstrap", Role=role, Code={"ZipFile": make_zip()}
        )


@pytest.mark.parametrize("case", sorted(REFUSALS))
@pytest.mark.parametrize("shape", ["single", "list"])
def test_new_role_as_principal_is_refused_with_the_services_error(shim: str, case: str, shape: str) -> None:
    prepare(shim, case)
    control(shim, "POST", "/_shim/faults", {"iam_propagation_seconds": LONG_WINDOW})
    role = create_role(shim, "reader", "ec2.amazonaws.com")
    named = role if shape == "single" else [f"arn:aws:iam::{ACCOUNT}:root", role]
    setter, code, message = REFUSALS[case]
    with pytest.raises(ClientError) as raised:
        setter(shim, {"AWS": named})
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error_code(raised.value) == code
    assert raised.value.response["Error"]["Message"] == message
    assert control(shim, "GET", "/_shim/faults")["propagation_rejections"] == 1
    assert control(shim, "GET", "/_shim/calls")[-1]["fault"] == "iam_propagation"


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_old_roles_accounts_and_service_principals_are_not_refused(shim: str, case: str) -> None:
    prepare(shim, case)
    old = create_role(shim, "old-reader", "ec2.amazonaws.com")
    control(shim, "POST", "/_shim/faults", {"iam_propagation_seconds": 0.1})
    time.sleep(0.15)
    # A new role the policy does not name changes nothing either.
    create_role(shim, "unrelated", "ec2.amazonaws.com")
    setter, _, _ = REFUSALS[case]
    setter(shim, {"AWS": old})
    if case != "lambda-add-permission":  # AddPermission takes one principal string
        setter(shim, {"AWS": [f"arn:aws:iam::{ACCOUNT}:root", old]})
        setter(shim, {"Service": "codebuild.amazonaws.com"})
        setter(shim, "*")
    assert control(shim, "GET", "/_shim/faults")["propagation_rejections"] == 0


def test_policies_naming_a_new_role_succeed_once_the_window_passes(shim: str) -> None:
    prepare(shim, "lambda-add-permission")
    control(shim, "POST", "/_shim/faults", {"iam_propagation_seconds": 1.0})
    started = time.monotonic()
    role = create_role(shim, "reader", "ec2.amazonaws.com")
    # ECR CreateRepository names no principal: never refused.
    client(shim, "ecr").create_repository(repositoryName="app")
    for case, (setter, code, _) in sorted(REFUSALS.items()):
        with pytest.raises(ClientError) as raised:
            setter(shim, {"AWS": role})
        assert error_code(raised.value) == code, case
    assert control(shim, "GET", "/_shim/faults")["propagation_rejections"] == len(REFUSALS)

    time.sleep(max(0.0, 1.05 - (time.monotonic() - started)))
    for setter, _, _ in REFUSALS.values():
        setter(shim, {"AWS": role})
    assert client(shim, "s3").get_bucket_policy(Bucket="artifacts")["Policy"] == policy(
        {"AWS": role}, "s3:GetObject", "arn:aws:s3:::artifacts/*"
    )
    assert role in client(shim, "ecr").get_repository_policy(repositoryName="app")["policyText"]
    assert role in client(shim, "lambda").get_policy(FunctionName="handler")["Policy"]
    assert control(shim, "GET", "/_shim/faults")["propagation_rejections"] == len(REFUSALS)
