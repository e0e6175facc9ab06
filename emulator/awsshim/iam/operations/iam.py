"""IAM operations -> IAM actions and resources (query protocol: RoleName, Path, Tags.member.N.Key, ...)."""

from __future__ import annotations

from typing import Any, Callable

from .common import Check, OperationTable, Request, name_from, query_members


def _iam_path(path: Any) -> str:
    """An IAM path as it sits in an ARN: "/" or "/a/b/"."""
    text = str(path or "/")
    return ("/" + text.strip("/") + "/") if text.strip("/") else "/"


def _role_arn(r: Request, name: Any) -> str:
    """The role's ARN, path included (moto's, when the role exists); role/NAME otherwise, as
    AWS names a role that does not exist (observe before create)."""
    name = name_from(name or "", ":role/").rsplit("/", 1)[-1]
    return r.resolved("iam-role", name) or f"arn:aws:iam::{r.account}:role/{name}"


# The actions whose iam:PermissionsBoundary key is the role's current boundary (Service Authorization
# Reference, IAM: "Condition keys" column of AttachRolePolicy, DeleteRolePermissionsBoundary,
# DeleteRolePolicy, DetachRolePolicy, PutRolePolicy); CreateRole and PutRolePermissionsBoundary take it
# from the request's PermissionsBoundary parameter instead (see _iam_boundary_from_request).
_CURRENT_BOUNDARY_ACTIONS = frozenset(
    {
        "iam:AttachRolePolicy",
        "iam:DeleteRolePermissionsBoundary",
        "iam:DeleteRolePolicy",
        "iam:DetachRolePolicy",
        "iam:PutRolePolicy",
    }
)


def _iam_role(action: str, policy_key: bool = False) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        extra: tuple[tuple[str, str], ...] = ()
        if policy_key and r.param("PolicyArn"):
            extra = (("iam:PolicyARN", str(r.param("PolicyArn"))),)
        if action in _CURRENT_BOUNDARY_ACTIONS:
            boundary = r.resolved("iam-role-boundary", name_from(r.param("RoleName") or "", ":role/"))
            if boundary:  # absent for a role without one: a condition on the key then fails
                extra += (("iam:PermissionsBoundary", boundary),)
        return [Check(action, (_role_arn(r, r.param("RoleName")),), extra)]

    return checks


def _boundary_from_request(r: Request) -> tuple[tuple[str, str], ...]:
    """iam:PermissionsBoundary of CreateRole and PutRolePermissionsBoundary: the boundary the
    request sets (IAM User Guide, "Permissions boundaries for IAM entities", delegating
    responsibility: the administrator's policy conditions CreateUser/PutUserPermissionsBoundary on it)."""
    boundary = r.param("PermissionsBoundary")
    return (("iam:PermissionsBoundary", str(boundary)),) if boundary else ()


def _iam_put_role_permissions_boundary(r: Request) -> list[Check]:
    arn = _role_arn(r, r.param("RoleName"))
    return [Check("iam:PutRolePermissionsBoundary", (arn,), _boundary_from_request(r))]


def _iam_policy(action: str) -> Callable[[Request], list[Check]]:
    """Actions on a customer managed policy, named by PolicyArn (policy/PATH/NAME)."""

    def checks(r: Request) -> list[Check]:
        return [Check(action, (str(r.param("PolicyArn") or f"arn:aws:iam::{r.account}:policy/"),))]

    return checks


def _iam_create_policy(r: Request) -> list[Check]:
    """CreatePolicy on policy/PATH/NAME; with tags also iam:TagPolicy."""
    arn = f"arn:aws:iam::{r.account}:policy{_iam_path(r.param('Path'))}{r.param('PolicyName') or ''}"
    result = [Check("iam:CreatePolicy", (arn,))]
    if query_members(r, "Tags.member."):
        result.append(Check("iam:TagPolicy", (arn,)))
    return result


def _iam_create_role(r: Request) -> list[Check]:
    """CreateRole on role/PATH/NAME (the request's Path); with tags also iam:TagRole (the API
    operations table of the IAM reference page lists iam:TagRole for CreateRole; IAM User Guide
    "IAM: Create new users only with specific tags" grants CreateUser together with TagUser)."""
    arn = f"arn:aws:iam::{r.account}:role{_iam_path(r.param('Path'))}{r.param('RoleName') or ''}"
    result = [Check("iam:CreateRole", (arn,), _boundary_from_request(r))]
    if query_members(r, "Tags.member."):
        result.append(Check("iam:TagRole", (arn,)))
    return result


def _iam_remove_role_from_instance_profile(r: Request) -> list[Check]:
    """The reference lists the instance profile (not the role) as the resource."""
    name = str(r.param("InstanceProfileName") or "")
    arn = r.resolved("iam-instance-profile", name) or f"arn:aws:iam::{r.account}:instance-profile/{name}"
    return [Check("iam:RemoveRoleFromInstanceProfile", (arn,))]


OPERATIONS: OperationTable = {
    # IAM. Source: "Actions, resources, and condition keys for AWS Identity and Access Management
    # (IAM)": role/PATH/NAME for the role actions, instance-profile for RemoveRoleFromInstanceProfile.
    ("iam", "CreateRole"): _iam_create_role,
    **{
        ("iam", op): _iam_role(f"iam:{op}")
        for op in (
            "GetRole",
            "DeleteRole",
            "UpdateRole",
            "UpdateAssumeRolePolicy",
            "PutRolePolicy",
            "GetRolePolicy",
            "DeleteRolePolicy",
            "ListRolePolicies",
            "ListAttachedRolePolicies",
            "ListInstanceProfilesForRole",
            "ListRoleTags",
            "TagRole",
            "UntagRole",
        )
    },
    ("iam", "DetachRolePolicy"): _iam_role("iam:DetachRolePolicy", policy_key=True),
    ("iam", "AttachRolePolicy"): _iam_role("iam:AttachRolePolicy", policy_key=True),
    ("iam", "DeleteRolePermissionsBoundary"): _iam_role("iam:DeleteRolePermissionsBoundary"),
    ("iam", "PutRolePermissionsBoundary"): _iam_put_role_permissions_boundary,
    # Managed policies (the permissions boundary is one): policy/PATH/NAME.
    ("iam", "CreatePolicy"): _iam_create_policy,
    **{
        ("iam", op): _iam_policy(f"iam:{op}")
        for op in (
            "GetPolicy",
            "GetPolicyVersion",
            "ListPolicyVersions",
            "CreatePolicyVersion",
            "DeletePolicyVersion",
            "SetDefaultPolicyVersion",
            "DeletePolicy",
        )
    },
    ("iam", "RemoveRoleFromInstanceProfile"): _iam_remove_role_from_instance_profile,
}
