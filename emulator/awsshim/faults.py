"""Fault injection (`POST /_shim/faults`; README "Control API"): latency, throttling, outage, and IAM
propagation delay, which makes calls naming a role too new for the service fail as AWS's do.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from .handover import role_handover
from .protocol import ACCOUNT_ID, AwsError, AwsRequest, Response, error_response
from .state import Faults, ShimState


def throttling_error(req: AwsRequest) -> AwsError:
    if req.protocol == "query":
        return AwsError("Throttling", "Rate exceeded", 400)
    if req.protocol == "rest-xml":
        return AwsError("SlowDown", "Please reduce your request rate.", 503)
    if req.protocol == "rest-json":
        return AwsError("TooManyRequestsException", "Rate exceeded", 429)
    return AwsError("ThrottlingException", "Rate exceeded", 400)


def outage_error(req: AwsRequest) -> AwsError:
    # Each protocol's real generic 500: S3 says InternalError, Lambda models
    # ServiceException, the JSON and query protocols say InternalFailure.
    if req.protocol == "rest-xml":
        return AwsError("InternalError", "We encountered an internal error. Please try again.", 500)
    if req.protocol == "rest-json":
        return AwsError("ServiceException", "The service encountered an internal error.", 500)
    return AwsError(
        "InternalFailure",
        "The request processing has failed because of an unknown error, exception or failure.",
        500,
    )


def role_name(role: str) -> str:
    """The role name from an ARN (arn:aws:iam::ACCOUNT:role/path/NAME) or a bare name."""
    return role.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):role/(?:[^/]+/)*(?P<name>[^/]+)$")


def role_arn_name(principal: Any) -> str | None:
    """The role name when `principal` is the ARN of a role in this account, else None."""
    match = ROLE_ARN.match(principal) if isinstance(principal, str) else None
    return match.group("name") if match and match.group("account") == ACCOUNT_ID else None


def policy_role_principals(document: Any) -> list[str]:
    """The role ARNs a resource policy (JSON text or parsed) names as `AWS` principals."""
    if isinstance(document, (bytes, str)):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    statements = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        return []
    roles: list[str] = []
    for statement in statements:
        for member in ("Principal", "NotPrincipal"):
            principal = statement.get(member) if isinstance(statement, dict) else None
            named = principal.get("AWS") if isinstance(principal, dict) else None
            for arn in named if isinstance(named, list) else [named]:
                if role_arn_name(arn):
                    roles.append(arn)
    return roles


def sns_policy_attribute(req: AwsRequest) -> str | None:
    """The `Policy` a CreateTopic (Attributes.entry.N.key/value) or SetTopicAttributes sets."""
    params = req.params
    if req.operation == "SetTopicAttributes":
        return params.get("AttributeValue") if params.get("AttributeName") == "Policy" else None
    for key, value in params.items():
        match = re.fullmatch(r"Attributes\.entry\.(\d+)\.key", key)
        if match and value == "Policy":
            return params.get(f"Attributes.entry.{match.group(1)}.value")
    return None


def resource_policy_principals(req: AwsRequest) -> tuple[list[str], AwsError] | None:
    """For a call setting a resource policy: the role ARNs it names as principals and the
    error AWS answers while one of them is too new for the service to resolve."""
    if req.service == "s3" and req.operation == "PutBucketPolicy":
        # Source: hashicorp/terraform#4315 (retries MalformedPolicy caused by newly created principals).
        return policy_role_principals(req.body), AwsError("MalformedPolicy", "Invalid principal in policy")
    if req.service == "ecr" and req.operation == "SetRepositoryPolicy":
        # Source: hashicorp/terraform-provider-aws#39064 (new IAM role in an ECR repository policy).
        return policy_role_principals(req.params.get("policyText")), AwsError(
            "InvalidParameterException", "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Principal not found'"
        )
    if req.service == "sns" and req.operation in ("CreateTopic", "SetTopicAttributes"):
        # Source: hashicorp/terraform-provider-aws#26041 (principal SNS cannot resolve in a topic policy).
        return policy_role_principals(sns_policy_attribute(req)), AwsError(
            "InvalidParameter", "Invalid parameter: Policy Error: PrincipalNotFound"
        )
    if req.service == "lambda" and req.operation == "AddPermission":
        # Source: Pocket/terraform-modules#1037 and aws-cloudformation/cloudformation-coverage-roadmap#1189.
        principal = req.params.get("Principal")
        return [principal] if role_arn_name(principal) else [], AwsError(
            "InvalidParameterValueException", "The provided principal was invalid. Please check the principal and try again."
        )
    return None


def inject_faults(state: ShimState, req: AwsRequest) -> tuple[Faults, str | None, Response | None]:
    """The fault set in force (the call counts against it), the fault the call meets, and the error
    answered instead of the call (None when it goes on: no fault, or only latency)."""
    with state.lock:
        faults = state.faults
        latency = faults.latency_ms
    fault: str | None = None
    if latency > 0:
        time.sleep(latency / 1000.0)
        fault = "latency"

    response: Response | None = None
    with state.lock:
        if faults.outage_active:
            fault = "outage"
            response = error_response(req, outage_error(req))
        elif faults.throttle_probability > 0 and faults.rng.random() < faults.throttle_probability:
            fault = "throttle"
            faults.throttled += 1
            response = error_response(req, throttling_error(req))
        else:
            rejection = propagation_rejection(state, req)
            if rejection is not None:
                fault = "iam_propagation"
                faults.propagation_rejections += 1
                response = error_response(req, rejection)

    return faults, fault, response


def observe(state: ShimState, req: AwsRequest, response: Response) -> None:
    """Learn from successful answers passing through (caller holds the lock)."""
    if response.status >= 300 or req.service != "iam":
        return
    name = req.params.get("RoleName")
    if not name:
        return
    if req.operation == "CreateRole":
        state.role_created_at[name] = time.time()
    elif req.operation == "DeleteRole":
        state.role_created_at.pop(name, None)


def propagation_rejection(state: ShimState, req: AwsRequest) -> AwsError | None:
    """AWS's answer while a new role is not yet visible to the service (caller holds the lock)."""
    window = state.faults.iam_propagation_seconds
    if window <= 0:
        return None

    def propagating(name: str | None) -> bool:
        created = state.role_created_at.get(name) if name else None
        return created is not None and time.time() - created < window

    principals = resource_policy_principals(req)
    if principals is not None:
        roles, principal_error = principals
        return principal_error if any(propagating(role_arn_name(role)) for role in roles) else None
    # The calls that hand a service a role answer with the same error as a role it cannot
    # assume (see role_handover).
    handover = role_handover(req)
    if handover is None or not propagating(role_name(handover.role)):
        return None
    return handover.error
