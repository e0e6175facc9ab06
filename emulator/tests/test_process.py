"""The emulator process and its control API, through a real shim process: the READY line, exiting when
stdin closes or on SIGTERM, the endpoint list, Lambda without Docker, reset, and the call log (AWS
operation names, mutating or not, control calls left out)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from shim_helpers import client, control, create_role, start_shim


def test_ready_line_is_the_only_stdout_and_process_exits_when_stdin_closes() -> None:
    process, url = start_shim()
    assert url.startswith("http://127.0.0.1:")
    control(url, "GET", "/_shim/calls")
    assert process.stdin is not None
    started = time.monotonic()
    process.stdin.close()
    assert process.wait(timeout=5) == 0
    assert time.monotonic() - started < 5
    assert process.stdout is not None
    assert process.stdout.read() == ""


def test_process_exits_on_sigterm() -> None:
    process, _ = start_shim()
    process.terminate()
    assert process.wait(timeout=5) == 0


def test_unknown_control_endpoint_lists_the_real_ones(shim: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as raised:
        control(shim, "GET", "/_shim/nothing")
    assert raised.value.code == 404
    body = json.loads(raised.value.read())
    assert "POST /_shim/reset" in body["endpoints"]


def test_lambda_runs_without_docker_even_after_reset(shim: str) -> None:
    control(shim, "POST", "/moto-api/reset")
    with urllib.request.urlopen(shim + "/moto-api/config") as response:
        assert json.loads(response.read())["lambda"]["use_docker"] is False


def test_calls_are_recorded_with_aws_operation_names(shim: str) -> None:
    s3 = client(shim, "s3")
    s3.create_bucket(Bucket="bkt")
    s3.put_bucket_versioning(Bucket="bkt", VersioningConfiguration={"Status": "Enabled"})
    s3.list_object_versions(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="a/b.txt", Body=b"x")
    s3.delete_objects(Bucket="bkt", Delete={"Objects": [{"Key": "a/b.txt"}]})
    role = create_role(shim, "fn-role", "lambda.amazonaws.com")
    fn = client(shim, "lambda")
    fn.create_function(FunctionName="fn", Runtime="provided.al2023", Role=role, Handler="bootstrap", Code={"ZipFile": b"zip"})
    fn.get_function(FunctionName="fn")
    fn.add_permission(FunctionName="fn", StatementId="s", Action="lambda:InvokeFunction", Principal="events.amazonaws.com")
    fn.put_function_event_invoke_config(FunctionName="fn", MaximumRetryAttempts=0)
    fn.update_function_configuration(FunctionName="fn", Timeout=30)

    calls = control(shim, "GET", "/_shim/calls")
    assert [(c["service"], c["operation"], c["mutating"]) for c in calls] == [
        ("s3", "CreateBucket", True),
        ("s3", "PutBucketVersioning", True),
        ("s3", "ListObjectVersions", False),
        ("s3", "PutObject", True),
        ("s3", "DeleteObjects", True),
        ("iam", "CreateRole", True),
        ("lambda", "CreateFunction", True),
        ("lambda", "GetFunction", False),
        ("lambda", "AddPermission", True),
        ("lambda", "PutFunctionEventInvokeConfig", True),
        ("lambda", "UpdateFunctionConfiguration", True),
    ]
    assert all(c["status"] < 300 and c["fault"] is None for c in calls)
    assert all(c["time"] > 1_600_000_000 and c["duration_ms"] >= 0 for c in calls)

    control(shim, "DELETE", "/_shim/calls")
    assert control(shim, "GET", "/_shim/calls") == []


def test_read_only_sequence_records_no_mutating_call(shim: str) -> None:
    client(shim, "s3").list_buckets()
    client(shim, "iam").list_roles()
    client(shim, "codepipeline").list_pipelines()
    client(shim, "codebuild").batch_get_projects(names=["x"])
    client(shim, "lambda").list_functions()
    client(shim, "sts").get_caller_identity()
    calls = control(shim, "GET", "/_shim/calls")
    assert len(calls) == 6
    assert [c for c in calls if c["mutating"]] == []
    assert [c["service"] for c in calls] == ["s3", "iam", "codepipeline", "codebuild", "lambda", "sts"]


def test_control_calls_are_not_recorded(shim: str) -> None:
    control(shim, "GET", "/_shim/faults")
    control(shim, "POST", "/_shim/codepipeline/jobs", {})
    assert control(shim, "GET", "/_shim/calls") == []


def test_reset_clears_shim_state(shim: str) -> None:
    job_id = control(shim, "POST", "/_shim/codepipeline/jobs", {})["jobId"]
    control(shim, "POST", "/_shim/faults", {"latency_ms": 5})
    client(shim, "s3").create_bucket(Bucket="bucket-b")
    control(shim, "POST", "/_shim/reset")
    assert control(shim, "GET", "/_shim/calls") == []
    assert control(shim, "GET", "/_shim/faults")["latency_ms"] == 0
    assert client(shim, "s3").list_buckets()["Buckets"] == []
    with pytest.raises(urllib.error.HTTPError) as raised:
        control(shim, "GET", f"/_shim/codepipeline/jobs/{job_id}")
    assert raised.value.code == 404
