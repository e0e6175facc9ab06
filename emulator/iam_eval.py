"""IAM policy evaluation the emulator can enforce (moto's own cannot).

moto 5.2.5 checks an action against Resource "*" only and ignores Condition.
This module evaluates identity and resource policies the way AWS documents it
for requests within one account, and wires that into the shim for requests
signed with credentials the emulator itself issued (see README.md, "IAM
enforcement").

Layers, from pure to impure:

1. `evaluate(context, identity_policies, resource_policy)` -> `Decision`:
   pure policy evaluation. Semantics from the IAM User Guide:
   - "Policy evaluation logic" (reference_policies_evaluation-logic.html),
     "Policy evaluation for requests within a single account"
     (reference_policies_evaluation-logic_policy-eval-basics.html) and
     "How AWS enforcement code logic evaluates requests to allow or deny
     access" (reference_policies_evaluation-logic_policy-eval-denyallow.html):
     an explicit Deny in any policy wins; otherwise an Allow in an identity
     policy or in the resource policy allows (same account: either is
     enough); otherwise implicit deny. A resource policy that names only the
     account (`"123456789012"`, `arn:aws:iam::123456789012:root`) delegates
     to IAM policies and grants nothing by itself. Role trust policies and
     KMS key policies must allow in any case (`resource_policy_required`).
   - "IAM JSON policy elements: Condition operators"
     (reference_policies_elements_condition_operators.html): a key absent
     from the request context makes a condition false, except for negated
     operators (`StringNotEquals`, `ArnNotLike`, ...), which are then true,
     and `...IfExists` / `Null`, which test presence.
   - "Single-valued vs. multivalued context keys"
     (reference_policies_condition-single-vs-multi-valued-context-keys.html):
     `ForAllValues:` is true when the key is absent, `ForAnyValue:` false.
   - "IAM JSON policy elements: Principal / NotPrincipal / Resource" and
     "IAM policy elements: Variables and tags" (policy variables).
   An operator the evaluator does not know fails closed: that statement never
   grants, and a Deny using it still denies; the Decision names it.
2. `known_action` / `unknown_actions`: the IAM action catalogue parliament
   ships (iam_definition.json), to catch typos such as `s3:GetObjects`.
3. `OPERATIONS` / `checks_for` / `resource_for`: AWS operation -> IAM
   action(s) and resource ARN(s) for the operations a CodePipeline-based
   CI/CD stack uses. Unmapped operations are denied under enforcement.
4. `Enforcer`: resolves an access key to an emulator-issued identity (moto's
   IAM user keys, moto's STS assumed-role sessions), collects its policies
   and the resource's policy, and answers AWS's access-denied error.
"""

from __future__ import annotations

import base64
import datetime
import functools
import importlib.util
import ipaddress
import json
import os
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Sequence
from urllib.parse import parse_qs, unquote

# --------------------------------------------------------------------------
# Request context and decision
# --------------------------------------------------------------------------

_ACCOUNT_IN_ARN = re.compile(r"^arn:[^:]*:(?:iam|sts)::(\d{12}):")


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
                match = _ACCOUNT_IN_ARN.match(arn or "")
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
        return {key: _string_list(value) for key, value in merged.items() if value is not None}


@dataclass
class Decision:
    allowed: bool
    reason: str
    sid: str | None = None
    policy: str | None = None  # the policy holding the deciding statement
    policy_type: str | None = None  # "identity" or "resource" for that policy
    unknown_operators: tuple[str, ...] = ()
    # "explicit_deny", "allow", "implicit_deny", "resource_policy_required",
    # "account_only" (a resource policy delegating to IAM, no identity allow)
    kind: str = "implicit_deny"
    resource: str | None = None

    def aws_suffix(self, action: str) -> str:
        """The tail AWS puts on an access-denied message."""
        if self.kind == "explicit_deny":
            article = "an identity-based" if self.policy_type == "identity" else "a resource-based"
            return f"with an explicit deny in {article} policy"
        if self.kind == "resource_policy_required":
            return f"because no resource-based policy allows the {action} action"
        return f"because no identity-based policy allows the {action} action"


def _string_list(value: Any) -> list[str]:
    if isinstance(value, (list, tuple, set)):
        return [_scalar(item) for item in value]
    return [_scalar(value)]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _load_document(document: Any) -> dict[str, Any] | None:
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


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement")
    return [s for s in _as_list(statements) if isinstance(s, dict)]


# --------------------------------------------------------------------------
# Wildcards, ARNs and policy variables
# --------------------------------------------------------------------------


class _MissingVariable(Exception):
    pass


_VARIABLE = re.compile(r"\$\{([^}]*)\}")


def _glob_regex(
    pattern: str, keys: dict[str, list[str]] | None, ignore_case: bool = False, wildcards: bool = True
) -> re.Pattern[str]:
    """`*` and `?` wildcards (unless wildcards=False: a literal match); `${key}`
    policy variables (`${*}`, `${?}`, `${$}` literals) when keys is given.
    Raises _MissingVariable for a variable the context lacks."""
    parts: list[str] = []
    position = 0
    for match in (_VARIABLE.finditer(pattern) if keys is not None else ()):
        parts.append(_wildcards(pattern[position : match.start()], wildcards))
        parts.append(re.escape(_variable_value(match.group(1), keys or {})))
        position = match.end()
    parts.append(_wildcards(pattern[position:], wildcards))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _wildcards(text: str, wildcards: bool = True) -> str:
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
    raise _MissingVariable(name)


def glob_match(pattern: str, value: str, *, ignore_case: bool = False, keys: dict[str, list[str]] | None = None) -> bool:
    try:
        return _glob_regex(pattern, keys, ignore_case).fullmatch(value) is not None
    except _MissingVariable:
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


# --------------------------------------------------------------------------
# Condition operators
# --------------------------------------------------------------------------


def _number(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _date(value: str) -> float | None:
    try:
        return float(value)  # epoch seconds
    except ValueError:
        pass
    try:
        moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def _compare(parse: Callable[[str], float | None], test: Callable[[float, float], bool]) -> Callable[..., bool]:
    def match(context_value: str, policy_value: str, keys: dict[str, list[str]]) -> bool:
        left, right = parse(context_value), parse(policy_value)
        return left is not None and right is not None and test(left, right)

    return match


def _ip_match(context_value: str, policy_value: str, keys: dict[str, list[str]]) -> bool:
    try:
        return ipaddress.ip_address(context_value) in ipaddress.ip_network(policy_value, strict=False)
    except ValueError:
        return False


def _string_equals(c: str, p: str, keys: dict[str, list[str]]) -> bool:
    try:
        return _glob_regex(p, keys, wildcards=False).fullmatch(c) is not None
    except _MissingVariable:
        return False


def _string_equals_ignore_case(c: str, p: str, keys: dict[str, list[str]]) -> bool:
    try:
        return _glob_regex(p, keys, ignore_case=True, wildcards=False).fullmatch(c) is not None
    except _MissingVariable:
        return False


# base operator -> (positive match function, negated?)
_OPERATORS: dict[str, tuple[Callable[[str, str, dict[str, list[str]]], bool], bool]] = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True),
    "StringLike": (lambda c, p, k: glob_match(p, c, keys=k), False),
    "StringNotLike": (lambda c, p, k: glob_match(p, c, keys=k), True),
    "ArnEquals": (lambda c, p, k: arn_match(p, c, k), False),
    "ArnLike": (lambda c, p, k: arn_match(p, c, k), False),
    "ArnNotEquals": (lambda c, p, k: arn_match(p, c, k), True),
    "ArnNotLike": (lambda c, p, k: arn_match(p, c, k), True),
    "Bool": (lambda c, p, k: c.lower() == p.lower(), False),
    "NumericEquals": (_compare(_number, lambda a, b: a == b), False),
    "NumericNotEquals": (_compare(_number, lambda a, b: a == b), True),
    "NumericLessThan": (_compare(_number, lambda a, b: a < b), False),
    "NumericLessThanEquals": (_compare(_number, lambda a, b: a <= b), False),
    "NumericGreaterThan": (_compare(_number, lambda a, b: a > b), False),
    "NumericGreaterThanEquals": (_compare(_number, lambda a, b: a >= b), False),
    "DateEquals": (_compare(_date, lambda a, b: a == b), False),
    "DateNotEquals": (_compare(_date, lambda a, b: a == b), True),
    "DateLessThan": (_compare(_date, lambda a, b: a < b), False),
    "DateLessThanEquals": (_compare(_date, lambda a, b: a <= b), False),
    "DateGreaterThan": (_compare(_date, lambda a, b: a > b), False),
    "DateGreaterThanEquals": (_compare(_date, lambda a, b: a >= b), False),
    "IpAddress": (_ip_match, False),
    "NotIpAddress": (_ip_match, True),
    "BinaryEquals": (lambda c, p, k: c == p, False),
}
SUPPORTED_OPERATORS = frozenset(_OPERATORS) | {"Null"}


def _split_operator(operator: str) -> tuple[str | None, str, bool]:
    """("ForAnyValue"/"ForAllValues"/None, base operator, IfExists?)."""
    qualifier = None
    for prefix in ("ForAnyValue:", "ForAllValues:"):
        if operator.startswith(prefix):
            qualifier, operator = prefix[:-1], operator[len(prefix) :]
    if_exists = operator.endswith("IfExists") and operator != "IfExists"
    if if_exists:
        operator = operator[: -len("IfExists")]
    return qualifier, operator, if_exists


def _condition_holds(
    operator: str, key: str, policy_values: list[str], keys: dict[str, list[str]]
) -> bool:
    qualifier, base, if_exists = _split_operator(operator)
    present = keys.get(key.lower())
    if base == "Null":
        absent = not present
        return any((value.lower() == "true") == absent for value in policy_values)
    match, negated = _OPERATORS[base]
    if not present:
        if if_exists or qualifier == "ForAllValues":
            return True
        if qualifier == "ForAnyValue":
            return False
        return negated

    def hit(value: str) -> bool:
        return any(match(value, policy_value, keys) for policy_value in policy_values)

    if qualifier == "ForAllValues":
        return all((not hit(v)) if negated else hit(v) for v in present)
    if qualifier == "ForAnyValue":
        return any((not hit(v)) if negated else hit(v) for v in present)
    matched = any(hit(v) for v in present)
    return not matched if negated else matched


def condition_result(condition: Any, keys: dict[str, list[str]]) -> tuple[bool, list[str]]:
    """(all known conditions hold, operators the evaluator does not know).

    Operators are ANDed, keys within an operator are ANDed, values for one key
    are ORed. Unknown operators are left out of the first result; the caller
    decides how they count (never for an Allow, always for a Deny)."""
    unknown: list[str] = []
    holds = True
    if condition is None:
        return True, unknown
    if not isinstance(condition, dict):
        return False, ["<malformed Condition>"]
    for operator, block in condition.items():
        qualifier, base, _ = _split_operator(str(operator))
        if base not in SUPPORTED_OPERATORS or not isinstance(block, dict):
            unknown.append(str(operator))
            continue
        for key, values in block.items():
            if not _condition_holds(str(operator), str(key), _string_list(values), keys):
                holds = False
    return holds, unknown


# --------------------------------------------------------------------------
# Statements and policies
# --------------------------------------------------------------------------

# Principal match strengths in a resource policy. "account" (the account id or
# its root ARN) delegates to the account's IAM policies and grants nothing by
# itself; "principal" (the user, the role, the session, a service, or "*")
# grants on its own within the account.
_PRINCIPAL = "principal"
_ACCOUNT = "account"


