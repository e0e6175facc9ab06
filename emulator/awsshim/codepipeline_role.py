"""Calls CodePipeline makes itself with the pipeline's service role (the declaration's roleArn):
today the CloudWatchAlarm rule's read of its alarm. Each is judged by the emulator's IAM
evaluator as a session of that role and recorded like a signed call (a grant with its replay, or
a denial), so the grants audit sees the pipeline role's cloudwatch:DescribeAlarms used.

Sources: CodePipeline User Guide, "Manage the CodePipeline service role" ("CodePipeline uses this
service role when processing revisions through the stages and actions in a pipeline"; its
session ARN is arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION in the service's AccessDenied
messages), and rule reference "CloudWatchAlarm" (the rule reads the alarm named by AlarmName).
That reading the alarm is cloudwatch:DescribeAlarms on the alarm's ARN is the emulator's reading:
the rule reference names no permission.
"""

from __future__ import annotations

import time

from .core import Shim
from .iam.evaluation import evaluate
from .iam.identity import entity_policies, role_boundary
from .iam.policy import RequestContext
from .protocol import ACCOUNT_ID

# The session name CodePipeline's sessions of the role carry in the emulator's records.
SESSION_NAME = "codepipeline-rule"
DESCRIBE_ALARMS = "cloudwatch:DescribeAlarms"


def alarm_arn(region: str, name: str) -> str:
    return f"arn:aws:cloudwatch:{region}:{ACCOUNT_ID}:alarm:{name}"


def read_alarm_as_pipeline_role(shim: Shim, role_arn: str | None, region: str, alarm_name: str) -> str | None:
    """None when the pipeline's role may describe the alarm (and the grant is recorded); else the
    AccessDenied message CloudWatch would answer the role's session (the denial is recorded).
    With enforcement off (POST /_shim/iam {"enforce": false}) every read is allowed, unrecorded."""
    from moto.iam.models import iam_backends

    with shim.iam.lock:
        if not shim.iam.enforce:
            return None
    resource = alarm_arn(region, alarm_name)
    role_name = (role_arn or "").rsplit("/", 1)[-1]
    iam = iam_backends[ACCOUNT_ID]["aws"]
    try:
        role = iam.get_role_by_arn(role_arn) if role_arn else None
    except Exception:  # noqa: BLE001 - moto's NotFound: a deleted role allows nothing
        role = None
    session = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_name}/{SESSION_NAME}"
    if role is None:
        reason = f"the pipeline's service role {role_arn!r} does not exist"
        policies, boundary = [], None
    else:
        policies, boundary = entity_policies("role", role.name, role), role_boundary(iam, role)
    context = RequestContext(
        action=DESCRIBE_ALARMS,
        resources=[resource],
        principal_arn=session,
        role_arn=role_arn,
        account=ACCOUNT_ID,
        condition_keys={"aws:RequestedRegion": region, "aws:userid": f"{getattr(role, 'id', role_name)}:{SESSION_NAME}"},
    )
    decision = evaluate(context, policies, None, permissions_boundary=boundary)
    operation = "monitoring:DescribeAlarms"
    with shim.iam.lock:
        if decision.allowed and role is not None:
            shim.iam.grants.append(
                {
                    "principal": session,
                    "role": role_arn,
                    "operation": operation,
                    "action": DESCRIBE_ALARMS,
                    "resource": resource,
                    "sid": decision.sid,
                    "policy": decision.policy,
                    "policyType": decision.policy_type,
                    "madeBy": "codepipeline.amazonaws.com",
                }
            )
            shim.iam.replays.record(
                principal=session,
                role=role_arn,
                operation=operation,
                action=DESCRIBE_ALARMS,
                resource=resource,
                account=ACCOUNT_ID,
                condition_keys=context.condition_keys,
                policies=policies,
                resource_policy=None,
                resource_policy_required=False,
            )
            return None
        if role is not None:
            reason = decision.reason
        shim.iam.denials.append(
            {
                "service": "monitoring",
                "operation": "DescribeAlarms",
                "time": time.time(),
                "principal": session,
                "action": DESCRIBE_ALARMS,
                "resource": resource,
                "reason": reason,
                "madeBy": "codepipeline.amazonaws.com",
            }
        )
    return (
        f"AccessDenied: User: {session} is not authorized to perform: {DESCRIBE_ALARMS} "
        f"on resource: {resource} because {reason}"
    )
