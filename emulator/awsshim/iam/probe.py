"""`POST /_shim/iam/evaluate`: the evaluator asked directly, without a signed call. A set of identity
policies is judged against requests given as (action, resource, condition keys), each as IAM would judge
that request from a principal holding exactly those policies (evaluation.py). What a policy would allow
someone to do to resources that do not exist here (another environment's, say) is asked this way.
"""

from __future__ import annotations

from typing import Any

from .evaluation import evaluate
from .policy import RequestContext

USAGE = (
    'send {"policies": [<policy document>, ...], "principal": "<role ARN>" (optional), '
    '"requests": [{"action": "svc:Action", "resource": "<ARN or *>", "keys": {"<key>": "<value>" or [...]}}, ...]}'
)
PROBE_PRINCIPAL = "arn:aws:iam::123456789012:role/policy-probe"


def _request(item: Any, principal: str) -> RequestContext:
    if not isinstance(item, dict) or set(item) - {"action", "resource", "keys"}:
        raise ValueError(USAGE)
    action, resource, keys = item.get("action"), item.get("resource"), item.get("keys", {})
    if not isinstance(action, str) or not isinstance(resource, str) or not isinstance(keys, dict):
        raise ValueError(USAGE)
    for value in keys.values():
        if not isinstance(value, (str, list)) or (isinstance(value, list) and not all(isinstance(v, str) for v in value)):
            raise ValueError(f"condition key values are strings or lists of strings; {USAGE}")
    return RequestContext(action=action, resources=[resource], principal_arn=principal, condition_keys=keys)


def evaluate_requests(payload: Any) -> dict[str, Any]:
    """{"decisions": [{"allowed", "reason", "sid"}, ...]} in the order of the requests."""
    if not isinstance(payload, dict) or set(payload) - {"policies", "principal", "requests"}:
        raise ValueError(USAGE)
    policies, requests = payload.get("policies"), payload.get("requests")
    principal = payload.get("principal", PROBE_PRINCIPAL)
    if not isinstance(policies, list) or not isinstance(requests, list) or not isinstance(principal, str):
        raise ValueError(USAGE)
    decisions = []
    for item in requests:
        decision = evaluate(_request(item, principal), policies)
        decisions.append({"allowed": decision.allowed, "reason": decision.reason, "sid": decision.sid})
    return {"decisions": decisions}