def _principal_strength(element: Any, context: RequestContext) -> str | None:
    if element == "*":
        return _PRINCIPAL
    if not isinstance(element, dict):
        return None
    best: str | None = None
    for kind, values in element.items():
        for value in _as_list(values):
            if not isinstance(value, str):
                continue
            strength: str | None = None
            if kind == "AWS":
                if value == "*":
                    strength = _PRINCIPAL
                elif context.principal_arn and value in (context.principal_arn, context.role_arn):
                    strength = _PRINCIPAL
                elif context.account and context.principal_arn and value in (
                    context.account,
                    f"arn:aws:iam::{context.account}:root",
                ):
                    strength = _ACCOUNT
            elif kind == "Service":
                if context.service_principal and value == context.service_principal:
                    strength = _PRINCIPAL
            if strength == _PRINCIPAL:
                return _PRINCIPAL
            best = best or strength
    return best


@dataclass
class _Match:
    effect: str
    sid: str | None
    policy: str
    policy_type: str
    strength: str | None = None  # resource policies: how the principal matched


def _statement_match(
    statement: dict[str, Any],
    context: RequestContext,
    resource: str,
    keys: dict[str, list[str]],
    policy_type: str,
    variables: bool,
) -> tuple[bool, str | None, list[str]]:
    """(statement applies, principal strength, unknown operators that decided it)."""
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        return False, None, []
    var_keys = keys if variables else None

    if "Action" in statement:
        if not any(isinstance(a, str) and action_match(a, context.action) for a in _as_list(statement["Action"])):
            return False, None, []
    elif "NotAction" in statement:
        if any(isinstance(a, str) and action_match(a, context.action) for a in _as_list(statement["NotAction"])):
            return False, None, []
    else:
        return False, None, []

    if "Resource" in statement:
        if not any(isinstance(r, str) and arn_match(r, resource, var_keys) for r in _as_list(statement["Resource"])):
            return False, None, []
    elif "NotResource" in statement:
        if any(isinstance(r, str) and arn_match(r, resource, var_keys) for r in _as_list(statement["NotResource"])):
            return False, None, []
    elif policy_type == "identity":
        return False, None, []  # an identity statement without Resource is invalid
    # (a resource policy may leave Resource out: it means the resource it is attached to)

    strength: str | None = None
    if policy_type == "resource":
        if "Principal" in statement:
            strength = _principal_strength(statement["Principal"], context)
            if strength is None:
                return False, None, []
        elif "NotPrincipal" in statement:
            # Simplification: any match (the principal, its role, its account)
            # exempts it; AWS compares each identity of the caller separately.
            if _principal_strength(statement["NotPrincipal"], context) is not None:
                return False, None, []
            strength = _PRINCIPAL
        else:
            return False, None, []

    holds, unknown = condition_result(statement.get("Condition"), keys)
    if not holds:
        return False, None, []
    if unknown:
        # Fail closed: an Allow we cannot evaluate never grants; a Deny still denies.
        return effect == "Deny", strength, unknown
    return True, strength, []


def _named_policies(policies: Iterable[Any], default_prefix: str) -> list[tuple[str, dict[str, Any]]]:
    named: list[tuple[str, dict[str, Any]]] = []
    for index, item in enumerate(policies):
        if isinstance(item, tuple) and len(item) == 2:
            name, document = item
        else:
            name, document = f"{default_prefix} #{index + 1}", item
        loaded = _load_document(document)
        if loaded is not None:
            named.append((str(name), loaded))
    return named


def _describe(sid: str | None, policy: str) -> str:
    return f"statement {sid!r} in {policy}" if sid else f"a statement without Sid in {policy}"


def evaluate(
    request_context: RequestContext,
    identity_policies: Sequence[Any],
    resource_policy: Any = None,
    *,
    resource_policy_required: bool = False,
) -> Decision:
    """Evaluate one request. identity_policies: documents (dict or JSON) or
    (name, document) pairs. With several resources every one must be allowed;
    the first denial is answered."""
    identity = _named_policies(identity_policies, "identity-based policy")
    resource_doc = _load_document(resource_policy) if resource_policy is not None else None
    decision: Decision | None = None
    for resource in request_context.resources:
        decision = _evaluate_resource(request_context, resource, identity, resource_doc, resource_policy_required)
        if not decision.allowed:
            return decision
    assert decision is not None, "a request names at least one resource"
    return decision


def _evaluate_resource(
    context: RequestContext,
    resource: str,
    identity: list[tuple[str, dict[str, Any]]],
    resource_doc: dict[str, Any] | None,
    resource_policy_required: bool,
) -> Decision:
    keys = context.keys()
    matches: list[_Match] = []
    unknown: list[tuple[str, str | None, str, str]] = []  # (operator, sid, policy, effect)
    sources = [(name, doc, "identity") for name, doc in identity]
    if resource_doc is not None:
        sources.append(("the resource-based policy", resource_doc, "resource"))
    for name, document, policy_type in sources:
        variables = document.get("Version") == "2012-10-17"
        for statement in _statements(document):
            sid = statement.get("Sid") if isinstance(statement.get("Sid"), str) else None
            applies, strength, operators = _statement_match(statement, context, resource, keys, policy_type, variables)
            for operator in operators:
                unknown.append((operator, sid, name, str(statement.get("Effect"))))
            if applies:
                matches.append(_Match(str(statement["Effect"]), sid, name, policy_type, strength))

    unknown_ops = tuple(dict.fromkeys(op for op, *_ in unknown))

    def unknown_note() -> str:
        if not unknown:
            return ""
        notes = "; ".join(
            f"{_describe(sid, policy)} ({effect}) uses condition operator {op!r}, which the emulator "
            "does not evaluate, so it fails closed"
            for op, sid, policy, effect in unknown
        )
        return f" ({notes})"

    for match in matches:
        if match.effect == "Deny":
            return Decision(
                False,
                f"explicitly denied by {_describe(match.sid, match.policy)}{unknown_note()}",
                match.sid,
                match.policy,
                match.policy_type,
                unknown_ops,
                "explicit_deny",
                resource,
            )
    identity_allow = next((m for m in matches if m.policy_type == "identity"), None)
    resource_allows = [m for m in matches if m.policy_type == "resource"]
    resource_grant = next((m for m in resource_allows if m.strength == _PRINCIPAL), None)
    if resource_policy_required and not resource_allows:
        return Decision(
            False,
            f"no statement in the resource-based policy allows this principal, and that policy must allow it{unknown_note()}",
            None,
            "the resource-based policy",
            "resource",
            unknown_ops,
            "resource_policy_required",
            resource,
        )
    granted = resource_grant or identity_allow
    if granted is not None:
        return Decision(
            True,
            f"allowed by {_describe(granted.sid, granted.policy)}",
            granted.sid,
            granted.policy,
            granted.policy_type,
            unknown_ops,
            "allow",
            resource,
        )
    if resource_allows:
        return Decision(
            False,
            "the resource-based policy allows only the account (which delegates to IAM policies), "
            f"and no identity-based statement allows{unknown_note()}",
            resource_allows[0].sid,
            resource_allows[0].policy,
            "resource",
            unknown_ops,
            "account_only",
            resource,
        )
    return Decision(False, f"no statement allows{unknown_note()}", None, None, None, unknown_ops, "implicit_deny", resource)


# --------------------------------------------------------------------------
# The IAM action catalogue (parliament's iam_definition.json)
# --------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _catalogue_data() -> tuple[dict[str, frozenset[str]], dict[str, tuple[str, ...]]]:
    """(service prefix -> lower-cased action names, lower-cased "prefix:action" ->
    ARN templates of its resource types, empty when the action takes Resource "*").
    Located without importing parliament (its import loads more than the catalogue)."""
    spec = importlib.util.find_spec("parliament")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("parliament is not installed (emulator/requirements.txt pins it)")
    path = os.path.join(list(spec.submodule_search_locations)[0], "iam_definition.json")
    with open(path, encoding="utf-8") as handle:
        services = json.load(handle)
    actions: dict[str, set[str]] = {}
    arns: dict[str, tuple[str, ...]] = {}
    for service in services:
        prefix = service["prefix"].lower()
        names = actions.setdefault(prefix, set())
        templates = {r["resource"]: r["arn"] for r in service.get("resources", [])}
        for privilege in service.get("privileges", []):
            name = privilege["privilege"].lower()
            names.add(name)
            types = [t["resource_type"].rstrip("*") for t in privilege.get("resource_types", [])]
            arns[f"{prefix}:{name}"] = tuple(templates[t] for t in types if t and t in templates)
    return {prefix: frozenset(names) for prefix, names in actions.items()}, arns


def _catalogue() -> dict[str, frozenset[str]]:
    return _catalogue_data()[0]


def catalogue_resource_arns(action: str) -> tuple[str, ...] | None:
    """ARN templates (`arn:${Partition}:s3:::${BucketName}/${ObjectName}`) of the
    resource types IAM's catalogue lists for an action; () when the action only
    takes Resource "*"; None for an unknown action."""
    return _catalogue_data()[1].get(action.lower())


def arn_fits_template(arn: str, template: str) -> bool:
    """Whether an ARN has the shape of a catalogue template (each ${Var} one or more characters)."""
    regex = re.sub(r"\\\$\\\{[^}]*\\\}", ".+", re.escape(template))
    return re.fullmatch(regex, arn) is not None


def known_action(action: str) -> bool:
    """Whether the catalogue knows the action; wildcards count when they match one."""
    if action == "*":
        return True
    prefix, sep, name = action.partition(":")
    names = _catalogue().get(prefix.lower())
    if not sep or names is None or not name:
        return False
    if "*" in name or "?" in name:
        regex = _glob_regex(name.lower(), None)
        return any(regex.fullmatch(candidate) for candidate in names)
    return name.lower() in names


def unknown_actions(document: Any) -> list[str]:
    """Action / NotAction values in a policy document the catalogue does not know."""
    loaded = _load_document(document)
    if loaded is None:
        return []
    found: list[str] = []
    for statement in _statements(loaded):
        for element in ("Action", "NotAction"):
            for action in _as_list(statement.get(element)):
                if isinstance(action, str) and not known_action(action) and action not in found:
                    found.append(action)
    return found


# --------------------------------------------------------------------------
# Operation -> IAM action and resource
# --------------------------------------------------------------------------


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


def _name_from(value: Any, marker: str) -> str:
    """The name after `marker` in an ARN (`project/NAME`), or the value itself."""
    text = str(value)
    if text.startswith("arn:") and marker in text:
        return text.split(marker, 1)[1]
    return text


def _has_tags(value: Any) -> bool:
    """Whether a request member carries tags (a non-empty list or map). Tag-on-create checks
    are added only then: AWS authorizes the tagging action only for a create that tags."""
    return isinstance(value, (list, tuple, dict)) and len(value) > 0


def _query_members(r: Request, prefix: str) -> bool:
    """Query-protocol lists arrive flattened (`Tags.member.1.Key=...`)."""
    return any(key.startswith(prefix) for key in r.params)


def _arn_part(arn: str, index: int, default: str) -> str:
    parts = arn.split(":")
    return parts[index] if len(parts) > index and parts[index] else default


# ---- S3 (params: Bucket, Key, VersionId, CopySource, prefix, built from the URL) ----


def _s3_bucket(r: Request) -> str:
    return f"arn:aws:s3:::{r.param('Bucket') or ''}"


def _s3_object(r: Request) -> str:
    return f"arn:aws:s3:::{r.param('Bucket') or ''}/{r.param('Key') or ''}"


