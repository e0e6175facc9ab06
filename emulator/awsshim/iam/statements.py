"""Whether one policy statement applies to a request: its effect, Action/NotAction,
Resource/NotResource, Principal/NotPrincipal (resource policies) and Condition. Shared by the evaluation
and by the audit's replay, which re-evaluates only the statements that applied.
"""

from __future__ import annotations

from typing import Any

from .conditions import condition_result
from .policy import RequestContext, action_match, arn_match, as_list


# Principal match strengths in a resource policy. "account" (the account id or
# its root ARN) delegates to the account's IAM policies and grants nothing by
# itself; "principal" (the user, the role, the session, a service, or "*")
# grants on its own within the account.
STRENGTH_PRINCIPAL = "principal"
STRENGTH_ACCOUNT = "account"
# The role ARN of a session's role: grants on its own too, but a permissions boundary on the role
# limits it, where a grant to the session ARN is not limited (IAM User Guide, "Permissions
# boundaries for IAM entities", evaluating effective permissions: resource-based policies).
STRENGTH_ROLE = "role"
_RANK = {STRENGTH_ACCOUNT: 1, STRENGTH_ROLE: 2, STRENGTH_PRINCIPAL: 3}


def _principal_strength(element: Any, context: RequestContext) -> str | None:
    if element == "*":
        return STRENGTH_PRINCIPAL
    if not isinstance(element, dict):
        return None
    best: str | None = None
    for kind, values in element.items():
        for value in as_list(values):
            if not isinstance(value, str):
                continue
            strength: str | None = None
            if kind == "AWS":
                if value == "*":
                    strength = STRENGTH_PRINCIPAL
                elif context.principal_arn and value == context.principal_arn:
                    strength = STRENGTH_PRINCIPAL
                elif context.principal_arn and context.role_arn and value == context.role_arn:
                    strength = STRENGTH_ROLE
                elif context.account and context.principal_arn and value in (
                    context.account,
                    f"arn:aws:iam::{context.account}:root",
                ):
                    strength = STRENGTH_ACCOUNT
            elif kind == "Service":
                if context.service_principal and value == context.service_principal:
                    strength = STRENGTH_PRINCIPAL
            if strength == STRENGTH_PRINCIPAL:
                return STRENGTH_PRINCIPAL
            if _RANK.get(strength, 0) > _RANK.get(best, 0):
                best = strength
    return best


def statement_match(
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
        if not any(isinstance(a, str) and action_match(a, context.action) for a in as_list(statement["Action"])):
            return False, None, []
    elif "NotAction" in statement:
        if any(isinstance(a, str) and action_match(a, context.action) for a in as_list(statement["NotAction"])):
            return False, None, []
    else:
        return False, None, []

    if "Resource" in statement:
        if not any(isinstance(r, str) and arn_match(r, resource, var_keys) for r in as_list(statement["Resource"])):
            return False, None, []
    elif "NotResource" in statement:
        if any(isinstance(r, str) and arn_match(r, resource, var_keys) for r in as_list(statement["NotResource"])):
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
            strength = STRENGTH_PRINCIPAL
        else:
            return False, None, []

    holds, unknown = condition_result(statement.get("Condition"), keys)
    if not holds:
        return False, None, []
    if unknown:
        # Fail closed: an Allow we cannot evaluate never grants; a Deny still denies.
        return effect == "Deny", strength, unknown
    return True, strength, []
