"""ECS operations -> IAM actions and resources (JSON 1.1, `AmazonEC2ContainerServiceV20141113.`;
camelCase members).
"""

from __future__ import annotations

from typing import Any, Callable

from .common import Check, OperationTable, Request, any_resource, by_resource_arn, has_tags, pass_role_checks
from ..policy import as_list


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
    if not has_tags(r.param("tags")):
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
    arns = [_ecs_service_arn(r, s) for s in as_list(r.param("services"))]
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
        result += pass_role_checks(r, r.param(member), "ecs-tasks.amazonaws.com")
    return result + _ecs_tag_on_create(r, arn, "RegisterTaskDefinition")


def _ecs_create_cluster(r: Request) -> list[Check]:
    arn = _ecs_cluster_arn(r, r.param("clusterName"))
    return [Check("ecs:CreateCluster", (arn,))] + _ecs_tag_on_create(r, arn, "CreateCluster")


def _ecs_describe_clusters(r: Request) -> list[Check]:
    arns = [_ecs_cluster_arn(r, c) for c in as_list(r.param("clusters"))] or [_ecs_cluster_arn(r, "default")]
    return [Check("ecs:DescribeClusters", tuple(dict.fromkeys(arns)))]


OPERATIONS: OperationTable = {
    # ECS. Source: "Actions, resources, and condition keys for Amazon Elastic Container Service": the
    # cluster, service (service/CLUSTER/NAME) and task-definition resource types; DescribeTaskDefinition,
    # ListTaskDefinitions, ListTaskDefinitionFamilies, DeregisterTaskDefinition, ListClusters and
    # ListServices list none (Resource "*").
    ("ecs", "CreateCluster"): _ecs_create_cluster,
    ("ecs", "DescribeClusters"): _ecs_describe_clusters,
    ("ecs", "DeleteCluster"): lambda r: [Check("ecs:DeleteCluster", (_ecs_cluster_arn(r),))],
    ("ecs", "ListClusters"): any_resource("ecs:ListClusters"),
    ("ecs", "RegisterTaskDefinition"): _ecs_register_task_definition,
    ("ecs", "DescribeTaskDefinition"): any_resource("ecs:DescribeTaskDefinition"),
    ("ecs", "ListTaskDefinitions"): any_resource("ecs:ListTaskDefinitions"),
    ("ecs", "ListTaskDefinitionFamilies"): any_resource("ecs:ListTaskDefinitionFamilies"),
    ("ecs", "DeregisterTaskDefinition"): any_resource("ecs:DeregisterTaskDefinition"),
    ("ecs", "CreateService"): _ecs_service("ecs:CreateService", "serviceName", create=True),
    ("ecs", "DescribeServices"): _ecs_describe_services,
    ("ecs", "UpdateService"): _ecs_service("ecs:UpdateService"),
    ("ecs", "DeleteService"): _ecs_service("ecs:DeleteService"),
    ("ecs", "ListServices"): lambda r: [Check("ecs:ListServices", ("*",), (("ecs:cluster", _ecs_cluster_arn(r)),))],
    ("ecs", "ListTagsForResource"): by_resource_arn("ecs:ListTagsForResource", "resourceArn"),
    ("ecs", "TagResource"): by_resource_arn("ecs:TagResource", "resourceArn"),
    ("ecs", "UntagResource"): by_resource_arn("ecs:UntagResource", "resourceArn"),
}
