"""AWS operation -> the IAM action(s) and resource ARN(s) AWS authorizes it by, for the operations a
CodePipeline-based CI/CD stack uses (README "IAM enforcement"). Operations missing from `OPERATIONS` are
denied under enforcement.

One module per service, each with its own `OPERATIONS` table, merged here. To map an operation, add its
line to its service's table (and a check builder beside it when the shared ones do not fit).
"""

from __future__ import annotations

from typing import Any

from . import awslambda, cloudwatch, codebuild, codepipeline, ecr, ecs, iam, others, s3
from .common import Check, OperationTable, Request, Resolver


OPERATIONS: OperationTable = {
    **awslambda.OPERATIONS,
    **cloudwatch.OPERATIONS,
    **codebuild.OPERATIONS,
    **codepipeline.OPERATIONS,
    **ecr.OPERATIONS,
    **ecs.OPERATIONS,
    **iam.OPERATIONS,
    **others.OPERATIONS,
    **s3.OPERATIONS,
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
