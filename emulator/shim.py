#!/usr/bin/env python3
"""Local AWS emulator: moto's server app behind a WSGI middleware.

The middleware adds what moto lacks for this product (CodePipeline webhooks,
job results, action executions and pipeline state, CodeBuild UpdateProject,
report groups and reports, CodeStar connections / CodeConnections, ECS rollouts,
Lambda container-image updates, ECR's registry under /v2/ in front of a
docker-registry child process), corrects moto answers that would
make an AWS-correct client fail, records every AWS call, and injects faults
(latency, throttling, IAM propagation delay, outage). See README.md.

Run: python emulator/shim.py [--host 127.0.0.1] [--port 0] [--verbose]
Prints exactly one line `READY http://HOST:PORT` on stdout once listening and
exits when stdin reaches EOF or on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import copy
import ctypes
import ctypes.util
import datetime
import fnmatch
import glob
import hashlib
import http.client
import io
import json
import logging
import math
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qs, parse_qsl, quote, unquote, urlencode
from xml.sax.saxutils import escape as xml_escape

from moto.awslambda.utils import get_backend as lambda_backend
from moto.codebuild.models import codebuild_backends
from moto.codepipeline.models import codepipeline_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.resource_tagging import make_tag_matcher, match_resource_type
from moto.core.utils import utcnow
from moto.ecr.exceptions import ImageNotFoundException as EcrImageNotFoundException
from moto.ecr.models import Image as EcrImage
from moto.ecr.models import ecr_backends
from moto.ecs.models import ecs_backends
from moto.iam.exceptions import NotFoundException as IAMNotFoundException
from moto.iam.models import iam_backends
from moto.moto_api._internal.models import moto_api_backend
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

# IAM enforcement for emulator-issued credentials: the awsshim.iam package next to this file
# (`python emulator/shim.py` puts emulator/ on sys.path).
from awsshim.iam.enforcer import Denial, Enforcer
from awsshim.iam.evaluation import evaluate
from awsshim.iam.identity import access_key_id
from awsshim.iam.operations.awslambda import ecr_image_reference, lambda_function_arn
from awsshim.iam.policy import RequestContext

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

# Signing names by X-Amz-Target prefix, for requests that carry no SigV4 scope.
SERVICE_BY_TARGET_PREFIX = {
    "CodePipeline_20150709": "codepipeline",
    "CodeBuild_20161006": "codebuild",
    "CodeStar_connections_20191201": "codestar-connections",
    "CodeConnections_20231201": "codeconnections",
    "Logs_20140328": "logs",
    "AWSEvents": "events",
    "AmazonSQS": "sqs",
    "secretsmanager": "secretsmanager",
    "AmazonEC2ContainerRegistry_V20150921": "ecr",
    "ResourceGroupsTaggingAPI_20170126": "tagging",
    "AmazonEC2ContainerServiceV20141113": "ecs",
}

CREDENTIAL_SCOPE = re.compile(
    r"Credential=[^/,\s]+/\d{8}/(?P<region>[^/,\s]+)/(?P<service>[^/,\s]+)/aws4_request"
)

# Timestamp members moto's CodePipeline answers as ISO-8601 strings. AWS's
# JSON protocol sends epoch seconds, and the Rust SDK rejects anything else
# ("failed to parse timestamp"), so these are converted on the way out.
CODEPIPELINE_TIMESTAMP_KEYS = frozenset(
    {"created", "updated", "startTime", "lastUpdateTime", "lastStatusChange", "lastTriggered"}
)

# Stands in for a location moto insists on; never leaves the shim.
PLACEHOLDER_LOCATION = "emulator-placeholder-location"

CONNECTION_PROVIDER_TYPES = {
    "Bitbucket",
    "GitHub",
    "GitHubEnterpriseServer",
    "GitLab",
    "GitLabSelfManaged",
    "AzureDevOps",
}
CONNECTION_STATUSES = {"PENDING", "AVAILABLE", "ERROR"}
JOB_FAILURE_TYPES = {
    "JobFailed",
    "ConfigurationError",
    "PermissionError",
    "RevisionOutOfSync",
    "RevisionUnavailable",
    "SystemUnavailable",
}
WEBHOOK_AUTHENTICATION_TYPES = {"GITHUB_HMAC", "IP", "UNAUTHENTICATED"}
OUTPUT_VARIABLES_MAX_BYTES = 122_880

log = logging.getLogger("emulator")


# --------------------------------------------------------------------------
# Requests and responses
# --------------------------------------------------------------------------


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


def throttling_error(req: AwsRequest) -> AwsError:
    if req.protocol == "query":
        return AwsError("Throttling", "Rate exceeded", 400)
    if req.protocol == "rest-xml":
        return AwsError("SlowDown", "Please reduce your request rate.", 503)
    if req.protocol == "rest-json":
        return AwsError("TooManyRequestsException", "Rate exceeded", 429)
    return AwsError("ThrottlingException", "Rate exceeded", 400)


def outage_error(req: AwsRequest) -> AwsError:
    # Each protocol's real generic 500: S3 says InternalError, Lambda models
    # ServiceException, the JSON and query protocols say InternalFailure.
    if req.protocol == "rest-xml":
        return AwsError("InternalError", "We encountered an internal error. Please try again.", 500)
    if req.protocol == "rest-json":
        return AwsError("ServiceException", "The service encountered an internal error.", 500)
    return AwsError(
        "InternalFailure",
        "The request processing has failed because of an unknown error, exception or failure.",
        500,
    )


# --------------------------------------------------------------------------
# Recognising the service and the operation
# --------------------------------------------------------------------------


def read_body(environ: dict[str, Any]) -> bytes:
    stream = environ.get("wsgi.input")
    if stream is None:
        return b""
    length = environ.get("CONTENT_LENGTH")
    if length:
        try:
            return stream.read(int(length))
        except ValueError:
            return b""
    if environ.get("wsgi.input_terminated"):
        return stream.read()
    return b""


def signing_scope(environ: dict[str, Any], query: dict[str, list[str]]) -> tuple[str | None, str | None]:
    match = CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if match:
        return match.group("service"), match.group("region")
    presigned = query.get("X-Amz-Credential")
    if presigned:
        parts = presigned[0].split("/")
        if len(parts) >= 4:
            return parts[3], parts[2]
    return None, None


def s3_bucket_and_key(environ: dict[str, Any], path: str) -> tuple[str | None, str | None]:
    host = environ.get("HTTP_HOST", "").split(":")[0]
    virtual = re.match(r"^(?P<bucket>.+?)\.(s3[.-]|localhost$)", host)
    if virtual:
        key = path.lstrip("/")
        return virtual.group("bucket"), key or None
    parts = path.lstrip("/").split("/", 1)
    bucket = parts[0] or None
    key = parts[1] if len(parts) > 1 and parts[1] else None
    return bucket, key


S3_BUCKET_SUBRESOURCES = {
    "versioning": "BucketVersioning",
    "policy": "BucketPolicy",
    "tagging": "BucketTagging",
    "encryption": "BucketEncryption",
    "publicAccessBlock": "PublicAccessBlock",
    "lifecycle": "BucketLifecycleConfiguration",
    "notification": "BucketNotificationConfiguration",
    "acl": "BucketAcl",
    "cors": "BucketCors",
    "ownershipControls": "BucketOwnershipControls",
    "website": "BucketWebsite",
    "logging": "BucketLogging",
    "replication": "BucketReplication",
    "accelerate": "BucketAccelerateConfiguration",
    "object-lock": "ObjectLockConfiguration",
    "policyStatus": "BucketPolicyStatus",
    "requestPayment": "BucketRequestPayment",
    "analytics": "BucketAnalyticsConfiguration",
    "metrics": "BucketMetricsConfiguration",
    "inventory": "BucketInventoryConfiguration",
    "intelligent-tiering": "BucketIntelligentTieringConfiguration",
    "location": "BucketLocation",
}
S3_OBJECT_SUBRESOURCES = {
    "tagging": "ObjectTagging",
    "acl": "ObjectAcl",
    "retention": "ObjectRetention",
    "legal-hold": "ObjectLegalHold",
    "attributes": "ObjectAttributes",
}
S3_VERB = {"GET": "Get", "PUT": "Put", "DELETE": "Delete"}


def s3_operation(environ: dict[str, Any], method: str, path: str, query: dict[str, list[str]]) -> str:
    bucket, key = s3_bucket_and_key(environ, path)
    if bucket is None:
        return "ListBuckets" if method == "GET" else f"{method} /"
    if key is None:
        if method == "HEAD":
            return "HeadBucket"
        if method == "POST" and "delete" in query:
            return "DeleteObjects"
        if method == "GET":
            if "versions" in query:
                return "ListObjectVersions"
            if "uploads" in query:
                return "ListMultipartUploads"
        if method == "DELETE" and "lifecycle" in query:
            return "DeleteBucketLifecycle"
        for sub, name in S3_BUCKET_SUBRESOURCES.items():
            if sub in query and method in S3_VERB:
                return S3_VERB[method] + name
        if method == "GET":
            return "ListObjectsV2" if query.get("list-type") == ["2"] else "ListObjects"
        return {"PUT": "CreateBucket", "DELETE": "DeleteBucket"}.get(method, f"{method} bucket")
    copy = "HTTP_X_AMZ_COPY_SOURCE" in environ
    if method == "HEAD":
        return "HeadObject"
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload"
        if "uploadId" in query:
            return "CompleteMultipartUpload"
        if "restore" in query:
            return "RestoreObject"
        if "select" in query:
            return "SelectObjectContent"
        return "POST object"
    if "uploadId" in query:
        if method == "PUT":
            return "UploadPartCopy" if copy else "UploadPart"
        return {"GET": "ListParts", "DELETE": "AbortMultipartUpload"}.get(method, f"{method} object")
    for sub, name in S3_OBJECT_SUBRESOURCES.items():
        if sub in query and method in S3_VERB:
            return S3_VERB[method] + name
    if method == "PUT":
        return "CopyObject" if copy else "PutObject"
    return {"GET": "GetObject", "DELETE": "DeleteObject"}.get(method, f"{method} object")


_FN = r"[^/]+"
LAMBDA_ROUTES: list[tuple[re.Pattern[str], dict[str, str]]] = [
    (re.compile(p), ops)
    for p, ops in [
        (r"^/2015-03-31/functions/?$", {"GET": "ListFunctions", "POST": "CreateFunction"}),
        (rf"^/2015-03-31/functions/{_FN}/?$", {"GET": "GetFunction", "DELETE": "DeleteFunction"}),
        (rf"^/2015-03-31/functions/{_FN}/code/?$", {"PUT": "UpdateFunctionCode"}),
        (
            rf"^/2015-03-31/functions/{_FN}/configuration/?$",
            {"GET": "GetFunctionConfiguration", "PUT": "UpdateFunctionConfiguration"},
        ),
        (rf"^/2015-03-31/functions/{_FN}/policy/?$", {"GET": "GetPolicy", "POST": "AddPermission"}),
        (rf"^/2015-03-31/functions/{_FN}/policy/{_FN}/?$", {"DELETE": "RemovePermission"}),
        (rf"^/2015-03-31/functions/{_FN}/invocations/?$", {"POST": "Invoke"}),
        (rf"^/2014-11-13/functions/{_FN}/invoke-async/?$", {"POST": "InvokeAsync"}),
        (
            rf"^/2015-03-31/functions/{_FN}/versions/?$",
            {"GET": "ListVersionsByFunction", "POST": "PublishVersion"},
        ),
        (rf"^/2015-03-31/functions/{_FN}/aliases/?$", {"GET": "ListAliases", "POST": "CreateAlias"}),
        (
            rf"^/2015-03-31/functions/{_FN}/aliases/{_FN}/?$",
            {"GET": "GetAlias", "PUT": "UpdateAlias", "DELETE": "DeleteAlias"},
        ),
        (
            rf"^/2019-09-25/functions/{_FN}/event-invoke-config/?$",
            {
                "GET": "GetFunctionEventInvokeConfig",
                "PUT": "PutFunctionEventInvokeConfig",
                "POST": "UpdateFunctionEventInvokeConfig",
                "DELETE": "DeleteFunctionEventInvokeConfig",
            },
        ),
        (
            rf"^/2019-09-25/functions/{_FN}/event-invoke-config/list/?$",
            {"GET": "ListFunctionEventInvokeConfigs"},
        ),
        (r"^/2017-03-31/tags/.+$", {"GET": "ListTags", "POST": "TagResource", "DELETE": "UntagResource"}),
        (
            rf"^/2017-10-31/functions/{_FN}/concurrency/?$",
            {"PUT": "PutFunctionConcurrency", "DELETE": "DeleteFunctionConcurrency"},
        ),
        (rf"^/2019-09-30/functions/{_FN}/concurrency/?$", {"GET": "GetFunctionConcurrency"}),
        (
            r"^/2015-03-31/event-source-mappings/?$",
            {"GET": "ListEventSourceMappings", "POST": "CreateEventSourceMapping"},
        ),
        (
            rf"^/2015-03-31/event-source-mappings/{_FN}/?$",
            {
                "GET": "GetEventSourceMapping",
                "PUT": "UpdateEventSourceMapping",
                "DELETE": "DeleteEventSourceMapping",
            },
        ),
        (
            rf"^/2021-10-31/functions/{_FN}/url/?$",
            {
                "GET": "GetFunctionUrlConfig",
                "POST": "CreateFunctionUrlConfig",
                "PUT": "UpdateFunctionUrlConfig",
                "DELETE": "DeleteFunctionUrlConfig",
            },
        ),
        (r"^/2018-10-31/layers/?$", {"GET": "ListLayers"}),
        (
            rf"^/2018-10-31/layers/{_FN}/versions/?$",
            {"GET": "ListLayerVersions", "POST": "PublishLayerVersion"},
        ),
        (
            rf"^/2018-10-31/layers/{_FN}/versions/{_FN}/?$",
            {"GET": "GetLayerVersion", "DELETE": "DeleteLayerVersion"},
        ),
        (r"^/2016-08-19/account-settings/?$", {"GET": "GetAccountSettings"}),
    ]
]


def lambda_operation(method: str, path: str) -> str:
    for pattern, operations in LAMBDA_ROUTES:
        if pattern.match(path) and method in operations:
            return operations[method]
    return f"{method} {path}"


def parse_aws_request(environ: dict[str, Any], body: bytes) -> AwsRequest:
    method = environ.get("REQUEST_METHOD", "GET").upper()
    path = environ.get("PATH_INFO", "/")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    service, region = signing_scope(environ, query)
    target = environ.get("HTTP_X_AMZ_TARGET")
    content_type = environ.get("CONTENT_TYPE", "")
    params: dict[str, Any] = {}

    if target:
        protocol = "json"
        operation = target.rsplit(".", 1)[-1]
        service = service or SERVICE_BY_TARGET_PREFIX.get(target.rsplit(".", 1)[0], "unknown")
        try:
            loaded = json.loads(body or b"{}")
            params = loaded if isinstance(loaded, dict) else {}
        except ValueError:
            params = {}
    elif service not in ("s3", "lambda") and (
        "Action" in query
        or (
            content_type.startswith("application/x-www-form-urlencoded")
            and "Action" in parse_qs(body.decode("utf-8", "replace"))
        )
    ):
        protocol = "query"
        form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        merged = {**query, **form}
        params = {key: values[0] for key, values in merged.items()}
        operation = params.get("Action", "Unknown")
        service = service or "unknown"
    else:
        if service is None:
            service = "lambda" if re.match(r"^/20\d\d-\d\d-\d\d/", path) else "s3"
        if service == "s3":
            protocol = "rest-xml"
            operation = s3_operation(environ, method, path, query)
        else:
            protocol = "rest-json"
            operation = lambda_operation(method, path) if service == "lambda" else f"{method} {path}"
            if body and content_type.startswith("application/json"):
                try:
                    loaded = json.loads(body)
                    params = loaded if isinstance(loaded, dict) else {}
                except ValueError:
                    params = {}
    return AwsRequest(
        environ=environ,
        method=method,
        path=path,
        query=query,
        body=body,
        service=service,
        region=region or DEFAULT_REGION,
        protocol=protocol,
        operation=operation,
        params=params,
    )


# --------------------------------------------------------------------------
# Shim state
# --------------------------------------------------------------------------


@dataclass
class Faults:
    latency_ms: float = 0.0
    throttle_probability: float = 0.0
    seed: int | None = None
    iam_propagation_seconds: float = 0.0
    outage_after_mutating_calls: int | None = None
    rng: random.Random = field(default_factory=random.Random)
    mutating_calls_since_faults: int = 0
    throttled: int = 0
    propagation_rejections: int = 0

    FIELDS = (
        "latency_ms",
        "throttle_probability",
        "seed",
        "iam_propagation_seconds",
        "outage_after_mutating_calls",
    )

    @classmethod
    def from_json(cls, payload: Any) -> "Faults":
        if not isinstance(payload, dict):
            raise ValueError("the fault set must be a JSON object, e.g. {\"latency_ms\": 100}")
        unknown = sorted(set(payload) - set(cls.FIELDS))
        if unknown:
            raise ValueError(f"unknown fault field(s) {unknown}; use only {list(cls.FIELDS)}")

        def number(name: str, minimum: float = 0.0, maximum: float | None = None) -> float:
            value = payload.get(name, 0)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a number, got {value!r}")
            if value < minimum or (maximum is not None and value > maximum):
                bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
                raise ValueError(f"{name} must be {bound}, got {value}")
            return float(value)

        seed = payload.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        outage = payload.get("outage_after_mutating_calls")
        if outage is not None and (isinstance(outage, bool) or not isinstance(outage, int) or outage < 0):
            raise ValueError(f"outage_after_mutating_calls must be an integer >= 0, got {outage!r}")
        return cls(
            latency_ms=number("latency_ms"),
            throttle_probability=number("throttle_probability", 0.0, 1.0),
            seed=seed,
            iam_propagation_seconds=number("iam_propagation_seconds"),
            outage_after_mutating_calls=outage,
            rng=random.Random(seed),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "throttle_probability": self.throttle_probability,
            "seed": self.seed,
            "iam_propagation_seconds": self.iam_propagation_seconds,
            "outage_after_mutating_calls": self.outage_after_mutating_calls,
            "mutating_calls_since_faults": self.mutating_calls_since_faults,
            "throttled": self.throttled,
            "propagation_rejections": self.propagation_rejections,
        }

    @property
    def outage_active(self) -> bool:
        return (
            self.outage_after_mutating_calls is not None
            and self.mutating_calls_since_faults >= self.outage_after_mutating_calls
        )


@dataclass
class Job:
    job_id: str
    data: dict[str, Any]
    status: str = "Created"
    results: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "jobId": self.job_id,
            "status": self.status,
            "results": self.results,
            "outcomes": self.outcomes,
            "data": self.data,
        }


@dataclass
class Webhook:
    definition: dict[str, Any]
    url: str
    arn: str
    tags: dict[str, str] = field(default_factory=dict)
    registered: bool = False

    def list_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"definition": self.definition, "url": self.url, "arn": self.arn}
        if self.tags:
            item["tags"] = [{"key": k, "value": v} for k, v in self.tags.items()]
        return item


@dataclass
class EcsRollout:
    """The deployment of a service that DescribeServices polls move on (README "ECS rollouts")."""

    deployment_id: str
    needed: int  # polls that still show it IN_PROGRESS
    polls: int = 0
    rollback: bool = False  # a circuit-breaker rollback deployment (it is not rolled back in turn)


@dataclass
class EcsServiceState:
    # The last deployment that COMPLETED, which a circuit-breaker rollback returns to: (id, task definition ARN).
    stable: tuple[str, str] | None = None
    rollout: EcsRollout | None = None


@dataclass
class EcrScan:
    """A basic image scan that DescribeImageScanFindings polls move on (README "ECR's registry": image scans)."""

    needed: int  # polls that show it IN_PROGRESS (`ecr_scan_polls` when it started)
    # The image's `last_scan` (moto's) this scan stands for: an image whose last_scan differs (deleted and pushed
    # again, moto reset) is not this scan's.
    started: datetime.datetime
    polls: int = 0
    completed: bool = False


@dataclass
class RegistryToken:
    """A password GetAuthorizationToken issued: the registry judges calls made with it as made by the access
    key that asked for it, in that region's registry of that account, until it expires."""

    password: str
    access_key: str | None
    region: str
    account: str
    expires_at: float


@dataclass
class LambdaUpdate:
    """An UpdateFunctionCode with an image that GetFunction / GetFunctionConfiguration polls move on."""

    needed: int
    previous: dict[str, Any]  # code, code_sha_256, code_size before the update
    status: str = "InProgress"  # LastUpdateStatus: InProgress, Successful, Failed
    polls: int = 0
    # What AWS reports while an update runs (update-function-code answers): "The function is being
    # created." with the code "Creating".
    reason: str | None = "The function is being created."
    reason_code: str | None = "Creating"


