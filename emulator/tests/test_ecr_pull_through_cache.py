"""ECR pull-through cache rules (CreatePullThroughCacheRule, DescribePullThroughCacheRules,
DeletePullThroughCacheRule), which moto 5.2.5 lacks, driven through a real shim process with boto3: what ECR
answers and what it refuses, and the IAM actions the evaluator asks for them."""

from __future__ import annotations

from shim_helpers import ACCOUNT, client, denied, error_code, iam_user

SERVICE = "pullthroughcache.ecr.amazonaws.com"
ROLE = "AWSServiceRoleForECRPullThroughCache"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/{SERVICE}/{ROLE}"
SERVICE_LINKED_ROLE = {
    "Effect": "Allow",
    "Action": "iam:CreateServiceLinkedRole",
    "Resource": ROLE_ARN,
    "Condition": {"StringEquals": {"iam:AWSServiceName": SERVICE}},
}
SECRET = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:ecr-pullthroughcache/docker-hub-AbCdEf"


def test_a_rule_is_created_described_and_deleted(shim: str) -> None:
    ecr = client(shim, "ecr")
    created = ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="base-images-dev", upstreamRegistryUrl="public.ecr.aws")
    assert created["ecrRepositoryPrefix"] == "base-images-dev"
    assert created["upstreamRegistryUrl"] == "public.ecr.aws"
    assert created["upstreamRegistry"] == "ecr-public"
    assert created["registryId"] == ACCOUNT
    assert "credentialArn" not in created

    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="quay-dev", upstreamRegistryUrl="quay.io")
    named = ecr.describe_pull_through_cache_rules(ecrRepositoryPrefixes=["base-images-dev"])["pullThroughCacheRules"]
    assert [rule["ecrRepositoryPrefix"] for rule in named] == ["base-images-dev"]
    assert named[0]["createdAt"] == created["createdAt"]
    every = ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"]
    assert sorted(rule["ecrRepositoryPrefix"] for rule in every) == ["base-images-dev", "quay-dev"]

    deleted = ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix="base-images-dev")
    assert deleted["ecrRepositoryPrefix"] == "base-images-dev"
    assert deleted["upstreamRegistryUrl"] == "public.ecr.aws"
    left = ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"]
    assert [rule["ecrRepositoryPrefix"] for rule in left] == ["quay-dev"]


def test_the_rules_are_listed_a_page_at_a_time(shim: str) -> None:
    ecr = client(shim, "ecr")
    for name in ("a-cache", "b-cache", "c-cache"):
        ecr.create_pull_through_cache_rule(ecrRepositoryPrefix=name, upstreamRegistryUrl="public.ecr.aws")
    first = ecr.describe_pull_through_cache_rules(maxResults=2)
    assert [rule["ecrRepositoryPrefix"] for rule in first["pullThroughCacheRules"]] == ["a-cache", "b-cache"]
    rest = ecr.describe_pull_through_cache_rules(maxResults=2, nextToken=first["nextToken"])
    assert [rule["ecrRepositoryPrefix"] for rule in rest["pullThroughCacheRules"]] == ["c-cache"]
    assert "nextToken" not in rest


def test_a_second_rule_of_a_prefix_is_refused(shim: str) -> None:
    ecr = client(shim, "ecr")
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="base-images-dev", upstreamRegistryUrl="public.ecr.aws")
    error = denied(
        lambda: ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="base-images-dev", upstreamRegistryUrl="quay.io")
    )
    assert error_code(error) == "PullThroughCacheRuleAlreadyExistsException"


def test_an_unknown_prefix_is_not_found_by_describe_and_delete(shim: str) -> None:
    ecr = client(shim, "ecr")
    error = denied(lambda: ecr.describe_pull_through_cache_rules(ecrRepositoryPrefixes=["base-images-dev"]))
    assert error_code(error) == "PullThroughCacheRuleNotFoundException"
    error = denied(lambda: ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix="base-images-dev"))
    assert error_code(error) == "PullThroughCacheRuleNotFoundException"
    assert ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"] == []


