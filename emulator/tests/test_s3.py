"""S3 as the shim corrects it (awsshim/s3.py): bucket policies read back as sent while moto evaluates
what it can, GetBucketVersioning's root element, a policy on a missing bucket."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from shim_helpers import client, error_code


TLS_ONLY_POLICY = """{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "DenyInsecureTransport",
      "Effect": "Deny",
      "Principal": "*",
      "Action": "s3:*",
      "Resource": ["arn:aws:s3:::artifacts", "arn:aws:s3:::artifacts/*"],
      "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    }
  ]
}"""


def test_tls_only_policy_reads_back_identical_and_objects_still_work(shim: str) -> None:
    s3 = client(shim, "s3")
    s3.create_bucket(Bucket="artifacts")
    s3.put_bucket_policy(Bucket="artifacts", Policy=TLS_ONLY_POLICY)
    assert s3.get_bucket_policy(Bucket="artifacts")["Policy"] == TLS_ONLY_POLICY
    s3.put_object(Bucket="artifacts", Key="k", Body=b"payload")
    assert s3.get_object(Bucket="artifacts", Key="k")["Body"].read() == b"payload"

    s3.delete_bucket_policy(Bucket="artifacts")
    with pytest.raises(ClientError) as raised:
        s3.get_bucket_policy(Bucket="artifacts")
    assert error_code(raised.value) == "NoSuchBucketPolicy"


def test_unconditional_deny_still_reaches_moto(shim: str) -> None:
    s3 = client(shim, "s3")
    s3.create_bucket(Bucket="locked")
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::locked/*"},
                json.loads(TLS_ONLY_POLICY)["Statement"][0],
            ],
        }
    )
    s3.put_object(Bucket="locked", Key="k", Body=b"x")
    s3.put_bucket_policy(Bucket="locked", Policy=policy)
    assert s3.get_bucket_policy(Bucket="locked")["Policy"] == policy
    with pytest.raises(ClientError) as raised:
        s3.get_object(Bucket="locked", Key="k")
    assert error_code(raised.value) == "AccessDenied"


def test_bucket_versioning_answers_with_aws_root_element(shim: str) -> None:
    s3 = client(shim, "s3")
    s3.create_bucket(Bucket="versioned")
    s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    bodies: list[bytes] = []
    s3.meta.events.register(
        "after-call.s3.GetBucketVersioning",
        lambda http_response, **_: bodies.append(http_response.content),
    )
    assert s3.get_bucket_versioning(Bucket="versioned")["Status"] == "Enabled"
    body = bodies[0].decode()
    assert "<VersioningConfiguration" in body and body.rstrip().endswith("</VersioningConfiguration>")
    assert "GetBucketVersioningResponse" not in body


def test_policy_on_unknown_bucket_is_no_such_bucket(shim: str) -> None:
    with pytest.raises(ClientError) as raised:
        client(shim, "s3").put_bucket_policy(Bucket="ghost", Policy=TLS_ONLY_POLICY)
    assert error_code(raised.value) == "NoSuchBucket"
