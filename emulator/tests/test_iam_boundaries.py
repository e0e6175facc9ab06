"""Permissions boundaries in the emulator's IAM evaluator: the effective permission of a role with a
boundary is the intersection of its policies and the boundary, and `iam:PermissionsBoundary` lets an
administrator delegate role management only with a given boundary (IAM User Guide, "Permissions
boundaries for IAM entities", access_policies_boundaries.html: "Evaluating effective permissions with
boundaries" and "Delegating responsibility to others using permissions boundaries")."""

from __future__ import annotations

import json
import sys
from typing import Any

from shim_helpers import (
    ACCOUNT,
    ACCOUNT_ROOT,
    EMULATOR,
    assumed_client,
    client,
    denied,
    error_code,
    policy,
    trust_policy,
)

sys.path.insert(0, str(EMULATOR))

from awsshim.iam.evaluation import evaluate  # noqa: E402
from awsshim.iam.operations import checks_for  # noqa: E402
from awsshim.iam.policy import RequestContext  # noqa: E402

ROLE = f"arn:aws:iam::{ACCOUNT}:role/worker"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/worker/s1"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/worker-boundary"


def allow(action: str, resource: Any, **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def session_context(action: str = "s3:GetObject", resource: str = "arn:aws:s3:::a/k") -> RequestContext:
    return RequestContext(action=action, resources=resource, principal_arn=SESSION, role_arn=ROLE)


# --------------------------------------------------------------------------
# The evaluator
# --------------------------------------------------------------------------


def test_the_effective_permission_is_the_intersection_with_the_boundary() -> None:
    identity = [policy(allow("s3:GetObject", "*"))]
    boundary = ("boundary", policy(allow("s3:GetObject", "arn:aws:s3:::a/*")))
    inside = evaluate(session_context(), identity, permissions_boundary=boundary)
    assert inside.allowed
    outside = evaluate(session_context(resource="arn:aws:s3:::b/k"), identity, permissions_boundary=boundary)
    assert not outside.allowed
    assert outside.kind == "boundary_implicit_deny"
    assert outside.aws_suffix("s3:GetObject") == "because no permissions boundary allows the s3:GetObject action"
    # The boundary grants nothing by itself.
    assert not evaluate(session_context(), [], permissions_boundary=boundary).allowed
    # Without a boundary the identity policy alone decides.
    assert evaluate(session_context(resource="arn:aws:s3:::b/k"), identity).allowed


def test_a_deny_in_the_boundary_denies_and_an_unreadable_boundary_allows_nothing() -> None:
    identity = [policy(allow("s3:*", "*"))]
    boundary = ("boundary", policy(allow("s3:*", "*"), {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}))
    decision = evaluate(session_context("s3:DeleteObject"), identity, permissions_boundary=boundary)
    assert not decision.allowed and decision.kind == "explicit_deny"
    assert decision.aws_suffix("s3:DeleteObject") == "with an explicit deny in a permissions boundary"
    assert not evaluate(session_context(), identity, permissions_boundary=("gone", "not json")).allowed


def test_a_resource_policy_naming_the_role_is_capped_and_one_naming_the_session_is_not() -> None:
    boundary = ("boundary", policy(allow("sns:Publish", "arn:aws:sns:us-east-1:1:other")))
    context = session_context("sns:Publish", f"arn:aws:sns:us-east-1:{ACCOUNT}:topic")

    def grant(principal: str) -> dict[str, Any]:
        return policy({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sns:Publish", "Resource": "*"})

    assert evaluate(context, [], grant(ROLE)).allowed
    assert not evaluate(context, [], grant(ROLE), permissions_boundary=boundary).allowed
    assert evaluate(context, [], grant(SESSION), permissions_boundary=boundary).allowed


def test_the_permissions_boundary_key_comes_from_the_request_or_the_role() -> None:
    create = checks_for("iam", "CreateRole", {"RoleName": "r", "PermissionsBoundary": BOUNDARY}, ACCOUNT, "us-east-1")
    assert create is not None and dict(create[0].context) == {"iam:PermissionsBoundary": BOUNDARY}
    bare = checks_for("iam", "CreateRole", {"RoleName": "r"}, ACCOUNT, "us-east-1")
    assert bare is not None and dict(bare[0].context) == {}
    put = checks_for(
        "iam", "PutRolePermissionsBoundary", {"RoleName": "r", "PermissionsBoundary": BOUNDARY}, ACCOUNT, "us-east-1"
    )
    assert put is not None and dict(put[0].context) == {"iam:PermissionsBoundary": BOUNDARY}

    def resolve(kind: str, value: str, region: str) -> str | None:
        return BOUNDARY if kind == "iam-role-boundary" and value == "r" else None

    for operation in ("PutRolePolicy", "DeleteRolePolicy", "DeleteRolePermissionsBoundary", "AttachRolePolicy"):
        checks = checks_for("iam", operation, {"RoleName": "r", "PolicyName": "p"}, ACCOUNT, "us-east-1", resolve)
        assert checks is not None
        assert dict(checks[0].context).get("iam:PermissionsBoundary") == BOUNDARY, operation
        other = checks_for("iam", operation, {"RoleName": "s", "PolicyName": "p"}, ACCOUNT, "us-east-1", resolve)
        assert other is not None and "iam:PermissionsBoundary" not in dict(other[0].context), operation


# --------------------------------------------------------------------------
# Through a real shim: delegated role management, as the IAM User Guide's example
# --------------------------------------------------------------------------


def _delegate_policy(boundary_arn: str) -> dict[str, Any]:
    """The IAM User Guide's delegation example for roles: create and change roles only with the
    boundary, never remove it, never edit the boundary policy."""
    with_boundary = {"StringEquals": {"iam:PermissionsBoundary": boundary_arn}}
    return policy(
        allow(["iam:CreateRole", "iam:PutRolePolicy", "iam:PutRolePermissionsBoundary"], "*", Condition=with_boundary),
        allow(["iam:GetRole", "iam:GetPolicy", "iam:DeleteRolePermissionsBoundary", "iam:CreatePolicyVersion"], "*"),
        {
            "Effect": "Deny",
            "Action": ["iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:SetDefaultPolicyVersion"],
            "Resource": boundary_arn,
        },
        {"Effect": "Deny", "Action": "iam:DeleteRolePermissionsBoundary", "Resource": "*"},
    )


def test_a_delegate_creates_roles_only_with_the_boundary_and_cannot_remove_or_edit_it(shim: str) -> None:
    admin = client(shim, "iam")
    boundary_arn = admin.create_policy(
        PolicyName="worker-boundary", PolicyDocument=json.dumps(policy(allow("s3:GetObject", "arn:aws:s3:::bucket-a/*")))
    )["Policy"]["Arn"]
    admin.create_role(RoleName="delegate", AssumeRolePolicyDocument=json.dumps(trust_policy(ACCOUNT_ROOT)))
    admin.put_role_policy(RoleName="delegate", PolicyName="p", PolicyDocument=json.dumps(_delegate_policy(boundary_arn)))
    delegate = assumed_client(shim, "iam", f"arn:aws:iam::{ACCOUNT}:role/delegate", "d1")
    trust = json.dumps(trust_policy(ACCOUNT_ROOT))

    refused = denied(lambda: delegate.create_role(RoleName="free", AssumeRolePolicyDocument=trust))
    assert error_code(refused) == "AccessDenied"
    assert "iam:CreateRole" in refused.response["Error"]["Message"]
    other = admin.create_policy(PolicyName="other", PolicyDocument=json.dumps(policy(allow("s3:*", "*"))))["Policy"]["Arn"]
    assert error_code(
        denied(lambda: delegate.create_role(RoleName="free", AssumeRolePolicyDocument=trust, PermissionsBoundary=other))
    ) == "AccessDenied"

    delegate.create_role(RoleName="worker", AssumeRolePolicyDocument=trust, PermissionsBoundary=boundary_arn)
    wide = json.dumps(policy(allow("s3:GetObject", "*")))
    delegate.put_role_policy(RoleName="worker", PolicyName="p", PolicyDocument=wide)
    assert error_code(denied(lambda: delegate.delete_role_permissions_boundary(RoleName="worker"))) == "AccessDenied"
    assert error_code(
        denied(lambda: delegate.put_role_permissions_boundary(RoleName="worker", PermissionsBoundary=other))
    ) == "AccessDenied"
    edit = denied(lambda: delegate.create_policy_version(PolicyArn=boundary_arn, PolicyDocument=wide, SetAsDefault=True))
    assert error_code(edit) == "AccessDenied"
    assert "explicit deny" in edit.response["Error"]["Message"]
    # A role the delegate did not give the boundary cannot be changed by it either.
    admin.create_role(RoleName="unbounded", AssumeRolePolicyDocument=trust)
    assert error_code(
        denied(lambda: delegate.put_role_policy(RoleName="unbounded", PolicyName="p", PolicyDocument=wide))
    ) == "AccessDenied"
    assert admin.get_role(RoleName="worker")["Role"]["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary_arn

    # The worker's inline policy grants every bucket; the boundary lets it read only bucket-a.
    s3 = client(shim, "s3")
    for bucket in ("bucket-a", "bucket-b"):
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="k", Body=b"data")
    worker = assumed_client(shim, "s3", f"arn:aws:iam::{ACCOUNT}:role/worker", "w1")
    assert worker.get_object(Bucket="bucket-a", Key="k")["Body"].read() == b"data"
    outside = denied(lambda: worker.get_object(Bucket="bucket-b", Key="k"))
    assert error_code(outside) == "AccessDenied"
    assert "because no permissions boundary allows the s3:GetObject action" in outside.response["Error"]["Message"]