def test_an_unsupported_upstream_and_one_needing_credentials_without_them_are_refused(shim: str) -> None:
    ecr = client(shim, "ecr")
    error = denied(
        lambda: ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="hub", upstreamRegistryUrl="docker.example.com")
    )
    assert error_code(error) == "UnsupportedUpstreamRegistryException"
    error = denied(
        lambda: ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="hub", upstreamRegistryUrl="registry-1.docker.io")
    )
    assert error_code(error) == "UnsupportedUpstreamRegistryException"
    assert "requires authentication" in error.response["Error"]["Message"]
    created = ecr.create_pull_through_cache_rule(
        ecrRepositoryPrefix="hub", upstreamRegistryUrl="registry-1.docker.io", credentialArn=SECRET
    )
    assert (created["upstreamRegistry"], created["credentialArn"]) == ("docker-hub", SECRET)


def test_prefixes_and_credentials_follow_the_model(shim: str) -> None:
    ecr = client(shim, "ecr")
    # Lengths botocore checks itself; the pattern only the service checks.
    for prefix in ("Upper", "trailing-", "-leading", "a//b"):
        error = denied(
            lambda prefix=prefix: ecr.create_pull_through_cache_rule(
                ecrRepositoryPrefix=prefix, upstreamRegistryUrl="public.ecr.aws"
            )
        )
        assert error_code(error) == "InvalidParameterException", prefix
    not_the_prefix = f"arn:aws:secretsmanager:us-east-1:{ACCOUNT}:secret:docker-hub-credentials-AbCdEf"
    error = denied(
        lambda: ecr.create_pull_through_cache_rule(
            ecrRepositoryPrefix="hub", upstreamRegistryUrl="registry-1.docker.io", credentialArn=not_the_prefix
        )
    )
    assert error_code(error) == "InvalidParameterException"
    assert ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"] == []


def test_the_rule_actions_are_authorised_on_any_resource(shim: str) -> None:
    allowed = {
        "Effect": "Allow",
        "Action": ["ecr:CreatePullThroughCacheRule", "ecr:DescribePullThroughCacheRules"],
        "Resource": "*",
    }
    key, secret = iam_user(shim, "cache-maker", allowed, SERVICE_LINKED_ROLE)
    ecr = client(shim, "ecr", key, secret)
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="base-images-dev", upstreamRegistryUrl="public.ecr.aws")
    assert len(ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"]) == 1
    error = denied(lambda: ecr.delete_pull_through_cache_rule(ecrRepositoryPrefix="base-images-dev"))
    assert error_code(error) == "AccessDeniedException"
    assert "ecr:DeletePullThroughCacheRule" in error.response["Error"]["Message"]


def test_the_first_rule_needs_the_service_linked_role_grant_and_creates_the_role(shim: str) -> None:
    rules = {"Effect": "Allow", "Action": "ecr:*PullThroughCache*", "Resource": "*"}
    key, secret = iam_user(shim, "cache-first", rules)
    ecr = client(shim, "ecr", key, secret)
    error = denied(
        lambda: ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="slr-a", upstreamRegistryUrl="public.ecr.aws")
    )
    assert error_code(error) == "AccessDeniedException"
    assert "iam:CreateServiceLinkedRole" in error.response["Error"]["Message"]
    assert ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"] == []
    iam = client(shim, "iam")
    assert not [r for r in iam.list_roles()["Roles"] if r["RoleName"] == "AWSServiceRoleForECRPullThroughCache"]

    key, secret = iam_user(shim, "cache-granted", rules, SERVICE_LINKED_ROLE)
    client(shim, "ecr", key, secret).create_pull_through_cache_rule(
        ecrRepositoryPrefix="slr-a", upstreamRegistryUrl="public.ecr.aws"
    )
    role = iam.get_role(RoleName="AWSServiceRoleForECRPullThroughCache")["Role"]
    assert role["Arn"] == ROLE_ARN and role["Path"] == f"/aws-service-role/{SERVICE}/"

    # The role exists: a second rule asks for no IAM grant.
    ecr.create_pull_through_cache_rule(ecrRepositoryPrefix="slr-b", upstreamRegistryUrl="public.ecr.aws")
    assert len(ecr.describe_pull_through_cache_rules()["pullThroughCacheRules"]) == 2
