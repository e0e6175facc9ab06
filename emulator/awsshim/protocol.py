"""AWS's wire shapes: requests (`AwsRequest`), responses, and errors rendered the way each protocol
(JSON, query, REST-XML, REST-JSON) carries them; the account and region the emulator answers for.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape as xml_escape

from moto.core import DEFAULT_ACCOUNT_ID


ACCOUNT_ID = DEFAULT_ACCOUNT_ID
DEFAULT_REGION = "us-east-1"


# Operation-name prefixes AWS uses for operations that change nothing.
READ_ONLY_PREFIXES = (
    "Get",
    "List",
    "Describe",
    "Head",
    "BatchGet",
    "Test",
    "Lookup",
    "Search",
    "Check",
    "Receive",
    "Poll",
)

QUERY_PROTOCOL_NAMESPACES = {
    "iam": "https://iam.amazonaws.com/doc/2010-05-08/",
    "sns": "http://sns.amazonaws.com/doc/2010-03-31/",
    "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
}


log = logging.getLogger("emulator")


class AwsError(Exception):
    """An AWS service error, rendered in the wire shape of the caller's protocol."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    reason: str = ""

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def with_body(self, body: bytes) -> "Response":
        headers = [(k, v) for k, v in self.headers if k.lower() != "content-length"]
        headers.append(("Content-Length", str(len(body))))
        return Response(self.status, headers, body, self.reason)


@dataclass
class AwsRequest:
    environ: dict[str, Any]
    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    service: str
    region: str
    protocol: str  # "json", "query", "rest-xml" or "rest-json"
    operation: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def mutating(self) -> bool:
        if self.protocol in ("rest-xml", "rest-json"):
            return self.method not in ("GET", "HEAD")
        return not self.operation.startswith(READ_ONLY_PREFIXES)

    def header(self, name: str) -> str | None:
        return self.environ.get("HTTP_" + name.upper().replace("-", "_"))


def request_id() -> str:
    return str(uuid.uuid4())


def json_response(req: AwsRequest, payload: dict[str, Any], status: int = 200) -> Response:
    body = json.dumps(payload).encode()
    return Response(
        status,
        [
            ("Content-Type", json_content_type(req)),
            ("x-amzn-RequestId", request_id()),
            ("Content-Length", str(len(body))),
        ],
        body,
    )


def json_content_type(req: AwsRequest) -> str:
    sent = req.environ.get("CONTENT_TYPE", "")
    return sent if sent.startswith("application/x-amz-json") else "application/x-amz-json-1.1"


def error_response(req: AwsRequest, error: AwsError) -> Response:
    """Render an error exactly as the request's protocol carries errors."""
    rid = request_id()
    if req.protocol == "json":
        body = json.dumps({"__type": error.code, "message": error.message}).encode()
        headers = [
            ("Content-Type", json_content_type(req)),
            ("x-amzn-ErrorType", error.code),
            ("x-amzn-RequestId", rid),
        ]
    elif req.protocol == "query":
        namespace = QUERY_PROTOCOL_NAMESPACES.get(req.service, "")
        fault_type = "Receiver" if error.status >= 500 else "Sender"
        body = (
            f'<ErrorResponse xmlns="{namespace}"><Error><Type>{fault_type}</Type>'
            f"<Code>{xml_escape(error.code)}</Code><Message>{xml_escape(error.message)}</Message>"
            f"</Error><RequestId>{rid}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", rid)]
    elif req.protocol == "rest-xml":
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{xml_escape(error.code)}</Code>'
            f"<Message>{xml_escape(error.message)}</Message><RequestId>{rid}</RequestId></Error>"
        ).encode()
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", rid)]
    else:
        fault_type = "Service" if error.status >= 500 else "User"
        payload: dict[str, Any] = {"Type": fault_type, "message": error.message}
        if error.code == "TooManyRequestsException":
            payload["Reason"] = "CallerRateLimitExceeded"
        body = json.dumps(payload).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", error.code),
            ("x-amzn-RequestId", rid),
        ]
    headers.append(("Content-Length", str(len(body))))
    return Response(error.status, headers, body)


def require(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if value in (None, "", [], {}):
        raise AwsError("ValidationException", f"1 validation error detected: Value at '{name}' failed to satisfy constraint: Member must not be null")
    return value


def control_json(payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload).encode()
    return Response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        body,
    )


def json_body(response: Response) -> dict[str, Any] | None:
    try:
        loaded = json.loads(response.body)
    except ValueError:
        return None
    return loaded if isinstance(loaded, dict) else None