class ShimState:
    """Everything the shim keeps besides moto's own state."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clear()

    def clear(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.faults = Faults()
        # Rollout simulation settings (POST /_shim/ecs, /_shim/lambda, /_shim/ecs/bad-images).
        self.ecs_rollout_polls = 2
        self.lambda_update_polls = 2
        # How many DescribeImageScanFindings polls a basic scan stays IN_PROGRESS (POST /_shim/ecr/scan-polls).
        self.ecr_scan_polls = ECR_SCAN_POLLS
        self.bad_images: list[str] = []
        # Lifetime of the registry passwords GetAuthorizationToken issues (POST /_shim/registry).
        self.registry_token_seconds: float = REGISTRY_TOKEN_SECONDS
        self.clear_resources()

    def clear_resources(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.webhooks: dict[str, Webhook] = {}
        # connection id (the ARN's last segment) -> connection; the same
        # connection answers to both the codestar-connections and the
        # codeconnections ARN, as in AWS.
        self.connections: dict[str, dict[str, Any]] = {}
        self.role_created_at: dict[str, float] = {}
        self.bucket_policies: dict[str, bytes] = {}
        # function name -> LoggingConfig, which moto neither stores nor reports
        self.function_logging: dict[str, dict[str, Any]] = {}
        # (pipelineName, pipelineExecutionId) -> seeded answers
        self.executions: dict[tuple[str, str], dict[str, Any]] = {}
        # CodeBuild report groups (moto has none): ARN -> ReportGroup as AWS answers it,
        # and report-group ARN -> its reports, oldest first.
        self.report_groups: dict[str, dict[str, Any]] = {}
        self.reports: dict[str, list[dict[str, Any]]] = {}
        # ECS service ARN -> its deployments' simulation; unqualified function ARN -> its image update.
        self.ecs_services: dict[str, EcsServiceState] = {}
        self.lambda_updates: dict[str, LambdaUpdate] = {}
        # ECR registry passwords GetAuthorizationToken handed out -> who asked, where, until when
        # (README "ECR's registry"); the registry's content stays, its tags are answered from moto.
        self.registry_tokens: dict[str, RegistryToken] = {}
        # (repository ARN, image digest) -> its basic scan in progress or completed (ecr_track_scan).
        self.ecr_scans: dict[tuple[str, str], EcrScan] = {}


def configure_moto() -> None:
    """Let Lambda functions run without Docker; applied at start and after every reset."""
    lambda_config = dict(moto_api_backend.get_config().get("lambda") or {})
    lambda_config["use_docker"] = False
    moto_api_backend.set_config({"lambda": lambda_config})


def epoch_seconds(value: Any) -> Any:
    """Epoch seconds for an ISO-8601 string or datetime; anything else unchanged."""
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    else:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def timestamps_to_epoch(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: epoch_seconds(item) if key in CODEPIPELINE_TIMESTAMP_KEYS else timestamps_to_epoch(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [timestamps_to_epoch(item) for item in value]
    return value


def role_name(role: str) -> str:
    """The role name from an ARN (arn:aws:iam::ACCOUNT:role/path/NAME) or a bare name."""
    return role.rsplit("/", 1)[-1].rsplit(":", 1)[-1]


def require(params: dict[str, Any], name: str) -> Any:
    value = params.get(name)
    if value in (None, "", [], {}):
        raise AwsError("ValidationException", f"1 validation error detected: Value at '{name}' failed to satisfy constraint: Member must not be null")
    return value


ROLE_ARN = re.compile(r"^arn:aws[a-z-]*:iam::(?P<account>\d{12}):role/(?:[^/]+/)*(?P<name>[^/]+)$")


def role_arn_name(principal: Any) -> str | None:
    """The role name when `principal` is the ARN of a role in this account, else None."""
    match = ROLE_ARN.match(principal) if isinstance(principal, str) else None
    return match.group("name") if match and match.group("account") == ACCOUNT_ID else None


def policy_role_principals(document: Any) -> list[str]:
    """The role ARNs a resource policy (JSON text or parsed) names as `AWS` principals."""
    if isinstance(document, (bytes, str)):
        try:
            document = json.loads(document)
        except ValueError:
            return []
    statements = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        return []
    roles: list[str] = []
    for statement in statements:
        for member in ("Principal", "NotPrincipal"):
            principal = statement.get(member) if isinstance(statement, dict) else None
            named = principal.get("AWS") if isinstance(principal, dict) else None
            for arn in named if isinstance(named, list) else [named]:
                if role_arn_name(arn):
                    roles.append(arn)
    return roles


def sns_policy_attribute(req: AwsRequest) -> str | None:
    """The `Policy` a CreateTopic (Attributes.entry.N.key/value) or SetTopicAttributes sets."""
    params = req.params
    if req.operation == "SetTopicAttributes":
        return params.get("AttributeValue") if params.get("AttributeName") == "Policy" else None
    for key, value in params.items():
        match = re.fullmatch(r"Attributes\.entry\.(\d+)\.key", key)
        if match and value == "Policy":
            return params.get(f"Attributes.entry.{match.group(1)}.value")
    return None


def resource_policy_principals(req: AwsRequest) -> tuple[list[str], AwsError] | None:
    """For a call setting a resource policy: the role ARNs it names as principals and the
    error AWS answers while one of them is too new for the service to resolve."""
    if req.service == "s3" and req.operation == "PutBucketPolicy":
        # Source: hashicorp/terraform#4315 (retries MalformedPolicy caused by newly created principals).
        return policy_role_principals(req.body), AwsError("MalformedPolicy", "Invalid principal in policy")
    if req.service == "ecr" and req.operation == "SetRepositoryPolicy":
        # Source: hashicorp/terraform-provider-aws#39064 (new IAM role in an ECR repository policy).
        return policy_role_principals(req.params.get("policyText")), AwsError(
            "InvalidParameterException", "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Principal not found'"
        )
    if req.service == "sns" and req.operation in ("CreateTopic", "SetTopicAttributes"):
        # Source: hashicorp/terraform-provider-aws#26041 (principal SNS cannot resolve in a topic policy).
        return policy_role_principals(sns_policy_attribute(req)), AwsError(
            "InvalidParameter", "Invalid parameter: Policy Error: PrincipalNotFound"
        )
    if req.service == "lambda" and req.operation == "AddPermission":
        # Source: Pocket/terraform-modules#1037 and aws-cloudformation/cloudformation-coverage-roadmap#1189.
        principal = req.params.get("Principal")
        return [principal] if role_arn_name(principal) else [], AwsError(
            "InvalidParameterValueException", "The provided principal was invalid. Please check the principal and try again."
        )
    return None


# --------------------------------------------------------------------------
# Roles services cannot assume (always on, not a fault; README "Roles services cannot assume")
# --------------------------------------------------------------------------

# The condition keys each service puts in the request context when it assumes the role it was
# handed. A trust-policy condition on any other key sees that key as absent, as IAM does.
SERVICE_ASSUME_ROLE_KEYS: dict[str, tuple[str, ...]] = {
    # CodeBuild User Guide, "Allow CodeBuild to interact with other AWS services"
    # (https://docs.aws.amazon.com/codebuild/latest/userguide/setting-up-service-role.html):
    # the service role's trust policy is conditioned on aws:SourceAccount (the account) and
    # aws:SourceArn (the project ARN, arn:aws:codebuild:REGION:ACCOUNT:project/NAME). (The 2023
    # GitHub archive of that guide, awsdocs/aws-codebuild-user-guide setting-up.md, still shows
    # the trust policy without a condition; the keys are the current page's.)
    "codebuild.amazonaws.com": ("aws:SourceAccount", "aws:SourceArn"),
    # CodePipeline User Guide, "Create the CodePipeline service role (CLI)"
    # (https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-create-service-role-cli.html):
    # the trust policy has no condition; no source keys are documented for the service role.
    "codepipeline.amazonaws.com": (),
    # Lambda Developer Guide, "Defining Lambda function permissions with an execution role"
    # (https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html): the trust
    # policy names lambda.amazonaws.com without a condition; no source keys are documented.
    "lambda.amazonaws.com": (),
}

ASSUME_ROLE_ACTION = "sts:AssumeRole"
_STRING_TESTS: dict[str, Callable[[str, str], bool]] = {
    "stringequals": lambda value, pattern: value == pattern,
    "stringequalsignorecase": lambda value, pattern: value.lower() == pattern.lower(),
    "stringlike": lambda value, pattern: glob_matches(pattern, value),
    "arnequals": lambda value, pattern: arn_matches(pattern, value),  # ArnEquals matches as ArnLike
    "arnlike": lambda value, pattern: arn_matches(pattern, value),
}
_NEGATED_TESTS = {
    "stringnotequals": "stringequals",
    "stringnotequalsignorecase": "stringequalsignorecase",
    "stringnotlike": "stringlike",
    "arnnotequals": "arnequals",
    "arnnotlike": "arnlike",
}


@dataclass
class RoleHandover:
    """A call handing a role to a service, which the service must be able to assume."""

    principal: str  # the service principal, e.g. codebuild.amazonaws.com
    role: str  # as given: an ARN, or (CodeBuild) a bare name
    context: dict[str, str]  # condition key (lowercase) -> the value the service sends
    error: AwsError  # AWS's answer when the service cannot assume the role


def glob_matches(pattern: str, value: str) -> bool:
    """IAM's `*` / `?` wildcards, case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def arn_matches(pattern: str, value: str) -> bool:
    """ArnEquals/ArnLike: each of the six colon-separated parts matched on its own."""
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(glob_matches(p, v) for p, v in zip(pattern_parts, value_parts))


def policy_strings(value: Any) -> list[str]:
    """A condition or element value as strings (JSON booleans as IAM writes them)."""
    items = value if isinstance(value, list) else [value]
    return ["true" if item is True else "false" if item is False else str(item) for item in items]


def condition_holds(condition: Any, context: dict[str, str]) -> tuple[bool, str | None]:
    """Whether a statement's Condition holds for `context` (lowercase keys). The second value
    names an operator this evaluator does not know (then the first is False)."""
    if condition is None:
        return True, None
    if not isinstance(condition, dict):
        return False, f"condition {condition!r} is not an object"
    for operator, keys in condition.items():
        if not isinstance(keys, dict):
            return False, f"condition operator {operator} does not map keys to values"
        name = str(operator)
        qualifier, _, base = name.rpartition(":")
        qualifier = qualifier.lower()
        if qualifier not in ("", "foranyvalue", "forallvalues"):
            return False, f"unknown condition operator {name}"
        base = base.lower()
        if_exists = base.endswith("ifexists")
        if if_exists:
            base = base[: -len("ifexists")]
        for key, expected in keys.items():
            value = context.get(str(key).lower())
            patterns = policy_strings(expected)
            if base == "null" and not if_exists:
                holds = any((value is None) == (pattern.lower() == "true") for pattern in patterns)
            elif base in _STRING_TESTS or base in _NEGATED_TESTS:
                negated = base in _NEGATED_TESTS
                if value is None:
                    # An absent key matches nothing: positive tests fail, negated ones hold,
                    # ...IfExists holds, ForAllValues holds on an empty set.
                    holds = negated or if_exists or qualifier == "forallvalues"
                    if qualifier == "foranyvalue":
                        holds = if_exists
                else:
                    test = _STRING_TESTS[_NEGATED_TESTS.get(base, base)]
                    matched = any(test(value, pattern) for pattern in patterns)
                    holds = not matched if negated else matched
            else:
                return False, f"unknown condition operator {name}"
            if not holds:
                return False, None
    return True, None


def names_service(statement: dict[str, Any], principal: str) -> bool:
    named = statement.get("Principal")
    if named == "*":
        return True
    services = named.get("Service") if isinstance(named, dict) else None
    return principal in [service.lower() for service in policy_strings(services)] if services is not None else False


def covers_assume_role(statement: dict[str, Any]) -> bool:
    def matches(patterns: Any) -> bool:
        return any(glob_matches(p.lower(), ASSUME_ROLE_ACTION.lower()) for p in policy_strings(patterns))

    if "Action" in statement:
        return matches(statement["Action"])
    return "NotAction" in statement and not matches(statement["NotAction"])


def trust_refusal_reason(document: Any, principal: str, context: dict[str, str]) -> str | None:
    """Why the trust policy does not let `principal` sts:AssumeRole with `context`; None when it does."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            try:
                document = json.loads(unquote(document))
            except ValueError:
                return "the trust policy is not JSON"
    statements = document.get("Statement") if isinstance(document, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        return "the trust policy has no statements"
    allowed = False
    refusals: list[str] = []
    for statement in statements:
        if not isinstance(statement, dict) or not names_service(statement, principal) or not covers_assume_role(statement):
            continue
        holds, unknown = condition_holds(statement.get("Condition"), context)
        sid = statement.get("Sid") or "(no Sid)"
        if statement.get("Effect") == "Deny" and (holds or unknown):
            return f"statement {sid} denies it" + (f" ({unknown}; failing closed)" if unknown else "")
        if statement.get("Effect") == "Allow":
            if holds:
                allowed = True
            elif unknown:
                refusals.append(f"statement {sid}: {unknown}; failing closed")
            else:
                sent = ", ".join(SERVICE_ASSUME_ROLE_KEYS.get(principal, ())) or "no condition keys"
                refusals.append(f"statement {sid}: its Condition does not hold for what the service sends ({sent})")
    if allowed:
        return None
    return "; ".join(refusals) or f"no Allow statement grants {ASSUME_ROLE_ACTION} to {principal}"


def role_handover(req: AwsRequest) -> RoleHandover | None:
    """The role a call hands to Lambda, CodeBuild or CodePipeline, with AWS's error for a role
    the service cannot assume (the same errors as while a role propagates)."""
    params = req.params
    if req.service == "lambda" and req.operation in ("CreateFunction", "UpdateFunctionConfiguration"):
        role = params.get("Role")
        if not isinstance(role, str) or not role:
            return None
        if req.operation == "UpdateFunctionConfiguration":
            match = re.match(r"^/[0-9-]+/functions/([^/]+)/configuration", req.path)
            try:
                lambda_backend(ACCOUNT_ID, req.region).get_function(unquote(match.group(1)) if match else "")
            except Exception:  # unknown function: moto answers ResourceNotFoundException
                return None
        error = AwsError("InvalidParameterValueException", "The role defined for the function cannot be assumed by Lambda.")
        return RoleHandover("lambda.amazonaws.com", role, {}, error)
    if req.service == "codebuild" and req.operation in ("CreateProject", "UpdateProject"):
        role, name = params.get("serviceRole"), params.get("name")
        if not isinstance(role, str) or not role or not isinstance(name, str) or not name:
            return None
        if name.startswith("arn:"):
            project_arn, name = name, name.rsplit("/", 1)[-1]
        else:
            project_arn = f"arn:aws:codebuild:{req.region}:{ACCOUNT_ID}:project/{name}"
        if req.operation == "UpdateProject" and name not in codebuild_backends[ACCOUNT_ID][req.region].codebuild_projects:
            return None  # unknown project: ResourceNotFoundException from the handler
        arn = role if role.startswith("arn:") else f"arn:aws:iam::{ACCOUNT_ID}:role/{role}"
        context = {"aws:sourceaccount": ACCOUNT_ID, "aws:sourcearn": project_arn}
        error = AwsError("InvalidInputException", f"CodeBuild is not authorized to perform: sts:AssumeRole on {arn}")
        return RoleHandover("codebuild.amazonaws.com", role, context, error)
    if req.service == "codepipeline" and req.operation in ("CreatePipeline", "UpdatePipeline"):
        pipeline = params.get("pipeline")
        role = pipeline.get("roleArn") if isinstance(pipeline, dict) else None
        if not isinstance(role, str) or not role:
            return None
        if req.operation == "UpdatePipeline" and pipeline.get("name") not in pipeline_backend(req).pipelines:
            return None  # unknown pipeline: moto answers ResourceNotFoundException
        error = AwsError("InvalidStructureException", f"CodePipeline is not authorized to perform AssumeRole on role {role}")
        return RoleHandover("codepipeline.amazonaws.com", role, {}, error)
    return None


def find_role(role: str) -> Any:
    """moto's role for an ARN or a bare name, or None."""
    backend = iam_backends[ACCOUNT_ID]["aws"]
    try:
        return backend.get_role_by_arn(role) if role.startswith("arn:") else backend.get_role(role)
    except IAMNotFoundException:
        return None


def trust_rejection(req: AwsRequest) -> AwsError | None:
    """AWS's answer when a call hands a service a role whose trust policy the service cannot
    satisfy. Roles moto does not know are left to whatever answers today."""
    handover = role_handover(req)
    found = find_role(handover.role) if handover is not None else None
    if handover is None or found is None:
        return None
    # Only the keys the service is documented to send count; any other key is absent.
    sent = {key.lower() for key in SERVICE_ASSUME_ROLE_KEYS.get(handover.principal, ())}
    context = {key: value for key, value in handover.context.items() if key in sent}
    reason = trust_refusal_reason(found.assume_role_policy_document, handover.principal, context)
    if reason is None:
        return None
    log.info("refusing %s %s: %s cannot assume role %s: %s", req.service, req.operation, handover.principal, handover.role, reason)
    return handover.error


# --------------------------------------------------------------------------
# The middleware
# --------------------------------------------------------------------------


Handler = Callable[["Shim", AwsRequest], Response | None]


