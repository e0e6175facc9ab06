"""The WSGI front (`ShimApp`): control API under /_shim/, moto's own /moto-api, ECR's registry under /v2/,
and every AWS call: faults, IAM enforcement, request validation, trust checks, then the handler the
dispatch table names for the operation (each service module's `SERVED`) or moto."""

from __future__ import annotations

import time
from typing import Any

from . import awslambda, cloudwatch, codebuild, codepipeline, codepipeline_runs, connections, ecr, ecs, registry, s3
from .control import control
from .core import Handler, Shim
from .ecr import fix_moto_ecr_images
from .faults import inject_faults, observe
from .github import github_call, github_request
from .handover import trust_rejection
from .parsing import parse_aws_request, read_body
from .protocol import AwsError, AwsRequest, Response, error_response, log
from .quirks import configure_moto
from .recorder import record_call, response_error_code
from .registry import LAYER_URL_PREFIX, ecr_layer_download, registry_call, registry_request
from .registry_backend import RegistryBackend
from .validation import validation_error


# Every operation the shim answers itself, by (signing name, operation): each service module's table.
SERVED: dict[tuple[str, str], Handler] = {
    **awslambda.SERVED,
    **cloudwatch.SERVED,
    **codebuild.SERVED,
    **codepipeline.SERVED,
    **codepipeline_runs.SERVED,
    **connections.SERVED,
    **ecr.SERVED,
    **ecs.SERVED,
    **registry.SERVED,
    **s3.SERVED,
}


class ShimApp:
    """WSGI app: control API under /_shim/, ECR's registry under /v2/, moto behind everything else."""

    def __init__(self, registry: RegistryBackend | None = None) -> None:
        self.shim = Shim(registry)
        fix_moto_ecr_images()

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_shim/") or path == "/_shim":
            response = control(self.shim, environ)
        elif path.startswith("/moto-api"):
            response = self.moto_api(environ)
        elif path.startswith(LAYER_URL_PREFIX):
            response = ecr_layer_download(self.shim, environ)  # a URL GetDownloadUrlForLayer handed out
        elif github_request(environ):
            response = github_call(self.shim, environ)  # GitHub's REST API stand-in (github.py)
        elif registry_request(environ):
            response = registry_call(self.shim, environ)
        else:
            response = self.aws_call(environ)
        reason = response.reason or HTTP_REASONS.get(response.status, "")
        start_response(f"{response.status} {reason}".strip(), response.headers)
        return [response.body]

    def moto_api(self, environ: dict[str, Any]) -> Response:
        body = read_body(environ)
        response = self.shim.call_moto(environ, body)
        if environ.get("PATH_INFO", "").rstrip("/") == "/moto-api/reset" and response.status < 300:
            configure_moto()
            with self.shim.state.lock:
                self.shim.state.clear_resources()
        return response

    def aws_call(self, environ: dict[str, Any]) -> Response:
        started = time.time()
        body = read_body(environ)
        req = parse_aws_request(environ, body)
        state = self.shim.state
        faults, fault, response = inject_faults(state, req)

        # ---- IAM enforcement hook (awsshim/iam): only emulator-issued credentials are checked ----
        denial = self.shim.iam.check(req) if response is None else None
        if denial is not None:
            response = error_response(req, AwsError(denial.code, denial.message, denial.status))
            if req.method == "HEAD":
                response = response.with_body(b"")
        # ---- end IAM enforcement hook ----

        if response is None:
            try:
                response = self.handle(req)
            except AwsError as error:
                response = error_response(req, error)
            except Exception as error:  # noqa: BLE001 - a crash must still answer the client
                log.exception("shim failed on %s %s", req.service, req.operation)
                response = error_response(
                    req, AwsError("InternalFailure", f"emulator shim error: {error!r}", 500)
                )
            with state.lock:
                if req.mutating and state.faults is faults:
                    faults.mutating_calls_since_faults += 1
                observe(state, req, response)

        error = response_error_code(response)
        record_call(state, started, req.service, req.operation, response.status, req.mutating, fault, denial, error=error)
        return response

    def handle(self, req: AwsRequest) -> Response:
        invalid = validation_error(req)  # the service model's constraints (README "Request validation")
        if invalid is not None:
            raise invalid
        refusal = trust_rejection(req)  # a role the service cannot assume (README "Roles services cannot assume")
        if refusal is not None:
            raise refusal
        handler = SERVED.get((req.service, req.operation))
        answered = handler(self.shim, req) if handler is not None else None
        response = answered if answered is not None else self.shim.forward(req)
        if req.service == "s3" and response.status == 403 and not response.body and req.method != "HEAD":
            # moto denies object calls by a bucket policy with an empty body;
            # AWS sends an AccessDenied error document that SDKs parse.
            return error_response(req, AwsError("AccessDenied", "Access Denied", 403))
        return response


HTTP_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}
