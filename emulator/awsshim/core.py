"""`Shim`: what every handler works with (the shim's state, moto's app to forward to, IAM enforcement,
ECR's registry child), the handler signature and the control call."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from .iam.enforcer import Enforcer
from .parsing import s3_bucket_and_key
from .protocol import ACCOUNT_ID, AwsRequest, Response
from .quirks import configure_moto
from .registry_backend import RegistryBackend
from .state import ShimState


Handler = Callable[["Shim", AwsRequest], Response | None]


@dataclass
class ControlCall:
    """A control API request (`/_shim/...`): method, path without a trailing slash, JSON payload, the WSGI
    environ and the named groups of the route's path pattern."""

    method: str
    path: str
    payload: Any
    environ: dict[str, Any]
    groups: dict[str, str] = field(default_factory=dict)


class Shim:
    """The state behind every handler: ShimState, moto's app, the IAM enforcer and ECR's registry child."""

    def __init__(self, registry: RegistryBackend | None = None) -> None:
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.state = ShimState()
        self.iam = Enforcer(  # IAM enforcement hook (awsshim/iam)
            ACCOUNT_ID,
            s3_location=s3_bucket_and_key,
            stored_bucket_policies=lambda: self.state.bucket_policies,
            connection_tags=self.connection_tags,
        )
        # The docker-registry child main() starts; a shim built in-process fronts none.
        self.registry = registry or RegistryBackend("the shim runs without its registry (only main() starts one)")
        # One manifest PUT at a time, so the tag check before forwarding and the record after see the same tags.
        self.registry_manifests = threading.Lock()
        configure_moto()

    def connection_tags(self, arn: str) -> dict[str, str] | None:
        """The tags of the connection `arn` names, as stored (None when there is none)."""
        with self.state.lock:
            connection = self.state.connections.get(arn.rsplit("/", 1)[-1])
            return dict(connection["Tags"]) if connection is not None else None

    def call_moto(
        self,
        environ: dict[str, Any],
        body: bytes,
        *,
        method: str | None = None,
        query_string: str | None = None,
    ) -> Response:
        env = dict(environ)
        env["wsgi.input"] = io.BytesIO(body)
        env["CONTENT_LENGTH"] = str(len(body))
        env.pop("HTTP_TRANSFER_ENCODING", None)
        if method is not None:
            env["REQUEST_METHOD"] = method
        if query_string is not None:
            env["QUERY_STRING"] = query_string
        captured: dict[str, Any] = {}
        chunks: list[bytes] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"] = status
            captured["headers"] = list(headers)
            return chunks.append

        result = self.moto(env, start_response)
        try:
            for chunk in result:
                chunks.append(chunk)
        finally:
            close = getattr(result, "close", None)
            if close:
                close()
        code, _, reason = captured.get("status", "500 Internal Server Error").partition(" ")
        return Response(int(code), captured.get("headers", []), b"".join(chunks), reason)

    def forward(self, req: AwsRequest, body: bytes | None = None) -> Response:
        if body is None:
            return self.call_moto(req.environ, req.body)
        env = dict(req.environ)
        # The body changed, so checksums computed by the client no longer hold.
        for key in list(env):
            if key == "HTTP_CONTENT_MD5" or key.startswith("HTTP_X_AMZ_CHECKSUM_"):
                del env[key]
        if "HTTP_X_AMZ_CONTENT_SHA256" in env:
            env["HTTP_X_AMZ_CONTENT_SHA256"] = "UNSIGNED-PAYLOAD"
        return self.call_moto(env, body)