class Shim:
    """WSGI app: control API under /_shim/, ECR's registry under /v2/, moto behind everything else."""

    def __init__(self, registry: RegistryBackend | None = None) -> None:
        self.moto = DomainDispatcherApplication(create_backend_app)
        self.state = ShimState()
        self.iam = Enforcer(  # IAM enforcement hook (awsshim/iam)
            ACCOUNT_ID, s3_location=s3_bucket_and_key, stored_bucket_policies=lambda: self.state.bucket_policies
        )
        # The docker-registry child main() starts; a shim built in-process fronts none.
        self.registry = registry or RegistryBackend("the shim runs without its registry (only main() starts one)")
        # One manifest PUT at a time, so the tag check before forwarding and the record after see the same tags.
        self.registry_manifests = threading.Lock()
        configure_moto()
        fix_moto_ecr_images()

    # ---- WSGI entry ----

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_shim/") or path == "/_shim":
            response = self.control(environ)
        elif path.startswith("/moto-api"):
            response = self.moto_api(environ)
        elif registry_request(environ):
            response = self.registry_call(environ)
        else:
            response = self.aws_call(environ)
        reason = response.reason or HTTP_REASONS.get(response.status, "")
        start_response(f"{response.status} {reason}".strip(), response.headers)
        return [response.body]

    def moto_api(self, environ: dict[str, Any]) -> Response:
        body = read_body(environ)
        response = self.call_moto(environ, body)
        if environ.get("PATH_INFO", "").rstrip("/") == "/moto-api/reset" and response.status < 300:
            configure_moto()
            with self.state.lock:
                self.state.clear_resources()
        return response

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

    def aws_call(self, environ: dict[str, Any]) -> Response:
        started = time.time()
        body = read_body(environ)
        req = parse_aws_request(environ, body)
        state = self.state
        with state.lock:
            faults = state.faults
            latency = faults.latency_ms
        fault: str | None = None
        if latency > 0:
            time.sleep(latency / 1000.0)
            fault = "latency"

        response: Response | None = None
        with state.lock:
            if faults.outage_active:
                fault = "outage"
                response = error_response(req, outage_error(req))
            elif faults.throttle_probability > 0 and faults.rng.random() < faults.throttle_probability:
                fault = "throttle"
                faults.throttled += 1
                response = error_response(req, throttling_error(req))
            else:
                rejection = self.propagation_rejection(req)
                if rejection is not None:
                    fault = "iam_propagation"
                    faults.propagation_rejections += 1
                    response = error_response(req, rejection)

        # ---- IAM enforcement hook (awsshim/iam): only emulator-issued credentials are checked ----
        denial = self.iam.check(req) if response is None else None
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
                self.observe(req, response)

        with state.lock:
            state.calls.append(
                {
                    "service": req.service,
                    "operation": req.operation,
                    "status": response.status,
                    "mutating": req.mutating,
                    "fault": fault,
                    "time": started,
                    "duration_ms": round((time.time() - started) * 1000.0, 3),
                    **({"denied": denial.record} if denial is not None else {}),  # IAM enforcement
                }
            )
        return response

    def handle(self, req: AwsRequest) -> Response:
        refusal = trust_rejection(req)  # a role the service cannot assume (README "Roles services cannot assume")
        if refusal is not None:
            raise refusal
        handler = SERVED.get((req.service, req.operation))
        answered = handler(self, req) if handler is not None else None
        response = answered if answered is not None else self.forward(req)
        if req.service == "s3" and response.status == 403 and not response.body and req.method != "HEAD":
            # moto denies object calls by a bucket policy with an empty body;
            # AWS sends an AccessDenied error document that SDKs parse.
            return error_response(req, AwsError("AccessDenied", "Access Denied", 403))
        return response

    def observe(self, req: AwsRequest, response: Response) -> None:
        """Learn from successful answers passing through (caller holds the lock)."""
        if response.status >= 300 or req.service != "iam":
            return
        name = req.params.get("RoleName")
        if not name:
            return
        if req.operation == "CreateRole":
            self.state.role_created_at[name] = time.time()
        elif req.operation == "DeleteRole":
            self.state.role_created_at.pop(name, None)

    def propagation_rejection(self, req: AwsRequest) -> AwsError | None:
        """AWS's answer while a new role is not yet visible to the service (caller holds the lock)."""
        window = self.state.faults.iam_propagation_seconds
        if window <= 0:
            return None

        def propagating(name: str | None) -> bool:
            created = self.state.role_created_at.get(name) if name else None
            return created is not None and time.time() - created < window

        principals = resource_policy_principals(req)
        if principals is not None:
            roles, principal_error = principals
            return principal_error if any(propagating(role_arn_name(role)) for role in roles) else None
        # The calls that hand a service a role answer with the same error as a role it cannot
        # assume (see role_handover).
        handover = role_handover(req)
        if handover is None or not propagating(role_name(handover.role)):
            return None
        return handover.error

    # ---- control API ----

    def control(self, environ: dict[str, Any]) -> Response:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "").rstrip("/")
        raw = read_body(environ)
        try:
            payload = json.loads(raw) if raw.strip() else {}
        except ValueError as error:
            return control_json({"error": f"the request body is not JSON ({error}); send a JSON object"}, 400)
        state = self.state
        try:
            if path == "/_shim/reset" and method == "POST":
                moto_api_backend.reset()
                configure_moto()
                with state.lock:
                    state.clear()
                self.iam.reset()
                return control_json({"reset": True})
            if path == "/_shim/iam" or path.startswith("/_shim/iam/"):  # IAM enforcement (awsshim/iam)
                answered = self.iam.control(method, path, payload)
                if answered is not None:
                    return control_json(*answered)
            if path == "/_shim/calls":
                with state.lock:
                    if method == "GET":
                        return control_json(list(state.calls))
                    if method == "DELETE":
                        state.calls.clear()
                        return control_json({"cleared": True})
            if path == "/_shim/faults":
                with state.lock:
                    if method == "GET":
                        return control_json(state.faults.to_json())
                    if method == "POST":
                        state.faults = Faults.from_json(payload)
                        return control_json(state.faults.to_json())
                    if method == "DELETE":
                        state.faults = Faults()
                        return control_json(state.faults.to_json())
            if path == "/_shim/codepipeline/jobs" and method == "POST":
                return self.register_job(payload)
            job_match = re.match(r"^/_shim/codepipeline/jobs/(?P<id>[^/]+)$", path)
            if job_match and method == "GET":
                with state.lock:
                    job = state.jobs.get(job_match.group("id"))
                    if job is None:
                        return control_json(
                            {"error": f"no job {job_match.group('id')!r} is registered; POST /_shim/codepipeline/jobs first"},
                            404,
                        )
                    return control_json(job.to_json())
            if path == "/_shim/codepipeline/executions" and method == "POST":
                return self.seed_execution(payload)
            if path == "/_shim/codebuild/builds" and method == "POST":
                return self.record_build(payload)
            if path == "/_shim/codepipeline/webhooks" and method == "GET":
                with state.lock:
                    return control_json(
                        [{**hook.list_item(), "registered": hook.registered} for hook in state.webhooks.values()]
                    )
            status_match = re.match(r"^/_shim/connections/(?P<arn>.+)/status$", path)
            if status_match and method == "POST":
                return self.set_connection_status(status_match.group("arn"), payload)
            if path in ROLLOUT_SETTINGS and method in ("GET", "POST"):
                return self.rollout_setting(path, method, payload)
            if path in ("/_shim/ecs/bad-images", "/_shim/lambda/bad-images") and method in ("GET", "POST", "DELETE"):
                return self.bad_images(method, payload)
            if path == "/_shim/registry" and method in ("GET", "POST"):
                return self.registry_status(environ, method, payload)
        except ValueError as error:
            return control_json({"error": str(error)}, 400)
        return control_json(
            {
                "error": f"no control endpoint {method} {path}",
                "endpoints": [
                    "POST /_shim/reset",
                    "GET|DELETE /_shim/calls",
                    "GET|POST /_shim/iam",
                    "GET|DELETE /_shim/iam/denials",
                    "GET|DELETE /_shim/iam/grants",
                    "POST /_shim/iam/mutants",
                    "POST /_shim/iam/scope",
                    "GET|POST|DELETE /_shim/faults",
                    "POST /_shim/codepipeline/jobs",
                    "GET /_shim/codepipeline/jobs/{jobId}",
                    "POST /_shim/codepipeline/executions",
                    "GET /_shim/codepipeline/webhooks",
                    "POST /_shim/connections/{connectionArn}/status",
                    "POST /_shim/codebuild/builds",
                    "GET|POST /_shim/ecs",
                    "GET|POST /_shim/lambda",
                    "GET|POST|DELETE /_shim/ecs/bad-images (= /_shim/lambda/bad-images)",
                    "GET|POST /_shim/ecr/scan-polls",
                    "GET|POST /_shim/registry",
                ],
            },
            404,
        )

    def registry_status(self, environ: dict[str, Any], method: str, payload: Any) -> Response:
        """Whether ECR's registry runs, where clients push (this shim) and the raw docker-registry behind it;
        POST {"token_seconds": N} sets the lifetime of the passwords GetAuthorizationToken issues next."""
        if method == "POST":
            seconds = payload.get("token_seconds") if isinstance(payload, dict) else None
            if (
                not isinstance(payload, dict)
                or set(payload) != {"token_seconds"}
                or isinstance(seconds, bool)
                or not isinstance(seconds, (int, float))
                or seconds < 0
            ):
                raise ValueError('send {"token_seconds": N} (N >= 0; AWS issues 12-hour tokens, 43200)')
            with self.state.lock:
                self.state.registry_token_seconds = float(seconds)
        running, backend, reason = self.registry.status(wait=True)
        host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME')}:{environ.get('SERVER_PORT')}"
        with self.state.lock:
            seconds = self.state.registry_token_seconds
        return control_json(
            {
                "running": running,
                "endpoint": host if running else None,
                "backend": backend,
                "reason": reason,
                "token_seconds": seconds,
            }
        )

    # ---- ECR's registry (README "ECR's registry") ----

    def registry_call(self, environ: dict[str, Any]) -> Response:
        """A Docker Registry HTTP API v2 call: judged as ECR judges it, answered by docker-registry or from
        moto's ECR, and recorded like an API call."""
        started = time.time()
        body = read_body(environ)
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "/")
        route = registry_route(method, path)
        try:
            response, denial = self.registry_answer(environ, method, path, route, body)
        except Exception as error:  # noqa: BLE001 - a crash must still answer the client
            log.exception("shim failed on registry %s %s", method, path)
            response, denial = registry_error(500, "UNKNOWN", f"emulator shim error: {error!r}"), None
        if method == "HEAD" and response.body:
            response = response.with_body(b"")
        with self.state.lock:
            self.state.calls.append(
                {
                    "service": "ecr",
                    "operation": route.operation if route is not None else f"{method} {path}",
                    "status": response.status,
                    "mutating": method not in ("GET", "HEAD"),
                    "fault": None,
                    "time": started,
                    "duration_ms": round((time.time() - started) * 1000.0, 3),
                    "registry": True,
                    **({"denied": denial.record} if denial is not None else {}),  # IAM enforcement
                }
            )
        return response

    def registry_answer(
        self, environ: dict[str, Any], method: str, path: str, route: RegistryRoute | None, body: bytes
    ) -> tuple[Response, Denial | None]:
        running, _, reason = self.registry.status(wait=True)
        if not running:
            return registry_error(503, "UNAVAILABLE", str(reason)), None
        token, refusal = self.registry_token(environ)
        if refusal is not None or token is None:
            return refusal or registry_unauthorized(), None
        if route is None:
            if path in ("/v2", "/v2/") and method in ("GET", "HEAD"):
                return registry_json(200, {}), None  # the version check `docker login` / `podman login` make
            return registry_error(404, "UNSUPPORTED", f"the emulator's registry serves no {method} {path}"), None
        if route.unsupported:
            # ECR deletes images through BatchDeleteImage, not the registry API.
            return registry_error(405, "UNSUPPORTED", "The operation is unsupported."), None
        # ---- IAM enforcement hook (awsshim/iam): the call as the ECR action it is, for the token's key ----
        denial = self.iam.check(registry_iam_request(environ, token, route))
        if denial is not None:
            return registry_error(403, "DENIED", denial.message), denial
        # ---- end IAM enforcement hook ----
        with self.state.lock:
            repository = ecr_repository(token.account, token.region, route.name)
        if repository is None:
            # The registry's answer for a repository ECR does not have (plexsystems/sinker issue #55:
            # "NAME_UNKNOWN: The repository with name 'coreos/prometheus-operator' does not exist in the
            # registry with id '<account-number>'"); ECR creates no repository on push.
            return (
                registry_error(
                    404,
                    "NAME_UNKNOWN",
                    f"The repository with name '{route.name}' does not exist in the registry with id '{token.account}'",
                ),
                None,
            )
        if route.operation == "PutImage":
            return self.registry_put_manifest(environ, route, repository, body), None
        if route.operation == "BatchGetImage":
            return self.registry_get_manifest(environ, method, route, repository), None
        if route.operation == "ListImages":
            return registry_tags(environ, route, repository), None
        query = environ.get("QUERY_STRING", "")
        if route.operation == "InitiateLayerUpload":
            # Amazon ECR User Guide, "Blob mounting in Amazon ECR": ECR mounts a layer from another repository
            # only when the registry's BLOB_MOUNTING account setting is enabled (it is off unless turned on);
            # otherwise the POST starts a normal upload (202), as the OCI distribution spec allows.
            kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in ("mount", "from")]
            query = urlencode(kept)
        headers = registry_forward_headers(environ, method, body)
        return self.registry.request(method, registry_target(path, query), headers, body), None

    def registry_token(self, environ: dict[str, Any]) -> tuple[RegistryToken | None, Response | None]:
        """The token behind the call's `Authorization: Basic base64(AWS:password)`, or ECR's refusal."""
        scheme, _, credentials = environ.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
        if scheme.lower() != "basic" or not credentials.strip():
            return None, registry_unauthorized()
        try:
            user, _, password = base64.b64decode(credentials.strip(), validate=True).decode("utf-8").partition(":")
        except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
            return None, registry_unauthorized()
        with self.state.lock:
            token = self.state.registry_tokens.get(password)
        if token is None or user != "AWS":
            # A password that is no token of this registry: ECR answers 400 Bad Request (aws/aws-cli issues #4962
            # and #5317: `docker login` "failed with status: 400 Bad Request" for a mangled password or one of
            # another region). Its body is not on record for private ECR; this is ECR Public's for the same case
            # (apple/container issue #847: 400 {"errors":[{"message":"Your Authorization Token is invalid.",
            # "code":"DENIED"}]}).
            return None, registry_error(400, "DENIED", "Your Authorization Token is invalid.")
        if time.time() >= token.expires_at:
            # ECR's answer once the 12 hours are over: 403 (serverless/serverless issue #13116) and what docker
            # prints as "denied: Your authorization token has expired. Reauthenticate and try again."
            # (aws-samples/ecs-bg-external-controller issue #13; aws/aws-cli issue #6580).
            expired = "Your authorization token has expired. Reauthenticate and try again."
            return None, registry_error(403, "DENIED", expired)
        return token, None

    def registry_put_manifest(
        self, environ: dict[str, Any], route: RegistryRoute, repository: Any, body: bytes
    ) -> Response:
        """PUT /v2/NAME/manifests/REF: ECR's tag immutability is checked before docker-registry sees the
        manifest, so the registry's tag never moves where ECR's would not; a manifest the registry took is
        recorded in moto's ECR (the tag moved onto it), under the digest the registry computed."""
        tag = None if IMAGE_REFERENCE_DIGEST.match(route.reference) else route.reference
        media_type = environ.get("CONTENT_TYPE") or manifest_media_type(body)
        with self.registry_manifests:
            if tag is not None:
                with self.state.lock:
                    tagged = any(tag in image.image_tags for image in repository.images)
                    taken = tagged and ecr_tag_immutable(repository, tag)
                if taken:
                    # What docker and kaniko print for a push to an existing tag of an immutable repository:
                    # "TAG_INVALID: The image tag '<tag>' already exists in the '<repo>' repository and cannot be
                    # overwritten because the tag is immutable." (GoogleContainerTools/kaniko issue #3481, 2025:
                    # ECR changed "because the repository is immutable" to "because the tag is immutable";
                    # osscontainertools/kaniko PR #204). ECR refuses the same manifest pushed again under the tag
                    # too, not only another one (kaniko issue #3481 "push the same image again"; moby/buildkit
                    # issue #3776; aws/containers-roadmap issues #2179 and #2380 ask for that to be allowed).
                    return registry_error(
                        400,
                        "TAG_INVALID",
                        f"The image tag '{tag}' already exists in the '{route.name}' repository and cannot be "
                        "overwritten because the tag is immutable.",
                    )
            target = registry_target(environ.get("PATH_INFO", "/"), environ.get("QUERY_STRING", ""))
            response = self.registry.request("PUT", target, registry_forward_headers(environ, "PUT", body), body)
            if response.status == 201:
                digest = response.header("Docker-Content-Digest") or "sha256:" + hashlib.sha256(body).hexdigest()
                with self.state.lock:
                    image = ecr_record_image(repository, body.decode("utf-8", "surrogateescape"), media_type, digest, tag)
                    scan_on_push = (repository.image_scanning_configuration or {}).get("scanOnPush")
                    if scan_on_push and image.last_scan is None:
                        # ECR API Reference, ImageScanningConfiguration `scanOnPush`: "If set to true, images will be
                        # scanned after being pushed." The basic scan starts IN_PROGRESS and completes after
                        # `ecr_scan_polls` DescribeImageScanFindings polls (ecr_track_scan has the sources).
                        image.last_scan = datetime.datetime.now()
                        ecr_track_scan(self.state, repository, image)
        return response

    def registry_get_manifest(
        self, environ: dict[str, Any], method: str, route: RegistryRoute, repository: Any
    ) -> Response:
        """GET/HEAD /v2/NAME/manifests/REF: the image moto's ECR has under that tag or digest, fetched from
        docker-registry by its digest (so a tag the registry still knows but ECR does not answers nothing)."""
        reference = route.reference
        by_digest = bool(IMAGE_REFERENCE_DIGEST.match(reference))
        with self.state.lock:
            image = next(
                (
                    candidate
                    for candidate in repository.images
                    if (candidate.get_image_digest() == reference if by_digest else reference in candidate.image_tags)
                ),
                None,
            )
            if image is None:
                # ECR's reason for an image it does not have (BatchGetImage failureReason "Requested image not
                # found"; see README "ECR's registry" for what is verified of the registry's wording).
                return registry_error(404, "MANIFEST_UNKNOWN", "Requested image not found")
            digest, manifest = image.get_image_digest(), image.image_manifest
            text = manifest.encode("utf-8", "surrogateescape")
            media_type = image.image_manifest_media_type or manifest_media_type(text)
        target = registry_target(f"/v2/{route.name}/manifests/{digest}", "")
        response = self.registry.request(method, target, registry_forward_headers(environ, method, b""), b"")
        if response.status != 404:
            return response
        # An image put through the ECR API only: its manifest is ECR's alone (its layers are unknown to the registry).
        headers = [
            ("Content-Type", media_type or "application/json"),
            ("Content-Length", str(len(text))),
            ("Docker-Content-Digest", digest),
            REGISTRY_API_VERSION,
        ]
        return Response(200, headers, b"" if method == "HEAD" else text)

    def register_job(self, payload: Any) -> Response:
        if not isinstance(payload, dict):
            raise ValueError('a job must be a JSON object, e.g. {"pipelineName": "p", "actionName": "Deploy"}')
        job_id = payload.get("jobId") or str(uuid.uuid4())
        if not isinstance(job_id, str):
            raise ValueError(f"jobId must be a string, got {job_id!r}")
        data = {key: value for key, value in payload.items() if key != "jobId"}
        with self.state.lock:
            self.state.jobs[job_id] = Job(job_id=job_id, data=data)
        return control_json({"jobId": job_id})

    def seed_execution(self, payload: Any) -> Response:
        if not isinstance(payload, dict):
            raise ValueError("an execution seed must be a JSON object with pipelineName and pipelineExecution")
        pipeline_name = payload.get("pipelineName")
        execution = payload.get("pipelineExecution")
        if not isinstance(pipeline_name, str) or not pipeline_name:
            raise ValueError("pipelineName (a non-empty string) is required")
        if not isinstance(execution, dict) or not isinstance(execution.get("pipelineExecutionId"), str):
            raise ValueError("pipelineExecution must be an object with a string pipelineExecutionId")
        details = payload.get("actionExecutionDetails", [])
        if not isinstance(details, list) or not all(isinstance(item, dict) for item in details):
            raise ValueError("actionExecutionDetails must be a list of objects")
        execution_id = execution["pipelineExecutionId"]
        execution = timestamps_to_epoch({"pipelineName": pipeline_name, **execution})
        details = [
            timestamps_to_epoch({"pipelineExecutionId": execution_id, **detail}) for detail in details
        ]
        with self.state.lock:
            self.state.executions[(pipeline_name, execution_id)] = {
                "pipelineExecution": execution,
                "actionExecutionDetails": details,
            }
        return control_json({"pipelineName": pipeline_name, "pipelineExecutionId": execution_id})

    def record_build(self, payload: Any) -> Response:
        """A build of a project ran (locally) and uploaded reports: do what CodeBuild does.

        Each buildspec `reports:` entry N names report group PROJECT-N, created untagged
        (type TEST, no export) on the first report unless it exists; an entry that is a
        report-group ARN names that group, which must exist."""
        if not isinstance(payload, dict):
            raise ValueError('a build must be a JSON object, e.g. {"projectName": "app-build", "reportGroups": ["junit"], "succeeded": true}')
        project = payload.get("projectName")
        entries = payload.get("reportGroups", [])
        succeeded = payload.get("succeeded", True)
        if not isinstance(project, str) or not project:
            raise ValueError("projectName (a non-empty string) is required")
        if not isinstance(entries, list) or not all(isinstance(e, str) and e for e in entries):
            raise ValueError('reportGroups must be a list of buildspec report group names (or report group ARNs), e.g. ["junit"]')
        if not isinstance(succeeded, bool):
            raise ValueError(f"succeeded must be true or false, got {succeeded!r}")
        region = DEFAULT_REGION
        with self.state.lock:
            if project not in codebuild_backends[ACCOUNT_ID][region].codebuild_projects:
                return control_json({"error": f"no CodeBuild project {project!r}; create it with CreateProject first"}, 404)
            targets: list[tuple[str, str]] = []  # (ARN, name) per entry
            for entry in entries:
                if entry.startswith("arn:"):
                    if entry not in self.state.report_groups:
                        return control_json({"error": f"no report group {entry!r}; a buildspec ARN must name an existing report group"}, 404)
                    targets.append((entry, self.state.report_groups[entry]["name"]))
                    continue
                name = f"{project}-{entry}"
                if len(name) > 128:
                    raise ValueError(f"report group name {name!r} is longer than 128 characters")
                targets.append((report_group_arn(region, name), name))
            build_arn = f"arn:aws:codebuild:{region}:{ACCOUNT_ID}:build/{project}:{uuid.uuid4()}"
            report_arns: list[str] = []
            for arn, name in targets:
                group = self.state.report_groups.get(arn)
                if group is None:
                    group = new_report_group(region, name, "TEST", {"exportConfigType": "NO_EXPORT"}, [])
                    self.state.report_groups[arn] = group
                report = new_report(group, build_arn, succeeded)
                self.state.reports.setdefault(arn, []).append(report)
                report_arns.append(report["arn"])
        return control_json(
            {"reportGroupArns": [arn for arn, _ in targets], "reportArns": report_arns, "buildArn": build_arn}
        )

    def rollout_setting(self, path: str, method: str, payload: Any) -> Response:
        """How many polls an ECS deployment / a Lambda image update / an ECR basic scan stays in progress."""
        name, attribute = ROLLOUT_SETTINGS[path]
        with self.state.lock:
            if method == "POST":
                value = payload.get(name) if isinstance(payload, dict) else None
                if (
                    not isinstance(payload, dict)
                    or set(payload) != {name}
                    or isinstance(value, bool)
                    or not isinstance(value, int)
                    or value < 0
                ):
                    raise ValueError(f'send {{"{name}": N}} with N an integer >= 0, got {payload!r}')
                setattr(self.state, attribute, value)
            return control_json({name: getattr(self.state, attribute)})

    def bad_images(self, method: str, payload: Any) -> Response:
        """Images whose tasks fail to start (ECS) or that Lambda cannot run: one list for both services."""
        with self.state.lock:
            if method == "POST":
                images = payload.get("images") if isinstance(payload, dict) else None
                if (
                    not isinstance(payload, dict)
                    or set(payload) != {"images"}
                    or not isinstance(images, list)
                    or not all(isinstance(image, str) and image for image in images)
                ):
                    raise ValueError('send {"images": ["<image URI or sha256:DIGEST>", ...]}')
                for image in images:
                    if image not in self.state.bad_images:
                        self.state.bad_images.append(image)
            elif method == "DELETE":
                self.state.bad_images.clear()
            return control_json({"images": list(self.state.bad_images)})

    def set_connection_status(self, arn: str, payload: Any) -> Response:
        status = payload.get("status") if isinstance(payload, dict) else None
        if status not in CONNECTION_STATUSES:
            raise ValueError(f"status must be one of {sorted(CONNECTION_STATUSES)}, got {status!r}")
        with self.state.lock:
            connection = self.state.connections.get(connection_id(arn))
            if connection is None:
                return control_json(
                    {"error": f"no connection {arn!r}; create it with CreateConnection and URL-encode its ARN in the path"},
                    404,
                )
            connection["ConnectionStatus"] = status
            return control_json(public_connection(connection))


ROLLOUT_SETTINGS = {
    "/_shim/ecs": ("rollout_polls", "ecs_rollout_polls"),
    "/_shim/lambda": ("update_polls", "lambda_update_polls"),
    "/_shim/ecr/scan-polls": ("polls", "ecr_scan_polls"),  # README "ECR's registry": image scans
}


def control_json(payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload).encode()
    return Response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        body,
    )


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


# --------------------------------------------------------------------------
# CodePipeline
# --------------------------------------------------------------------------


def pipeline_backend(req: AwsRequest) -> Any:
    return codepipeline_backends[ACCOUNT_ID][req.region]


def webhook_arn(req: AwsRequest, name: str) -> str:
    return f"arn:aws:codepipeline:{req.region}:{ACCOUNT_ID}:webhook:{name}"


def put_webhook(shim: Shim, req: AwsRequest) -> Response:
    definition = require(req.params, "webhook")
    if not isinstance(definition, dict):
        raise AwsError("ValidationException", "webhook must be a structure")
    for member in ("name", "targetPipeline", "targetAction", "filters", "authentication", "authenticationConfiguration"):
        if member not in definition:
            raise AwsError(
                "ValidationException",
                f"1 validation error detected: Value at 'webhook.{member}' failed to satisfy constraint: Member must not be null",
            )
    authentication = definition["authentication"]
    if authentication not in WEBHOOK_AUTHENTICATION_TYPES:
        raise AwsError(
            "ValidationException",
            f"1 validation error detected: Value '{authentication}' at 'webhook.authentication' failed to satisfy "
            f"constraint: Member must satisfy enum value set: {sorted(WEBHOOK_AUTHENTICATION_TYPES)}",
        )
    auth_config = definition.get("authenticationConfiguration") or {}
    if authentication == "GITHUB_HMAC" and not auth_config.get("SecretToken"):
        raise AwsError("InvalidWebhookAuthenticationParametersException", "SecretToken is required for GITHUB_HMAC authentication")
    if authentication == "IP" and not auth_config.get("AllowedIPRange"):
        raise AwsError("InvalidWebhookAuthenticationParametersException", "AllowedIPRange is required for IP authentication")
    for rule in definition["filters"]:
        if not isinstance(rule, dict) or not str(rule.get("jsonPath", "")).startswith("$"):
            raise AwsError("InvalidWebhookFilterPatternException", f"Invalid JsonPath in webhook filter: {rule!r}")
    if definition["targetPipeline"] not in pipeline_backend(req).pipelines:
        raise AwsError(
            "PipelineNotFoundException",
            f"Account '{ACCOUNT_ID}' does not have a pipeline with name '{definition['targetPipeline']}'",
        )
    tags = {tag["key"]: tag["value"] for tag in req.params.get("tags") or []}
    name = definition["name"]
    with shim.state.lock:
        existing = shim.state.webhooks.get(name)
        if existing is not None:
            existing.definition = definition
            existing.tags.update(tags)
            hook = existing
        else:
            token = uuid.uuid4().hex + uuid.uuid4().hex
            hook = Webhook(
                definition=definition,
                url=f"https://{req.region}.webhooks.aws/trigger?t={token}&v=1",
                arn=webhook_arn(req, name),
                tags=tags,
            )
            shim.state.webhooks[name] = hook
        item = hook.list_item()
    return json_response(req, {"webhook": item})