def _s3(action: str, resource: Callable[[Request], str], versioned: str | None = None) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        chosen = versioned if versioned and r.param("VersionId") else action
        extra: tuple[tuple[str, str], ...] = ()
        if chosen == "s3:ListBucket" and r.param("prefix") is not None:
            extra = (("s3:prefix", str(r.param("prefix"))),)
        return [Check(chosen, (resource(r),), extra, ("s3", str(r.param("Bucket") or "")))]

    return checks


def _s3_copy(r: Request) -> list[Check]:
    source = unquote(str(r.param("CopySource") or "")).lstrip("/")
    path, _, query = source.partition("?")
    bucket, _, key = path.partition("/")
    version = parse_qs(query).get("versionId")
    return [
        Check("s3:PutObject", (_s3_object(r),), (), ("s3", str(r.param("Bucket") or ""))),
        Check(
            "s3:GetObjectVersion" if version else "s3:GetObject",
            (f"arn:aws:s3:::{bucket}/{key}",),
            (),
            ("s3", bucket),
        ),
    ]


def s3_delete_entries(body: bytes) -> list[dict[str, str]]:
    """The <Object> entries of a DeleteObjects body: [{"Key", "VersionId"?}]; [] when unreadable
    (S3 then answers MalformedXML)."""
    import xml.etree.ElementTree as ElementTree

    try:
        root = ElementTree.fromstring(body or b"")
    except ElementTree.ParseError:
        return []
    entries: list[dict[str, str]] = []
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] != "Object":
            continue
        entry: dict[str, str] = {}
        for child in element:
            name = child.tag.rsplit("}", 1)[-1]
            if name in ("Key", "VersionId") and child.text is not None:
                entry[name] = child.text
        if "Key" in entry:
            entries.append(entry)
    return entries


def _s3_delete_objects(r: Request) -> list[Check]:
    """DeleteObjects is authorized per key, as a DeleteObject would be (S3 API Reference,
    DeleteObjects): s3:DeleteObject, or s3:DeleteObjectVersion for a key with a VersionId."""
    bucket = str(r.param("Bucket") or "")
    plain: list[str] = []
    versioned: list[str] = []
    for entry in _as_list(r.params.get("Delete")):
        if isinstance(entry, dict) and entry.get("Key") is not None:
            arn = f"arn:aws:s3:::{bucket}/{entry['Key']}"
            target = versioned if entry.get("VersionId") else plain
            if arn not in target:
                target.append(arn)
    ref = ("s3", bucket)
    checks: list[Check] = []
    if plain:
        checks.append(Check("s3:DeleteObject", tuple(plain), (), ref))
    if versioned:
        checks.append(Check("s3:DeleteObjectVersion", tuple(versioned), (), ref))
    # No readable key (S3 answers MalformedXML): judge every object so nothing slips through.
    return checks or [Check("s3:DeleteObject", (f"arn:aws:s3:::{bucket}/*",), (), ref)]


# ---- ECR ----


def _ecr(action: str) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        name = str(r.param("repositoryName") or "")
        registry = str(r.param("registryId") or r.account)
        arn = r.arn("ecr", f"repository/{name}", account=registry)
        return [Check(action, (arn,), (), ("ecr", r.region, registry, name))]

    return checks


def _ecr_create(r: Request) -> list[Check]:
    """CreateRepository; with tags also ecr:TagResource (Amazon ECR User Guide, "Using tag-based
    access control": "If tags are specified in the resource-creating action, AWS performs
    additional authorization ... to verify if users have permissions to create tags")."""
    result = _ecr("ecr:CreateRepository")(r)
    if _has_tags(r.param("tags")):
        result.append(Check("ecr:TagResource", result[0].resources, (), result[0].policy_ref))
    return result


def _ecr_describe(r: Request) -> list[Check]:
    """DescribeRepositories: each repository named; repository/* when it lists them all."""
    registry = str(r.param("registryId") or r.account)
    names = [str(n) for n in _as_list(r.param("repositoryNames"))] or ["*"]
    return [
        Check(
            "ecr:DescribeRepositories",
            (r.arn("ecr", f"repository/{name}", account=registry),),
            (),
            ("ecr", r.region, registry, name),
        )
        for name in names
    ]


def _ecr_tagging(action: str) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        arn = str(r.param("resourceArn") or "")
        registry = _arn_part(arn, 4, r.account)
        name = arn.split(":repository/", 1)[1] if ":repository/" in arn else ""
        return [Check(action, (arn,), (), ("ecr", _arn_part(arn, 3, r.region), registry, name))]

    return checks


# ---- CodeBuild ----


def _codebuild_project(r: Request, *names: str) -> str:
    return r.arn("codebuild", f"project/{_name_from(r.param(*names) or '', 'project/')}")


def _codebuild_builds(r: Request) -> list[Check]:
    projects: list[str] = []
    for build_id in _as_list(r.param("ids")):
        name = _name_from(build_id, ":build/").split(":", 1)[0]
        arn = r.arn("codebuild", f"project/{name}")
        if arn not in projects:
            projects.append(arn)
    return [Check("codebuild:BatchGetBuilds", tuple(projects) or (r.arn("codebuild", "project/*"),))]


def _codebuild_report_group(action: str) -> Callable[[Request], list[Check]]:
    """CreateReport / UpdateReport / BatchPutTestCases are IAM actions the build
    container's agent is checked against (not public API operations); the
    resource is the report group, from reportGroupArn, a report ARN
    (report/GROUP:ID) or a name."""

    def checks(r: Request) -> list[Check]:
        group = r.param("reportGroupArn")
        if not group:
            report = r.param("reportArn", "arn")
            if isinstance(report, str) and ":report/" in report:
                group = r.arn("codebuild", "report-group/" + report.split(":report/", 1)[1].rsplit(":", 1)[0])
            else:
                group = r.arn("codebuild", f"report-group/{r.param('reportGroupName', 'name') or ''}")
        if not str(group).startswith("arn:"):
            group = r.arn("codebuild", f"report-group/{group}")
        return [Check(action, (str(group),))]

    return checks


def _pass_role(r: Request, role: Any, service: str) -> list[Check]:
    if not isinstance(role, str) or not role:
        return []
    arn = role if role.startswith("arn:") else f"arn:aws:iam::{r.account}:role/{role}"
    return [Check("iam:PassRole", (arn,), (("iam:PassedToService", service),))]


def _codebuild_project_write(action: str) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        return [Check(action, (_codebuild_project(r, "name"),))] + _pass_role(
            r, r.param("serviceRole"), "codebuild.amazonaws.com"
        )

    return checks


def _codebuild_projects(r: Request) -> list[Check]:
    """BatchGetProjects: every project named (names or ARNs)."""
    arns = [r.arn("codebuild", f"project/{_name_from(n, 'project/')}") for n in _as_list(r.param("names"))]
    return [Check("codebuild:BatchGetProjects", tuple(dict.fromkeys(arns)) or (r.arn("codebuild", "project/*"),))]


def _codebuild_report_group_arns(r: Request) -> list[Check]:
    """BatchGetReportGroups: every report group named by ARN."""
    arns = [
        str(a) if str(a).startswith("arn:") else r.arn("codebuild", f"report-group/{a}")
        for a in _as_list(r.param("reportGroupArns"))
    ]
    return [
        Check(
            "codebuild:BatchGetReportGroups",
            tuple(dict.fromkeys(arns)) or (r.arn("codebuild", "report-group/*"),),
        )
    ]


def _codebuild_report_group_by_arn(action: str) -> Callable[[Request], list[Check]]:
    """UpdateReportGroup / DeleteReportGroup name the group by its ARN (`arn`)."""

    def checks(r: Request) -> list[Check]:
        group = str(r.param("arn") or "")
        if not group.startswith("arn:"):
            group = r.arn("codebuild", f"report-group/{group}")
        return [Check(action, (group,))]

    return checks


# ---- CodePipeline ----


def _pipeline(action: str, *names: str) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        return [Check(action, (r.arn("codepipeline", str(r.param(*names) or "")),))]

    return checks


def _pipeline_connections(pipeline: dict[str, Any]) -> list[str]:
    """The ConnectionArn of every action (CodeStarSourceConnection) in a pipeline declaration."""
    found: list[str] = []
    for stage in _as_list(pipeline.get("stages")):
        for action in _as_list(stage.get("actions") if isinstance(stage, dict) else None):
            configuration = action.get("configuration") if isinstance(action, dict) else None
            arn = configuration.get("ConnectionArn") if isinstance(configuration, dict) else None
            if isinstance(arn, str) and arn and arn not in found:
                found.append(arn)
    return found


def _pipeline_write(action: str, tag_on_create: bool = False) -> Callable[[Request], list[Check]]:
    """CreatePipeline / UpdatePipeline: the pipeline, iam:PassRole on its role, and (the API
    operations table of the CodePipeline reference page) codestar-connections:PassConnection on
    every connection its actions name (CodePipeline User Guide, "IAM permissions reference for
    connections": "when a connection ARN is provided in a pipeline definition to create or update
    a pipeline, the user must have the codestar-connections:PassConnection permission");
    CreatePipeline with tags also codepipeline:TagResource (User Guide, "Using tags to control
    access to CodePipeline resources", example 3)."""

    def checks(r: Request) -> list[Check]:
        pipeline = r.param("pipeline")
        pipeline = pipeline if isinstance(pipeline, dict) else {}
        arn = r.arn("codepipeline", str(pipeline.get("name") or ""))
        result = [Check(action, (arn,))]
        result += _pass_role(r, pipeline.get("roleArn"), "codepipeline.amazonaws.com")
        for connection in _pipeline_connections(pipeline):
            result.append(
                Check(
                    "codestar-connections:PassConnection",
                    (connection,),
                    (("codestar-connections:PassedToService", "codepipeline.amazonaws.com"),),
                )
            )
        if tag_on_create and _has_tags(r.param("tags")):
            result.append(Check("codepipeline:TagResource", (arn,)))
        return result

    return checks


def _by_resource_arn(action: str, *names: str) -> Callable[[Request], list[Check]]:
    """ListTagsForResource / TagResource / UntagResource: the ARN in the request."""

    def checks(r: Request) -> list[Check]:
        return [Check(action, (str(r.param(*names) or ""),))]

    return checks


def _webhook_arn(r: Request, name: Any) -> str:
    return r.arn("codepipeline", f"webhook:{_name_from(name or '', ':webhook:')}")


def _webhook(action: str, *names: str) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        return [Check(action, (_webhook_arn(r, r.param(*names)),))]

    return checks


def _put_webhook(r: Request) -> list[Check]:
    """PutWebhook: the reference lists both the webhook and its target pipeline as required
    resources; with tags also codepipeline:TagResource on the webhook (the API operations table
    lists TagResource for PutWebhook; UntagResource too, for a replaced definition's tags, which
    the emulator does not model)."""
    webhook = r.param("webhook")
    webhook = webhook if isinstance(webhook, dict) else {}
    arn = _webhook_arn(r, webhook.get("name"))
    pipeline = r.arn("codepipeline", str(webhook.get("targetPipeline") or ""))
    result = [Check("codepipeline:PutWebhook", (arn, pipeline))]
    if _has_tags(r.param("tags")):
        result.append(Check("codepipeline:TagResource", (arn,)))
    return result


# ---- Lambda (params: FunctionName, Qualifier, from the URL) ----


def lambda_function_arn(reference: str, qualifier: str | None, account: str, region: str) -> str:
    """A function ARN from a name, `name:qualifier`, a partial ARN or an ARN;
    qualified (`function:NAME:QUALIFIER`) when a qualifier is given."""
    reference = unquote(reference)
    parts = reference.split(":")
    if reference.startswith("arn:") and len(parts) >= 7:
        account, region, name = parts[4], parts[3], parts[6]
        embedded = parts[7] if len(parts) > 7 else None
    elif len(parts) >= 3 and parts[1] == "function":
        account, name = parts[0], parts[2]
        embedded = parts[3] if len(parts) > 3 else None
    else:
        name, _, embedded = reference.partition(":")
    qualifier = qualifier or embedded or None
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


