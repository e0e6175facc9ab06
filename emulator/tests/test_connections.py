"""CodeStar connections and CodeConnections as the shim serves them (awsshim/connections.py)."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

import pytest
from botocore.exceptions import ClientError

from shim_helpers import ACCOUNT, client, control, error_code


@pytest.mark.parametrize("service", ["codestar-connections", "codeconnections"])
def test_connection_lifecycle(shim: str, service: str) -> None:
    connections = client(shim, service)
    created = connections.create_connection(
        ConnectionName="github", ProviderType="GitHub", Tags=[{"Key": "app", "Value": "demo"}]
    )
    arn = created["ConnectionArn"]
    assert arn.startswith(f"arn:aws:{service}:us-east-1:{ACCOUNT}:connection/")
    assert created["Tags"] == [{"Key": "app", "Value": "demo"}]
    got = connections.get_connection(ConnectionArn=arn)["Connection"]
    assert got == {
        "ConnectionName": "github",
        "ConnectionArn": arn,
        "ProviderType": "GitHub",
        "OwnerAccountId": ACCOUNT,
        "ConnectionStatus": "PENDING",
    }

    control(shim, "POST", f"/_shim/connections/{urllib.parse.quote(arn, safe='')}/status", {"status": "AVAILABLE"})
    assert connections.get_connection(ConnectionArn=arn)["Connection"]["ConnectionStatus"] == "AVAILABLE"

    connections.create_connection(ConnectionName="gitlab", ProviderType="GitLab")
    listed = connections.list_connections(ProviderTypeFilter="GitHub")["Connections"]
    assert [c["ConnectionName"] for c in listed] == ["github"]

    connections.tag_resource(ResourceArn=arn, Tags=[{"Key": "team", "Value": "x"}])
    connections.untag_resource(ResourceArn=arn, TagKeys=["app"])
    assert connections.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "x"}]

    connections.delete_connection(ConnectionArn=arn)
    with pytest.raises(ClientError) as raised:
        connections.get_connection(ConnectionArn=arn)
    assert error_code(raised.value) == "ResourceNotFoundException"