def list_webhooks(shim: Shim, req: AwsRequest) -> Response:
    with shim.state.lock:
        items = [hook.list_item() for hook in shim.state.webhooks.values()]
    return json_response(req, {"webhooks": items})


def delete_webhook(shim: Shim, req: AwsRequest) -> Response:
    name = require(req.params, "name")
    with shim.state.lock:
        shim.state.webhooks.pop(name, None)
    return json_response(req, {})


def set_webhook_registration(registered: bool) -> Handler:
    def handler(shim: Shim, req: AwsRequest) -> Response:
        name = req.params.get("webhookName")
        with shim.state.lock:
            hook = shim.state.webhooks.get(name) if name else None
            if hook is None:
                raise AwsError("WebhookNotFoundException", f"The specified webhook {name} was not found")
            hook.registered = registered
        return json_response(req, {})

    return handler


def find_job(shim: Shim, req: AwsRequest) -> Job:
    job_id = require(req.params, "jobId")
    job = shim.state.jobs.get(job_id)
    if job is None:
        raise AwsError("JobNotFoundException", f"The job with ID {job_id} was not found")
    return job


def record_job_result(shim: Shim, req: AwsRequest, check: Callable[[Job], str]) -> Response:
    with shim.state.lock:
        job = find_job(shim, req)
        job.results.append(req.params)
        try:
            if job.status in ("Succeeded", "Failed"):
                raise AwsError(
                    "InvalidJobStateException",
                    f"The job {job.job_id} is in state {job.status} and can no longer be updated",
                )
            job.status = check(job)
        except AwsError as error:
            job.outcomes.append(error.code)
            raise
        job.outcomes.append("accepted")
    return json_response(req, {})


def put_job_success_result(shim: Shim, req: AwsRequest) -> Response:
    params = req.params

    def check(job: Job) -> str:
        token = params.get("continuationToken")
        variables = params.get("outputVariables")
        if token is not None and variables:
            raise AwsError(
                "ValidationException",
                "outputVariables can only be provided when the job is complete; do not combine them with a continuationToken",
            )
        if token is not None and not (1 <= len(token) <= 2048):
            raise AwsError("ValidationException", "continuationToken must be 1 to 2048 characters long")
        summary = (params.get("executionDetails") or {}).get("summary")
        if summary is not None and len(summary) > 2048:
            raise AwsError("ValidationException", "executionDetails.summary must be at most 2048 characters long")
        if variables and len(json.dumps(variables, separators=(",", ":")).encode()) > OUTPUT_VARIABLES_MAX_BYTES:
            raise AwsError("ValidationException", f"outputVariables together exceed {OUTPUT_VARIABLES_MAX_BYTES} bytes")
        return "InProgress" if token is not None else "Succeeded"

    return record_job_result(shim, req, check)


def get_job_details(shim: Shim, req: AwsRequest) -> Response:
    """The job as CodePipeline describes it to its worker: the pipeline context comes from the
    data the job was registered with (pipelineName, stageName, actionName, pipelineExecutionId)."""
    with shim.state.lock:
        job = find_job(shim, req)
        data = dict(job.data)
    context: dict[str, Any] = {
        "pipelineName": data.get("pipelineName", "pipeline"),
        "stage": {"name": data.get("stageName", "Deploy")},
        "action": {"name": data.get("actionName", "Deploy")},
    }
    if isinstance(data.get("pipelineExecutionId"), str):
        context["pipelineExecutionId"] = data["pipelineExecutionId"]
    return json_response(
        req,
        {"jobDetails": {"id": job.job_id, "accountId": ACCOUNT_ID, "data": {"pipelineContext": context}}},
    )


def put_job_failure_result(shim: Shim, req: AwsRequest) -> Response:
    params = req.params

    def check(job: Job) -> str:
        details = params.get("failureDetails")
        if not isinstance(details, dict):
            raise AwsError("ValidationException", "failureDetails is required")
        if details.get("type") not in JOB_FAILURE_TYPES:
            raise AwsError(
                "ValidationException",
                f"failureDetails.type must be one of {sorted(JOB_FAILURE_TYPES)}, got {details.get('type')!r}",
            )
        message = details.get("message")
        if not isinstance(message, str) or not (1 <= len(message) <= 5000):
            raise AwsError("ValidationException", "failureDetails.message must be 1 to 5000 characters long")
        return "Failed"

    return record_job_result(shim, req, check)


def pipeline_known(shim: Shim, req: AwsRequest, name: str) -> bool:
    return name in pipeline_backend(req).pipelines or any(key[0] == name for key in shim.state.executions)


def moto_execution_known(req: AwsRequest, pipeline_name: str, execution_id: str) -> bool:
    pipeline = pipeline_backend(req).pipelines.get(pipeline_name)
    return pipeline is not None and execution_id in pipeline.executions


def pipeline_not_found(name: str) -> AwsError:
    return AwsError("PipelineNotFoundException", f"Account '{ACCOUNT_ID}' does not have a pipeline with name '{name}'")


def execution_not_found(pipeline_name: str, execution_id: str) -> AwsError:
    return AwsError(
        "PipelineExecutionNotFoundException",
        f"Account '{ACCOUNT_ID}' does not have an execution with id '{execution_id}' for pipeline '{pipeline_name}'",
    )


def get_pipeline_execution(shim: Shim, req: AwsRequest) -> Response | None:
    name = require(req.params, "pipelineName")
    execution_id = require(req.params, "pipelineExecutionId")
    with shim.state.lock:
        seeded = shim.state.executions.get((name, execution_id))
        if seeded is not None:
            return json_response(req, {"pipelineExecution": seeded["pipelineExecution"]})
        if not pipeline_known(shim, req, name):
            raise pipeline_not_found(name)
        if name not in pipeline_backend(req).pipelines:
            raise execution_not_found(name, execution_id)
    return None  # moto knows executions started by StartPipelineExecution


def list_action_executions(shim: Shim, req: AwsRequest) -> Response:
    name = require(req.params, "pipelineName")
    wanted = (req.params.get("filter") or {}).get("pipelineExecutionId")
    with shim.state.lock:
        if not pipeline_known(shim, req, name):
            raise pipeline_not_found(name)
        seeded = [(key[1], value) for key, value in shim.state.executions.items() if key[0] == name]
        if wanted is not None:
            matching = [value for execution_id, value in seeded if execution_id == wanted]
            if not matching and not moto_execution_known(req, name, wanted):
                raise execution_not_found(name, wanted)
        else:
            # Most recent execution first, as AWS lists them.
            matching = [value for _, value in reversed(seeded)]
        details = [detail for value in matching for detail in value["actionExecutionDetails"]]
    max_results = req.params.get("maxResults")
    if isinstance(max_results, int) and max_results > 0:
        details = details[:max_results]
    return json_response(req, {"actionExecutionDetails": details})


def get_pipeline_state(shim: Shim, req: AwsRequest) -> Response:
    name = require(req.params, "name")
    pipeline = pipeline_backend(req).pipelines.get(name)
    if pipeline is None:
        raise pipeline_not_found(name)
    definition = pipeline.pipeline
    return json_response(
        req,
        {
            "pipelineName": name,
            "pipelineVersion": definition.get("version", 1),
            "stageStates": [
                {
                    "stageName": stage["name"],
                    "inboundTransitionState": {"enabled": True},
                    "actionStates": [{"actionName": action["name"]} for action in stage.get("actions", [])],
                }
                for stage in definition.get("stages", [])
            ],
            "created": epoch_seconds(pipeline._created),
            "updated": epoch_seconds(pipeline._updated),
        },
    )


def codepipeline_forward_fixing_timestamps(shim: Shim, req: AwsRequest) -> Response:
    response = shim.forward(req)
    if response.status != 200 or not response.body:
        return response
    try:
        payload = json.loads(response.body)
    except ValueError:
        return response
    return response.with_body(json.dumps(timestamps_to_epoch(payload)).encode())


def webhook_for_arn(shim: Shim, arn: Any) -> Webhook | None:
    if not isinstance(arn, str) or ":webhook:" not in arn:
        return None
    hook = shim.state.webhooks.get(arn.rsplit(":webhook:", 1)[1])
    if hook is None or hook.arn != arn:
        raise AwsError("ResourceNotFoundException", f"The webhook {arn} was not found")
    return hook


def codepipeline_list_tags(shim: Shim, req: AwsRequest) -> Response | None:
    with shim.state.lock:
        hook = webhook_for_arn(shim, req.params.get("resourceArn"))
        if hook is None:
            return None
        tags = [{"key": k, "value": v} for k, v in sorted(hook.tags.items())]
    return json_response(req, {"tags": tags})


def codepipeline_tag(shim: Shim, req: AwsRequest) -> Response | None:
    with shim.state.lock:
        hook = webhook_for_arn(shim, req.params.get("resourceArn"))
        if hook is None:
            return None
        for tag in req.params.get("tags") or []:
            hook.tags[tag["key"]] = tag["value"]
    return json_response(req, {})


def codepipeline_untag(shim: Shim, req: AwsRequest) -> Response | None:
    with shim.state.lock:
        hook = webhook_for_arn(shim, req.params.get("resourceArn"))
        if hook is None:
            return None
        for key in req.params.get("tagKeys") or []:
            hook.tags.pop(key, None)
    return json_response(req, {})


# --------------------------------------------------------------------------
# CodeBuild
# --------------------------------------------------------------------------

LOCATION_OPTIONAL_SOURCE_TYPES = {"CODEPIPELINE", "NO_SOURCE"}


def codebuild_create_project(shim: Shim, req: AwsRequest) -> Response:
    params = json.loads(json.dumps(req.params))  # a copy to fill in
    originals: dict[str, str | None] = {}
    for member, optional_types in (("source", LOCATION_OPTIONAL_SOURCE_TYPES), ("artifacts", {"CODEPIPELINE"})):
        section = params.get(member)
        if isinstance(section, dict) and section.get("type") in optional_types and not section.get("location"):
            originals[member] = section.get("location")
            section["location"] = PLACEHOLDER_LOCATION
    if not originals:
        return shim.forward(req)
    response = shim.forward(req, json.dumps(params).encode())
    if response.status != 200:
        return response
    name = params.get("name")
    with shim.state.lock:
        project = codebuild_backends[ACCOUNT_ID][req.region].codebuild_projects.get(name)
        if project is not None:
            # Take the placeholder out of moto's stored project too, so every
            # later read (BatchGetProjects, StartBuild) sees what was sent.
            restore_locations(project.project_metadata, originals)
    payload = json.loads(response.body)
    restore_locations(payload.get("project", {}), originals)
    return response.with_body(json.dumps(payload).encode())


def restore_locations(project: dict[str, Any], originals: dict[str, str | None]) -> None:
    for member, original in originals.items():
        section = project.get(member)
        if isinstance(section, dict) and section.get("location") == PLACEHOLDER_LOCATION:
            if original is None:
                del section["location"]
            else:
                section["location"] = original


# UpdateProject members and where moto keeps them in project_metadata.
UPDATABLE_PROJECT_MEMBERS = (
    "description",
    "source",
    "secondarySources",
    "sourceVersion",
    "secondarySourceVersions",
    "artifacts",
    "secondaryArtifacts",
    "cache",
    "environment",
    "serviceRole",
    "timeoutInMinutes",
    "queuedTimeoutInMinutes",
    "encryptionKey",
    "tags",
    "vpcConfig",
    "logsConfig",
    "fileSystemLocations",
    "buildBatchConfig",
    "concurrentBuildLimit",
    "autoRetryLimit",
)


def codebuild_update_project(shim: Shim, req: AwsRequest) -> Response:
    name = require(req.params, "name")
    backend = codebuild_backends[ACCOUNT_ID][req.region]
    with shim.state.lock:
        project = backend.codebuild_projects.get(name)
        if project is None:
            project = next((p for p in backend.codebuild_projects.values() if p.arn == name), None)
        if project is None:
            raise AwsError(
                "ResourceNotFoundException",
                f"Failed to call UpdateProject, reason: Project {name} not found",
            )
        validate_project_update(req.params)
        metadata = project.project_metadata
        for member in UPDATABLE_PROJECT_MEMBERS:
            if member not in req.params:
                continue
            value = req.params[member]
            if member == "serviceRole":
                if not value.startswith("arn:"):
                    value = f"arn:aws:iam::{ACCOUNT_ID}:role/service-role/{value}"
                project.service_role = value
            if member == "tags":
                project.tags = value
            metadata[member] = value
        if "badgeEnabled" in req.params:
            metadata["badge"] = {"badgeEnabled": bool(req.params["badgeEnabled"])}
        metadata["lastModifiedDate"] = time.time()
        project_name = project.project_metadata["name"]
    # Read the result back through moto's BatchGetProjects so the answer is
    # serialised exactly like every other CodeBuild answer.
    env = dict(req.environ)
    env["HTTP_X_AMZ_TARGET"] = "CodeBuild_20161006.BatchGetProjects"
    read_back = shim.call_moto(env, json.dumps({"names": [project_name]}).encode())
    projects = json.loads(read_back.body).get("projects") if read_back.status == 200 else None
    if not projects:
        raise AwsError("InternalFailure", f"the updated project {project_name} could not be read back", 500)
    return json_response(req, {"project": projects[0]})


def validate_project_update(params: dict[str, Any]) -> None:
    source = params.get("source")
    if source is not None and source.get("type") not in {
        "BITBUCKET",
        "CODECOMMIT",
        "CODEPIPELINE",
        "GITHUB",
        "GITHUB_ENTERPRISE",
        "GITLAB",
        "GITLAB_SELF_MANAGED",
        "NO_SOURCE",
        "S3",
    }:
        raise AwsError("InvalidInputException", "Invalid type provided: Project source type")
    artifacts = params.get("artifacts")
    if artifacts is not None and artifacts.get("type") not in {"CODEPIPELINE", "S3", "NO_ARTIFACTS"}:
        raise AwsError("InvalidInputException", "Invalid type provided: Artifact type")
    role = params.get("serviceRole")
    if role is not None and (not isinstance(role, str) or not role):
        raise AwsError("InvalidInputException", "Invalid service role")


# --------------------------------------------------------------------------
# CodeBuild report groups and reports (moto 5.2.5 has none)
# --------------------------------------------------------------------------

REPORT_TYPES = ("TEST", "CODE_COVERAGE")
REPORT_EXPORT_TYPES = ("S3", "NO_EXPORT")
REPORT_GROUP_SORT_KEYS = {"NAME": "name", "CREATED_TIME": "created", "LAST_MODIFIED_TIME": "lastModified"}
REPORT_STATUSES = ("GENERATING", "SUCCEEDED", "FAILED", "INCOMPLETE", "DELETING")
REPORT_LIFETIME_SECONDS = 30 * 24 * 3600  # "A report expires 30 days after it is created."
MAX_TAGS = 50


def report_group_arn(region: str, name: str) -> str:
    return f"arn:aws:codebuild:{region}:{ACCOUNT_ID}:report-group/{name}"


def new_report_group(
    region: str, name: str, report_type: str, export_config: dict[str, Any], tags: list[dict[str, str]]
) -> dict[str, Any]:
    now = time.time()
    return {
        "arn": report_group_arn(region, name),
        "name": name,
        "type": report_type,
        "exportConfig": export_config,
        "created": now,
        "lastModified": now,
        "tags": tags,
        "status": "ACTIVE",
    }


def public_report_group(group: dict[str, Any]) -> dict[str, Any]:
    """A ReportGroup as AWS answers it: no `tags` member for an untagged group."""
    return {key: value for key, value in group.items() if key != "tags" or value}


def new_report(group: dict[str, Any], build_arn: str, succeeded: bool) -> dict[str, Any]:
    """One report of `group` uploaded by build `build_arn`, as BatchGetReports answers it."""
    now = time.time()
    region = group["arn"].split(":")[3]
    return {
        "arn": f"arn:aws:codebuild:{region}:{ACCOUNT_ID}:report/{group['name']}:{uuid.uuid4()}",
        "type": group["type"],
        "name": group["name"],
        "reportGroupArn": group["arn"],
        "executionId": build_arn,
        "status": "SUCCEEDED" if succeeded else "FAILED",
        "created": now,
        "expired": now + REPORT_LIFETIME_SECONDS,
        "exportConfig": group["exportConfig"],
        "truncated": False,
    }


def codebuild_tags(tags: Any) -> list[dict[str, str]]:
    """CodeBuild's tag list, `[{"key", "value"}]` with lowercase members."""
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(tag, dict) and isinstance(tag.get("key"), str) for tag in tags):
        raise AwsError("InvalidInputException", 'Invalid tags: give a list of {"key": ..., "value": ...}')
    if len(tags) > MAX_TAGS:
        raise AwsError("InvalidInputException", f"Invalid tags: at most {MAX_TAGS} tags, got {len(tags)}")
    return [{"key": tag["key"], "value": str(tag.get("value", ""))} for tag in tags]


def report_export_config(config: Any) -> dict[str, Any]:
    kind = config.get("exportConfigType") if isinstance(config, dict) else None
    if kind not in REPORT_EXPORT_TYPES:
        raise AwsError("InvalidInputException", f"Invalid export config type {kind!r}: use one of {list(REPORT_EXPORT_TYPES)}")
    destination = config.get("s3Destination")
    if kind == "S3" and not (isinstance(destination, dict) and destination.get("bucket")):
        raise AwsError("InvalidInputException", "An S3 export config needs s3Destination.bucket")
    return config


def find_report_group(shim: Shim, req: AwsRequest, member: str) -> dict[str, Any]:
    """The report group named by ARN in `member` (caller holds the lock)."""
    arn = require(req.params, member)
    group = shim.state.report_groups.get(arn)
    if group is None:
        raise AwsError("ResourceNotFoundException", f"Report group {arn} does not exist")
    return group


def page(items: list[Any], req: AwsRequest, maximum: int = 100) -> tuple[list[Any], str | None]:
    """One page of `items` by the request's `maxResults` and `nextToken` (an offset)."""
    limit = req.params.get("maxResults", maximum)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise AwsError("InvalidInputException", f"maxResults must be between 1 and {maximum}, got {limit!r}")
    token = req.params.get("nextToken") or "0"
    if not (isinstance(token, str) and token.isdigit()):
        raise AwsError("InvalidInputException", f"Invalid next token {token!r}")
    start = int(token)
    end = start + limit
    return items[start:end], (str(end) if end < len(items) else None)


def sort_order(req: AwsRequest, default: str) -> bool:
    """True for a descending `sortOrder`."""
    order = req.params.get("sortOrder") or default
    if order not in ("ASCENDING", "DESCENDING"):
        raise AwsError("InvalidInputException", f"Invalid sort order {order!r}: use ASCENDING or DESCENDING")
    return order == "DESCENDING"


def codebuild_create_report_group(shim: Shim, req: AwsRequest) -> Response:
    name = require(req.params, "name")
    if not isinstance(name, str) or not 2 <= len(name) <= 128:
        raise AwsError("InvalidInputException", f"Invalid report group name {name!r}: it must be 2 to 128 characters")
    report_type = req.params.get("type")
    if report_type not in REPORT_TYPES:
        raise AwsError("InvalidInputException", f"Invalid report group type {report_type!r}: use one of {list(REPORT_TYPES)}")
    export_config = report_export_config(req.params.get("exportConfig"))
    tags = codebuild_tags(req.params.get("tags"))
    with shim.state.lock:
        arn = report_group_arn(req.region, name)
        if arn in shim.state.report_groups:
            # Worded like AWS's duplicate CreateProject ("Project already exists: ARN").
            raise AwsError("ResourceAlreadyExistsException", f"Report group already exists: {arn}")
        group = new_report_group(req.region, name, report_type, export_config, tags)
        shim.state.report_groups[arn] = group
        return json_response(req, {"reportGroup": public_report_group(group)})


def codebuild_batch_get_report_groups(shim: Shim, req: AwsRequest) -> Response:
    arns = require(req.params, "reportGroupArns")
    if not isinstance(arns, list) or len(arns) > 100:
        raise AwsError("InvalidInputException", "reportGroupArns must be a list of 1 to 100 ARNs")
    with shim.state.lock:
        groups = shim.state.report_groups
        return json_response(
            req,
            {
                "reportGroups": [public_report_group(groups[arn]) for arn in arns if arn in groups],
                "reportGroupsNotFound": [arn for arn in arns if arn not in groups],
            },
        )


def codebuild_list_report_groups(shim: Shim, req: AwsRequest) -> Response:
    sort_by = req.params.get("sortBy") or "CREATED_TIME"
    if sort_by not in REPORT_GROUP_SORT_KEYS:
        raise AwsError("InvalidInputException", f"Invalid sortBy {sort_by!r}: use one of {sorted(REPORT_GROUP_SORT_KEYS)}")
    descending = sort_order(req, "ASCENDING")
    with shim.state.lock:
        groups = sorted(
            shim.state.report_groups.values(), key=lambda g: g[REPORT_GROUP_SORT_KEYS[sort_by]], reverse=descending
        )
        arns, token = page([g["arn"] for g in groups], req)
    payload: dict[str, Any] = {"reportGroups": arns}
    if token:
        payload["nextToken"] = token
    return json_response(req, payload)


def codebuild_update_report_group(shim: Shim, req: AwsRequest) -> Response:
    with shim.state.lock:
        group = find_report_group(shim, req, "arn")
        export_config = report_export_config(req.params["exportConfig"]) if "exportConfig" in req.params else None
        tags = codebuild_tags(req.params["tags"]) if "tags" in req.params else None
        if export_config is not None:
            group["exportConfig"] = export_config
        if tags is not None:
            group["tags"] = tags  # the given list replaces the group's tags, as in AWS
        group["lastModified"] = time.time()
        return json_response(req, {"reportGroup": public_report_group(group)})


