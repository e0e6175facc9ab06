"""What every service's operation table is built from: `Check` (one authorization an operation needs),
`Request` (the operation's parameters, account and region) and the helpers several services share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Check:
    """One authorization AWS makes for an operation."""

    action: str
    resources: tuple[str, ...]
    context: tuple[tuple[str, str], ...] = ()  # extra condition keys (iam:PassedToService, s3:prefix)
    policy_ref: tuple[str, ...] | None = None  # where the resource policy lives
    resource_policy_required: bool = False  # role trust policies, KMS key policies
    always_allowed: bool = False  # sts:GetCallerIdentity needs no permission


Resolver = Callable[[str, str, str], "str | None"]  # (kind, value, region) -> ARN


@dataclass(frozen=True)
class Request:
    service: str
    operation: str
    params: dict[str, Any]
    account: str
    region: str
    resolve: Resolver | None = None

    def param(self, *names: str) -> Any:
        for name in names:
            value = self.params.get(name)
            if value not in (None, ""):
                return value
        return None

    def arn(self, service: str, resource: str, *, region: bool = True, account: str | None = None) -> str:
        return f"arn:aws:{service}:{self.region if region else ''}:{account or self.account}:{resource}"

    def resolved(self, kind: str, value: str) -> str | None:
        return self.resolve(kind, value, self.region) if self.resolve else None


def name_from(value: Any, marker: str) -> str:
    """The name after `marker` in an ARN (`project/NAME`), or the value itself."""
    text = str(value)
    if text.startswith("arn:") and marker in text:
        return text.split(marker, 1)[1]
    return text


def has_tags(value: Any) -> bool:
    """Whether a request member carries tags (a non-empty list or map). Tag-on-create checks
    are added only then: AWS authorizes the tagging action only for a create that tags."""
    return isinstance(value, (list, tuple, dict)) and len(value) > 0


def query_members(r: Request, prefix: str) -> bool:
    """Query-protocol lists arrive flattened (`Tags.member.1.Key=...`)."""
    return any(key.startswith(prefix) for key in r.params)


def arn_part(arn: str, index: int, default: str) -> str:
    parts = arn.split(":")
    return parts[index] if len(parts) > index and parts[index] else default


def pass_role_checks(r: Request, role: Any, service: str) -> list[Check]:
    if not isinstance(role, str) or not role:
        return []
    arn = role if role.startswith("arn:") else f"arn:aws:iam::{r.account}:role/{role}"
    return [Check("iam:PassRole", (arn,), (("iam:PassedToService", service),))]


def by_resource_arn(action: str, *names: str) -> Callable[[Request], list[Check]]:
    """ListTagsForResource / TagResource / UntagResource: the ARN in the request."""

    def checks(r: Request) -> list[Check]:
        return [Check(action, (str(r.param(*names) or ""),))]

    return checks


def any_resource(action: str, always_allowed: bool = False) -> Callable[[Request], list[Check]]:
    return lambda r: [Check(action, ("*",), always_allowed=always_allowed)]


# One service's operations: (signing name, operation) -> the checks it needs.
OperationTable = dict[tuple[str, str], Callable[[Request], list[Check]]]