_ECR_IMAGE_URI = re.compile(
    r"^(?P<registry>\d{12})\.dkr\.ecr\.(?P<region>[a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com(?:\.cn)?"
    r"/(?P<name>[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})|@(?P<digest>sha256:[a-f0-9]{64}))$"
)


def ecr_image_reference(uri: Any) -> dict[str, str] | None:
    """The parts of an Amazon ECR image URI `REGISTRY.dkr.ecr.REGION.amazonaws.com/NAME:TAG` or
    `...NAME@sha256:DIGEST` (`registry`, `region`, `name`, and `tag` or `digest`), or None when it
    is not one (Lambda takes images by tag or by digest, nothing else)."""
    match = _ECR_IMAGE_URI.match(uri) if isinstance(uri, str) else None
    if match is None:
        return None
    return {key: value for key, value in match.groupdict().items() if value is not None}


def _lambda_image_pull(r: Request, uri: Any) -> list[Check]:
    """Creating or updating a function from a container image: the caller needs ecr:BatchGetImage and
    ecr:GetDownloadUrlForLayer on the image's repository (AWS re:Post knowledge center, "lambda-ecr-image":
    "the user or role creating the function and Amazon ECR repository must have policies that allow
    access"; the caller's own ecr:BatchGetImage denial is what CloudTrail shows, aws-controllers-k8s
    issue #1641). The repository policy is the resource policy, as for a direct ECR call."""
    image = ecr_image_reference(uri)
    if image is None:  # not an ECR image: Lambda refuses it before any authorization
        return []
    arn = f"arn:aws:ecr:{image['region']}:{image['registry']}:repository/{image['name']}"
    ref = ("ecr", image["region"], image["registry"], image["name"])
    return [Check("ecr:BatchGetImage", (arn,), (), ref), Check("ecr:GetDownloadUrlForLayer", (arn,), (), ref)]


def _lambda(
    action: str,
    qualified: bool = True,
    pass_role: bool = False,
    tag_on_create: bool = False,
    image: Callable[[Request], Any] | None = None,
) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        qualifier = r.param("Qualifier") if qualified else None
        arn = lambda_function_arn(str(r.param("FunctionName") or ""), qualifier, r.account, r.region)
        if not qualified:  # drop a qualifier embedded in the name too
            arn = ":".join(arn.split(":")[:7])
        result = [Check(action, (arn,), (), ("lambda", r.region, arn))]
        if pass_role:
            result += _pass_role(r, r.param("Role"), "lambda.amazonaws.com")
        # Lambda Developer Guide, "Using tags on Lambda functions": lambda:TagResource is needed
        # "to call TagResource or perform a tag on create".
        if tag_on_create and _has_tags(r.param("Tags")):
            result.append(Check("lambda:TagResource", (arn,), (), ("lambda", r.region, arn)))
        if image is not None:
            result += _lambda_image_pull(r, image(r))
        return result

    return checks


def _create_function_image(r: Request) -> Any:
    code = r.param("Code")
    return code.get("ImageUri") if isinstance(code, dict) else None


# ---- ECS (JSON 1.1, `AmazonEC2ContainerServiceV20141113.`; camelCase members) ----


def _ecs_cluster_name(value: Any) -> str:
    """A cluster named by name or ARN (`arn:aws:ecs:REGION:ACCOUNT:cluster/NAME`); AWS's default
    cluster is `default`."""
    text = str(value or "default")
    return text.rsplit("/", 1)[-1] if text.startswith("arn:") else text


def _ecs_cluster_arn(r: Request, value: Any = None) -> str:
    return r.arn("ecs", f"cluster/{_ecs_cluster_name(r.param('cluster') if value is None else value)}")


def _ecs_service_arn(r: Request, service: Any) -> str:
    """arn:aws:ecs:REGION:ACCOUNT:service/CLUSTER/NAME (the long ARN format the reference lists):
    `service` is a name, a long ARN (kept) or a short `service/NAME` ARN (its cluster from the
    request's `cluster`)."""
    text = str(service or "")
    if text.startswith("arn:") and ":service/" in text:
        rest = text.split(":service/", 1)[1]
        if "/" in rest:
            return text
        text = rest
    return r.arn("ecs", f"service/{_ecs_cluster_name(r.param('cluster'))}/{text}")


def _ecs_task_definition_arn(r: Request, value: Any) -> str | None:
    """The task definition a request names (`FAMILY`, `FAMILY:REVISION` or an ARN): its ARN, the
    latest ACTIVE revision for a bare family, as ECS resolves it (looked up in moto)."""
    if not isinstance(value, str) or not value:
        return None
    resolved = r.resolved("ecs-task-definition", value)
    if resolved:
        return resolved
    if value.startswith("arn:"):
        return value
    return r.arn("ecs", f"task-definition/{value}") if ":" in value else None


def _ecs_tag_on_create(r: Request, arn: str, operation: str) -> list[Check]:
    """ECS Developer Guide, "Grant permission to tag resources on creation": "If tags are specified in
    the resource-creating action, AWS performs additional authorization" on ecs:TagResource, with the
    `ecs:CreateAction` condition key naming the creating operation."""
    if not _has_tags(r.param("tags")):
        return []
    return [Check("ecs:TagResource", (arn,), (("ecs:CreateAction", operation),))]


def _ecs_service(action: str, member: str = "service", create: bool = False) -> Callable[[Request], list[Check]]:
    """The service actions, on the service ARN, with the `ecs:cluster` condition key (the cluster's
    ARN) and, where a task definition is named, `ecs:task-definition` ("Actions, resources, and
    condition keys for Amazon Elastic Container Service")."""

    def checks(r: Request) -> list[Check]:
        arn = _ecs_service_arn(r, r.param(member))
        context = [("ecs:cluster", _ecs_cluster_arn(r))]
        task_definition = _ecs_task_definition_arn(r, r.param("taskDefinition"))
        if task_definition and action in ("ecs:CreateService", "ecs:UpdateService"):
            context.append(("ecs:task-definition", task_definition))
        result = [Check(action, (arn,), tuple(context))]
        if create:
            result += _ecs_tag_on_create(r, arn, "CreateService")
        return result

    return checks


def _ecs_describe_services(r: Request) -> list[Check]:
    arns = [_ecs_service_arn(r, s) for s in _as_list(r.param("services"))]
    return [
        Check(
            "ecs:DescribeServices",
            tuple(dict.fromkeys(arns)) or (_ecs_service_arn(r, "*"),),
            (("ecs:cluster", _ecs_cluster_arn(r)),),
        )
    ]


def _ecs_register_task_definition(r: Request) -> list[Check]:
    """RegisterTaskDefinition: the reference lists the task-definition resource type; the ARN is the
    one the new revision will get (`task-definition/FAMILY:N`, N one past the family's latest).
    The task role and the execution role are passed to ECS tasks: iam:PassRole on each with
    `iam:PassedToService` = `ecs-tasks.amazonaws.com` (ECS Developer Guide, "Amazon ECS task IAM
    role" and "Amazon ECS task execution IAM role": the principals that use them are
    ecs-tasks.amazonaws.com; the AmazonECS_FullAccess policy grants iam:PassRole with exactly that
    condition). With tags also ecs:TagResource (`ecs:CreateAction` = RegisterTaskDefinition)."""
    family = str(r.param("family") or "")
    arn = r.resolved("ecs-task-definition-next", family) or r.arn("ecs", f"task-definition/{family}:1")
    result = [Check("ecs:RegisterTaskDefinition", (arn,))]
    for member in ("taskRoleArn", "executionRoleArn"):
        result += _pass_role(r, r.param(member), "ecs-tasks.amazonaws.com")
    return result + _ecs_tag_on_create(r, arn, "RegisterTaskDefinition")


def _ecs_create_cluster(r: Request) -> list[Check]:
    arn = _ecs_cluster_arn(r, r.param("clusterName"))
    return [Check("ecs:CreateCluster", (arn,))] + _ecs_tag_on_create(r, arn, "CreateCluster")


def _ecs_describe_clusters(r: Request) -> list[Check]:
    arns = [_ecs_cluster_arn(r, c) for c in _as_list(r.param("clusters"))] or [_ecs_cluster_arn(r, "default")]
    return [Check("ecs:DescribeClusters", tuple(dict.fromkeys(arns)))]


def _lambda_tagging(action: str) -> Callable[[Request], list[Check]]:
    """ListTags / TagResource / UntagResource: the function ARN in the path (/2017-03-31/tags/ARN)."""

    def checks(r: Request) -> list[Check]:
        arn = lambda_function_arn(str(r.param("Resource") or ""), None, r.account, r.region)
        return [Check(action, (arn,), (), ("lambda", r.region, arn))]

    return checks


# ---- the rest ----


def _sns_publish(r: Request) -> list[Check]:
    topic = str(r.param("TopicArn", "TargetArn") or "")
    return [Check("sns:Publish", (topic,), (), ("sns", r.region, topic))]


def _logs(action: str) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        group = r.param("logGroupName") or ""
        stream = r.param("logStreamName") or ""
        return [Check(action, (r.arn("logs", f"log-group:{group}:log-stream:{stream}"),))]

    return checks


def _events_put(r: Request) -> list[Check]:
    buses: list[str] = []
    for entry in _as_list(r.param("Entries")):
        bus = (entry.get("EventBusName") if isinstance(entry, dict) else None) or "default"
        arn = bus if bus.startswith("arn:") else r.arn("events", f"event-bus/{bus}")
        if arn not in buses:
            buses.append(arn)
    return [Check("events:PutEvents", tuple(buses) or (r.arn("events", "event-bus/default"),))]


def _secret_arn(r: Request, secret_id: str) -> str:
    """The secret's full ARN (NAME-XXXXXX, looked up in moto); for one that does not exist, the
    ARN given, else secret:NAME without the suffix."""
    return r.resolved("secret", secret_id) or (
        secret_id if secret_id.startswith("arn:") else r.arn("secretsmanager", f"secret:{secret_id}")
    )


def _secrets(action: str) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        arn = _secret_arn(r, str(r.param("SecretId") or ""))
        return [Check(action, (arn,), (), ("secretsmanager", r.region, arn))]

    return checks


def _secret_create(r: Request) -> list[Check]:
    """CreateSecret: AWS authorizes the ARN the new secret will get, random 6-character suffix
    included (denials name e.g. secret:NAME-GJe9zJ), so a policy has to use NAME-?????? or NAME*.
    The API reference: "If you include tags in the secret, you also need
    secretsmanager:TagResource"; the API operations table adds ReplicateSecretToRegions for
    AddReplicaRegions."""
    import secrets
    import string

    name = str(r.param("Name") or "")
    arn = r.resolved("secret", name)
    if arn is None:
        suffix = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(6))
        arn = r.arn("secretsmanager", f"secret:{name}-{suffix}")
    ref = ("secretsmanager", r.region, arn)
    result = [Check("secretsmanager:CreateSecret", (arn,), (), ref)]
    if _has_tags(r.param("Tags")):
        result.append(Check("secretsmanager:TagResource", (arn,), (), ref))
    if _has_tags(r.param("AddReplicaRegions")):
        result.append(Check("secretsmanager:ReplicateSecretToRegions", (arn,), (), ref))
    return result