def codebuild_delete_report_group(shim: Shim, req: AwsRequest) -> Response:
    arn = require(req.params, "arn")
    with shim.state.lock:
        if arn not in shim.state.report_groups:
            # DeleteReportGroup models no not-found error (only InvalidInputException),
            # like DeleteProject: deleting an absent group succeeds.
            return json_response(req, {})
        if shim.state.reports.get(arn) and not req.params.get("deleteReports"):
            # API reference: "If you call DeleteReportGroup for a report group that
            # contains one or more reports, an exception is thrown." (InvalidInputException)
            raise AwsError("InvalidInputException", f"Cannot delete report group {arn} because it contains reports")
        del shim.state.report_groups[arn]
        shim.state.reports.pop(arn, None)
    return json_response(req, {})


def codebuild_list_reports_for_report_group(shim: Shim, req: AwsRequest) -> Response:
    with shim.state.lock:
        group = find_report_group(shim, req, "reportGroupArn")
        wanted = (req.params.get("filter") or {}).get("status")
        if wanted is not None and wanted not in REPORT_STATUSES:
            raise AwsError("InvalidInputException", f"Invalid report status {wanted!r}: use one of {list(REPORT_STATUSES)}")
        reports = [r for r in shim.state.reports.get(group["arn"], []) if wanted is None or r["status"] == wanted]
        if sort_order(req, "DESCENDING"):
            reports = reports[::-1]
        arns, token = page([r["arn"] for r in reports], req)
    payload: dict[str, Any] = {"reports": arns}
    if token:
        payload["nextToken"] = token
    return json_response(req, payload)


def all_reports(shim: Shim) -> dict[str, dict[str, Any]]:
    """Every report by ARN (caller holds the lock)."""
    return {report["arn"]: report for reports in shim.state.reports.values() for report in reports}


def codebuild_batch_get_reports(shim: Shim, req: AwsRequest) -> Response:
    arns = require(req.params, "reportArns")
    if not isinstance(arns, list) or len(arns) > 100:
        raise AwsError("InvalidInputException", "reportArns must be a list of 1 to 100 ARNs")
    with shim.state.lock:
        known = all_reports(shim)
        return json_response(
            req,
            {
                "reports": [known[arn] for arn in arns if arn in known],
                "reportsNotFound": [arn for arn in arns if arn not in known],
            },
        )


def codebuild_delete_report(shim: Shim, req: AwsRequest) -> Response:
    arn = require(req.params, "arn")
    with shim.state.lock:
        for reports in shim.state.reports.values():
            reports[:] = [report for report in reports if report["arn"] != arn]
    return json_response(req, {})


