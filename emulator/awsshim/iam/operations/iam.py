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


def _iam_role(action: str, policy_key: bool = False) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        extra: tuple[tuple[str, str], ...] = ()
        if policy_key and r.param("PolicyArn"):
            extra = (("iam:PolicyARN", str(r.param("PolicyArn"))),)
        return [Check(action, (_role_arn(r, r.param("RoleName")),), extra)]

    return checks


def _iam_create_role(r: Request) -> list[Check]:
    """CreateRole on role/PATH/NAME (the request's Path); with tags also iam:TagRole (the API
    operations table of the IAM reference page lists iam:TagRole for CreateRole; IAM User Guide
    "IAM: Create new users only with specific tags" grants CreateUser together with TagUser)."""
    arn = f"arn:aws:iam::{r.account}:role{_iam_path(r.param('Path'))}{r.param('RoleName') or ''}"
    result = [Check("iam:CreateRole", (arn,))]
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
    ("iam", "RemoveRoleFromInstanceProfile"): _iam_remove_role_from_instance_profile,
}
