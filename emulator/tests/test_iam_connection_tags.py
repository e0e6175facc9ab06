"""CodeStar connections' tag condition keys on signed calls: `aws:RequestTag/KEY` and `aws:TagKeys`
from the tags a request sets, `aws:ResourceTag/KEY` from the tags the connection carries as the
emulator stores them (Service Authorization Reference, "Actions, resources, and condition keys for
AWS CodeStar Connections"), so the deployer's CreateEnvironmentConnection statement
(bootstrap/src/resources/connection.rs) lets an environment tag its own connection and no other."""

from __future__ import annotations

from shim_helpers import client, denied, iam_user

# The deployer's statement for `dev`.
CREATE_DEV_CONNECTION = {
    "Sid": "CreateEnvironmentConnection",
    "Effect": "Allow",
    "Action": ["codestar-connections:CreateConnection", "codestar-connections:TagResource"],
    "Resource": "*",
    "Condition": {
        "StringEquals": {"aws:RequestTag/Environment": "dev"},
        "StringEqualsIfExists": {"aws:ResourceTag/Environment": "dev"},
    },
}


def env_tag(value: str) -> list[dict[str, str]]:
    return [{"Key": "Environment", "Value": value}]


def test_an_environment_tags_its_own_connection_and_no_other(shim: str) -> None:
    admin = client(shim, "codestar-connections")
    prod = admin.create_connection(ConnectionName="prod", ProviderType="GitHub", Tags=env_tag("prod"))
    prod_arn = prod["ConnectionArn"]
    dev = client(shim, "codestar-connections", *iam_user(shim, "deployer-dev", CREATE_DEV_CONNECTION))
    own = dev.create_connection(ConnectionName="dev", ProviderType="GitHub", Tags=env_tag("dev"))
    dev.tag_resource(ResourceArn=own["ConnectionArn"], Tags=env_tag("dev"))
    # Without the request tag, or with another environment's, nothing is created.
    denied(lambda: dev.create_connection(ConnectionName="x", ProviderType="GitHub"))
    denied(lambda: dev.create_connection(ConnectionName="y", ProviderType="GitHub", Tags=env_tag("prod")))
    # prod's connection carries Environment=prod: retagging it into dev is refused.
    error = denied(lambda: dev.tag_resource(ResourceArn=prod_arn, Tags=env_tag("dev")))
    assert "codestar-connections:TagResource" in error.response["Error"]["Message"]
    tags = admin.list_tags_for_resource(ResourceArn=prod_arn)["Tags"]
    assert tags == env_tag("prod")


def test_a_pipeline_may_use_its_environments_connection_and_no_other(shim: str) -> None:
    """CreatePipeline authorises codestar-connections:PassConnection on the source's connection, and
    the connection's resource tags are its condition keys there too: the deployer's
    EnvironmentConnection statement passes dev's connection, never prod's."""
    from shim_helpers import create_role, pipeline_definition

    admin = client(shim, "codestar-connections")
    arns = {
        env: admin.create_connection(ConnectionName=env, ProviderType="GitHub", Tags=env_tag(env))["ConnectionArn"]
        for env in ("dev", "prod")
    }
    role = create_role(shim, "pipeline-role", "codepipeline.amazonaws.com")
    deployer = client(
        shim,
        "codepipeline",
        *iam_user(
            shim,
            "deployer-dev-pipeline",
            {"Effect": "Allow", "Action": ["codepipeline:CreatePipeline", "codepipeline:TagResource", "iam:PassRole"], "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "codestar-connections:PassConnection",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:ResourceTag/Environment": "dev"}},
            },
        ),
    )

    def declaration(env: str) -> dict:
        pipeline = pipeline_definition(f"pipeline-{env}", role)
        pipeline["stages"][0]["actions"][0]["actionTypeId"] = {
            "category": "Source", "owner": "AWS", "provider": "CodeStarSourceConnection", "version": "1"
        }
        pipeline["stages"][0]["actions"][0]["configuration"] = {
            "ConnectionArn": arns[env], "FullRepositoryId": "o/r", "BranchName": "main"
        }
        return pipeline

    deployer.create_pipeline(pipeline=declaration("dev"))
    error = denied(lambda: deployer.create_pipeline(pipeline=declaration("prod")))
    assert "codestar-connections:PassConnection" in error.response["Error"]["Message"]
