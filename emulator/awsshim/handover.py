"""Roles services cannot assume (always on, not a fault; README "Roles services cannot assume"): a call
handing Lambda, CodeBuild or CodePipeline a role whose trust policy the service cannot satisfy is refused
with AWS's error.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import unquote

from moto.awslambda.utils import get_backend as lambda_backend
from moto.codebuild.models import codebuild_backends
from moto.iam.exceptions import NotFoundException as IAMNotFoundException
from moto.iam.models import iam_backends

from .backends import pipeline_backend
from .protocol import ACCOUNT_ID, AwsError, AwsRequest, log


# The condition keys each service puts in the request context when it assumes the role it was
# handed. A trust-policy condition on any other key sees that key as absent, as IAM does.
SERVICE_ASSUME_ROLE_KEYS: dict[str, tuple[str, ...]] = {
    # CodeBuild User Guide, "Allow CodeBuild to interact with other AWS services"
    # (https://docs.aws.amazon.com/codebuild/latest/userguide/setting-up-service-role.html):
    # the service role's trust policy is conditioned on aws:SourceAccount (the account) and
    # aws:SourceArn (the project ARN, arn:aws:codebuild:REGION:ACCOUNT:project/NAME). (The 2023
    # GitHub archive of that guide, awsdocs/aws-codebuild-user-guide setting-up.md, still shows
    # the trust policy without a condition; the keys are the current page's.)
    "codebuild.amazonaws.com": ("aws:SourceAccount", "aws:SourceArn"),
    # CodePipeline User Guide, "Create the CodePipeline service role (CLI)"
    # (https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-create-service-role-cli.html):
    # the trust policy has no condition; no source keys are documented for the service role.
    "codepipeline.amazonaws.com": (),
    # Lambda Developer Guide, "Defining Lambda function permissions with an execution role"
    # (https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html): the trust
    # policy names lambda.amazonaws.com without a condition; no source keys are documented.
    "lambda.amazonaws.com": (),
}

ASSUME_ROLE_ACTION = "sts:AssumeRole"
_STRING_TESTS: dict[str, Callable[[str, str], bool]] = {
    "stringequals": lambda value, pattern: value == pattern,
    "stringequalsignorecase": lambda value, pattern: value.lower() == pattern.lower(),
    "stringlike": lambda value, pattern: glob_matches(pattern, value),
    "arnequals": lambda value, pattern: arn_matches(pattern, value),  # ArnEquals matches as ArnLike
    "arnlike": lambda value, pattern: arn_matches(pattern, value),
}
_NEGATED_TESTS = {
    "stringnotequals": "stringequals",
    "stringnotequalsignorecase": "stringequalsignorecase",
    "stringnotlike": "stringlike",
    "arnnotequals": "arnequals",
    "arnnotlike": "arnlike",
}


@dataclass
class RoleHandover:
    """A call handing a role to a service, which the service must be able to assume."""

    principal: str  # the service principal, e.g. codebuild.amazonaws.com
    role: str  # as given: an ARN, or (CodeBuild) a bare name
    context: dict[str, str]  # condition key (lowercase) -> the value the service sends
    error: AwsError  # AWS's answer when the service cannot assume the role


def glob_matches(pattern: str, value: str) -> bool:
    """IAM's `*` / `?` wildcards, case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def arn_matches(pattern: str, value: str) -> bool:
    """ArnEquals/ArnLike: each of the six colon-separated parts matched on its own."""
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(glob_matches(p, v) for p, v in zip(pattern_parts, value_parts))


def policy_strings(value: Any) -> list[str]:
    """A condition or element value as strings (JSON booleans as IAM writes them)."""
    items = value if isinstance(value, list) else [value]
    return ["true" if item is True else "false" if item is False else str(item) for item in items]


def condition_holds(condition: Any, context: dict[str, str]) -> tuple[bool, str | None]:
    """Whether a statement's Condition holds for `context` (lowercase keys). The second value
    names an operator this evaluator does not know (then the first is False)."""
    if condition is None:
        return True, None
    if not isinstance(condition, dict):
        return False, f"condition {condition!r} is not an object"
    for operator, keys in condition.items():
        if not isinstance(keys, dict):
            return False, f"condition operator {operator} does not map keys to values"
        name = str(operator)
        qualifier, _, base = name.rpartition(":")
        qualifier = qualifier.lower()
        if qualifier not in ("", "foranyvalue", "forallvalues"):
            return False, f"unknown condition operator {name}"
        base = base.lower()
        if_exists = base.endswith("ifexists")
        if if_exists:
            base = base[: -len("ifexists")]
        for key, expected in keys.items():
            value = context.get(str(key).lower())
            patterns = policy_strings(expected)
            if base == "null" and not if_exists:
                holds = any((value is None) == (pattern.lower() == "true") for pattern in patterns)
            elif base in _STRING_TESTS or base in _NEGATED_TESTS:
                negated = base in _NEGATED_TESTS
                if value is None:
                    # An absent key matches nothing: positive tests fail, negated ones hold,
                    # ...IfExists holds, ForAllValues holds on an empty set.
                    holds = negated or if_exists or qualifier == "forallvalues"
                    if qualifier == "foranyvalue":
                        holds = if_exists
                else:
                    test = _STRING_TESTS[_NEGATED_TESTS.get(base, base)]
                    matched = any(test(value, pattern) for pattern in patterns)
                    holds = not matched if negated else matched
            else:
                return False, f"unknown condition operator {name}"
            if not holds:
                return False, None
    return True, None


