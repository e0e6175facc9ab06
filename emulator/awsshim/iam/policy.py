"""Policy documents and what they are matched against: the request context, the decision, wildcards,
ARNs and policy variables. The lowest module of the IAM package: evaluation, the catalogue and the audits
all build on it.

Sources (IAM User Guide): "IAM JSON policy elements: Principal / NotPrincipal / Resource" and "IAM policy
elements: Variables and tags" (policy variables, `${*}`, `${?}`, `${$}` literals, defaults).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Sequence
from urllib.parse import unquote


ACCOUNT_IN_ARN = re.compile(r"^arn:[^:]*:(?:iam|sts)::(\d{12}):")


@dataclass
class RequestContext:
    """What AWS knows about a request when it evaluates policies.

    principal_arn: an IAM user (`arn:aws:iam::ACCOUNT:user/NAME`) or an
    assumed-role session (`arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION`,
    with `role_arn` the role it came from); None when a service principal
    (`service_principal`, e.g. "codepipeline.amazonaws.com") makes the call.
    condition_keys: request context keys (`aws:SourceArn`, `iam:PassedToService`,
    ...); `aws:PrincipalArn`, `aws:PrincipalAccount`, `aws:PrincipalType` and
    `aws:username` are derived from the principal unless given.
    """

    action: str
    resources: Sequence[str] | str = "*"
    principal_arn: str | None = None
    role_arn: str | None = None
    service_principal: str | None = None
    account: str | None = None
    condition_keys: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.resources, str):
            self.resources = [self.resources]
        if self.account is None:
            for arn in (self.principal_arn, self.role_arn):
                match = ACCOUNT_IN_ARN.match(arn or "")
                if match:
                    self.account = match.group(1)
                    break

    @property
    def is_session(self) -> bool:
        return ":assumed-role/" in (self.principal_arn or "")

    def keys(self) -> dict[str, list[str]]:
        """Condition keys, lower-cased (key names are case-insensitive), values as string lists."""
        derived: dict[str, Any] = {}
        if self.principal_arn:
            derived["aws:PrincipalArn"] = self.role_arn if self.is_session and self.role_arn else self.principal_arn
            derived["aws:PrincipalType"] = "AssumedRole" if self.is_session else "User"
            if not self.is_session and ":user/" in self.principal_arn:
                derived["aws:username"] = self.principal_arn.rsplit("/", 1)[-1]
        if self.account and self.principal_arn:
            derived["aws:PrincipalAccount"] = self.account
        if self.service_principal:
            derived["aws:PrincipalServiceName"] = self.service_principal
        merged = {key.lower(): value for key, value in derived.items()}
        merged.update({key.lower(): value for key, value in self.condition_keys.items()})
        return {key: string_list(value) for key, value in merged.items() if value is not None}


@dataclass
class Decision:
    allowed: bool
    reason: str
    sid: str | None = None
    policy: str | None = None  # the policy holding the deciding statement
    policy_type: str | None = None  # "identity", "resource" or "boundary" for that policy
    unknown_operators: tuple[str, ...] = ()
    # "explicit_deny", "allow", "implicit_deny", "resource_policy_required",
    # "account_only" (a resource policy delegating to IAM, no identity allow),
    # "boundary_implicit_deny" (an identity allow outside the signer's permissions boundary)
    kind: str = "implicit_deny"
    resource: str | None = None

    def aws_suffix(self, action: str) -> str:
        """The tail AWS puts on an access-denied message."""
        if self.kind == "explicit_deny":
            article = {"identity": "an identity-based", "boundary": "a permissions boundary"}.get(
                str(self.policy_type), "a resource-based"
            )
            return f"with an explicit deny in {article}" + ("" if self.policy_type == "boundary" else " policy")
        if self.kind == "boundary_implicit_deny":
            return f"because no permissions boundary allows the {action} action"
        if self.kind == "resource_policy_required":
            return f"because no resource-based policy allows the {action} action"
        return f"because no identity-based policy allows the {action} action"


def string_list(value: Any) -> list[str]:
    if isinstance(value, (list, tuple, set)):
        return [scalar_string(item) for item in value]
    return [scalar_string(value)]


def scalar_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def load_document(document: Any) -> dict[str, Any] | None:
    if isinstance(document, (bytes, bytearray)):
        document = document.decode("utf-8", "replace")
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            try:  # IAM answers documents URL-encoded; accept that too
                document = json.loads(unquote(document))
            except ValueError:
                return None
    return document if isinstance(document, dict) else None


def policy_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement")
    return [s for s in as_list(statements) if isinstance(s, dict)]


class MissingVariable(Exception):
    pass


_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def glob_regex(
    pattern: str, keys: dict[str, list[str]] | None, ignore_case: bool = False, wildcards: bool = True
) -> re.Pattern[str]:
    """`*` and `?` wildcards (unless wildcards=False: a literal match); `${key}`
    policy variables (`${*}`, `${?}`, `${$}` literals) when keys is given.
    Raises MissingVariable for a variable the context lacks."""
    parts: list[str] = []
    position = 0
    for match in (_VARIABLE.finditer(pattern) if keys is not None else ()):
        parts.append(glob_to_regex(pattern[position : match.start()], wildcards))
        parts.append(re.escape(_variable_value(match.group(1), keys or {})))
        position = match.end()
    parts.append(glob_to_regex(pattern[position:], wildcards))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def glob_to_regex(text: str, wildcards: bool = True) -> str:
    if not wildcards:
        return re.escape(text)
    return "".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in text)


def _variable_value(spec: str, keys: dict[str, list[str]]) -> str:
    name, _, default = spec.partition(",")
    name = name.strip()
    if name in ("*", "?", "$"):
        return name
    values = keys.get(name.lower())
    if values and len(values) == 1:
        return values[0]
    default = default.strip()
    if len(default) >= 2 and default[0] == default[-1] == "'":
        return default[1:-1]
    raise MissingVariable(name)


def glob_match(pattern: str, value: str, *, ignore_case: bool = False, keys: dict[str, list[str]] | None = None) -> bool:
    try:
        return glob_regex(pattern, keys, ignore_case).fullmatch(value) is not None
    except MissingVariable:
        return False


def arn_match(pattern: str, arn: str, keys: dict[str, list[str]] | None = None) -> bool:
    """ARN matching as for Resource and ArnLike: each of the six colon-separated
    parts is matched on its own (a wildcard does not cross into the next part,
    except in the resource part, which may itself contain colons)."""
    if pattern == "*":
        return True
    pattern_parts = pattern.split(":", 5)
    arn_parts = arn.split(":", 5)
    if len(pattern_parts) < 6 or len(arn_parts) < 6:
        return glob_match(pattern, arn, keys=keys)
    return all(glob_match(p, a, keys=keys) for p, a in zip(pattern_parts, arn_parts))


def action_match(pattern: str, action: str) -> bool:
    return glob_match(pattern, action, ignore_case=True)
