"""Recognising an AWS request: the service (SigV4 credential scope or X-Amz-Target), the operation
(X-Amz-Target, the query `Action`, or method + path for S3 and Lambda) and its parameters.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs

from .protocol import DEFAULT_REGION, AwsRequest


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