def _kms(action: str) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        key = r.param("KeyId")
        arn = None
        if key:
            arn = r.resolved("kms-key", str(key))
            if arn is None:
                key = str(key)
                arn = key if key.startswith("arn:") else r.arn("kms", key if key.startswith("alias/") else f"key/{key}")
        elif r.param("CiphertextBlob"):
            arn = r.resolved("kms-ciphertext", str(r.param("CiphertextBlob")))
        arn = arn or r.arn("kms", "key/*")
        return [Check(action, (arn,), (), ("kms", r.region, arn), resource_policy_required=True)]

    return checks


def _assume_role(r: Request) -> list[Check]:
    role = str(r.param("RoleArn") or "")
    return [Check("sts:AssumeRole", (role,), (), ("iam-role", role), resource_policy_required=True)]


# ---- IAM (query protocol: RoleName, Path, Tags.member.N.Key, ...) ----


def _iam_path(path: Any) -> str:
    """An IAM path as it sits in an ARN: "/" or "/a/b/"."""
    text = str(path or "/")
    return ("/" + text.strip("/") + "/") if text.strip("/") else "/"


def _role_arn(r: Request, name: Any) -> str:
    """The role's ARN, path included (moto's, when the role exists); role/NAME otherwise, as
    AWS names a role that does not exist (observe before create)."""
    name = _name_from(name or "", ":role/").rsplit("/", 1)[-1]
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
    if _query_members(r, "Tags.member."):
        result.append(Check("iam:TagRole", (arn,)))
    return result


def _iam_remove_role_from_instance_profile(r: Request) -> list[Check]:
    """The reference lists the instance profile (not the role) as the resource."""
    name = str(r.param("InstanceProfileName") or "")
    arn = r.resolved("iam-instance-profile", name) or f"arn:aws:iam::{r.account}:instance-profile/{name}"
    return [Check("iam:RemoveRoleFromInstanceProfile", (arn,))]


# ---- CloudWatch Logs (JSON: logGroupName, tags, resourceArn) ----


def _log_group(action: str, tag_on_create: bool = False) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        arn = r.arn("logs", f"log-group:{r.param('logGroupName') or ''}")
        result = [Check(action, (arn,))]
        # CreateLogGroup API reference: "To assign tags when you create a log group, you must have
        # either the logs:TagResource or logs:TagLogGroup permission." The emulator checks
        # logs:TagResource (TagLogGroup is on the path to deprecation).
        if tag_on_create and _has_tags(r.param("tags")):
            result.append(Check("logs:TagResource", (arn,)))
        return result

    return checks


# ---- SNS (query protocol: TopicArn, Name, Tags.member.N.Key, ResourceArn) ----


def _sns_topic(action: str, *names: str) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        topic = str(r.param(*(names or ("TopicArn",))) or "")
        return [Check(action, (topic,), (), ("sns", _arn_part(topic, 3, r.region), topic))]

    return checks


def _sns_create_topic(r: Request) -> list[Check]:
    """CreateTopic on the topic it names; with tags also sns:TagResource (CreateTopic API
    reference: "To be able to tag a topic on creation, you must have the sns:CreateTopic and
    sns:TagResource permissions")."""
    topic = r.arn("sns", str(r.param("Name") or ""))
    ref = ("sns", r.region, topic)
    result = [Check("sns:CreateTopic", (topic,), (), ref)]
    if _query_members(r, "Tags.member."):
        result.append(Check("sns:TagResource", (topic,), (), ref))
    return result


# ---- EventBridge (JSON: Name / Rule, EventBusName, Tags, ResourceARN) ----


def _rule_arn(r: Request, name: Any, bus: Any) -> str:
    """rule/NAME on the default bus, rule/BUS/NAME on a custom one."""
    bus_name = _name_from(bus or "default", ":event-bus/")
    name = str(name or "")
    return r.arn("events", f"rule/{name}" if bus_name == "default" else f"rule/{bus_name}/{name}")


def _events_rule(action: str, name: str = "Name") -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        return [Check(action, (_rule_arn(r, r.param(name), r.param("EventBusName")),))]

    return checks


def _events_put_rule(r: Request) -> list[Check]:
    """PutRule; with tags on a new rule also events:TagResource (PutRule API reference: "To use
    the PutRule operation and assign tags, you must have both the events:PutRule and
    events:TagResource permissions. If you are updating an existing rule, any tags you specify
    in the PutRule operation are ignored")."""
    arn = _rule_arn(r, r.param("Name"), r.param("EventBusName"))
    result = [Check("events:PutRule", (arn,))]
    bus = _name_from(r.param("EventBusName") or "default", ":event-bus/")
    if _has_tags(r.param("Tags")) and r.resolved("events-rule", f"{bus}/{r.param('Name') or ''}") is None:
        result.append(Check("events:TagResource", (arn,)))
    return result


# ---- CodeStar connections (JSON: ConnectionArn, ConnectionName, Tags, ResourceArn) ----


def _connection_create(r: Request) -> list[Check]:
    """CreateConnection takes Resource "*" in the reference; with tags also
    codestar-connections:TagResource (the API operations table lists it for CreateConnection).
    The new connection's id is not known before it exists: the tag check names connection/*."""
    result = [Check("codestar-connections:CreateConnection", ("*",))]
    if _has_tags(r.param("Tags")):
        result.append(Check("codestar-connections:TagResource", (r.arn("codestar-connections", "connection/*"),)))
    return result


def _star(action: str, always_allowed: bool = False) -> Callable[[Request], list[Check]]:
    return lambda r: [Check(action, ("*",), always_allowed=always_allowed)]