def names_service(statement: dict[str, Any], principal: str) -> bool:
    named = statement.get("Principal")
    if named == "*":
        return True
    services = named.get("Service") if isinstance(named, dict) else None
    return principal in [service.lower() for service in policy_strings(services)] if services is not None else False


def covers_assume_role(statement: dict[str, Any]) -> bool:
    def matches(patterns: Any) -> bool:
        return any(glob_matches(p.lower(), ASSUME_ROLE_ACTION.lower()) for p in policy_strings(patterns))

    if "Action" in statement:
        return matches(statement["Action"])
    return "NotAction" in statement and not matches(statement["NotAction"])


def trust_refusal_reason(document: Any, principal: str, context: dict[str, str]) -> str | None:
    """Why the trust policy does not let `principal` sts:AssumeRole with `context`; None when it does."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            try:
                document = json.loads(unquote(document))
            except ValueError:
                return "the trust policy is not JSON"
    statements = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        return "the trust policy has no statements"
    allowed = False
    refusals: list[str] = []
    for statement in statements:
        if not isinstance(statement, dict) or not names_service(statement, principal) or not covers_assume_role(statement):
            continue
        holds, unknown = condition_holds(statement.get("Condition"), context)
        sid = statement.get("Sid") or "(no Sid)"
        if statement.get("Effect") == "Deny" and (holds or unknown):
            return f"statement {sid} denies it" + (f" ({unknown}; failing closed)" if unknown else "")
        if statement.get("Effect") == "Allow":
            if holds:
                allowed = True
            elif unknown:
                refusals.append(f"statement {sid}: {unknown}; failing closed")
            else:
                sent = ", ".join(SERVICE_ASSUME_ROLE_KEYS.get(principal, ())) or "no condition keys"
                refusals.append(f"statement {sid}: its Condition does not hold for what the service sends ({sent})")
    if allowed:
        return None
    return "; ".join(refusals) or f"no Allow statement grants {ASSUME_ROLE_ACTION} to {principal}"


def role_handover(req: AwsRequest) -> RoleHandover | None:
    """The role a call hands to Lambda, CodeBuild or CodePipeline, with AWS's error for a role
    the service cannot assume (the same errors as while a role propagates)."""
    params = req.params
    if req.service == "lambda" and req.operation in ("CreateFunction", "UpdateFunctionConfiguration"):
        role = params.get("Role")
        if not isinstance(role, str) or not role:
            return None
        if req.operation == "UpdateFunctionConfiguration":
            match = re.match(r"^/[0-9-]+/functions/([^/]+)/configuration", req.path)
            try:
                lambda_backend(ACCOUNT_ID, req.region).get_function(unquote(match.group(1)) if match else "")
            except Exception:  # unknown function: moto answers ResourceNotFoundException
                return None
        error = AwsError("InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda.")
        return RoleHandover("lambda.amazonaws.com", role, {}, error)
    if req.service == "codebuild" and req.operation in ("CreateProject", "UpdateProject"):
        role, name = params.get("serviceRole"), params.get("name")
        if not isinstance(role, str) or not role or not isinstance(name, str) or not name:
            return None
        if name.startswith("arn:"):
            project_arn, name = name, name.rsplit("/", 1)[-1]
        else:
            project_arn = f"arn:aws:codebuild:{req.region}:{ACCOUNT_ID}:project/{name}"
        if req.operation == "UpdateProject" and name not in codebuild_backends[ACCOUNT_ID][req.region].codebuild_projects:
            return None  # unknown project: ResourceNotFoundException from the handler
        arn = role if role.startswith("arn:") else f"arn:aws:iam::{ACCOUNT_ID}:role/{role}"
        context = {"aws:sourceaccount": ACCOUNT_ID, "aws:sourcearn": project_arn}
        error = AwsError("InvalidInputException", f"CodeBuild is not authorized to perform: sts:AssumeRole on {arn}")
        return RoleHandover("codebuild.amazonaws.com", role, context, error)
    if req.service == "codepipeline" and req.operation in ("CreatePipeline", "UpdatePipeline"):
        pipeline = params.get("pipeline")
        role = pipeline.get("roleArn") if isinstance(pipeline, dict) else None
        if not isinstance(role, str) or not role:
            return None
        if req.operation == "UpdatePipeline" and pipeline.get("name") not in pipeline_backend(req).pipelines:
            return None  # unknown pipeline: moto answers ResourceNotFoundException
        error = AwsError("InvalidStructureException", f"CodePipeline is not authorized to perform AssumeRole on role {role}")
        return RoleHandover("codepipeline.amazonaws.com", role, {}, error)
    return None


def find_role(role: str) -> Any:
    """moto's role for an ARN or a bare name, or None."""
    backend = iam_backends[ACCOUNT_ID]["aws"]
    try:
        return backend.get_role_by_arn(role) if role.startswith("arn:") else backend.get_role(role)
    except IAMNotFoundException:
        return None


def trust_rejection(req: AwsRequest) -> AwsError | None:
    """AWS's answer when a call hands a service a role whose trust policy the service cannot
    satisfy. Roles moto does not know are left to whatever answers today."""
    handover = role_handover(req)
    found = find_role(handover.role) if handover is not None else None
    if handover is None or found is None:
        return None
    # Only the keys the service is documented to send count; any other key is absent.
    sent = {key.lower() for key in SERVICE_ASSUME_ROLE_KEYS.get(handover.principal, ())}
    context = {key: value for key, value in handover.context.items() if key in sent}
    reason = trust_refusal_reason(found.assume_role_policy_document, handover.principal, context)
    if reason is None:
        return None
    log.info("refusing %s %s: %s cannot assume role %s: %s", req.service, req.operation, handover.principal, handover.role, reason)
    return handover.error