def tagging_get_resources(shim: Shim, req: AwsRequest) -> Response:
    """moto's GetResources, plus the shim's tagged report groups on the last page."""
    response = shim.forward(req)
    body = json_body(response) if response.status == 200 else None
    if body is None or body.get("PaginationToken"):
        return response
    type_filters = req.params.get("ResourceTypeFilters") or None
    arn_list = req.params.get("ResourceARNList") or None
    matches_tags = make_tag_matcher(req.params.get("TagFilters") or None)
    with shim.state.lock:
        groups = list(shim.state.report_groups.values())
    for group in groups:
        tags = {tag["key"]: tag["value"] for tag in group["tags"]}
        if (
            tags
            and group["arn"].split(":")[3] == req.region
            and match_resource_type("codebuild:report-group", type_filters)
            and matches_tags(tags)
            and (arn_list is None or group["arn"] in arn_list)
        ):
            body.setdefault("ResourceTagMappingList", []).append(
                {"ResourceARN": group["arn"], "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            )
    return response.with_body(json.dumps(body).encode())


# --------------------------------------------------------------------------
# CodeStar connections / CodeConnections
# --------------------------------------------------------------------------


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


# --------------------------------------------------------------------------
# S3 bucket policies
# --------------------------------------------------------------------------


def evaluable_policy(document: bytes) -> bytes | None:
    """The policy moto can evaluate, or None when no statement is left.

    moto enforces Deny statements but ignores their Condition, so a
    conditional Deny (typically "deny unless aws:SecureTransport") would deny
    everything over plain HTTP. Those statements are dropped.
    """
    try:
        policy = json.loads(document)
    except ValueError:
        return document
    if not isinstance(policy, dict):
        return document
    statements = policy.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        return document
    kept = [s for s in statements if not (isinstance(s, dict) and s.get("Effect") == "Deny" and "Condition" in s)]
    if len(kept) == len(statements):
        return document
    if not kept:
        return None
    return json.dumps({**policy, "Statement": kept}).encode()


def s3_put_bucket_policy(shim: Shim, req: AwsRequest) -> Response:
    bucket, _ = s3_bucket_and_key(req.environ, req.path)
    forwarded = evaluable_policy(req.body)
    if forwarded is None:
        # Nothing for moto to evaluate: clear whatever policy moto holds (this
        # also answers NoSuchBucket for an unknown bucket) and answer like AWS.
        response = shim.call_moto(req.environ, b"", method="DELETE", query_string="policy")
    elif forwarded is req.body:
        response = shim.forward(req)
    else:
        response = shim.forward(req, forwarded)
    if response.status < 300 and bucket:
        with shim.state.lock:
            shim.state.bucket_policies[bucket] = req.body
    return response


def s3_get_bucket_policy(shim: Shim, req: AwsRequest) -> Response | None:
    bucket, _ = s3_bucket_and_key(req.environ, req.path)
    with shim.state.lock:
        stored = shim.state.bucket_policies.get(bucket) if bucket else None
    if stored is None:
        return None
    return Response(
        200,
        [
            ("Content-Type", "application/json"),
            ("x-amz-request-id", request_id()),
            ("Content-Length", str(len(stored))),
        ],
        stored,
    )


def s3_forget_policy_on_success(shim: Shim, req: AwsRequest) -> Response:
    response = shim.forward(req)
    bucket, _ = s3_bucket_and_key(req.environ, req.path)
    if response.status < 300 and bucket:
        with shim.state.lock:
            shim.state.bucket_policies.pop(bucket, None)
    return response


def codepipeline_create_pipeline(shim: Shim, req: AwsRequest) -> Response:
    """AWS answers PipelineNameInUseException for a taken name; moto an InvalidStructureException."""
    pipeline = req.params.get("pipeline")
    name = pipeline.get("name") if isinstance(pipeline, dict) else None
    if isinstance(name, str) and name in pipeline_backend(req).pipelines:
        raise AwsError("PipelineNameInUseException", f"A pipeline with the name '{name}' already exists in account '{ACCOUNT_ID}'")
    return shim.forward(req)


def with_logging_config(shim: Shim, configuration: dict[str, Any]) -> None:
    """Adds the LoggingConfig AWS reports (the stored one, else AWS's default) to a configuration."""
    name = configuration.get("FunctionName")
    if not isinstance(name, str):
        return
    with shim.state.lock:
        stored = dict(shim.state.function_logging.get(name, {}))
    configuration["LoggingConfig"] = {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}", **stored}


def json_body(response: Response) -> dict[str, Any] | None:
    try:
        loaded = json.loads(response.body)
    except ValueError:
        return None
    return loaded if isinstance(loaded, dict) else None


def lambda_store_logging_config(shim: Shim, req: AwsRequest) -> Response:
    """CreateFunction / UpdateFunctionConfiguration: remember the LoggingConfig moto drops."""
    response = shim.forward(req)
    body = json_body(response) if response.status < 300 else None
    if body is None:
        return response
    logging_config = req.params.get("LoggingConfig")
    name = body.get("FunctionName")
    if isinstance(logging_config, dict) and isinstance(name, str):
        with shim.state.lock:
            merged = {**shim.state.function_logging.get(name, {}), **logging_config}
            shim.state.function_logging[name] = {k: v for k, v in merged.items() if k in ("LogFormat", "LogGroup")}
    with_logging_config(shim, body)
    return response.with_body(json.dumps(body).encode())


def lambda_report_logging_config(shim: Shim, req: AwsRequest) -> Response:
    """GetFunction / GetFunctionConfiguration: answer the LoggingConfig as AWS does."""
    response = shim.forward(req)
    body = json_body(response) if response.status < 300 else None
    if body is None:
        return response
    configuration = body.get("Configuration") if req.operation == "GetFunction" else body
    if isinstance(configuration, dict):
        with_logging_config(shim, configuration)
    return response.with_body(json.dumps(body).encode())


def lambda_forget_logging_config(shim: Shim, req: AwsRequest) -> Response:
    response = shim.forward(req)
    match = re.match(r"^/[0-9-]+/functions/([^/]+)/?$", req.path)
    if response.status < 300 and match and "Qualifier" not in req.query:
        name = unquote(match.group(1)).rsplit(":", 1)[-1]  # a name, or an ARN ending in it
        with shim.state.lock:
            shim.state.function_logging.pop(name, None)
    return response


def lambda_put_event_invoke_config(shim: Shim, req: AwsRequest) -> Response:
    """AWS replaces a function's invoke configuration; moto appends and keeps answering the first."""
    match = re.match(r"^/[0-9-]+/functions/([^/]+)/event-invoke-config", req.path)
    if match:
        name = unquote(match.group(1))
        try:
            function = lambda_backend(ACCOUNT_ID, req.region).get_function(name)
        except Exception:  # unknown function: moto answers the proper error below
            function = None
        if function is not None:
            previous = list(function.event_invoke_config)
            function.event_invoke_config = []
            response = shim.forward(req)
            if response.status >= 300:
                function.event_invoke_config = previous
            return response
    return shim.forward(req)


def s3_get_bucket_versioning(shim: Shim, req: AwsRequest) -> Response:
    """moto names the answer's root `GetBucketVersioningResponse`; AWS (and SDKs that check the
    root, like the Rust one) use `VersioningConfiguration`."""
    response = shim.forward(req)
    if response.status != 200:
        return response
    fixed = re.sub(rb"(</?)GetBucketVersioningResponse\b", rb"\1VersioningConfiguration", response.body)
    return response.with_body(fixed)


def ecr_put_image_scanning_configuration(shim: Shim, req: AwsRequest) -> Response:
    """AWS reads a missing `scanOnPush` as false, and SDKs leave a false boolean out
    (`"imageScanningConfiguration": {}`); moto ignores an empty configuration, so turning
    scanning off would silently do nothing. Spell the false out."""
    config = req.params.get("imageScanningConfiguration")
    if not isinstance(config, dict) or "scanOnPush" in config:
        return shim.forward(req)
    params = {**req.params, "imageScanningConfiguration": {**config, "scanOnPush": False}}
    return shim.forward(req, json.dumps(params).encode())


def ecr_get_authorization_token(shim: Shim, req: AwsRequest) -> Response:
    """GetAuthorizationToken as ECR answers it (Amazon ECR API Reference, GetAuthorizationToken and
    AuthorizationData: "a base64-encoded string that contains authorization data ... When the string is
    decoded, it is presented in the format user:password", `expiresAt` "The Unix time in seconds and
    milliseconds when the authorization token expires. Authorization tokens are valid for 12 hours.",
    `proxyEndpoint` "https://aws_account_id.dkr.ecr.region.amazonaws.com"). The password is an opaque
    random string the emulator's registry remembers with the caller's access key, so registry calls are
    judged as that caller's (README "ECR's registry"); moto's token would be accepted by nothing."""
    registries = req.params.get("registryIds") or [ACCOUNT_ID]
    valid = isinstance(registries, list) and all(isinstance(r, str) and re.fullmatch(r"\d{12}", r) for r in registries)
    if not valid:
        raise AwsError(
            "InvalidParameterException",
            "Invalid parameter at 'registryIds' failed to satisfy constraint: 'Member must satisfy constraint: "
            "[Member must satisfy regular expression pattern: [0-9]{12}]'",
        )
    now = time.time()
    key = access_key_id(req.environ)
    data = []
    with shim.state.lock:
        tokens = shim.state.registry_tokens
        for password in [p for p, token in tokens.items() if token.expires_at <= now]:
            del tokens[password]
        expires = now + shim.state.registry_token_seconds
        for registry in registries:
            password = secrets.token_urlsafe(96)
            tokens[password] = RegistryToken(password, key, req.region, registry, expires)
            data.append(
                {
                    "authorizationToken": base64.b64encode(f"AWS:{password}".encode()).decode(),
                    "expiresAt": round(expires, 3),
                    "proxyEndpoint": f"https://{registry}.dkr.ecr.{req.region}.amazonaws.com",
                }
            )
    return json_response(req, {"authorizationData": data})


def ecr_put_image(shim: Shim, req: AwsRequest) -> Response:
    """PutImage's refusals that moto lacks (Amazon ECR API Reference, PutImage errors):
    ImageDigestDoesNotMatchException "The specified image digest does not match the digest that Amazon ECR
    calculated for the image." for an `imageDigest` that is not the manifest's sha256, and
    ImageTagAlreadyExistsException "The specified image is tagged with a tag that already exists. The
    repository is configured for tag immutability." for another manifest under an immutable tag (moto says
    ImageAlreadyExistsException, which AWS keeps for the same image and tag pushed again).
    A mutable tag another image holds moves as a push moves it (ecr_record_image): the image it leaves stays,
    untagged unless it has other tags; moto would delete it (AWS sources in ecr_record_image; README "moto
    quirks handled")."""
    manifest = req.params.get("imageManifest")
    given = req.params.get("imageDigest")
    if isinstance(manifest, str) and isinstance(given, str) and given and given != ecr_manifest_digest(manifest):
        raise AwsError(
            "ImageDigestDoesNotMatchException",
            "The specified image digest does not match the digest that Amazon ECR calculated for the image.",
        )
    tag, name = req.params.get("imageTag"), req.params.get("repositoryName")
    if not (isinstance(tag, str) and isinstance(name, str) and isinstance(manifest, str)):
        return shim.forward(req)
    # Held through moto's call too, so no registry push moves the tag between this look and the put.
    with shim.state.lock:
        repository = ecr_repository(str(req.params.get("registryId") or ACCOUNT_ID), req.region, name)
        if repository is None:
            # moto raises a bare Exception here (a 500); ECR answers RepositoryNotFoundException (ECR API
            # Reference, PutImage errors), in the wording moto's other ECR operations use.
            registry_id = str(req.params.get("registryId") or ACCOUNT_ID)
            raise AwsError(
                "RepositoryNotFoundException",
                f"The repository with name '{name}' does not exist in the registry with id '{registry_id}'",
            )
        holders = [image for image in repository.images if tag in image.image_tags and image.image_manifest != manifest]
        if holders and ecr_tag_immutable(repository, tag):
            # The registry's TAG_INVALID text (see Shim.registry_put_manifest) is what the API sends too
            # (GoogleContainerTools/kaniko issue #3481 points at ImageTagAlreadyExistsException for it).
            raise AwsError(
                "ImageTagAlreadyExistsException",
                f"The image tag '{tag}' already exists in the '{name}' repository and cannot be overwritten "
                "because the tag is immutable.",
            )
        accepted, media_type = ecr_put_image_media_type(manifest, req.params.get("imageManifestMediaType"))
        if not holders or not accepted:
            # A tag no other image holds (a new image, or a new tag on this one), the same manifest and tag again
            # (moto: ImageAlreadyExistsException), or a manifest moto refuses: moto deletes nothing for these.
            return shim.forward(req)
        image = ecr_record_image(repository, manifest, media_type, ecr_manifest_digest(manifest), tag)
        return json_response(
            req,
            {
                # PutImage's answer, as moto gives it: the Image (ECR API Reference, Image: registryId,
                # repositoryName, imageId, imageManifest, imageManifestMediaType).
                "image": {
                    "registryId": image.registry_id,
                    "repositoryName": image.repository_name,
                    "imageId": {"imageDigest": image.get_image_digest(), "imageTag": tag},
                    "imageManifest": image.image_manifest,
                    "imageManifestMediaType": image.image_manifest_media_type,
                }
            },
        )


def ecr_put_image_media_type(manifest: str, given: Any) -> tuple[bool, Any]:
    """Whether moto's PutImage takes the manifest, and the media type it records: the `imageManifestMediaType`
    given, else the manifest's `mediaType`. moto refuses a manifest that is not JSON, and one with no media type
    either way (ECR API Reference, PutImage `imageManifestMediaType`: "If you push an image manifest that does
    not contain the mediaType field, you must specify the imageManifestMediaType in the request")."""
    try:
        parsed = json.loads(manifest)
    except ValueError:
        return False, None
    if not isinstance(parsed, dict):
        return False, None
    if given:
        return True, given
    return ("mediaType" in parsed), parsed.get("mediaType")


# --------------------------------------------------------------------------
# ECR's registry: the Docker Registry HTTP API v2 under /v2/ (README "ECR's registry")
# --------------------------------------------------------------------------

REGISTRY_BINARY = "docker-registry"  # Debian package docker-registry: the CNCF Distribution registry
REGISTRY_START_SECONDS = 10.0
# GetAuthorizationToken (Amazon ECR API Reference): "Authorization tokens are valid for 12 hours."
REGISTRY_TOKEN_SECONDS = 12 * 3600.0
# DescribeImageScanFindings polls a basic scan answers IN_PROGRESS before COMPLETE (POST /_shim/ecr/scan-polls).
ECR_SCAN_POLLS = 1
REGISTRY_API_VERSION = ("Docker-Distribution-Api-Version", "registry/2.0")
# What passes between client and docker-registry; Authorization stays here (the child has no auth).
REGISTRY_REQUEST_HEADERS = (
    ("CONTENT_TYPE", "Content-Type"),
    ("HTTP_ACCEPT", "Accept"),
    ("HTTP_RANGE", "Range"),
    ("HTTP_CONTENT_RANGE", "Content-Range"),
)
REGISTRY_RESPONSE_HEADERS = frozenset(
    {
        "location",
        "docker-content-digest",
        "docker-upload-uuid",
        "docker-distribution-api-version",
        "range",
        "content-range",
        "content-type",
        "content-length",
        "accept-ranges",
        "link",
        "etag",
    }
)
IMAGE_REFERENCE_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")
# /v2/NAME/(blobs|manifests|tags)/REST, NAME being everything before the last such keyword (names may
# contain slashes: `team/api`).
REGISTRY_PATH = re.compile(r"^/v2/(?P<name>.+)/(?P<kind>blobs|manifests|tags)/(?P<rest>[^/]*(?:/[^/]*)?)$")
_PR_SET_PDEATHSIG = 1


@dataclass
class RegistryRoute:
    """A registry call as the ECR action IAM judges it by (Amazon ECR User Guide, "IAM permissions for pushing
    an image to an Amazon ECR private repository": ecr:BatchCheckLayerAvailability, InitiateLayerUpload,
    UploadLayerPart, CompleteLayerUpload, PutImage, BatchGetImage; AWS managed policy
    AmazonEC2ContainerRegistryPullOnly: ecr:BatchGetImage, GetDownloadUrlForLayer)."""

    operation: str
    name: str
    reference: str = ""
    unsupported: bool = False


def registry_route(method: str, path: str) -> RegistryRoute | None:
    match = REGISTRY_PATH.match(path)
    if match is None:
        return None
    name, kind, rest = match.group("name"), match.group("kind"), match.group("rest")
    if kind == "tags":
        return RegistryRoute("ListImages", name) if rest == "list" and method == "GET" else None
    if kind == "manifests":
        if "/" in rest or not rest:
            return None
        operation = {"PUT": "PutImage", "GET": "BatchGetImage", "HEAD": "BatchGetImage"}.get(method)
        if operation is None:
            return RegistryRoute("BatchDeleteImage", name, rest, unsupported=True) if method == "DELETE" else None
        return RegistryRoute(operation, name, rest)
    if rest in ("uploads", "uploads/"):
        return RegistryRoute("InitiateLayerUpload", name) if method == "POST" else None
    if rest.startswith("uploads/"):
        # GET (the upload's status) and DELETE (cancelling it) count as parts of the upload.
        parts = {"PATCH": "UploadLayerPart", "GET": "UploadLayerPart", "DELETE": "UploadLayerPart"}
        operation = {**parts, "PUT": "CompleteLayerUpload"}.get(method)
        return RegistryRoute(operation, name, rest.split("/", 1)[1]) if operation else None
    if "/" in rest or not rest:
        return None
    operation = {"HEAD": "BatchCheckLayerAvailability", "GET": "GetDownloadUrlForLayer"}.get(method)
    if operation is None:
        return RegistryRoute("BatchDeleteImage", name, rest, unsupported=True) if method == "DELETE" else None
    return RegistryRoute(operation, name, rest)


def registry_request(environ: dict[str, Any]) -> bool:
    """Whether a request is for the registry: a path under /v2/ that is not SigV4-signed (the AWS REST APIs
    whose paths start with /v2/, API Gateway v2 and SES v2, sign their requests; registry clients send Basic
    credentials or none)."""
    path = environ.get("PATH_INFO", "")
    if path != "/v2" and not path.startswith("/v2/"):
        return False
    signed = environ.get("HTTP_AUTHORIZATION", "").startswith("AWS4-")
    return not signed and "X-Amz-Credential=" not in environ.get("QUERY_STRING", "")


def registry_target(path: str, query: str) -> str:
    return quote(path, safe="/:@+") + (f"?{query}" if query else "")


def registry_forward_headers(environ: dict[str, Any], method: str, body: bytes) -> dict[str, str]:
    headers = {name: environ[key] for key, name in REGISTRY_REQUEST_HEADERS if environ.get(key)}
    if body or method in ("PUT", "POST", "PATCH"):
        headers["Content-Length"] = str(len(body))  # the body was read whole (and de-chunked)
    return headers


def registry_json(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    body = json.dumps(payload).encode()
    return Response(
        status,
        [
            ("Content-Type", "application/json; charset=utf-8"),
            ("Content-Length", str(len(body))),
            REGISTRY_API_VERSION,
            *(headers or []),
        ],
        body,
    )


def registry_error(status: int, code: str, message: str) -> Response:
    """A registry error as the distribution spec shapes them: {"errors": [{"code", "message"}]}."""
    return registry_json(status, {"errors": [{"code": code, "message": message}]})


def registry_unauthorized(region: str = DEFAULT_REGION) -> Response:
    """ECR's answer to a registry call without credentials: 401, the Basic challenge and a plain-text body
    ("Curl OCI Registry", wom.icu 2023-09-11: `Www-Authenticate: Basic realm="https://ACCOUNT.dkr.ecr.
    us-east-1.amazonaws.com/",service="ecr.amazonaws.com"`, body "Not Authorized"; mayflower/docker-ls issue
    #28 quotes the same challenge; mdlavin/copy-docker-image issue #5 and argoproj/argo-workflows issue #13947
    show the body as the raw text "Not Authorized\\n", not a JSON error)."""
    body = b"Not Authorized\n"
    realm = f"https://{ACCOUNT_ID}.dkr.ecr.{region}.amazonaws.com/"
    return Response(
        401,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            REGISTRY_API_VERSION,
            ("WWW-Authenticate", f'Basic realm="{realm}",service="ecr.amazonaws.com"'),
        ],
        body,
    )


def registry_iam_request(environ: dict[str, Any], token: RegistryToken, route: RegistryRoute) -> AwsRequest:
    """The registry call as the ECR API call IAM judges, signed (in name) by the access key the token was
    issued to, so the enforcer finds the same identity and records grants and denials as for API calls."""
    signed: dict[str, Any] = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "QUERY_STRING": ""}
    if environ.get("REMOTE_ADDR"):
        signed["REMOTE_ADDR"] = environ["REMOTE_ADDR"]
    if token.access_key:
        day = time.strftime("%Y%m%d", time.gmtime())
        signed["HTTP_AUTHORIZATION"] = (
            f"AWS4-HMAC-SHA256 Credential={token.access_key}/{day}/{token.region}/ecr/aws4_request, "
            "SignedHeaders=host, Signature=registry"
        )
    return AwsRequest(
        environ=signed,
        method="POST",
        path="/",
        query={},
        body=b"",
        service="ecr",
        region=token.region,
        protocol="json",
        operation=route.operation,
        params={"repositoryName": route.name, "registryId": token.account},
    )


def registry_tags(environ: dict[str, Any], route: RegistryRoute, repository: Any) -> Response:
    """GET /v2/NAME/tags/list from moto's ECR (its tags are the truth), with the spec's `n` / `last` paging."""
    query = parse_qs(environ.get("QUERY_STRING", ""))
    with_tags = sorted({tag for image in list(repository.images) for tag in image.image_tags})
    last = (query.get("last") or [""])[0]
    if last:
        with_tags = [tag for tag in with_tags if tag > last]
    headers: list[tuple[str, str]] = []
    count = (query.get("n") or [""])[0]
    if count.isdigit() and int(count) < len(with_tags):
        with_tags = with_tags[: int(count)]
        if with_tags:
            link = registry_target(f"/v2/{route.name}/tags/list", urlencode({"n": count, "last": with_tags[-1]}))
            headers.append(("Link", f'<{link}>; rel="next"'))
    return registry_json(200, {"name": route.name, "tags": with_tags}, headers)


def manifest_media_type(body: bytes) -> str | None:
    try:
        loaded = json.loads(body)
    except ValueError:
        return None
    media_type = loaded.get("mediaType") if isinstance(loaded, dict) else None
    return media_type if isinstance(media_type, str) else None


def ecr_repository(account: str, region: str, name: str) -> Any:
    """moto's ECR repository `name` in that registry, or None (caller holds the lock)."""
    try:
        repository = ecr_backends[account][region].repositories.get(name)
    except KeyError:
        return None
    return repository if repository is not None and repository.registry_id == account else None


def ecr_tag_immutable(repository: Any, tag: str) -> bool:
    """Whether ECR keeps `tag` from moving (Amazon ECR API Reference, CreateRepository imageTagMutability:
    IMMUTABLE every tag; IMMUTABLE_WITH_EXCLUSION every tag but those an exclusion filter matches;
    MUTABLE_WITH_EXCLUSION only those; ImageTagMutabilityExclusionFilter: filterType WILDCARD, filter
    `^[0-9a-zA-Z._*-]{1,128}$`, `*` matching any characters)."""
    mode = repository.image_tag_mutability  # a str Enum in moto: compares equal to its value
    exclusions = repository.image_tag_mutability_exclusion_filters or []
    filters = [f.get("filter") for f in exclusions if isinstance(f, dict)]
    matched = any(isinstance(p, str) and fnmatch.fnmatchcase(tag, p) for p in filters)
    if mode in ("IMMUTABLE", "IMMUTABLE_WITH_EXCLUSION"):
        return not matched
    return mode == "MUTABLE_WITH_EXCLUSION" and matched


def ecr_record_image(repository: Any, manifest: str, media_type: str | None, digest: str, tag: str | None) -> Any:
    """Record a manifest as ECR records a push (a registry manifest PUT, or PutImage moving a tag): one image
    per digest (a new one unless the repository has the digest already), the tag moved onto it; the image the
    tag leaves keeps its other tags or stays in the repository untagged, its digest its only id — unlike moto's
    PutImage, which deletes it as BatchDeleteImage deletes an image whose last tag it removes. A push by digest
    records an untagged image. Caller holds the lock.
    No AWS page says in so many words what a moved tag leaves behind. The closest: Amazon ECR User Guide,
    "Deleting an image in Amazon ECR" (https://docs.aws.amazon.com/AmazonECR/latest/userguide/delete_image.html;
    its text as archived in awsdocs/amazon-ecr-user-guide, doc_source/delete_image.md): "Tagged images will
    have both an image digest as well as a list of associated tags. Untagged images will only have an image
    digest." The last tag going deletes an image only in BatchDeleteImage (ECR API Reference, BatchDeleteImage:
    "When you remove the last tag from an image, the image is deleted from your repository"); lifecycle
    policies' tagStatus `untagged` (User Guide, "Lifecycle policy properties in Amazon ECR") exists to expire
    such images. Observed on ECR: alantech/iasql pull request #1346 (2022), "Pushing twice to
    `<repositoryuri>:latest` but with different content" leaves the first image untagged in the repository."""
    image = next((candidate for candidate in repository.images if candidate.get_image_digest() == digest), None)
    if image is None:
        registry = repository.registry_id
        image = EcrImage(registry, tag, manifest, repository.name, media_type, digest, registry)
        repository.images.append(image)
    if tag is not None:
        for other in repository.images:
            if other is not image and tag in other.image_tags:
                other.remove_tag(tag)
                if not other.image_tags:
                    other.image_tag = None
        image.update_tag(tag)
    return image


def ecr_track_scan(state: ShimState, repository: Any, image: Any) -> EcrScan:
    """Start the simulated basic scan of `image` (its `last_scan` just set): IN_PROGRESS for the next
    `ecr_scan_polls` DescribeImageScanFindings calls about the image, COMPLETE from the poll after. Caller holds
    the lock. README "ECR's registry" (image scans).
    AWS: a basic scan takes a while. Amazon ECR API Reference, ImageScanStatus `status`: "The current state of
    an image scan", IN_PROGRESS | COMPLETE | FAILED | ...; DescribeImageScanFindings `imageScanStatus`: "The
    current state of the scan." (StartImageScan's answer has the same member; moto answers IN_PROGRESS). Amazon
    ECR User Guide, "Retrieving the findings for basic scans in Amazon ECR"
    (https://docs.aws.amazon.com/AmazonECR/latest/userguide/describe-scan-findings.html): "You can retrieve the
    scan findings for the last completed basic image scan", so a scan in progress has none. Observed right
    after a push to a scan-on-push repository: DescribeImageScanFindings answers `imageScanStatus:
    {status: "IN_PROGRESS"}` and no `imageScanFindings` (alexjurkiewicz/ecr-scan-image issue #3, 2020:
    "Cannot read property 'findingSeverityCounts' of undefined"; PR #4 then polls while IN_PROGRESS). The SDKs
    wait for it with the ImageScanComplete waiter, which polls DescribeImageScanFindings until
    `imageScanStatus.status` is COMPLETE (success) or FAILED (failure), every 5 s, at most 60 times (botocore
    data/ecr/2015-09-21/waiters-2.json)."""
    needed = state.ecr_scan_polls
    scan = EcrScan(needed=needed, started=image.last_scan, completed=needed == 0)
    state.ecr_scans[(repository.arn, image.get_image_digest())] = scan
    return scan


def ecr_scan_of(state: ShimState, repository: Any, image: Any) -> EcrScan | None:
    """The simulated scan of `image`, if the shim started the scan it last had (caller holds the lock)."""
    scan = state.ecr_scans.get((repository.arn, image.get_image_digest()))
    if scan is None or image.last_scan is None or scan.started != image.last_scan:
        return None
    return scan


def ecr_request_image(req: AwsRequest) -> tuple[Any, Any] | tuple[None, None]:
    """moto's repository and image the call's `registryId` / `repositoryName` / `imageId` name, or (None, None)
    when there is none (moto then answers its RepositoryNotFoundException / ImageNotFoundException). Caller holds
    the lock."""
    name, image_id = req.params.get("repositoryName"), req.params.get("imageId")
    if not isinstance(name, str) or not isinstance(image_id, dict):
        return None, None
    repository = ecr_repository(str(req.params.get("registryId") or ACCOUNT_ID), req.region, name)
    tag, digest = image_id.get("imageTag"), image_id.get("imageDigest")
    if repository is None or not (tag or digest):
        return None, None
    try:
        return repository, repository._get_image(tag, digest)
    except EcrImageNotFoundException:
        return None, None


# A completed basic scan's status: moto's, and AWS's wording too (aws/aws-sdk issue #289 shows a
# DescribeImageScanFindings answer with it).
ECR_SCAN_COMPLETE = {"status": "COMPLETE", "description": "The scan was completed successfully."}


def ecr_describe_image_scan_findings(shim: Shim, req: AwsRequest) -> Response:
    """Each DescribeImageScanFindings naming an image whose scan is in progress is one poll of it (ecr_track_scan):
    while polls remain it answers the scan IN_PROGRESS without `imageScanFindings`; the poll after completes the
    scan (moto's `imageScanCompletedAt` becomes the time of that poll) and moto answers the findings. Images
    without a scan stay moto's ScanNotFoundException."""
    with shim.state.lock:
        repository, image = ecr_request_image(req)
        scan = ecr_scan_of(shim.state, repository, image) if image is not None else None
        if scan is not None and scan.polls < scan.needed:
            scan.polls += 1
            image_id = {"imageDigest": image.get_image_digest()}
            if image.image_tag is not None:
                image_id["imageTag"] = image.image_tag  # the image's identity as moto answers it
            return json_response(
                req,
                {
                    "registryId": repository.registry_id,
                    "repositoryName": repository.name,
                    "imageId": image_id,
                    # What ECR answers while the scan runs (alexjurkiewicz/ecr-scan-image issue #3): the status
                    # and no findings (a description ECR may add is not on record, so none is sent).
                    "imageScanStatus": {"status": "IN_PROGRESS"},
                },
            )
        if scan is not None and not scan.completed:
            scan.completed = True
            image.last_scan = scan.started = datetime.datetime.now()
        return shim.forward(req)


def ecr_start_image_scan(shim: Shim, req: AwsRequest) -> Response:
    """StartImageScan is moto's (it answers IN_PROGRESS, and LimitExceededException for a second scan of an image
    the same day, the push's included: ECR API Reference, StartImageScan "A basic image scan can only be started
    once per 24 hours on an individual image. This limit includes if an image was scanned on initial push."); the
    scan it starts is then IN_PROGRESS for `ecr_scan_polls` DescribeImageScanFindings polls like a push's."""
    with shim.state.lock:
        response = shim.forward(req)
        if response.status == 200:
            repository, image = ecr_request_image(req)
            if image is not None and image.last_scan is not None:
                ecr_track_scan(shim.state, repository, image)
        return response


def ecr_describe_images(shim: Shim, req: AwsRequest) -> Response:
    """DescribeImages with the scan state moto leaves out (ECR API Reference, ImageDetail `imageScanStatus`:
    "The current state of the scan."; `imageScanFindingsSummary`: "A summary of the last completed image
    scan."): for a scanned image, IN_PROGRESS while its scan is (ecr_track_scan; DescribeImages is no poll and
    moves nothing on), else COMPLETE with the summary of the findings DescribeImageScanFindings answers."""
    with shim.state.lock:
        response = shim.forward(req)
        name, registry = req.params.get("repositoryName"), str(req.params.get("registryId") or ACCOUNT_ID)
        repository = ecr_repository(registry, req.region, name) if isinstance(name, str) else None
        if response.status != 200 or repository is None:
            return response
        answer = json.loads(response.body)
        changed = False
        for detail in answer.get("imageDetails") or []:
            digest = detail.get("imageDigest")
            image = next((i for i in repository.images if i.get_image_digest() == digest), None)
            if image is None or image.last_scan is None:
                continue  # never scanned: ECR leaves both members out
            changed = True
            scan = ecr_scan_of(shim.state, repository, image)
            if scan is not None and not scan.completed:
                detail["imageScanStatus"] = {"status": "IN_PROGRESS"}
                continue
            detail["imageScanStatus"] = dict(ECR_SCAN_COMPLETE)
            summary = ecr_scan_summary(repository, image)
            if summary:
                detail["imageScanFindingsSummary"] = summary
        return json_response(req, answer) if changed else response


def ecr_scan_summary(repository: Any, image: Any) -> dict[str, Any]:
    """ImageScanFindingsSummary (imageScanCompletedAt, vulnerabilitySourceUpdatedAt, findingSeverityCounts) of the
    findings moto's DescribeImageScanFindings gives the image by digest (caller holds the lock). moto's static
    findings are computed afresh; a result configured through moto's scan-finding-results API is bound to the
    digest's identifier here, as DescribeImageScanFindings by digest would bind it."""
    backend = ecr_backends[repository.account_id][repository.region_name]
    found = backend.describe_image_scan_findings(
        repository.registry_id, repository.name, {"imageDigest": image.get_image_digest()}
    )
    findings = found.get("imageScanFindings") if isinstance(found, dict) else None
    if not isinstance(findings, dict):
        return {}
    summary = {}
    for key in ("imageScanCompletedAt", "vulnerabilitySourceUpdatedAt", "findingSeverityCounts"):
        if key in findings:
            summary[key] = findings[key] if key == "findingSeverityCounts" else epoch_seconds(findings[key])
    return summary


def ecr_manifest_digest(manifest: str) -> str:
    """An image's digest: the sha256 of its manifest's bytes (Amazon ECR API Reference, ImageDetail
    `imageDigest`: "The sha256 digest of the image manifest."; OCI distribution spec: a manifest's digest
    is that of its content)."""
    return "sha256:" + hashlib.sha256(manifest.encode("utf-8", "surrogateescape")).hexdigest()


def _ecr_image_digest(image: Any) -> None:
    image._image_digest = ecr_manifest_digest(image.image_manifest)


def _ecr_image_size(image: Any) -> int | None:
    """Amazon ECR API Reference, ImageDetail `imageSizeInBytes`: "The size, in bytes, of the image in the
    repository ... the Docker client compresses image layers before pushing them to a V2 Docker registry":
    the sum of the (compressed) layer sizes the manifest lists. A manifest list's ("the max size of all
    manifests in the list") is not computed: None, as moto answers for it."""
    try:
        manifest = json.loads(image.image_manifest)
    except ValueError:
        return None
    layers = manifest.get("layers") if isinstance(manifest, dict) else None
    if not isinstance(layers, list):
        return None
    return sum(int(layer.get("size") or 0) for layer in layers if isinstance(layer, dict))


def fix_moto_ecr_images() -> None:
    """moto's image digest is the sha256 of the joined layer digests and its size the config blob's; ECR's
    are those of the manifest and its layers (README "moto quirks handled")."""
    EcrImage._create_digest = _ecr_image_digest
    EcrImage.get_image_size_in_bytes = _ecr_image_size


def _parent_death_signal() -> Callable[[], None] | None:
    """A preexec_fn making the child get SIGTERM when the shim dies, even by SIGKILL (prctl
    PR_SET_PDEATHSIG); None where libc has no prctl. libc is loaded here, before the fork."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def in_child() -> None:
        prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
        if os.getppid() != parent:  # the shim died before the signal was set up
            os._exit(1)

    return in_child


def sweep_registry_directories() -> None:
    """Remove the registry directories of shims that are gone (a SIGKILLed shim removes nothing itself);
    each directory is named after its shim's pid."""
    for path in glob.glob(os.path.join(tempfile.gettempdir(), "emulator-registry-*-*")):
        pid = os.path.basename(path).split("-")[2]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except OSError:  # alive, someone else's
            pass


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RegistryBackend:
    """The docker-registry child process that stores the blobs and manifests pushed to ECR's registry; the
    shim fronts it (README "ECR's registry"). Started on first need by a thread main() starts (see
    spawn_when_wanted), so neither the READY line nor a run that pushes nothing waits for it."""

    def __init__(self, reason: str | None = None) -> None:
        self.lock = threading.Lock()
        self.settled = threading.Event()  # startup finished, either way
        self.process: subprocess.Popen[bytes] | None = None
        self.directory: str | None = None
        self.address: str | None = None
        self.reason: str | None = reason
        self.stopping = False
        self.wanted = threading.Event()  # someone needs the registry: start it (spawn_when_wanted)
        if reason is not None:
            self.settled.set()

    @classmethod
    def start(cls) -> "RegistryBackend":
        none = "the emulator serves no image registry"
        if os.environ.get("EMULATOR_REGISTRY", "").strip().lower() == "off":
            return cls(f"the registry is turned off (EMULATOR_REGISTRY=off); {none}")
        named = os.environ.get("EMULATOR_REGISTRY_BINARY", "").strip()
        binary = shutil.which(named or REGISTRY_BINARY)
        if binary is None:
            if named:
                return cls(f"EMULATOR_REGISTRY_BINARY={named} is not an executable; {none}")
            return cls(f"docker-registry is not installed (Debian package docker-registry); {none}")
        backend = cls()
        threading.Thread(target=backend.spawn_when_wanted, args=(binary, none), name="registry", daemon=True).start()
        return backend

    def spawn_when_wanted(self, binary: str, none: str) -> None:
        """Started from the main thread; spawns the child at the first registry call or status request (most
        emulator runs push no image, and a child per run costs the start of each), then lives as long as the
        child: the child's parent-death signal fires when the thread that forked it ends."""
        self.wanted.wait()
        try:
            port = self.spawn(binary)
        except OSError as error:
            self.stop()
            self.reason = f"docker-registry ({binary}) could not be started: {error}; {none}"
            self.settled.set()
            return
        self.await_ready(port)

    def spawn(self, binary: str) -> int:
        sweep_registry_directories()
        self.directory = tempfile.mkdtemp(prefix=f"emulator-registry-{os.getpid()}-")
        port = _free_port()
        config = os.path.join(self.directory, "config.yml")
        with open(config, "w", encoding="utf-8") as out:
            out.write(
                "version: 0.1\n"
                "storage:\n"
                "  filesystem:\n"
                f"    rootdirectory: {os.path.join(self.directory, 'data')}\n"
                "  delete:\n"
                "    enabled: true\n"
                "http:\n"
                f"  addr: 127.0.0.1:{port}\n"
                "  relativeurls: true\n"
                f"  secret: {secrets.token_hex(16)}\n"
                "log:\n"
                "  level: warn\n"
                "  accesslog:\n"
                "    disabled: true\n"
            )
        with open(os.path.join(self.directory, "registry.log"), "ab") as logfile:
            self.process = subprocess.Popen(
                [binary, "serve", config],
                stdin=subprocess.DEVNULL,
                stdout=logfile,
                stderr=logfile,
                close_fds=True,
                preexec_fn=_parent_death_signal(),
            )
        return port

    def await_ready(self, port: int) -> None:
        """Poll GET /v2/ until docker-registry answers (at most REGISTRY_START_SECONDS); then watch it."""
        process = self.process
        assert process is not None
        deadline = time.monotonic() + REGISTRY_START_SECONDS
        while time.monotonic() < deadline and process.poll() is None and not self.stopping:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
            try:
                connection.request("GET", "/v2/")
                if connection.getresponse().status == 200:
                    with self.lock:
                        self.address = f"127.0.0.1:{port}"
                    break
            except OSError:
                pass
            finally:
                connection.close()
            time.sleep(0.05)
        with self.lock:
            if self.address is None and self.reason is None:
                code = process.poll()
                said = self.log_tail()
                if code is not None:
                    failure = f"docker-registry exited with code {code} at startup"
                else:
                    failure = f"docker-registry did not answer within {REGISTRY_START_SECONDS:.0f} s"
                self.reason = failure + (f": {said}" if said else "") + "; the emulator serves no image registry"
        if self.address is None and process.poll() is None:
            process.kill()
        self.settled.set()
        if self.address is None:
            return
        code = process.wait()
        with self.lock:
            if not self.stopping:
                self.address = None
                self.reason = f"docker-registry exited with code {code}: {self.log_tail()}"

    def log_tail(self) -> str:
        try:
            path = os.path.join(self.directory or "", "registry.log")
            with open(path, encoding="utf-8", errors="replace") as logfile:
                lines = [line.strip() for line in logfile if line.strip()]
        except OSError:
            return ""
        return lines[-1][:300] if lines else ""

    def status(self, wait: bool = False) -> tuple[bool, str | None, str | None]:
        """(running, backend address, reason it is not running); waits for startup when asked."""
        self.wanted.set()
        if wait:
            self.settled.wait(REGISTRY_START_SECONDS + 1.0)
        with self.lock:
            if self.address is not None:
                return True, self.address, None
            return False, None, self.reason or "docker-registry is still starting"

    def request(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Response:
        """One call to docker-registry; its answer with the headers a registry client needs."""
        with self.lock:
            address = self.address
        if address is None:
            return registry_error(503, "UNAVAILABLE", self.reason or "docker-registry is not running")
        host, _, port = address.rpartition(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=300)
        try:
            connection.request(method, target, body=body if "Content-Length" in headers else None, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
            kept = [(name, value) for name, value in answer.getheaders() if name.lower() in REGISTRY_RESPONSE_HEADERS]
            return Response(answer.status, kept, data, answer.reason)
        except OSError as error:
            return registry_error(503, "UNAVAILABLE", f"docker-registry did not answer: {error}")
        finally:
            connection.close()

    def stop(self) -> None:
        """Stop the child and remove its directory (the shim's exits call os._exit, so nothing else would)."""
        with self.lock:
            self.stopping = True
            process, directory = self.process, self.directory
            self.address = None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if directory:
            shutil.rmtree(directory, ignore_errors=True)


# --------------------------------------------------------------------------
# Images marked bad (ECS tasks fail to start, Lambda cannot run the image)
# --------------------------------------------------------------------------

IMAGE_DIGEST = re.compile(r"sha256:[A-Fa-f0-9]+")


def image_marked_bad(state: ShimState, *images: str | None) -> bool:
    """Whether an image (its URI, or the sha256 digest it is pinned to) is on the bad-images list: an
    entry matches the same URI, or any URI containing the same digest (caller holds the lock)."""
    for marker in state.bad_images:
        marked_digest = IMAGE_DIGEST.search(marker)
        for image in images:
            if not image:
                continue
            if image == marker:
                return True
            digest = IMAGE_DIGEST.search(image)
            if marked_digest and digest and digest.group(0).lower() == marked_digest.group(0).lower():
                return True
    return False


# --------------------------------------------------------------------------
# ECS deployments (README "ECS rollouts")
# --------------------------------------------------------------------------

# What ECS reports for a service created without one (ECS API Reference, DeploymentConfiguration:
# maximumPercent defaults to 200 and minimumHealthyPercent to 100 for a REPLICA service; the
# circuit breaker is off unless turned on).
ECS_DEFAULT_DEPLOYMENT_CONFIGURATION: dict[str, Any] = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}
ECS_MAX_EVENTS = 100  # DescribeServices returns the 100 most recent service events
ECS_TARGET = "AmazonEC2ContainerServiceV20141113"


def ecs_backend(req: AwsRequest) -> Any:
    return ecs_backends[ACCOUNT_ID][req.region]


def ecs_cluster_name(value: Any) -> str:
    text = str(value or "default")  # a name or an ARN (cluster/NAME); ECS's default cluster is `default`
    return text.rsplit("/", 1)[-1]


def ecs_find_service(backend: Any, cluster: Any, service: Any) -> Any:
    """moto's service for a cluster and a service name or ARN, ACTIVE or not; None when unknown."""
    name = str(service or "").rsplit("/", 1)[-1]
    return backend.services.get(f"{ecs_cluster_name(cluster)}:{name}")


def ecs_task_definition(backend: Any, reference: str) -> Any:
    """The task definition UpdateService names (FAMILY, FAMILY:REVISION or an ARN; a bare family is its
    latest ACTIVE revision), refused as ECS refuses it: `ClientException` "TaskDefinition not found."
    (ECS's answer for an unknown revision), "TaskDefinition is inactive" for a deregistered one (as
    AWS answers UpdateService, aws-cdk issue #33195)."""
    family, _, revision = reference.rsplit("/", 1)[-1].partition(":")
    revisions = backend.task_definitions.get(family) or {}
    if revision:
        found = revisions.get(int(revision)) if revision.isdigit() else None
    else:
        active = [td for td in revisions.values() if td.status == "ACTIVE"]
        found = max(active, key=lambda td: td.revision) if active else None
    if found is None:
        raise AwsError("ClientException", "TaskDefinition not found.")
    if found.status != "ACTIVE":
        raise AwsError("ClientException", "TaskDefinition is inactive")
    return found


def ecs_deployment_id() -> str:
    # ECS deployment ids are `ecs-svc/` and 19 digits, as ECS's service events and DescribeServices
    # answers show them (e.g. "(deployment ecs-svc/1571272475813219068) deployment failed: ...").
    return f"ecs-svc/{random.randint(10**18, 10**19 - 1)}"


def ecs_new_deployment(service: Any, task_definition: str, reason: str | None = None) -> dict[str, Any]:
    """A PRIMARY deployment starting (the ECS API Reference's Deployment data type): no task running yet,
    rolloutState IN_PROGRESS with ECS's reason "ECS deployment ID in progress." (ECS Developer Guide,
    "Amazon ECS service deployment state change events")."""
    now = utcnow()
    deployment_id = ecs_deployment_id()
    template = service.deployments[0] if service.deployments else {}
    return {
        "id": deployment_id,
        "status": "PRIMARY",
        "taskDefinition": task_definition,
        "desiredCount": service.desired_count,
        "pendingCount": service.desired_count,
        "runningCount": 0,
        "failedTasks": 0,
        "createdAt": now,
        "updatedAt": now,
        "launchType": template.get("launchType", service.launch_type),
        "platformVersion": template.get("platformVersion"),
        "platformFamily": template.get("platformFamily"),
        "networkConfiguration": template.get("networkConfiguration"),
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": reason or f"ECS deployment {deployment_id} in progress.",
    }


def ecs_event(service: Any, message: str) -> None:
    """A service event as ECS words them ("(service NAME) ..."), newest first."""
    service.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": utcnow(), "message": f"(service {service.name}) {message}"})
    del service.events[ECS_MAX_EVENTS:]


def ecs_failure_threshold(desired: int) -> int:
    # ECS API Reference, ServiceDeploymentCircuitBreaker: "a minimum threshold of 3 and a maximum
    # threshold of 200", from "0.5 * desired task count".
    return min(200, max(3, math.ceil(0.5 * desired)))


def ecs_breaker(service: Any) -> dict[str, Any]:
    config = getattr(service, "deployment_configuration", None) or {}
    breaker = config.get("deploymentCircuitBreaker") if isinstance(config, dict) else None
    return breaker if isinstance(breaker, dict) else {}


def ecs_task_definition_images(backend: Any, arn: str) -> list[str]:
    family, _, revision = arn.rsplit("/", 1)[-1].partition(":")
    found = (backend.task_definitions.get(family) or {}).get(int(revision)) if revision.isdigit() else None
    return [str(c.get("image") or "") for c in (found.container_definitions if found is not None else [])]


def ecs_start_deployment(shim: Shim, service: Any, task_definition: str) -> None:
    """UpdateService with a new task definition (or forceNewDeployment): a new PRIMARY deployment, the
    previous PRIMARY becomes ACTIVE until the new one completes (ECS API Reference, Deployment `status`:
    ACTIVE is a deployment that still has running tasks being replaced by the new PRIMARY one).
    Caller holds the lock."""
    tracked = shim.state.ecs_services.setdefault(service.arn, EcsServiceState())
    if tracked.stable is None:  # a service the shim did not see created: its completed deployment
        for deployment in service.deployments:
            if deployment.get("rolloutState") == "COMPLETED":
                tracked.stable = (deployment["id"], deployment["taskDefinition"])
    now = utcnow()
    for deployment in service.deployments:
        if deployment["status"] == "PRIMARY":
            deployment["status"] = "ACTIVE"
            deployment["updatedAt"] = now
    new = ecs_new_deployment(service, task_definition)
    service.deployments.insert(0, new)
    tracked.rollout = EcsRollout(new["id"], needed=shim.state.ecs_rollout_polls)


def ecs_complete(tracked: EcsServiceState, service: Any, deployment: dict[str, Any]) -> None:
    """The deployment reached a steady state: COMPLETED, the deployments it replaced gone, and the
    service events ECS posts ("(deployment ID) deployment completed.", "has reached a steady state.")."""
    deployment.update(
        rolloutState="COMPLETED",
        rolloutStateReason=f"ECS deployment {deployment['id']} completed.",
        runningCount=deployment["desiredCount"],
        pendingCount=0,
        updatedAt=utcnow(),
    )
    service.deployments[:] = [deployment]
    tracked.stable = (deployment["id"], deployment["taskDefinition"])
    tracked.rollout = None
    ecs_event(service, f"(deployment {deployment['id']}) deployment completed.")
    ecs_event(service, "has reached a steady state.")


def ecs_fail(shim: Shim, tracked: EcsServiceState, service: Any, deployment: dict[str, Any]) -> None:
    """The circuit breaker stops a deployment whose tasks keep failing to start (ECS Developer Guide,
    "How the Amazon ECS deployment circuit breaker detects failures"): rolloutState FAILED with the
    reason ECS gives, "ECS deployment circuit breaker: tasks failed to start." (as DescribeServices
    shows it; the Developer Guide's EventBridge example has "task failed to start."), failedTasks at the
    threshold, and the event "(deployment ID) deployment failed: tasks failed to start.". With rollback
    on, ECS rolls back to the last deployment that completed: a new PRIMARY deployment of its task
    definition whose reason is "ECS deployment circuit breaker: rolling back to deploymentId ID." (the
    Developer Guide's rollback event), the event "rolling back to deployment ID.", and the failed
    deployment ACTIVE until the rollback completes."""
    now = utcnow()
    deployment.update(
        rolloutState="FAILED",
        rolloutStateReason="ECS deployment circuit breaker: tasks failed to start.",
        failedTasks=ecs_failure_threshold(deployment["desiredCount"]),
        runningCount=0,
        pendingCount=0,
        updatedAt=now,
    )
    ecs_event(service, f"(deployment {deployment['id']}) deployment failed: tasks failed to start.")
    rollout = tracked.rollout
    tracked.rollout = None
    stable = tracked.stable
    if (
        not ecs_breaker(service).get("rollback")
        or rollout is None
        or rollout.rollback
        or stable is None
        or stable[1] == deployment["taskDefinition"]
    ):
        return  # no rollback: the service stays on the failed deployment's task definition
    stable_id, stable_task_definition = stable
    previous = next((d for d in service.deployments if d["taskDefinition"] == stable_task_definition and d is not deployment), None)
    deployment["status"] = "ACTIVE"
    back = ecs_new_deployment(
        service, stable_task_definition, f"ECS deployment circuit breaker: rolling back to deploymentId {stable_id}."
    )
    if previous is not None:  # the tasks the last completed deployment still runs
        back["runningCount"] = min(previous.get("runningCount") or 0, back["desiredCount"])
        back["pendingCount"] = back["desiredCount"] - back["runningCount"]
    service.deployments[:] = [back, deployment]
    service.task_definition = stable_task_definition
    tracked.rollout = EcsRollout(back["id"], needed=shim.state.ecs_rollout_polls, rollback=True)
    ecs_event(service, f"rolling back to deployment {stable_id}.")


def ecs_advance(shim: Shim, backend: Any, service: Any) -> None:
    """One DescribeServices poll of a service: its deployment in progress stays IN_PROGRESS for the
    configured number of polls, then completes; one whose image is marked bad gains a failed task per
    poll and, with the circuit breaker on, fails at the next poll after that (with rollback, ECS rolls
    back); without the circuit breaker it stays IN_PROGRESS, ECS launching tasks again and again.
    Caller holds the lock."""
    tracked = shim.state.ecs_services.get(service.arn)
    rollout = tracked.rollout if tracked is not None else None
    if tracked is None or rollout is None:
        return
    deployment = next((d for d in service.deployments if d["id"] == rollout.deployment_id), None)
    if deployment is None or deployment.get("rolloutState") != "IN_PROGRESS":
        tracked.rollout = None
        return
    rollout.polls += 1
    bad = image_marked_bad(shim.state, *ecs_task_definition_images(backend, deployment["taskDefinition"]))
    breaker = ecs_breaker(service).get("enable") is True
    if rollout.polls <= rollout.needed or (bad and not breaker):
        if bad:
            failed = deployment["failedTasks"] + 1
            if breaker:
                failed = min(failed, ecs_failure_threshold(deployment["desiredCount"]) - 1)
            deployment.update(failedTasks=failed, updatedAt=utcnow())
        return
    if bad:
        ecs_fail(shim, tracked, service, deployment)
    else:
        ecs_complete(tracked, service, deployment)


def ecs_service_as_described(shim: Shim, req: AwsRequest, service: Any, tags: bool) -> dict[str, Any]:
    """The service as moto's DescribeServices serializes it (after the shim changed it); not a poll."""
    env = {
        key: value
        for key, value in req.environ.items()
        if key != "HTTP_CONTENT_MD5" and not key.startswith("HTTP_X_AMZ_CHECKSUM_")
    }
    env["HTTP_X_AMZ_TARGET"] = f"{ECS_TARGET}.DescribeServices"
    env["REQUEST_METHOD"] = "POST"
    body: dict[str, Any] = {"cluster": service.cluster_arn, "services": [service.arn]}
    if tags:
        body["include"] = ["TAGS"]
    answer = json_body(shim.call_moto(env, json.dumps(body).encode())) or {}
    services = answer.get("services") or [{}]
    return services[0]


def ecs_create_service(shim: Shim, req: AwsRequest) -> Response:
    """moto drops deploymentConfiguration and reports the first deployment IN_PROGRESS with no task
    running for good. The service starts settled: its deploymentConfiguration (with AWS's defaults),
    one PRIMARY deployment COMPLETED with every task running, the steady-state event."""
    with shim.state.lock:
        response = shim.forward(req)
        if response.status >= 300:
            return response
        service = ecs_find_service(ecs_backend(req), req.params.get("cluster"), req.params.get("serviceName"))
        if service is None:
            return response
        config = copy.deepcopy(ECS_DEFAULT_DEPLOYMENT_CONFIGURATION)
        given = req.params.get("deploymentConfiguration")
        if isinstance(given, dict):
            config.update(copy.deepcopy(given))
        service.deployment_configuration = config
        service.events = []
        service.running_count = service.desired_count
        service.pending_count = 0
        tracked = EcsServiceState()
        shim.state.ecs_services[service.arn] = tracked
        if service.deployments:
            deployment = service.deployments[0]
            deployment["id"] = ecs_deployment_id()
            deployment["desiredCount"] = service.desired_count
            ecs_complete(tracked, service, deployment)
        return json_response(req, {"service": ecs_service_as_described(shim, req, service, tags=True)})


def ecs_describe_services(shim: Shim, req: AwsRequest) -> Response:
    """Each DescribeServices naming a service is a poll of its deployment in progress (ecs_advance)."""
    with shim.state.lock:
        backend = ecs_backend(req)
        seen: set[str] = set()
        for name in req.params.get("services") or []:
            service = ecs_find_service(backend, req.params.get("cluster"), name)
            if service is None or service.arn in seen or service.status != "ACTIVE":
                continue
            seen.add(service.arn)
            ecs_advance(shim, backend, service)
        return shim.forward(req)


def ecs_update_service(shim: Shim, req: AwsRequest) -> Response:
    """UpdateService as ECS does it: a deleted (INACTIVE) service answers `ServiceNotActiveException`
    "Service was not ACTIVE." (ECS API Reference, UpdateService errors: "The specified service isn't
    active"; the message as AWS sends it, alchemy-run/alchemy PR #1581), where moto updates it; the
    task definition is stored as its ARN (moto keeps whatever string was sent); a new task definition
    (or forceNewDeployment) starts a new deployment (ecs_start_deployment); deploymentConfiguration is
    merged into the service's."""
    params = req.params
    with shim.state.lock:
        backend = ecs_backend(req)
        if ecs_cluster_name(params.get("cluster")) not in backend.clusters:
            return shim.forward(req)  # moto: ClusterNotFoundException
        service = ecs_find_service(backend, params.get("cluster"), params.get("service"))
        if service is None:
            return shim.forward(req)  # moto: ServiceNotFoundException "Service not found."
        if service.status != "ACTIVE":
            raise AwsError("ServiceNotActiveException", "Service was not ACTIVE.")
        body = dict(params)
        force = bool(body.pop("forceNewDeployment", False))
        new_task_definition = None
        if params.get("taskDefinition"):
            new_task_definition = ecs_task_definition(backend, str(params["taskDefinition"])).arn
            body["taskDefinition"] = new_task_definition
        old_task_definition = service.task_definition
        config = copy.deepcopy(getattr(service, "deployment_configuration", None) or ECS_DEFAULT_DEPLOYMENT_CONFIGURATION)
        response = shim.forward(req, json.dumps(body).encode())
        if response.status >= 300:
            return response
        given = params.get("deploymentConfiguration")
        if isinstance(given, dict):
            config.update(copy.deepcopy(given))
        service.deployment_configuration = config
        if service.deployments:
            primary = service.deployments[0]
            if primary.get("status") == "PRIMARY" and primary["desiredCount"] != service.desired_count:
                primary["desiredCount"] = service.desired_count
                if primary.get("rolloutState") == "COMPLETED":
                    primary.update(runningCount=service.desired_count, pendingCount=0, updatedAt=utcnow())
            target = new_task_definition or old_task_definition
            if force or (new_task_definition is not None and new_task_definition != old_task_definition):
                ecs_start_deployment(shim, service, target)
        return json_response(req, {"service": ecs_service_as_described(shim, req, service, tags=False)})


def ecs_delete_service(shim: Shim, req: AwsRequest) -> Response:
    with shim.state.lock:
        service = ecs_find_service(ecs_backend(req), req.params.get("cluster"), req.params.get("service"))
        response = shim.forward(req)
        if response.status < 300 and service is not None:
            shim.state.ecs_services.pop(service.arn, None)
        return response


def ecs_list_task_definitions(shim: Shim, req: AwsRequest) -> Response:
    """moto ignores `sort` and `maxResults`. ECS API Reference, ListTaskDefinitions: "By default (ASC),
    task definitions are listed lexicographically by family name and in ascending numerical order by
    revision ... Setting this parameter to DESC reverses the sort order on family name and revision";
    maxResults 1-100 (default 100) with a nextToken; `familyPrefix` is "the full family name", matched
    whole (AWS lists nothing for a shorter prefix, as getmoto/moto PR #2602 shows with the CLI)."""
    params = req.params
    family = params.get("familyPrefix")
    status = params.get("status") or "ACTIVE"
    order = params.get("sort") or "ASC"
    if status not in ("ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS"):
        raise AwsError("InvalidParameterException", f"Invalid status {status!r}: use ACTIVE, INACTIVE or DELETE_IN_PROGRESS")
    if order not in ("ASC", "DESC"):
        raise AwsError("InvalidParameterException", f"Invalid sort {order!r}: use ASC or DESC")
    limit = params.get("maxResults", 100)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
        raise AwsError("InvalidParameterException", "maxResults must be between 1 and 100.")
    token = params.get("nextToken") or "0"
    if not (isinstance(token, str) and token.isdigit()):
        raise AwsError("InvalidParameterException", "Invalid nextToken.")
    with shim.state.lock:
        found = sorted(
            (td.family, td.revision, td.arn)
            for name, revisions in ecs_backend(req).task_definitions.items()
            if family in (None, "", name)
            for td in revisions.values()
            if td.status == status
        )
    if order == "DESC":
        found.reverse()
    start = int(token)
    payload: dict[str, Any] = {"taskDefinitionArns": [arn for _, _, arn in found[start : start + limit]]}
    if start + limit < len(found):
        payload["nextToken"] = str(start + limit)
    return json_response(req, payload)


# --------------------------------------------------------------------------
# Lambda container images, image updates, versions and aliases (README "Lambda container images")
# --------------------------------------------------------------------------

LAMBDA_PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")


def lambda_json(payload: dict[str, Any], status: int = 200) -> Response:
    body = json.dumps(payload).encode()
    return Response(
        status,
        [("Content-Type", "application/json"), ("x-amzn-RequestId", request_id()), ("Content-Length", str(len(body)))],
        body,
    )


def lambda_reference(req: AwsRequest) -> str | None:
    match = re.match(r"^/[0-9-]+/functions/([^/]+)", req.path)
    return unquote(match.group(1)) if match else None


def lambda_qualifier(req: AwsRequest) -> str | None:
    """The qualifier a request names: `?Qualifier=` or embedded in the function name or ARN."""
    reference = lambda_reference(req) or ""
    qualifier = (req.query.get("Qualifier") or [None])[0]
    parts = lambda_function_arn(reference, qualifier, ACCOUNT_ID, req.region).split(":")
    return parts[7] if len(parts) > 7 else None


def lambda_entry(req: AwsRequest) -> tuple[Any, str, str]:
    """(moto's $LATEST function or None, its unqualified ARN, its name) for the function in the path."""
    arn = ":".join(lambda_function_arn(lambda_reference(req) or "", None, ACCOUNT_ID, req.region).split(":")[:7])
    name = arn.split(":")[6]
    entry = lambda_backend(ACCOUNT_ID, req.region)._lambdas._functions.get(name)
    return (entry or {}).get("latest"), arn, name


def lambda_published(req: AwsRequest, name: str) -> list[Any]:
    entry = lambda_backend(ACCOUNT_ID, req.region)._lambdas._functions.get(name) or {}
    return list(entry.get("versions") or [])


def lambda_unshare_code(req: AwsRequest, name: str) -> None:
    """moto publishes a version as copy.copy($LATEST), so the version shares $LATEST's `code` dict and a
    later UpdateFunctionCode rewrites the published version's ImageUri too; a published version's code
    is immutable (Lambda Developer Guide, "Manage Lambda function versions"). Each gets its own."""
    entry = lambda_backend(ACCOUNT_ID, req.region)._lambdas._functions.get(name) or {}
    latest = entry.get("latest")
    for version in entry.get("versions") or []:
        if latest is not None and version.code is latest.code:
            version.code = dict(latest.code)


def lambda_refuse_while_updating(shim: Shim, arn: str) -> None:
    """Lambda Developer Guide, "Lambda function states": while LastUpdateStatus is InProgress,
    UpdateFunctionCode, UpdateFunctionConfiguration and PublishVersion fail; AWS answers 409
    ResourceConflictException "The operation cannot be performed at this time. An update is in progress
    for resource: ARN" (the unqualified function ARN). Caller holds the lock."""
    update = shim.state.lambda_updates.get(arn)
    if update is not None and update.status == "InProgress":
        raise AwsError(
            "ResourceConflictException",
            f"The operation cannot be performed at this time. An update is in progress for resource: {arn}",
            409,
        )


def lambda_pull_permission(shim: Shim, req: AwsRequest, repository: Any, image: dict[str, str], function_arn: str) -> None:
    """Lambda Developer Guide, "Amazon ECR permissions" (images-create): the repository policy must let
    the Lambda service principal ecr:BatchGetImage and ecr:GetDownloadUrlForLayer; "If the Amazon ECR
    repository does not include these permissions, Lambda adds ecr:BatchGetImage and
    ecr:GetDownloadUrlForLayer to the container image repository permissions. Lambda can add these
    permissions only if the Principal calling Lambda has ecr:getRepositoryPolicy and
    ecr:setRepositoryPolicy permissions." Otherwise AWS answers 403 AccessDeniedException "Lambda does not
    have permission to access the ECR image. Check the ECR permissions." (the message AWS sends,
    aws-samples/bedrock-access-gateway issue #127; re:Post knowledge center "lambda-ecr-image").
    Lambda asks as itself, so `aws:SourceArn` (the function) and `aws:SourceAccount` are set, as in the
    guide's cross-account example."""
    keys = {"aws:SourceArn": function_arn, "aws:SourceAccount": ACCOUNT_ID}

    def lambda_may(document: Any) -> bool:
        return all(
            evaluate(
                RequestContext(
                    action=action,
                    resources=[repository.arn],
                    service_principal="lambda.amazonaws.com",
                    account=image["registry"],
                    condition_keys=keys,
                ),
                [],
                document,
                resource_policy_required=True,
            ).allowed
            for action in LAMBDA_PULL_ACTIONS
        )

    if repository.policy and lambda_may(repository.policy):
        return
    ref = ("ecr", image["region"], image["registry"], image["name"])
    refused = AwsError(
        "AccessDeniedException", "Lambda does not have permission to access the ECR image. Check the ECR permissions.", 403
    )
    if not all(shim.iam.may(req, action, repository.arn, ref) for action in ("ecr:GetRepositoryPolicy", "ecr:SetRepositoryPolicy")):
        raise refused
    try:
        document = json.loads(repository.policy) if repository.policy else {"Version": "2012-10-17", "Statement": []}
    except ValueError:
        raise refused from None
    if not isinstance(document, dict):
        raise refused
    statements = document.get("Statement")
    statements = [statements] if isinstance(statements, dict) else list(statements or [])
    statements.append(
        {
            "Sid": "LambdaECRImageRetrievalPolicy",
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": list(LAMBDA_PULL_ACTIONS),
        }
    )
    document["Statement"] = statements
    repository.policy = json.dumps(document)


def lambda_image(shim: Shim, req: AwsRequest, uri: str, function_arn: str) -> tuple[str, int]:
    """What Lambda checks of a container image before taking it: an Amazon ECR image URI with a tag or a
    digest, in the function's region (Lambda Developer Guide, "Create a Lambda function using a
    container image": "The Amazon ECR repository must be in the same AWS Region as the Lambda
    function"), that exists in the emulator's ECR; AWS answers InvalidParameterValueException "Source
    image URI is not valid. Provide a valid source image." otherwise (the message AWS sends,
    aws-samples/bedrock-access-gateway issue #205); then the repository policy (lambda_pull_permission).
    Returns the image's digest without `sha256:` (Lambda's CodeSha256 for an image) and its size."""
    invalid = AwsError("InvalidParameterValueException", f"Source image {uri} is not valid. Provide a valid source image.")
    image = ecr_image_reference(uri)
    if image is None or image["region"] != req.region:
        raise invalid
    repository = ecr_backends[image["registry"]][image["region"]].repositories.get(image["name"])
    if repository is None or repository.registry_id != image["registry"]:
        raise invalid
    found = next(
        (
            candidate
            for candidate in repository.images
            if ("tag" in image and image["tag"] in candidate.image_tags)
            or ("digest" in image and candidate.get_image_digest() == image["digest"])
        ),
        None,
    )
    if found is None:
        raise invalid
    lambda_pull_permission(shim, req, repository, image, function_arn)
    return found.get_image_digest().split(":", 1)[1], int(found.get_image_size_in_bytes() or 0)


def lambda_settle_image(req: AwsRequest, name: str, uri: str, digest: str, size: int) -> None:
    """moto (MOTO_LAMBDA_STUB_ECR, its default) takes sha256(ImageUri) as the code hash; Lambda's is the
    image digest the tag resolved to. Fixes $LATEST and any version moto published with it."""
    stub = hashlib.sha256(uri.encode("utf-8")).hexdigest()
    entry = lambda_backend(ACCOUNT_ID, req.region)._lambdas._functions.get(name) or {}
    for fn in [entry.get("latest"), *(entry.get("versions") or [])]:
        if fn is not None and fn.code_sha_256 in (stub, digest):
            fn.code_sha_256 = digest
            fn.code_size = size
    lambda_unshare_code(req, name)


def lambda_decorate(shim: Shim, configuration: Any) -> None:
    """$LATEST's LastUpdateStatus during and after an image update (Lambda Developer Guide, "Lambda
    function states": State stays Active; while InProgress AWS reports LastUpdateStatusReason "The
    function is being created." with LastUpdateStatusReasonCode "Creating", as update-function-code
    answers show; Failed keeps its reason until the next update). Caller holds the lock."""
    if not isinstance(configuration, dict) or configuration.get("Version", "$LATEST") != "$LATEST":
        return
    update = shim.state.lambda_updates.get(":".join(str(configuration.get("FunctionArn", "")).split(":")[:7]))
    if update is None:
        return
    configuration["State"] = "Active"
    configuration["LastUpdateStatus"] = update.status
    configuration.pop("LastUpdateStatusReason", None)
    configuration.pop("LastUpdateStatusReasonCode", None)
    if update.reason:
        configuration["LastUpdateStatusReason"] = update.reason
    if update.reason_code:
        configuration["LastUpdateStatusReasonCode"] = update.reason_code


def lambda_advance(shim: Shim, fn: Any, arn: str) -> None:
    """One GetFunction / GetFunctionConfiguration poll of $LATEST: an image update stays InProgress for
    the configured number of polls, then is Successful, or Failed for an image marked bad: reason code
    InvalidImage (an enum value of LastUpdateStatusReasonCode in the Lambda API Reference) with the
    reason Lambda gives for an image it cannot run ("The image manifest or layer media type for the
    source image ... is not supported.", re:Post), and "Lambda aborts the update and the function's
    previous code and configuration remain available" ("Lambda function states"). Caller holds the lock."""
    update = shim.state.lambda_updates.get(arn)
    if update is None or update.status != "InProgress":
        return
    update.polls += 1
    if update.polls <= update.needed:
        return
    image = ecr_image_reference(fn.code.get("ImageUri"))
    resolved = (
        f"{image['registry']}.dkr.ecr.{image['region']}.amazonaws.com/{image['name']}@sha256:{fn.code_sha_256}"
        if image
        else str(fn.code.get("ImageUri"))
    )
    if image_marked_bad(shim.state, fn.code.get("ImageUri"), resolved):
        fn.code = dict(update.previous["code"])
        fn.code_sha_256 = update.previous["code_sha_256"]
        fn.code_size = update.previous["code_size"]
        update.status = "Failed"
        update.reason_code = "InvalidImage"
        update.reason = f"The image manifest or layer media type for the source image {resolved} is not supported."
    else:
        update.status = "Successful"
        update.reason = update.reason_code = None


def lambda_resolved_image(body: dict[str, Any]) -> None:
    """GetFunction's Code.ResolvedImageUri is the image pinned by digest (Lambda API Reference,
    FunctionCodeLocation); moto builds it by cutting the URI at its first `:` and appending sha256 of the
    URI. Rebuilt from the repository and the digest the function runs (its CodeSha256)."""
    code, configuration = body.get("Code"), body.get("Configuration")
    if not isinstance(code, dict) or not isinstance(configuration, dict):
        return
    image = ecr_image_reference(code.get("ImageUri"))
    if image and configuration.get("CodeSha256"):
        code["ResolvedImageUri"] = (
            f"{image['registry']}.dkr.ecr.{image['region']}.amazonaws.com/{image['name']}@sha256:{configuration['CodeSha256']}"
        )


def lambda_create_function(shim: Shim, req: AwsRequest) -> Response:
    """CreateFunction with PackageType Image: the image checks (lambda_image), then moto, then the code
    hash and size of the image."""
    code = req.params.get("Code")
    uri = code.get("ImageUri") if isinstance(code, dict) else None
    if req.params.get("PackageType") != "Image" or not isinstance(uri, str):
        return lambda_store_logging_config(shim, req)
    arn = ":".join(lambda_function_arn(str(req.params.get("FunctionName") or ""), None, ACCOUNT_ID, req.region).split(":")[:7])
    with shim.state.lock:
        digest, size = lambda_image(shim, req, uri, arn)
        response = lambda_store_logging_config(shim, req)
        body = json_body(response) if response.status < 300 else None
        if body is None:
            return response
        lambda_settle_image(req, arn.split(":")[6], uri, digest, size)
        shim.state.lambda_updates.pop(arn, None)
        body["CodeSha256"], body["CodeSize"] = digest, size
        return response.with_body(json.dumps(body).encode())


def lambda_update_function_code(shim: Shim, req: AwsRequest) -> Response:
    """UpdateFunctionCode: refused while an update is in progress; with an ImageUri, the image checks,
    then LastUpdateStatus InProgress until polls move it on (lambda_advance). DryRun changes nothing."""
    with shim.state.lock:
        fn, arn, name = lambda_entry(req)
        if fn is None:
            return shim.forward(req)  # moto: ResourceNotFoundException
        lambda_refuse_while_updating(shim, arn)
        uri = req.params.get("ImageUri")
        if not isinstance(uri, str) or fn.package_type != "Image":
            return shim.forward(req)
        digest, size = lambda_image(shim, req, uri, arn)
        lambda_unshare_code(req, name)
        previous = {"code": dict(fn.code), "code_sha_256": fn.code_sha_256, "code_size": fn.code_size}
        response = shim.forward(req)
        body = json_body(response) if response.status < 300 else None
        if body is None:
            return response
        if req.params.get("DryRun") is not True:
            lambda_settle_image(req, name, uri, digest, size)
            shim.state.lambda_updates[arn] = LambdaUpdate(needed=shim.state.lambda_update_polls, previous=previous)
        body["CodeSha256"], body["CodeSize"] = digest, size
        lambda_decorate(shim, body)
        return response.with_body(json.dumps(body).encode())


def lambda_update_function_configuration(shim: Shim, req: AwsRequest) -> Response:
    with shim.state.lock:
        fn, arn, _ = lambda_entry(req)
        if fn is not None:
            lambda_refuse_while_updating(shim, arn)
    return lambda_store_logging_config(shim, req)


def lambda_get_function(shim: Shim, req: AwsRequest) -> Response:
    """GetFunction / GetFunctionConfiguration: a poll of $LATEST's image update, its LastUpdateStatus,
    and (GetFunction) the digest-pinned ResolvedImageUri."""
    with shim.state.lock:
        if lambda_qualifier(req) in (None, "$LATEST"):
            fn, arn, _ = lambda_entry(req)
            if fn is not None:
                lambda_advance(shim, fn, arn)
        response = lambda_report_logging_config(shim, req)
        body = json_body(response) if response.status < 300 else None
        if body is None:
            return response
        lambda_decorate(shim, body.get("Configuration") if req.operation == "GetFunction" else body)
        if req.operation == "GetFunction":
            lambda_resolved_image(body)
        return response.with_body(json.dumps(body).encode())


def lambda_list_versions(shim: Shim, req: AwsRequest) -> Response:
    with shim.state.lock:
        response = shim.forward(req)
        body = json_body(response) if response.status < 300 else None
        if body is None:
            return response
        for configuration in body.get("Versions") or []:
            lambda_decorate(shim, configuration)
        return response.with_body(json.dumps(body).encode())


def lambda_fingerprint(fn: Any) -> str:
    """What PublishVersion compares: the code and the configuration a version freezes. The description is
    left out: PublishVersion's Description overrides it in the version."""
    return json.dumps(
        [
            fn.code_sha_256,
            fn.package_type,
            fn.handler,
            fn.run_time,
            fn.role,
            fn.memory_size,
            fn.timeout,
            fn.environment_vars,
            fn.layers,
            fn._vpc_config,
            fn.image_config.response(),
            fn.architectures,
            fn.ephemeral_storage,
            fn.tracing_config,
            fn.kms_key_arn,
        ],
        sort_keys=True,
        default=str,
    )


def lambda_publish_version(shim: Shim, req: AwsRequest) -> Response:
    """PublishVersion as Lambda does it (Lambda API Reference, PublishVersion): refused while an update is
    in progress; `CodeSha256` must match $LATEST's, else InvalidParameterValueException "CodeSHA256 (X) is
    different from current CodeSHA256 in $LATEST (Y). Please try again with the CodeSHA256 in $LATEST.";
    "Lambda doesn't publish a version if the function's configuration and code haven't changed since
    the last version": the last version answers (201) instead. moto decides that by whether any update
    call came in, so an update to the same image (or a failed one) published a new version."""
    with shim.state.lock:
        fn, arn, name = lambda_entry(req)
        if fn is None:
            return shim.forward(req)
        lambda_refuse_while_updating(shim, arn)
        wanted = req.params.get("CodeSha256")
        if wanted and wanted != fn.code_sha_256:
            raise AwsError(
                "InvalidParameterValueException",
                f"CodeSHA256 ({wanted}) is different from current CodeSHA256 in $LATEST ({fn.code_sha_256}). "
                "Please try again with the CodeSHA256 in $LATEST.",
            )
        versions = lambda_published(req, name)
        if versions and lambda_fingerprint(versions[-1]) == lambda_fingerprint(fn):
            return lambda_json(versions[-1].get_configuration(), 201)
        fn.code_or_config_updated = True
        response = shim.forward(req)
        if response.status < 300:
            lambda_unshare_code(req, name)
        return response


def lambda_alias(req: AwsRequest, fn: Any, name: Any) -> Any:
    if fn is None or not isinstance(name, str):
        return None
    return lambda_backend(ACCOUNT_ID, req.region)._lambdas._get_function_aliases(fn.function_name).get(name)


def lambda_create_alias(shim: Shim, req: AwsRequest) -> Response:
    """A taken alias name: AWS answers 409 ResourceConflictException (Lambda API Reference, CreateAlias
    errors); moto says ConflictException, a code the SDKs do not know."""
    with shim.state.lock:
        fn, arn, _ = lambda_entry(req)
        name = req.params.get("Name")
        if lambda_alias(req, fn, name) is not None:
            raise AwsError("ResourceConflictException", f"Alias already exists: {arn}:{name}", 409)
        return shim.forward(req)


def lambda_get_alias(shim: Shim, req: AwsRequest) -> Response:
    """moto answers GetAlias with 201; AWS with 200 (Lambda API Reference, GetAlias)."""
    response = shim.forward(req)
    if response.status == 201:
        return Response(200, response.headers, response.body, "OK")
    return response


def lambda_update_alias(shim: Shim, req: AwsRequest) -> Response:
    """UpdateAlias: a `RevisionId` that is not the alias's answers 412 PreconditionFailedException (Lambda
    API Reference, UpdateAlias: "Only update the alias if the revision ID matches the ID that's
    specified"); each update gives the alias a new RevisionId; 200, not moto's 201. moto ignores
    RevisionId and never changes it."""
    with shim.state.lock:
        fn, _, _ = lambda_entry(req)
        match = re.match(r"^/[0-9-]+/functions/[^/]+/aliases/([^/]+)/?$", req.path)
        alias = lambda_alias(req, fn, unquote(match.group(1)) if match else None)
        if alias is None:
            return shim.forward(req)  # moto: ResourceNotFoundException
        wanted = req.params.get("RevisionId")
        if wanted and wanted != alias.revision_id:
            raise AwsError(
                "PreconditionFailedException",
                "The Revision Id provided does not match the latest Revision Id. "
                "Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
                412,
            )
        response = shim.forward(req)
        if response.status >= 300:
            return response
        alias.revision_id = str(uuid.uuid4())
        return lambda_json(alias.to_json(), 200)


def lambda_delete_function(shim: Shim, req: AwsRequest) -> Response:
    response = lambda_forget_logging_config(shim, req)
    if response.status < 300 and lambda_qualifier(req) is None:
        _, arn, _ = lambda_entry(req)
        with shim.state.lock:
            shim.state.lambda_updates.pop(arn, None)
    return response


SERVED: dict[tuple[str, str], Handler] = {
    ("lambda", "PutFunctionEventInvokeConfig"): lambda_put_event_invoke_config,
    ("lambda", "CreateFunction"): lambda_create_function,
    ("lambda", "UpdateFunctionConfiguration"): lambda_update_function_configuration,
    ("lambda", "UpdateFunctionCode"): lambda_update_function_code,
    ("lambda", "GetFunction"): lambda_get_function,
    ("lambda", "GetFunctionConfiguration"): lambda_get_function,
    ("lambda", "DeleteFunction"): lambda_delete_function,
    ("lambda", "PublishVersion"): lambda_publish_version,
    ("lambda", "ListVersionsByFunction"): lambda_list_versions,
    ("lambda", "CreateAlias"): lambda_create_alias,
    ("lambda", "GetAlias"): lambda_get_alias,
    ("lambda", "UpdateAlias"): lambda_update_alias,
    ("ecs", "CreateService"): ecs_create_service,
    ("ecs", "DescribeServices"): ecs_describe_services,
    ("ecs", "UpdateService"): ecs_update_service,
    ("ecs", "DeleteService"): ecs_delete_service,
    ("ecs", "ListTaskDefinitions"): ecs_list_task_definitions,
    ("codepipeline", "CreatePipeline"): codepipeline_create_pipeline,
    ("codepipeline", "PutWebhook"): put_webhook,
    ("codepipeline", "ListWebhooks"): list_webhooks,
    ("codepipeline", "DeleteWebhook"): delete_webhook,
    ("codepipeline", "RegisterWebhookWithThirdParty"): set_webhook_registration(True),
    ("codepipeline", "DeregisterWebhookWithThirdParty"): set_webhook_registration(False),
    ("codepipeline", "PutJobSuccessResult"): put_job_success_result,
    ("codepipeline", "GetJobDetails"): get_job_details,
    ("codepipeline", "PutJobFailureResult"): put_job_failure_result,
    ("codepipeline", "GetPipelineExecution"): get_pipeline_execution,
    ("codepipeline", "ListActionExecutions"): list_action_executions,
    ("codepipeline", "GetPipelineState"): get_pipeline_state,
    ("codepipeline", "ListTagsForResource"): codepipeline_list_tags,
    ("codepipeline", "TagResource"): codepipeline_tag,
    ("codepipeline", "UntagResource"): codepipeline_untag,
    ("codepipeline", "GetPipeline"): codepipeline_forward_fixing_timestamps,
    ("codepipeline", "ListPipelines"): codepipeline_forward_fixing_timestamps,
    ("codepipeline", "ListPipelineExecutions"): codepipeline_forward_fixing_timestamps,
    ("codebuild", "CreateProject"): codebuild_create_project,
    ("codebuild", "UpdateProject"): codebuild_update_project,
    ("codebuild", "CreateReportGroup"): codebuild_create_report_group,
    ("codebuild", "BatchGetReportGroups"): codebuild_batch_get_report_groups,
    ("codebuild", "ListReportGroups"): codebuild_list_report_groups,
    ("codebuild", "UpdateReportGroup"): codebuild_update_report_group,
    ("codebuild", "DeleteReportGroup"): codebuild_delete_report_group,
    ("codebuild", "ListReportsForReportGroup"): codebuild_list_reports_for_report_group,
    ("codebuild", "BatchGetReports"): codebuild_batch_get_reports,
    ("codebuild", "DeleteReport"): codebuild_delete_report,
    ("tagging", "GetResources"): tagging_get_resources,
    ("s3", "PutBucketPolicy"): s3_put_bucket_policy,
    ("s3", "GetBucketPolicy"): s3_get_bucket_policy,
    ("s3", "GetBucketVersioning"): s3_get_bucket_versioning,
    ("ecr", "PutImageScanningConfiguration"): ecr_put_image_scanning_configuration,
    ("ecr", "GetAuthorizationToken"): ecr_get_authorization_token,
    ("ecr", "PutImage"): ecr_put_image,
    ("ecr", "DescribeImageScanFindings"): ecr_describe_image_scan_findings,
    ("ecr", "StartImageScan"): ecr_start_image_scan,
    ("ecr", "DescribeImages"): ecr_describe_images,
    ("s3", "DeleteBucketPolicy"): s3_forget_policy_on_success,
    ("s3", "DeleteBucket"): s3_forget_policy_on_success,
}
for _service in ("codestar-connections", "codeconnections"):
    SERVED.update(
        {
            (_service, "CreateConnection"): create_connection,
            (_service, "GetConnection"): get_connection,
            (_service, "ListConnections"): list_connections,
            (_service, "DeleteConnection"): delete_connection,
            (_service, "TagResource"): connection_tag,
            (_service, "UntagResource"): connection_untag,
            (_service, "ListTagsForResource"): connection_list_tags,
        }
    )


# --------------------------------------------------------------------------
# Process
# --------------------------------------------------------------------------


def exit_when_stdin_closes(shutdown: Callable[[], None]) -> None:
    try:
        while sys.stdin.buffer.read(65536):
            pass
    except (OSError, ValueError):
        pass
    shutdown()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Local AWS emulator (moto behind the product's shim).")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind; 0 picks a free one (default)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument(
        "--ignore-stdin",
        action="store_true",
        help="keep running when stdin closes (for running detached; stop it with SIGTERM)",
    )
    args = parser.parse_args(argv)

    logging.basicConfig(stream=sys.stderr, level=logging.INFO if args.verbose else logging.WARNING)
    # Quiet unless verbose: a registry client with --tls-verify=false tries TLS before plain HTTP,
    # and werkzeug logs each such handshake as a bad request.
    logging.getLogger("werkzeug").setLevel(logging.INFO if args.verbose else logging.CRITICAL)

    # ECR's registry (README "ECR's registry"): the docker-registry child is spawned here, from the main
    # thread (see RegistryBackend), and stopped before every exit: os._exit runs no cleanup of its own.
    registry = RegistryBackend.start()
    atexit.register(registry.stop)  # a normal exit (the server failing to bind, say)

    def shutdown() -> None:
        registry.stop()
        os._exit(0)

    def stop(signum: int, frame: Any) -> None:
        shutdown()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if not args.ignore_stdin:
        threading.Thread(target=exit_when_stdin_closes, args=(shutdown,), name="stdin-watch", daemon=True).start()

    server = make_server(args.host, args.port, Shim(registry), threaded=True, request_handler=MotoRequestHandler)
    # moto builds URLs pointing back at itself from this.
    os.environ.setdefault("MOTO_PORT", str(server.server_port))
    sys.stdout.write(f"READY http://{args.host}:{server.server_port}\n")
    sys.stdout.flush()
    server.serve_forever()


if __name__ == "__main__":
    main()
