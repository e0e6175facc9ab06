"""CodeStar connections and CodeConnections (moto 5.2.5 has neither): one connection answers to both
services' ARNs, as in AWS; and the control route simulating the console handshake.
"""

from __future__ import annotations

import uuid
from typing import Any

from .core import ControlCall, Handler, Shim
from .protocol import ACCOUNT_ID, AwsError, AwsRequest, Response, control_json, json_response


CONNECTION_PROVIDER_TYPES = {
    "Bitbucket",
    "GitHub",
    "GitHubEnterpriseServer",
    "GitLab",
    "GitLabSelfManaged",
    "AzureDevOps",
}
CONNECTION_STATUSES = {"PENDING", "AVAILABLE", "ERROR"}


def connection_id(arn: str) -> str:
    return arn.rsplit("/", 1)[-1]


def public_connection(connection: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in connection.items() if key != "Tags"}


def find_connection(shim: Shim, arn: Any, member: str = "ConnectionArn") -> dict[str, Any]:
    if not isinstance(arn, str) or not arn:
        raise AwsError("ValidationException", f"{member} is required")
    connection = shim.state.connections.get(connection_id(arn))
    if connection is None:
        raise AwsError("ResourceNotFoundException", f"Connection {arn} does not exist")
    return connection


def create_connection(shim: Shim, req: AwsRequest) -> Response:
    name = req.params.get("ConnectionName")
    if not isinstance(name, str) or not (1 <= len(name) <= 32):
        raise AwsError("ValidationException", "ConnectionName must be 1 to 32 characters long")
    provider = req.params.get("ProviderType")
    host_arn = req.params.get("HostArn")
    if host_arn is None and provider not in CONNECTION_PROVIDER_TYPES:
        raise AwsError(
            "ValidationException",
            f"ProviderType must be one of {sorted(CONNECTION_PROVIDER_TYPES)} when no HostArn is given, got {provider!r}",
        )
    tags = req.params.get("Tags") or []
    unique = str(uuid.uuid4())
    arn = f"arn:aws:{req.service}:{req.region}:{ACCOUNT_ID}:connection/{unique}"
    connection: dict[str, Any] = {
        "ConnectionName": name,
        "ConnectionArn": arn,
        "ProviderType": provider,
        "OwnerAccountId": ACCOUNT_ID,
        "ConnectionStatus": "PENDING",
        "Tags": {tag["Key"]: tag["Value"] for tag in tags},
    }
    if host_arn is not None:
        connection["HostArn"] = host_arn
    with shim.state.lock:
        shim.state.connections[unique] = connection
    answer: dict[str, Any] = {"ConnectionArn": arn}
    if tags:
        answer["Tags"] = tags
    return json_response(req, answer)


def get_connection(shim: Shim, req: AwsRequest) -> Response:
    with shim.state.lock:
        connection = public_connection(find_connection(shim, req.params.get("ConnectionArn")))
    return json_response(req, {"Connection": connection})


def list_connections(shim: Shim, req: AwsRequest) -> Response:
    provider = req.params.get("ProviderTypeFilter")
    host = req.params.get("HostArnFilter")
    with shim.state.lock:
        found = [
            public_connection(connection)
            for connection in shim.state.connections.values()
            if (provider is None or connection.get("ProviderType") == provider)
            and (host is None or connection.get("HostArn") == host)
        ]
    return json_response(req, {"Connections": found})


def delete_connection(shim: Shim, req: AwsRequest) -> Response:
    arn = req.params.get("ConnectionArn")
    with shim.state.lock:
        find_connection(shim, arn)
        del shim.state.connections[connection_id(arn)]
    return json_response(req, {})


def connection_tag(shim: Shim, req: AwsRequest) -> Response:
    with shim.state.lock:
        connection = find_connection(shim, req.params.get("ResourceArn"), "ResourceArn")
        for tag in req.params.get("Tags") or []:
            connection["Tags"][tag["Key"]] = tag["Value"]
    return json_response(req, {})


def connection_untag(shim: Shim, req: AwsRequest) -> Response:
    with shim.state.lock:
        connection = find_connection(shim, req.params.get("ResourceArn"), "ResourceArn")
        for key in req.params.get("TagKeys") or []:
            connection["Tags"].pop(key, None)
    return json_response(req, {})


def connection_list_tags(shim: Shim, req: AwsRequest) -> Response:
    with shim.state.lock:
        connection = find_connection(shim, req.params.get("ResourceArn"), "ResourceArn")
        tags = [{"Key": k, "Value": v} for k, v in connection["Tags"].items()]
    return json_response(req, {"Tags": tags})


def set_connection_status(shim: Shim, call: ControlCall) -> Response:
    """POST /_shim/connections/{ConnectionArn}/status: the console handshake's outcome."""
    arn, payload = call.groups["arn"], call.payload
    status = payload.get("status") if isinstance(payload, dict) else None
    if status not in CONNECTION_STATUSES:
        raise ValueError(f"status must be one of {sorted(CONNECTION_STATUSES)}, got {status!r}")
    with shim.state.lock:
        connection = shim.state.connections.get(connection_id(arn))
        if connection is None:
            return control_json(
                {"error": f"no connection {arn!r}; create it with CreateConnection and URL-encode its ARN in the path"},
                404,
            )
        connection["ConnectionStatus"] = status
        return control_json(public_connection(connection))


# The operations this module answers, by (signing name, operation); front.py merges every service's table.
SERVED: dict[tuple[str, str], Handler] = {
    (service, operation): handler
    for service in ("codestar-connections", "codeconnections")
    for operation, handler in (
        ("CreateConnection", create_connection),
        ("GetConnection", get_connection),
        ("ListConnections", list_connections),
        ("DeleteConnection", delete_connection),
        ("TagResource", connection_tag),
        ("UntagResource", connection_untag),
        ("ListTagsForResource", connection_list_tags),
    )
}
