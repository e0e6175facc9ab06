"""ECR operations -> IAM actions and resources."""

from __future__ import annotations

from typing import Callable

from .common import Check, OperationTable, Request, any_resource, arn_part, has_tags
from ..policy import as_list


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
    if has_tags(r.param("tags")):
        result.append(Check("ecr:TagResource", result[0].resources, (), result[0].policy_ref))
    return result


PULL_THROUGH_CACHE_SERVICE = "pullthroughcache.ecr.amazonaws.com"
PULL_THROUGH_CACHE_ROLE = "AWSServiceRoleForECRPullThroughCache"


def _ecr_create_cache_rule(r: Request) -> list[Check]:
    """CreatePullThroughCacheRule; while the account has no AWSServiceRoleForECRPullThroughCache, ECR creates
    it, so the caller also needs iam:CreateServiceLinkedRole on it for that service (Service Authorization
    Reference, Amazon ECR: a dependent action; ECR User Guide, "Amazon ECR service-linked role for pull through
    cache", https://docs.aws.amazon.com/AmazonECR/latest/userguide/slr-pullthroughcache.html)."""
    result = [Check("ecr:CreatePullThroughCacheRule", ("*",))]
    if r.resolve is not None and r.resolved("iam-role", PULL_THROUGH_CACHE_ROLE) is None:
        role = f"arn:aws:iam::{r.account}:role/aws-service-role/{PULL_THROUGH_CACHE_SERVICE}/{PULL_THROUGH_CACHE_ROLE}"
        context = (("iam:AWSServiceName", PULL_THROUGH_CACHE_SERVICE),)
        result.append(Check("iam:CreateServiceLinkedRole", (role,), context))
    return result


def _ecr_describe(r: Request) -> list[Check]:
    """DescribeRepositories: each repository named; repository/* when it lists them all."""
    registry = str(r.param("registryId") or r.account)
    names = [str(n) for n in as_list(r.param("repositoryNames"))] or ["*"]
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
        registry = arn_part(arn, 4, r.account)
        name = arn.split(":repository/", 1)[1] if ":repository/" in arn else ""
        return [Check(action, (arn,), (), ("ecr", arn_part(arn, 3, r.region), registry, name))]

    return checks


OPERATIONS: OperationTable = {
    # ECR. Source: "Actions, resources, and condition keys for Amazon Elastic Container Registry"
    # (repository ARN for every action below but GetAuthorizationToken).
    ("ecr", "GetAuthorizationToken"): any_resource("ecr:GetAuthorizationToken"),
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
    # Pull-through cache rules have no ARN: the Service Authorization Reference lists no resource type for
    # these three actions, so they are authorised on "*".
    ("ecr", "CreatePullThroughCacheRule"): _ecr_create_cache_rule,
    ("ecr", "DescribePullThroughCacheRules"): any_resource("ecr:DescribePullThroughCacheRules"),
    ("ecr", "DeletePullThroughCacheRule"): any_resource("ecr:DeletePullThroughCacheRule"),
    ("ecr", "CreateRepository"): _ecr_create,
    ("ecr", "DescribeRepositories"): _ecr_describe,
    ("ecr", "ListTagsForResource"): _ecr_tagging("ecr:ListTagsForResource"),
    ("ecr", "TagResource"): _ecr_tagging("ecr:TagResource"),
    ("ecr", "UntagResource"): _ecr_tagging("ecr:UntagResource"),
}
