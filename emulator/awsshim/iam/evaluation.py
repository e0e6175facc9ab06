"""IAM policy evaluation: `evaluate(context, identity_policies, resource_policy)` -> `Decision`.

Pure policy evaluation for requests within one account, as the IAM User Guide documents it:
"Policy evaluation logic" (reference_policies_evaluation-logic.html), "Policy evaluation for requests
within a single account" (reference_policies_evaluation-logic_policy-eval-basics.html) and "How AWS
enforcement code logic evaluates requests to allow or deny access"
(reference_policies_evaluation-logic_policy-eval-denyallow.html): an explicit Deny in any policy wins;
otherwise an Allow in an identity policy or in the resource policy allows (same account: either is
enough); otherwise implicit deny. A resource policy that names only the account (`"123456789012"`,
`arn:aws:iam::123456789012:root`) delegates to IAM policies and grants nothing by itself. Role trust
policies and KMS key policies must allow in any case (`resource_policy_required`). An operator the
evaluator does not know fails closed: that statement never grants, and a Deny using it still denies; the
Decision names it.

A permissions boundary (the managed policy a role carries as its boundary) caps the identity-based
policies: the effective permission is their intersection, an explicit Deny in the boundary denies, and a
resource-based policy's grant to the role's ARN is capped too, while a grant to the session's ARN is not
(IAM User Guide, "Permissions boundaries for IAM entities", access_policies_boundaries.html, "Evaluating
effective permissions with boundaries"; "Policy evaluation logic", the permissions-boundary step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from .policy import Decision, RequestContext, load_document, policy_statements
from .statements import STRENGTH_PRINCIPAL, STRENGTH_ROLE, statement_match


@dataclass
class _Match:
    effect: str
    sid: str | None
    policy: str
    policy_type: str
    strength: str | None = None  # resource policies: how the principal matched


def _named_policies(policies: Iterable[Any], default_prefix: str) -> list[tuple[str, dict[str, Any]]]:
    named: list[tuple[str, dict[str, Any]]] = []
    for index, item in enumerate(policies):
        if isinstance(item, tuple) and len(item) == 2:
            name, document = item
        else:
            name, document = f"{default_prefix} #{index + 1}", item
        loaded = load_document(document)
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
    permissions_boundary: Any = None,
) -> Decision:
    """Evaluate one request. identity_policies: documents (dict or JSON) or
    (name, document) pairs; permissions_boundary: the signer's boundary, a document or a
    (name, document) pair (a document that does not parse allows nothing). With several
    resources every one must be allowed; the first denial is answered."""
    identity = _named_policies(identity_policies, "identity-based policy")
    resource_doc = load_document(resource_policy) if resource_policy is not None else None
    boundary: tuple[str, dict[str, Any]] | None = None
    if permissions_boundary is not None:
        named = _named_policies([permissions_boundary], "the permissions boundary")
        boundary = named[0] if named else ("the permissions boundary (unreadable)", {})
    decision: Decision | None = None
    for resource in request_context.resources:
        decision = _evaluate_resource(
            request_context, resource, identity, resource_doc, resource_policy_required, boundary
        )
        if not decision.allowed:
            return decision
    assert decision is not None, "a request names at least one resource"
    return decision


def _matching_statements(
    context: RequestContext,
    resource: str,
    sources: list[tuple[str, dict[str, Any], str]],
) -> tuple[list[_Match], list[tuple[str, str | None, str, str]]]:
    """The statements of (name, document, policy type) sources that apply to the request, and the
    unknown operators met on the way as (operator, sid, policy, effect)."""
    keys = context.keys()
    matches: list[_Match] = []
    unknown: list[tuple[str, str | None, str, str]] = []
    for name, document, policy_type in sources:
        variables = document.get("Version") == "2012-10-17"
        for statement in policy_statements(document):
            sid = statement.get("Sid") if isinstance(statement.get("Sid"), str) else None
            # A boundary is a managed policy: its statements read as identity-based ones.
            applies, strength, operators = statement_match(
                statement, context, resource, keys, "identity" if policy_type == "boundary" else policy_type, variables
            )
            for operator in operators:
                unknown.append((operator, sid, name, str(statement.get("Effect"))))
            if applies:
                matches.append(_Match(str(statement["Effect"]), sid, name, policy_type, strength))
    return matches, unknown


def _evaluate_resource(
    context: RequestContext,
    resource: str,
    identity: list[tuple[str, dict[str, Any]]],
    resource_doc: dict[str, Any] | None,
    resource_policy_required: bool,
    boundary: tuple[str, dict[str, Any]] | None = None,
) -> Decision:
    sources = [(name, doc, "identity") for name, doc in identity]
    if resource_doc is not None:
        sources.append(("the resource-based policy", resource_doc, "resource"))
    if boundary is not None:
        sources.append((boundary[0], boundary[1], "boundary"))
    matches, unknown = _matching_statements(context, resource, sources)

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
    within_boundary = boundary is None or any(m.policy_type == "boundary" for m in matches)
    identity_allow = next((m for m in matches if m.policy_type == "identity"), None)
    resource_allows = [m for m in matches if m.policy_type == "resource"]
    resource_grant = next(
        (
            m
            for m in resource_allows
            if m.strength == STRENGTH_PRINCIPAL or (m.strength == STRENGTH_ROLE and within_boundary)
        ),
        None,
    )
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
    granted = resource_grant or (identity_allow if within_boundary else None)
    if granted is None and identity_allow is not None and boundary is not None:
        return Decision(
            False,
            f"{_describe(identity_allow.sid, identity_allow.policy)} allows, but no statement of the "
            f"permissions boundary {boundary[0]} does{unknown_note()}",
            None,
            boundary[0],
            "boundary",
            unknown_ops,
            "boundary_implicit_deny",
            resource,
        )
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
