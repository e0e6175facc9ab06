"""S3 corrections: bucket policies (stored as sent, moto given only what it can evaluate) and
GetBucketVersioning's answer for a bucket never versioned."""

from __future__ import annotations

import json
import re

from .core import Handler, Shim
from .parsing import s3_bucket_and_key
from .protocol import AwsRequest, Response, request_id


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


def s3_get_bucket_versioning(shim: Shim, req: AwsRequest) -> Response:
    """moto names the answer's root `GetBucketVersioningResponse`; AWS (and SDKs that check the
    root, like the Rust one) use `VersioningConfiguration`."""
    response = shim.forward(req)
    if response.status != 200:
        return response
    fixed = re.sub(rb"(</?)GetBucketVersioningResponse\b", rb"\1VersioningConfiguration", response.body)
    return response.with_body(fixed)


# The operations this module answers, by (signing name, operation); front.py merges every service's table.
SERVED: dict[tuple[str, str], Handler] = {
    ("s3", "PutBucketPolicy"): s3_put_bucket_policy,
    ("s3", "GetBucketPolicy"): s3_get_bucket_policy,
    ("s3", "GetBucketVersioning"): s3_get_bucket_versioning,
    ("s3", "DeleteBucketPolicy"): s3_forget_policy_on_success,
    ("s3", "DeleteBucket"): s3_forget_policy_on_success,
}
