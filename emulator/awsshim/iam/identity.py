"""Who signed a request: the emulator-issued identity (moto's IAM users and STS assumed-role sessions)
behind an access key, with the policies attached to it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


_CREDENTIAL = re.compile(r"Credential=(?P<key>[^/,\s]+)/")


@dataclass
class Identity:
    kind: str  # "user" or "session"
    arn: str
    account: str
    name: str  # user name or role name
    role_arn: str | None = None
    user_id: str | None = None
    policies: list[tuple[str, str]] = field(default_factory=list)
    # The role's permissions boundary as (name, document); a boundary whose policy is gone
    # allows nothing. None without a boundary.
    boundary: tuple[str, str] | None = None


def access_key_id(environ: dict[str, Any]) -> str | None:
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match:
        return match.group("key")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    credential = query.get("X-Amz-Credential")
    if credential:
        return credential[0].split("/", 1)[0]
    return None


def _managed_document(policy: Any) -> str | None:
    for version in getattr(policy, "versions", []):
        if getattr(version, "is_default", False):
            return version.document
    return None


def find_identity(key: str) -> Identity | None:
    """The emulator-issued identity (assumed-role session or IAM user) an access key belongs to, with its policies."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    for account, backends in list(sts_backends.items()):
        session = backends["aws"].get_assumed_role_from_access_key(key)
        if session is not None:
            iam = iam_backends[session.account_id]["aws"]
            identity = Identity(
                "session",
                session.arn,
                session.account_id,
                session.role_arn.rsplit("/", 1)[-1],
                role_arn=session.role_arn,
            )
            try:
                role = iam.get_role_by_arn(session.role_arn)
            except Exception:  # noqa: BLE001 - a deleted role has no permissions
                return identity
            identity.user_id = f"{role.id}:{session.session_name}"
            identity.policies = entity_policies("role", role.name, role)
            identity.boundary = role_boundary(iam, role)
            return identity
    for account, backends in list(iam_backends.items()):
        iam = backends["aws"]
        access_key = iam.access_keys.get(key)
        if access_key is None or not access_key.user_name:
            continue
        user = iam.users.get(access_key.user_name)
        if user is None:
            return None
        identity = Identity("user", user.arn, account, user.name, user_id=user.id)
        identity.policies = entity_policies("user", user.name, user)
        for group in iam.get_groups_for_user(user.name):
            identity.policies += entity_policies("group", group.name, group)
        return identity
    return None


def role_boundary(iam: Any, role: Any) -> tuple[str, str] | None:
    """The managed policy a role carries as its permissions boundary (moto keeps its ARN in
    `permissions_boundary_arn`), as (name, default version's document)."""
    arn = getattr(role, "permissions_boundary_arn", None)
    if not arn:
        return None
    policy = iam.managed_policies.get(arn)  # customer and AWS managed policies alike
    document = _managed_document(policy) if policy is not None else None
    if document is None:
        return (f"permissions boundary {arn} of role {role.name} (no such policy)", '{"Statement": []}')
    return (f"permissions boundary {arn} of role {role.name}", document)


def entity_policies(kind: str, name: str, entity: Any) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for policy_name, document in dict(getattr(entity, "policies", {})).items():
        found.append((f"inline policy {policy_name!r} of {kind} {name}", document))
    for arn, policy in dict(getattr(entity, "managed_policies", {})).items():
        document = _managed_document(policy)
        if document is not None:
            found.append((f"managed policy {arn} attached to {kind} {name}", document))
    return found
