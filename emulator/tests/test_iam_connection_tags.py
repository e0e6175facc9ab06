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