OPERATIONS: dict[tuple[str, str], Callable[[Request], list[Check]]] = {
    # S3 (operation names as the shim records them). Sources: "Actions, resources, and condition
    # keys for Amazon S3" and the S3 API Reference's permissions paragraph per operation (which
    # maps e.g. DeleteBucketEncryption to s3:PutEncryptionConfiguration).
    ("s3", "GetObject"): _s3("s3:GetObject", _s3_object, "s3:GetObjectVersion"),
    ("s3", "HeadObject"): _s3("s3:GetObject", _s3_object, "s3:GetObjectVersion"),
    ("s3", "PutObject"): _s3("s3:PutObject", _s3_object),
    ("s3", "CopyObject"): _s3_copy,
    ("s3", "CreateMultipartUpload"): _s3("s3:PutObject", _s3_object),
    ("s3", "UploadPart"): _s3("s3:PutObject", _s3_object),
    ("s3", "CompleteMultipartUpload"): _s3("s3:PutObject", _s3_object),
    ("s3", "AbortMultipartUpload"): _s3("s3:AbortMultipartUpload", _s3_object),
    ("s3", "DeleteObject"): _s3("s3:DeleteObject", _s3_object, "s3:DeleteObjectVersion"),
    ("s3", "DeleteObjects"): _s3_delete_objects,
    ("s3", "GetBucketLocation"): _s3("s3:GetBucketLocation", _s3_bucket),
    ("s3", "ListObjects"): _s3("s3:ListBucket", _s3_bucket),
    ("s3", "ListObjectsV2"): _s3("s3:ListBucket", _s3_bucket),
    ("s3", "HeadBucket"): _s3("s3:ListBucket", _s3_bucket),
    ("s3", "ListObjectVersions"): _s3("s3:ListBucketVersions", _s3_bucket),
    **{
        ("s3", operation): _s3(action, _s3_bucket)
        for operation, action in (
            ("CreateBucket", "s3:CreateBucket"),
            ("DeleteBucket", "s3:DeleteBucket"),
            ("GetBucketEncryption", "s3:GetEncryptionConfiguration"),
            ("PutBucketEncryption", "s3:PutEncryptionConfiguration"),
            ("DeleteBucketEncryption", "s3:PutEncryptionConfiguration"),
            ("GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration"),
            ("PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration"),
            ("DeleteBucketLifecycle", "s3:PutLifecycleConfiguration"),
            ("GetBucketOwnershipControls", "s3:GetBucketOwnershipControls"),
            ("PutBucketOwnershipControls", "s3:PutBucketOwnershipControls"),
            ("DeleteBucketOwnershipControls", "s3:PutBucketOwnershipControls"),
            ("GetBucketPolicy", "s3:GetBucketPolicy"),
            ("PutBucketPolicy", "s3:PutBucketPolicy"),
            ("DeleteBucketPolicy", "s3:DeleteBucketPolicy"),
            ("GetBucketTagging", "s3:GetBucketTagging"),
            ("PutBucketTagging", "s3:PutBucketTagging"),
            ("DeleteBucketTagging", "s3:PutBucketTagging"),
            ("GetBucketVersioning", "s3:GetBucketVersioning"),
            ("PutBucketVersioning", "s3:PutBucketVersioning"),
            ("GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock"),
            ("PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
            ("DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock"),
        )
    },
    # ECR. Source: "Actions, resources, and condition keys for Amazon Elastic Container Registry"
    # (repository ARN for every action below but GetAuthorizationToken).
    ("ecr", "GetAuthorizationToken"): _star("ecr:GetAuthorizationToken"),
    **{
        ("ecr", op): _ecr(f"ecr:{op}")
        for op in (
            "BatchCheckLayerAvailability",
            "InitiateLayerUpload",
            "UploadLayerPart",
            "CompleteLayerUpload",
            "PutImage",
            "BatchGetImage",
            "GetDownloadUrlForLayer",
            "DescribeImages",
            "ListImages",
            "DeleteRepository",
            "GetLifecyclePolicy",
            "PutLifecyclePolicy",
            "DeleteLifecyclePolicy",
            "GetRepositoryPolicy",
            "SetRepositoryPolicy",
            "DeleteRepositoryPolicy",
            "PutImageScanningConfiguration",
            "PutImageTagMutability",
        )
    },
    ("ecr", "CreateRepository"): _ecr_create,
    ("ecr", "DescribeRepositories"): _ecr_describe,
    ("ecr", "ListTagsForResource"): _ecr_tagging("ecr:ListTagsForResource"),
    ("ecr", "TagResource"): _ecr_tagging("ecr:TagResource"),
    ("ecr", "UntagResource"): _ecr_tagging("ecr:UntagResource"),
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
    # CodeBuild. Source: "Actions, resources, and condition keys for AWS CodeBuild". CodeBuild has
    # no tagging action: tags on CreateProject / CreateReportGroup are governed by
    # aws:RequestTag on those actions themselves, so no tag-on-create check.
    ("codebuild", "StartBuild"): lambda r: [Check("codebuild:StartBuild", (_codebuild_project(r, "projectName"),))],
    ("codebuild", "BatchGetBuilds"): _codebuild_builds,
    ("codebuild", "BatchGetProjects"): _codebuild_projects,
    ("codebuild", "CreateProject"): _codebuild_project_write("codebuild:CreateProject"),
    ("codebuild", "UpdateProject"): _codebuild_project_write("codebuild:UpdateProject"),
    ("codebuild", "DeleteProject"): lambda r: [Check("codebuild:DeleteProject", (_codebuild_project(r, "name"),))],
    ("codebuild", "CreateReportGroup"): lambda r: [
        Check("codebuild:CreateReportGroup", (r.arn("codebuild", f"report-group/{r.param('name') or ''}"),))
    ],
    ("codebuild", "BatchGetReportGroups"): _codebuild_report_group_arns,
    ("codebuild", "UpdateReportGroup"): _codebuild_report_group_by_arn("codebuild:UpdateReportGroup"),
    ("codebuild", "DeleteReportGroup"): _codebuild_report_group_by_arn("codebuild:DeleteReportGroup"),
    ("codebuild", "CreateReport"): _codebuild_report_group("codebuild:CreateReport"),
    ("codebuild", "UpdateReport"): _codebuild_report_group("codebuild:UpdateReport"),
    ("codebuild", "BatchPutTestCases"): _codebuild_report_group("codebuild:BatchPutTestCases"),
    # CodePipeline. Source: "Actions, resources, and condition keys for AWS CodePipeline": the job
    # calls take Resource "*"; pipeline ARN arn:aws:codepipeline:REGION:ACCOUNT:NAME, webhook ARN
    # ...:webhook:NAME. ListWebhooks lists the webhook resource type as required, so it is judged
    # on webhook:* (every webhook).
    ("codepipeline", "PutJobSuccessResult"): _star("codepipeline:PutJobSuccessResult"),
    ("codepipeline", "PutJobFailureResult"): _star("codepipeline:PutJobFailureResult"),
    ("codepipeline", "GetJobDetails"): _star("codepipeline:GetJobDetails"),
    ("codepipeline", "GetPipelineExecution"): _pipeline("codepipeline:GetPipelineExecution", "pipelineName"),
    ("codepipeline", "ListActionExecutions"): _pipeline("codepipeline:ListActionExecutions", "pipelineName"),
    ("codepipeline", "GetPipelineState"): _pipeline("codepipeline:GetPipelineState", "name"),
    ("codepipeline", "GetPipeline"): _pipeline("codepipeline:GetPipeline", "name"),
    ("codepipeline", "StartPipelineExecution"): _pipeline("codepipeline:StartPipelineExecution", "name"),
    ("codepipeline", "DeletePipeline"): _pipeline("codepipeline:DeletePipeline", "name"),
    ("codepipeline", "CreatePipeline"): _pipeline_write("codepipeline:CreatePipeline", tag_on_create=True),
    ("codepipeline", "UpdatePipeline"): _pipeline_write("codepipeline:UpdatePipeline"),
    ("codepipeline", "ListTagsForResource"): _by_resource_arn("codepipeline:ListTagsForResource", "resourceArn"),
    ("codepipeline", "TagResource"): _by_resource_arn("codepipeline:TagResource", "resourceArn"),
    ("codepipeline", "UntagResource"): _by_resource_arn("codepipeline:UntagResource", "resourceArn"),
    ("codepipeline", "ListWebhooks"): lambda r: [Check("codepipeline:ListWebhooks", (r.arn("codepipeline", "webhook:*"),))],
    ("codepipeline", "PutWebhook"): _put_webhook,
    ("codepipeline", "DeleteWebhook"): _webhook("codepipeline:DeleteWebhook", "name"),
    ("codepipeline", "RegisterWebhookWithThirdParty"): _webhook(
        "codepipeline:RegisterWebhookWithThirdParty", "webhookName"
    ),
    ("codepipeline", "DeregisterWebhookWithThirdParty"): _webhook(
        "codepipeline:DeregisterWebhookWithThirdParty", "webhookName"
    ),
    # Lambda (operation names as the shim records them; Invoke is lambda:InvokeFunction). Source:
    # "Actions, resources, and condition keys for AWS Lambda": the function ARN, qualified
    # (function:NAME:QUALIFIER) for the calls that take a Qualifier.
    ("lambda", "Invoke"): _lambda("lambda:InvokeFunction"),
    ("lambda", "GetFunction"): _lambda("lambda:GetFunction"),
    ("lambda", "GetFunctionConfiguration"): _lambda("lambda:GetFunctionConfiguration"),
    ("lambda", "DeleteFunction"): _lambda("lambda:DeleteFunction"),
    ("lambda", "AddPermission"): _lambda("lambda:AddPermission"),
    ("lambda", "RemovePermission"): _lambda("lambda:RemovePermission"),
    ("lambda", "GetPolicy"): _lambda("lambda:GetPolicy"),
    ("lambda", "GetFunctionEventInvokeConfig"): _lambda("lambda:GetFunctionEventInvokeConfig"),
    ("lambda", "PutFunctionEventInvokeConfig"): _lambda("lambda:PutFunctionEventInvokeConfig"),
    ("lambda", "DeleteFunctionEventInvokeConfig"): _lambda("lambda:DeleteFunctionEventInvokeConfig"),
    # UpdateFunctionCode / CreateFunction with an image also need the ECR pull actions (_lambda_image_pull).
    ("lambda", "UpdateFunctionCode"): _lambda(
        "lambda:UpdateFunctionCode", qualified=False, image=lambda r: r.param("ImageUri")
    ),
    ("lambda", "PublishVersion"): _lambda("lambda:PublishVersion", qualified=False),
    ("lambda", "ListVersionsByFunction"): _lambda("lambda:ListVersionsByFunction", qualified=False),
    # The alias actions are authorized on the unqualified function ARN, not the alias ARN: the
    # reference and the Lambda Developer Guide ("Resources and conditions for Lambda actions") list
    # only the function resource for CreateAlias, DeleteAlias, GetAlias, ListAliases and UpdateAlias,
    # and AWS's denial names `...:function:NAME` for lambda:UpdateAlias.
    ("lambda", "CreateAlias"): _lambda("lambda:CreateAlias", qualified=False),
    ("lambda", "UpdateAlias"): _lambda("lambda:UpdateAlias", qualified=False),
    ("lambda", "GetAlias"): _lambda("lambda:GetAlias", qualified=False),
    ("lambda", "DeleteAlias"): _lambda("lambda:DeleteAlias", qualified=False),
    ("lambda", "ListAliases"): _lambda("lambda:ListAliases", qualified=False),
    ("lambda", "CreateFunction"): _lambda(
        "lambda:CreateFunction", qualified=False, pass_role=True, tag_on_create=True, image=_create_function_image
    ),
    ("lambda", "UpdateFunctionConfiguration"): _lambda(
        "lambda:UpdateFunctionConfiguration", qualified=False, pass_role=True
    ),
    ("lambda", "ListTags"): _lambda_tagging("lambda:ListTags"),
    ("lambda", "TagResource"): _lambda_tagging("lambda:TagResource"),
    ("lambda", "UntagResource"): _lambda_tagging("lambda:UntagResource"),
    # ECS. Source: "Actions, resources, and condition keys for Amazon Elastic Container Service": the
    # cluster, service (service/CLUSTER/NAME) and task-definition resource types; DescribeTaskDefinition,
    # ListTaskDefinitions, ListTaskDefinitionFamilies, DeregisterTaskDefinition, ListClusters and
    # ListServices list none (Resource "*").
    ("ecs", "CreateCluster"): _ecs_create_cluster,
    ("ecs", "DescribeClusters"): _ecs_describe_clusters,
    ("ecs", "DeleteCluster"): lambda r: [Check("ecs:DeleteCluster", (_ecs_cluster_arn(r),))],
    ("ecs", "ListClusters"): _star("ecs:ListClusters"),
    ("ecs", "RegisterTaskDefinition"): _ecs_register_task_definition,
    ("ecs", "DescribeTaskDefinition"): _star("ecs:DescribeTaskDefinition"),
    ("ecs", "ListTaskDefinitions"): _star("ecs:ListTaskDefinitions"),
    ("ecs", "ListTaskDefinitionFamilies"): _star("ecs:ListTaskDefinitionFamilies"),
    ("ecs", "DeregisterTaskDefinition"): _star("ecs:DeregisterTaskDefinition"),
    ("ecs", "CreateService"): _ecs_service("ecs:CreateService", "serviceName", create=True),
    ("ecs", "DescribeServices"): _ecs_describe_services,
    ("ecs", "UpdateService"): _ecs_service("ecs:UpdateService"),
    ("ecs", "DeleteService"): _ecs_service("ecs:DeleteService"),
    ("ecs", "ListServices"): lambda r: [Check("ecs:ListServices", ("*",), (("ecs:cluster", _ecs_cluster_arn(r)),))],
    ("ecs", "ListTagsForResource"): _by_resource_arn("ecs:ListTagsForResource", "resourceArn"),
    ("ecs", "TagResource"): _by_resource_arn("ecs:TagResource", "resourceArn"),
    ("ecs", "UntagResource"): _by_resource_arn("ecs:UntagResource", "resourceArn"),
    # SNS. Source: "Actions, resources, and condition keys for Amazon SNS": the topic ARN, except
    # Unsubscribe, which lists no resource type (Resource "*").
    ("sns", "Publish"): _sns_publish,
    ("sns", "CreateTopic"): _sns_create_topic,
    **{
        ("sns", op): _sns_topic(f"sns:{op}")
        for op in ("DeleteTopic", "GetTopicAttributes", "SetTopicAttributes", "Subscribe", "ListSubscriptionsByTopic")
    },
    ("sns", "Unsubscribe"): _star("sns:Unsubscribe"),
    ("sns", "ListTagsForResource"): _sns_topic("sns:ListTagsForResource", "ResourceArn"),
    ("sns", "TagResource"): _sns_topic("sns:TagResource", "ResourceArn"),
    ("sns", "UntagResource"): _sns_topic("sns:UntagResource", "ResourceArn"),
    # CloudWatch Logs. Source: "Actions, resources, and condition keys for Amazon CloudWatch Logs":
    # arn:aws:logs:REGION:ACCOUNT:log-group:NAME; DescribeLogGroups lists no resource type (*).
    ("logs", "CreateLogStream"): _logs("logs:CreateLogStream"),
    ("logs", "PutLogEvents"): _logs("logs:PutLogEvents"),
    ("logs", "CreateLogGroup"): _log_group("logs:CreateLogGroup", tag_on_create=True),
    ("logs", "DeleteLogGroup"): _log_group("logs:DeleteLogGroup"),
    ("logs", "PutRetentionPolicy"): _log_group("logs:PutRetentionPolicy"),
    ("logs", "DescribeLogGroups"): _star("logs:DescribeLogGroups"),
    ("logs", "ListTagsForResource"): _by_resource_arn("logs:ListTagsForResource", "resourceArn"),
    ("logs", "TagResource"): _by_resource_arn("logs:TagResource", "resourceArn"),
    ("logs", "UntagResource"): _by_resource_arn("logs:UntagResource", "resourceArn"),
    # EventBridge. Source: "Actions, resources, and condition keys for Amazon EventBridge": rule/NAME
    # (default bus) or rule/BUS/NAME; PutEvents on the event bus.
    ("events", "PutEvents"): _events_put,
    ("events", "PutRule"): _events_put_rule,
    ("events", "DescribeRule"): _events_rule("events:DescribeRule"),
    ("events", "DeleteRule"): _events_rule("events:DeleteRule"),
    ("events", "PutTargets"): _events_rule("events:PutTargets", "Rule"),
    ("events", "RemoveTargets"): _events_rule("events:RemoveTargets", "Rule"),
    ("events", "ListTargetsByRule"): _events_rule("events:ListTargetsByRule", "Rule"),
    ("events", "ListTagsForResource"): _by_resource_arn("events:ListTagsForResource", "ResourceARN"),
    ("events", "TagResource"): _by_resource_arn("events:TagResource", "ResourceARN"),
    ("events", "UntagResource"): _by_resource_arn("events:UntagResource", "ResourceARN"),
    # Secrets Manager. Source: "Actions, resources, and condition keys for AWS Secrets Manager": the
    # secret's full ARN (random 6-character suffix), looked up in moto.
    ("secretsmanager", "CreateSecret"): _secret_create,
    **{
        ("secretsmanager", op): _secrets(f"secretsmanager:{op}")
        for op in (
            "GetSecretValue",
            "DescribeSecret",
            "DeleteSecret",
            "RestoreSecret",
            "UpdateSecret",
            "TagResource",
            "UntagResource",
        )
    },
    # CodeStar connections. Source: "Actions, resources, and condition keys for AWS CodeStar
    # Connections": connection/ID; CreateConnection takes "*"; ListConnections lists the
    # Connection resource type as required, so it is judged on connection/* (every connection).
    ("codestar-connections", "CreateConnection"): _connection_create,
    ("codestar-connections", "GetConnection"): _by_resource_arn("codestar-connections:GetConnection", "ConnectionArn"),
    ("codestar-connections", "DeleteConnection"): _by_resource_arn(
        "codestar-connections:DeleteConnection", "ConnectionArn"
    ),
    ("codestar-connections", "ListConnections"): lambda r: [
        Check("codestar-connections:ListConnections", (r.arn("codestar-connections", "connection/*"),))
    ],
    **{
        ("codestar-connections", op): _by_resource_arn(f"codestar-connections:{op}", "ResourceArn")
        for op in ("ListTagsForResource", "TagResource", "UntagResource")
    },
    # Resource Groups Tagging API. Source: "Actions, resources, and condition keys for Amazon
    # Resource Group Tagging API": tag:GetResources takes Resource "*".
    ("tagging", "GetResources"): _star("tag:GetResources"),
    # KMS, STS
    ("kms", "Decrypt"): _kms("kms:Decrypt"),
    ("kms", "Encrypt"): _kms("kms:Encrypt"),
    ("kms", "GenerateDataKey"): _kms("kms:GenerateDataKey"),
    ("sts", "AssumeRole"): _assume_role,
    ("sts", "GetCallerIdentity"): _star("sts:GetCallerIdentity", always_allowed=True),
}


def checks_for(
    service: str,
    operation: str,
    params: dict[str, Any],
    account: str,
    region: str,
    resolve: Resolver | None = None,
) -> list[Check] | None:
    """Every authorization the operation needs, or None when it is not mapped."""
    build = OPERATIONS.get((service, operation))
    if build is None:
        return None
    return build(Request(service, operation, params, account, region, resolve))


def action_for(service: str, operation: str, params: dict[str, Any] | None = None) -> str | None:
    checks = checks_for(service, operation, params or {}, "000000000000", "us-east-1")
    return checks[0].action if checks else None


def resource_for(
    service: str,
    operation: str,
    params: dict[str, Any],
    account: str,
    region: str,
    resolve: Resolver | None = None,
) -> str | list[str] | None:
    """The resource ARN of the operation's main action (a list when it names
    several), or None when the operation is not mapped."""
    checks = checks_for(service, operation, params, account, region, resolve)
    if not checks:
        return None
    resources = list(checks[0].resources)
    return resources[0] if len(resources) == 1 else resources


# --------------------------------------------------------------------------
# Enforcement in the shim
# --------------------------------------------------------------------------

_CREDENTIAL = re.compile(r"Credential=(?P<key>[^/,\s]+)/")
_LAMBDA_FUNCTION_PATH = re.compile(r"^/[0-9-]+/functions/(?P<name>[^/]+)(?:/aliases/(?P<alias>[^/]+))?")
_LAMBDA_TAGS_PATH = re.compile(r"^/[0-9-]+/tags/(?P<arn>.+?)/?$")


@dataclass
class Identity:
    kind: str  # "user" or "session"
    arn: str
    account: str
    name: str  # user name or role name
    role_arn: str | None = None
    user_id: str | None = None
    policies: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Denial:
    code: str
    message: str
    status: int
    record: dict[str, str]


def access_key_id(environ: dict[str, Any]) -> str | None:
    match = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match:
        return match.group("key")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    credential = query.get("X-Amz-Credential")
    if credential:
        return credential[0].split("/", 1)[0]
    return None


def denial_error(protocol: str, service: str) -> tuple[str, int]:
    """AWS's access-denied code and HTTP status per protocol (botocore models:
    S3 AccessDenied 403, SNS AuthorizationError 403; IAM and STS answer
    AccessDenied 403; JSON services AccessDeniedException 400; Lambda
    AccessDeniedException 403)."""
    if protocol == "rest-xml":
        return "AccessDenied", 403
    if protocol == "query":
        return ("AuthorizationError", 403) if service == "sns" else ("AccessDenied", 403)
    if protocol == "rest-json":
        return "AccessDeniedException", 403
    return "AccessDeniedException", 400


def _managed_document(policy: Any) -> str | None:
    for version in getattr(policy, "versions", []):
        if getattr(version, "is_default", False):
            return version.document
    return None


class Enforcer:
    """Checks requests signed with emulator-issued credentials (see module doc)."""

    def __init__(
        self,
        account: str,
        *,
        s3_location: Callable[[dict[str, Any], str], tuple[str | None, str | None]],
        stored_bucket_policies: Callable[[], dict[str, bytes]],
    ) -> None:
        self.account = account
        self.s3_location = s3_location
        self.stored_bucket_policies = stored_bucket_policies
        self.lock = threading.Lock()
        self.reset()

    @staticmethod
    def _audit() -> Any:
        """iam_audit.py (the mutants and scope routes). Imported on first use: it builds on
        this module's evaluate, so importing it at the top would be circular."""
        import iam_audit  # emulator/ is on sys.path wherever iam_eval was imported from

        return iam_audit

    def reset(self) -> None:
        with getattr(self, "lock", threading.Lock()):
            self.enforce = True
            # aws:SecureTransport: the emulator's plain HTTP on loopback stands for the HTTPS every
            # SDK speaks to AWS, so "true" unless told to treat requests as plain HTTP.
            self.secure_transport = True
            self.denials: list[dict[str, Any]] = []
            # Calls signed with issued credentials that were evaluated (allowed or denied).
            self.evaluated = 0
            # Every allowed action with the statement that allowed it: which grants were used.
            self.grants: list[dict[str, Any]] = []
            # The same evaluations with everything needed to evaluate them again (the mutants route).
            self.replays = self._audit().ReplayLog()

    def settings(self) -> dict[str, Any]:
        return {
            "enforce": self.enforce,
            "secure_transport": self.secure_transport,
            "evaluated": self.evaluated,
            "denials": len(self.denials),
        }

    # ---- control API: /_shim/iam ----

    def control(self, method: str, path: str, payload: Any) -> tuple[Any, int] | None:
        if path == "/_shim/iam/service-call" and method == "POST":
            # Outside the lock: the judgement reads moto's backends and records under the lock.
            return self.service_call(payload), 200
        if path == "/_shim/iam/mutants" and method == "POST":
            # Replays run outside the lock on a snapshot: enforcement goes on meanwhile.
            principals = payload.get("principals") if isinstance(payload, dict) else None
            if (
                not isinstance(payload, dict)
                or set(payload) - {"principals"}
                or (
                    principals is not None
                    and not (isinstance(principals, list) and all(isinstance(p, str) for p in principals))
                )
            ):
                raise ValueError('send {} or {"principals": ["<role or user ARN>", ...]}')
            with self.lock:
                snapshot = self.replays.snapshot()
            return self._audit().mutants(snapshot, principals), 200
        if path == "/_shim/iam/scope" and method == "POST":
            if not isinstance(payload, dict) or set(payload) != {"documents"}:
                raise ValueError('send {"documents": {"<name>": <policy document or JSON string>, ...}}')
            return self._audit().scope_report(payload["documents"]), 200
        with self.lock:
            if path == "/_shim/iam":
                if method == "GET":
                    return self.settings(), 200
                if method == "POST":
                    fields = {"enforce", "secure_transport"}
                    if (
                        not isinstance(payload, dict)
                        or not payload
                        or set(payload) - fields
                        or not all(isinstance(value, bool) for value in payload.values())
                    ):
                        raise ValueError(
                            'send booleans for any of "enforce" and "secure_transport", e.g. {"enforce": false}'
                        )
                    self.enforce = payload.get("enforce", self.enforce)
                    self.secure_transport = payload.get("secure_transport", self.secure_transport)
                    return self.settings(), 200
            if path == "/_shim/iam/denials":
                if method == "GET":
                    return list(self.denials), 200
                if method == "DELETE":
                    self.denials.clear()
                    return {"cleared": True}, 200
            if path == "/_shim/iam/grants":
                if method == "GET":
                    return list(self.grants), 200
                if method == "DELETE":
                    self.grants.clear()
                    self.replays.clear()
                    return {"cleared": True}, 200
        return None

    # ---- a service acting on a resource owner's behalf ----

    def service_call(self, payload: Any) -> dict[str, Any]:
        """Whether a service principal may make a call through the resource's own policy, the
        way AWS decides a delivery: EventBridge publishing to a topic or invoking a function is
        allowed only by the topic's policy / the function's policy, with `aws:SourceArn` (the
        rule) and `aws:SourceAccount` set (IAM User Guide, "AWS global condition context keys":
        present when a service calls on a resource owner's behalf)."""
        if not isinstance(payload, dict):
            raise ValueError('send {"service", "action", "resource", "sourceArn", "sourceAccount"}')
        service, action, resource = payload.get("service"), payload.get("action"), payload.get("resource")
        if not all(isinstance(v, str) and v for v in (service, action, resource)):
            raise ValueError("service, action and resource are required strings")
        if action == "sns:Publish":
            ref: tuple[str, ...] = ("sns", resource.split(":")[3], resource)
        elif action == "lambda:InvokeFunction":
            ref = ("lambda", resource.split(":")[3], resource)
        else:
            raise ValueError(f"no resource policy to judge {action} by; the emulator knows sns:Publish and lambda:InvokeFunction")
        keys: dict[str, Any] = {}
        if isinstance(payload.get("sourceArn"), str):
            keys["aws:SourceArn"] = payload["sourceArn"]
        if isinstance(payload.get("sourceAccount"), str):
            keys["aws:SourceAccount"] = payload["sourceAccount"]
        context = RequestContext(
            action=action,
            resources=[resource],
            service_principal=service,
            account=self.account,
            condition_keys=keys,
        )
        policy = self.resource_policy(ref)
        decision = evaluate(context, [], policy, resource_policy_required=True)
        if not decision.allowed:
            with self.lock:
                self.denials.append(
                    {
                        "service": service,
                        "operation": action,
                        "time": time.time(),
                        "principal": service,
                        "action": action,
                        "resource": resource,
                        "reason": decision.reason,
                    }
                )
        return {"allowed": decision.allowed, "reason": decision.reason, "sid": decision.sid}

    # ---- the check ----

    def check(self, req: Any) -> Denial | None:
        """None when the request may go on; a Denial (AWS's error) otherwise.
        Only requests signed with emulator-issued credentials are checked."""
        with self.lock:
            if not self.enforce:
                return None
            secure = self.secure_transport
        key = access_key_id(req.environ)
        if not key:
            return None
        try:
            identity = self.identity(key)
        except Exception:  # noqa: BLE001 - an unreadable backend means "not issued"
            identity = None
        if identity is None:
            return None
        with self.lock:
            self.evaluated += 1
        try:
            denial = self.authorize(req, identity, secure)
        except Exception as error:  # noqa: BLE001 - fail closed for issued credentials
            denial = self.deny(req, identity, f"{req.service}:{req.operation}", "*", f"the emulator's IAM evaluation failed: {error!r}")
        if denial is not None:
            with self.lock:
                self.denials.append(
                    {"service": req.service, "operation": req.operation, "time": time.time(), **denial.record}
                )
        return denial

    def authorize(self, req: Any, identity: Identity, secure: bool = False) -> Denial | None:
        params = self.params(req)
        checks = checks_for(req.service, req.operation, params, self.account, req.region, self.resolve)
        if checks is None:
            return self.deny(
                req,
                identity,
                f"{req.service}:{req.operation}",
                "*",
                f"the emulator has no IAM mapping for {req.service} {req.operation} "
                "(emulator/iam_eval.py OPERATIONS), so enforcement fails closed",
            )
        for check in checks:
            if check.always_allowed:
                continue
            resource_policy = self.resource_policy(check.policy_ref)
            for resource in check.resources:
                context = RequestContext(
                    action=check.action,
                    resources=[resource],
                    principal_arn=identity.arn,
                    role_arn=identity.role_arn,
                    account=identity.account,
                    condition_keys=self.condition_keys(req, identity, dict(check.context), secure),
                )
                decision = evaluate(
                    context,
                    identity.policies,
                    resource_policy,
                    resource_policy_required=check.resource_policy_required,
                )
                if not decision.allowed:
                    return self.deny(req, identity, check.action, resource, decision.reason, decision)
                with self.lock:
                    self.grants.append(
                        {
                            "principal": identity.arn,
                            "role": identity.role_arn,
                            "operation": f"{req.service}:{req.operation}",
                            "action": check.action,
                            "resource": resource,
                            "sid": decision.sid,
                            "policy": decision.policy,
                            "policyType": decision.policy_type,
                        }
                    )
                    # What this evaluation saw, so POST /_shim/iam/mutants can evaluate it again.
                    self.replays.record(
                        principal=identity.arn,
                        role=identity.role_arn,
                        operation=f"{req.service}:{req.operation}",
                        action=check.action,
                        resource=resource,
                        account=identity.account,
                        condition_keys=context.condition_keys,
                        policies=identity.policies,
                        resource_policy=resource_policy,
                        resource_policy_required=check.resource_policy_required,
                    )
        return None

    def may(self, req: Any, action: str, resource: str, policy_ref: tuple[str, ...] | None = None) -> bool:
        """Whether the signer of `req` may perform `action` on `resource`, for the checks a service makes
        with its caller's permissions beyond the call's own authorization (Lambda adding the statement it
        needs to a repository policy when its caller may get and set that policy). True for credentials
        the emulator does not enforce (they stand for an administrator) and when enforcement is off.
        Records no grant and no denial: the caller sees the service's own answer."""
        with self.lock:
            if not self.enforce:
                return True
            secure = self.secure_transport
        key = access_key_id(req.environ)
        try:
            identity = self.identity(key) if key else None
        except Exception:  # noqa: BLE001 - an unreadable backend means "not issued"
            identity = None
        if identity is None:
            return True
        context = RequestContext(
            action=action,
            resources=[resource],
            principal_arn=identity.arn,
            role_arn=identity.role_arn,
            account=identity.account,
            condition_keys=self.condition_keys(req, identity, {}, secure),
        )
        return evaluate(context, identity.policies, self.resource_policy(policy_ref)).allowed

    def deny(
        self,
        req: Any,
        identity: Identity,
        action: str,
        resource: str,
        reason: str,
        decision: Decision | None = None,
    ) -> Denial:
        typos = [
            f"{name}: {', '.join(found)}" for name, document in identity.policies if (found := _safe_unknown(document))
        ]
        if typos:
            reason += f"; note: actions unknown to IAM's catalogue in {'; '.join(typos)}"
        code, status = denial_error(req.protocol, req.service)
        if decision is not None:
            tail = decision.aws_suffix(action)
        else:
            tail = f"because {reason}"
        message = f"User: {identity.arn} is not authorized to perform: {action} on resource: {resource} {tail}"
        return Denial(code, message, status, {"principal": identity.arn, "action": action, "resource": resource, "reason": reason})

    # ---- who signed ----

    def identity(self, key: str) -> Identity | None:
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
                identity.policies = self.entity_policies("role", role.name, role)
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
            identity.policies = self.entity_policies("user", user.name, user)
            for group in iam.get_groups_for_user(user.name):
                identity.policies += self.entity_policies("group", group.name, group)
            return identity
        return None

    @staticmethod
    def entity_policies(kind: str, name: str, entity: Any) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for policy_name, document in dict(getattr(entity, "policies", {})).items():
            found.append((f"inline policy {policy_name!r} of {kind} {name}", document))
        for arn, policy in dict(getattr(entity, "managed_policies", {})).items():
            document = _managed_document(policy)
            if document is not None:
                found.append((f"managed policy {arn} attached to {kind} {name}", document))
        return found

    # ---- the request's parameters and context ----

    def params(self, req: Any) -> dict[str, Any]:
        if req.service == "s3":
            bucket, key = self.s3_location(req.environ, req.path)
            params: dict[str, Any] = {"Bucket": bucket, "Key": key}
            if req.query.get("versionId"):
                params["VersionId"] = req.query["versionId"][0]
            if "prefix" in req.query:
                params["prefix"] = req.query["prefix"][0]
            copy_source = req.environ.get("HTTP_X_AMZ_COPY_SOURCE")
            if copy_source:
                params["CopySource"] = copy_source
            if req.operation == "DeleteObjects":  # authorized per key: read the keys from the body
                params["Delete"] = s3_delete_entries(req.body)
            return params
        if req.service == "lambda":
            params = dict(req.params)
            match = _LAMBDA_FUNCTION_PATH.match(req.path)
            tags = _LAMBDA_TAGS_PATH.match(req.path)
            if tags:  # ListTags / TagResource / UntagResource name the function ARN in the path
                params["Resource"] = unquote(tags.group("arn"))
            elif match:
                params["FunctionName"] = unquote(match.group("name"))
                if match.group("alias"):
                    params["AliasName"] = unquote(match.group("alias"))
            elif isinstance(req.params.get("FunctionName"), str):
                params["FunctionName"] = req.params["FunctionName"]
            if req.query.get("Qualifier"):
                params["Qualifier"] = req.query["Qualifier"][0]
            return params
        return dict(req.params)

    def condition_keys(self, req: Any, identity: Identity, extra: dict[str, str], secure: bool = False) -> dict[str, Any]:
        now = datetime.datetime.now(datetime.timezone.utc)
        keys: dict[str, Any] = {
            # The emulator speaks plain HTTP on loopback (POST /_shim/iam {"secure_transport": true} pretends TLS).
            "aws:SecureTransport": "true" if secure else "false",
            "aws:RequestedRegion": req.region,
            "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:EpochTime": str(int(now.timestamp())),
        }
        if req.environ.get("REMOTE_ADDR"):
            keys["aws:SourceIp"] = req.environ["REMOTE_ADDR"]
        if identity.user_id:
            keys["aws:userid"] = identity.user_id
        keys.update(extra)
        return keys

    # ---- resources: canonical ARNs and resource policies ----

    def resolve(self, kind: str, value: str, region: str) -> str | None:
        try:
            if kind == "secret":
                from moto.secretsmanager.models import secretsmanager_backends

                secret = secretsmanager_backends[self.account][region].secrets.get(value)
                return secret.arn if secret is not None else None
            if kind in ("kms-key", "kms-ciphertext"):
                from moto.kms.models import kms_backends

                backend = kms_backends[self.account][region]
                if kind == "kms-ciphertext":
                    from moto.kms.utils import _deserialize_ciphertext_blob

                    blob = base64.b64decode(value)
                    key_id = _deserialize_ciphertext_blob(blob).key_id
                else:
                    key_id = backend.any_id_to_key_id(value)
                key = backend.keys.get(key_id)
                return key.arn if key is not None else None
            if kind in ("iam-role", "iam-instance-profile"):
                # The ARN carries the entity's path (role/PATH/NAME), which the request does not name.
                from moto.iam.models import iam_backends

                iam = iam_backends[self.account]["aws"]
                entity = iam.get_role(value) if kind == "iam-role" else iam.get_instance_profile(value)
                return entity.arn
            if kind == "events-rule":  # "BUS/NAME": the rule's ARN when it exists
                from moto.events.models import events_backends

                bus_name, _, name = value.rpartition("/")  # rule names have no "/", partner buses do
                bus = events_backends[self.account][region].event_buses.get(bus_name)
                rule = bus.rules.get(name) if bus is not None else None
                return rule.arn if rule is not None else None
            if kind in ("ecs-task-definition", "ecs-task-definition-next"):
                from moto.ecs.models import ecs_backends

                families = ecs_backends[self.account][region].task_definitions
                if kind == "ecs-task-definition-next":  # the ARN RegisterTaskDefinition will give
                    revisions = families.get(value) or {}
                    return (
                        f"arn:aws:ecs:{region}:{self.account}:task-definition/{value}:{max(revisions, default=0) + 1}"
                    )
                family, _, revision = value.rsplit("/", 1)[-1].partition(":")
                revisions = families.get(family) or {}
                if revision:
                    found = revisions.get(int(revision))
                else:  # a bare family names its latest ACTIVE revision
                    active = [td for td in revisions.values() if td.status == "ACTIVE"]
                    found = max(active, key=lambda td: td.revision) if active else None
                return found.arn if found is not None else None
        except Exception:  # noqa: BLE001 - unknown resource: the caller builds a best-effort ARN
            return None
        return None

    def resource_policy(self, ref: tuple[str, ...] | None) -> Any:
        if not ref:
            return None
        try:
            kind = ref[0]
            if kind == "s3":
                stored = self.stored_bucket_policies().get(ref[1])
                if stored is not None:
                    return stored
                from moto.s3.models import s3_backends

                bucket = s3_backends[self.account]["aws"].buckets.get(ref[1])
                return bucket.policy if bucket is not None else None
            if kind == "sns":
                from moto.sns.models import sns_backends

                topic = sns_backends[self.account][ref[1]].topics.get(ref[2])
                return topic.policy if topic is not None else None
            if kind == "ecr":
                from moto.ecr.models import ecr_backends

                repository = ecr_backends[ref[2]][ref[1]].repositories.get(ref[3])
                return repository.policy if repository is not None else None
            if kind == "lambda":
                from moto.awslambda.utils import get_backend

                arn = ref[2]
                parts = arn.split(":")
                qualifier = parts[7] if len(parts) > 7 else None
                wire = json.loads(get_backend(parts[4], ref[1]).get_policy(parts[6], qualifier))
                return _lambda_policy_as_aws_stores_it(wire.get("Policy"))
            if kind == "secretsmanager":
                from moto.secretsmanager.models import secretsmanager_backends

                secret = secretsmanager_backends[self.account][ref[1]].secrets.get(ref[2])
                return secret.policy if secret is not None else None
            if kind == "kms":
                from moto.kms.models import kms_backends

                backend = kms_backends[self.account][ref[1]]
                key_id = ref[2].split(":key/", 1)[1] if ":key/" in ref[2] else None
                key = backend.keys.get(key_id) if key_id else None
                return key.policy if key is not None else None
            if kind == "iam-role":
                from moto.iam.models import iam_backends

                match = _ACCOUNT_IN_ARN.match(ref[1])
                account = match.group(1) if match else self.account
                role = iam_backends[account]["aws"].get_role_by_arn(ref[1])
                return role.assume_role_policy_document
        except Exception:  # noqa: BLE001 - no such resource or no policy
            return None
        return None


def _lambda_policy_as_aws_stores_it(document: Any) -> Any:
    """moto keeps an AddPermission principal as the bare string it was given
    (an ARN or an account id); AWS stores {"AWS": ...} (services: {"Service": ...})."""
    loaded = _load_document(document)
    if loaded is None:
        return document
    for statement in _statements(loaded):
        principal = statement.get("Principal")
        if isinstance(principal, str) and principal != "*":
            kind = "Service" if principal.endswith(".amazonaws.com") else "AWS"
            statement["Principal"] = {kind: principal}
    return loaded


def _safe_unknown(document: Any) -> list[str]:
    try:
        return unknown_actions(document)
    except Exception:  # noqa: BLE001 - the catalogue is a hint only
        return []
