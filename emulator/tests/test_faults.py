"""Fault injection through a real shim process (awsshim/faults.py): latency, throttling in each
protocol's shape, IAM propagation delay, outage, and a bad fault set refused."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker

from shim_helpers import (
    ACCOUNT,
    client,
    codebuild_project,
    control,
    create_role,
    error_code,
    pipeline_definition,
)


def test_latency_delays_every_call(shim: str) -> None:
    sts = client(shim, "sts")
    sts.get_caller_identity()
    control(shim, "POST", "/_shim/faults", {"latency_ms": 300})
    started = time.monotonic()
    sts.get_caller_identity()
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 2.0
    calls = control(shim, "GET", "/_shim/calls")
    assert calls[-1]["fault"] == "latency" and calls[-1]["duration_ms"] >= 300


@pytest.mark.parametrize(
    ("service", "call", "status", "code"),
    [
        ("codepipeline", lambda c: c.list_pipelines(), 400, "ThrottlingException"),
        ("iam", lambda c: c.list_roles(), 400, "Throttling"),
        ("sns", lambda c: c.list_topics(), 400, "Throttling"),
        ("sts", lambda c: c.get_caller_identity(), 400, "Throttling"),
        ("s3", lambda c: c.list_buckets(), 503, "SlowDown"),
        ("lambda", lambda c: c.list_functions(), 429, "TooManyRequestsException"),
    ],
)
def test_throttling_has_each_protocols_shape_and_botocore_sees_throttling(
    shim: str, service: str, call: Any, status: int, code: str
) -> None:
    control(shim, "POST", "/_shim/faults", {"throttle_probability": 1.0, "seed": 7})
    with pytest.raises(ClientError) as raised:
        call(client(shim, service))
    response = raised.value.response
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert error_code(raised.value) == code
    assert ThrottledRetryableChecker().is_retryable(RetryContext(attempt_number=1, parsed_response=response))
    faults = control(shim, "GET", "/_shim/faults")
    assert faults["throttled"] == 1
    assert control(shim, "GET", "/_shim/calls")[-1]["fault"] == "throttle"


def test_throttling_is_seeded_and_retries_get_through(shim: str) -> None:
    def pattern() -> list[str | None]:
        control(shim, "DELETE", "/_shim/calls")
        control(shim, "POST", "/_shim/faults", {"throttle_probability": 0.5, "seed": 42})
        sts = client(shim, "sts")
        for _ in range(12):
            try:
                sts.get_caller_identity()
            except ClientError:
                pass
        return [call["fault"] for call in control(shim, "GET", "/_shim/calls")]

    first = pattern()
    assert first == pattern()
    assert "throttle" in first and None in first


def test_iam_propagation_rejects_new_roles_until_the_delay_passes(shim: str) -> None:
    control(shim, "POST", "/_shim/faults", {"iam_propagation_seconds": 1.5})
    role = create_role(shim, "fresh-build-role", "codebuild.amazonaws.com")
    codebuild = client(shim, "codebuild")
    with pytest.raises(ClientError) as raised:
        codebuild.create_project(**codebuild_project("app-build", role))
    assert error_code(raised.value) == "InvalidInputException"
    assert raised.value.response["Error"]["Message"] == (
        f"CodeBuild is not authorized to perform: sts:AssumeRole on arn:aws:iam::{ACCOUNT}:role/fresh-build-role"
    )

    lambda_role = create_role(shim, "fresh-fn-role", "lambda.amazonaws.com")
    with pytest.raises(ClientError) as raised:
        client(shim, "lambda").create_function(
            FunctionName="fn", Runtime="provided.al2023", Role=lambda_role, Handler="bootstrap", Code={"ZipFile": b"zip"}
        )
    assert error_code(raised.value) == "InvalidParameterValueException"
    assert "cannot be assumed by Lambda" in raised.value.response["Error"]["Message"]

    pipeline_role = create_role(shim, "fresh-pipeline-role", "codepipeline.amazonaws.com")
    with pytest.raises(ClientError) as raised:
        client(shim, "codepipeline").create_pipeline(pipeline=pipeline_definition("p", pipeline_role))
    assert error_code(raised.value) == "InvalidStructureException"
    assert "not authorized to perform AssumeRole" in raised.value.response["Error"]["Message"]

    assert control(shim, "GET", "/_shim/faults")["propagation_rejections"] == 3
    time.sleep(1.6)
    codebuild.create_project(**codebuild_project("app-build", role))
    client(shim, "codepipeline").create_pipeline(pipeline=pipeline_definition("p", pipeline_role))
    faults = [call["fault"] for call in control(shim, "GET", "/_shim/calls")]
    assert faults.count("iam_propagation") == 3


def test_outage_after_n_mutating_calls_until_cleared(shim: str) -> None:
    s3 = client(shim, "s3")
    control(shim, "POST", "/_shim/faults", {"outage_after_mutating_calls": 2})
    s3.list_buckets()  # read-only: does not count
    s3.create_bucket(Bucket="one")
    s3.create_bucket(Bucket="two")
    with pytest.raises(ClientError) as raised:
        s3.list_buckets()
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    with pytest.raises(ClientError) as raised:
        client(shim, "codepipeline").list_pipelines()
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert error_code(raised.value) == "InternalFailure"
    assert control(shim, "GET", "/_shim/faults")["mutating_calls_since_faults"] == 2

    control(shim, "DELETE", "/_shim/faults")
    assert {b["Name"] for b in s3.list_buckets()["Buckets"]} == {"one", "two"}


def test_bad_fault_set_is_rejected_with_the_fix(shim: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as raised:
        control(shim, "POST", "/_shim/faults", {"throttle_probabilty": 0.5})
    assert raised.value.code == 400
    assert "throttle_probability" in json.loads(raised.value.read())["error"]
