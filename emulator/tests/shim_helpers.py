"""What the emulator tests share to drive a real shim process: starting and stopping it, its control
API, boto3 clients for it (and a raw JSON-protocol call), IAM principals (a user with a policy, a role to
assume) whose credentials the shim enforces, and the resources several tests build on (a pipeline, a
CodeBuild project, a Lambda zip). The fixtures built on these are in conftest.py."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path
from typing import Any, Callable

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

EMULATOR = Path(__file__).resolve().parents[1]
SHIM = EMULATOR / "shim.py"
ACCOUNT = "123456789012"
REGION = "us-east-1"
# The principal of a trust policy that lets the account's own principals (the test keys) assume a role.
ACCOUNT_ROOT = {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}


def start_shim(env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    """Start a shim process on a free port (with `env` added to its environment); answers the process and its
    URL once it printed its READY line."""
    process = subprocess.Popen(
        [sys.executable, str(SHIM), "--port", "0"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **env} if env else None,
    )
    assert process.stdout is not None and process.stdin is not None
    line = process.stdout.readline()
    assert line.startswith("READY http://127.0.0.1:"), f"unexpected first line {line!r}; stderr: {process.stderr.read() if process.poll() is not None else ''}"
    return process, line.split(" ", 1)[1].strip()


def stop_shim(process: subprocess.Popen[str]) -> None:
    """Stop a shim process the way its users do, by closing its stdin; kills it (and fails) if it outlives 5 s."""
    assert process.stdin is not None
    process.stdin.close()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def control(url: str, method: str, path: str, payload: Any = None) -> Any:
    """Call the shim's control API (`/_shim/...`) with an optional JSON body; answers the parsed JSON reply."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url + path, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def client(url: str, service: str, key: str = "AKIDEXAMPLE", secret: str = "secret", token: str | None = None) -> Any:
    """A boto3 client for the shim that tries each call once; the default keys are the unenforced test keys,
    other keys (and a session token) sign as the IAM principal they were issued to."""
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, s3={"addressing_style": "path"}),
    )


def session_client(url: str, service: str, credentials: dict[str, Any]) -> Any:
    """A client signed with temporary credentials (the `Credentials` of an AssumeRole answer)."""
    return client(url, service, credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"])


def assumed_client(url: str, service: str, role_arn: str, session_name: str) -> Any:
    """A client signed as session `session_name` of role `role_arn`, assumed with the unenforced test keys."""
    credentials = client(url, "sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
    return session_client(url, service, credentials)


def denied(call: Callable[[], Any]) -> ClientError:
    """The ClientError `call` must raise (an access denial, mostly), for the test to look into."""
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    """A policy document of the statements."""
    return {"Version": "2012-10-17", "Statement": list(statements)}


def trust_policy(*principals: dict[str, Any]) -> dict[str, Any]:
    """A trust policy with one statement per principal (`{"Service": ...}`, `{"AWS": ...}`) allowing it sts:AssumeRole."""
    return policy(*({"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"} for principal in principals))


def create_role(url: str, name: str, service: str) -> str:
    """A role (no permissions) that the service principal `service` may assume; answers its ARN."""
    trust = json.dumps(trust_policy({"Service": service}))
    return client(url, "iam").create_role(RoleName=name, AssumeRolePolicyDocument=trust)["Role"]["Arn"]


def role_with_policy(
    url: str, name: str, trust: dict[str, Any], policy_name: str, document: dict[str, Any], *, exist_ok: bool = False
) -> None:
    """A role with the trust policy `trust` and the inline policy `policy_name` (replaced if the role has one of
    that name); with `exist_ok` an existing role of that name is kept, with its trust policy, and given the policy."""
    iam = client(url, "iam")
    try:
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    except ClientError:
        if not exist_ok:
            raise
    iam.put_role_policy(RoleName=name, PolicyName=policy_name, PolicyDocument=json.dumps(document))


def iam_user(url: str, name: str, *statements: dict[str, Any]) -> tuple[str, str]:
    """An IAM user with one inline policy (`access`) of the statements; answers its access key id and secret,
    which the shim enforces (pass them on to `client`)."""
    iam = client(url, "iam")
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="access", PolicyDocument=json.dumps(policy(*statements)))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def error_code(error: ClientError) -> str:
    """The AWS error code of a ClientError."""
    return error.response["Error"]["Code"]


def raw_json_call(url: str, service: str, target: str, payload: dict[str, Any]) -> Any:
    """A JSON-protocol call (`X-Amz-Target` `target`) as raw JSON, to see the wire shapes an SDK would parse."""
    request = urllib.request.Request(url + "/", data=json.dumps(payload).encode(), method="POST")
    request.add_header("Content-Type", "application/x-amz-json-1.1")
    request.add_header("X-Amz-Target", target)
    request.add_header(
        "Authorization",
        f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0",
    )
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def pipeline_definition(name: str, role_arn: str) -> dict[str, Any]:
    """A two-stage pipeline (GitHub source, Lambda invoke) of service role `role_arn`."""
    return {
        "name": name,
        "roleArn": role_arn,
        "artifactStore": {"type": "S3", "location": "artifacts"},
        "stages": [
            {
                "name": "Source",
                "actions": [
                    {
                        "name": "Source",
                        "actionTypeId": {"category": "Source", "owner": "ThirdParty", "provider": "GitHub", "version": "1"},
                        "configuration": {"Owner": "o", "Repo": "r", "Branch": "main", "OAuthToken": "t"},
                        "outputArtifacts": [{"name": "src"}],
                    }
                ],
            },
            {
                "name": "Deploy",
                "actions": [
                    {
                        "name": "Deploy",
                        "actionTypeId": {"category": "Invoke", "owner": "AWS", "provider": "Lambda", "version": "1"},
                        "configuration": {"FunctionName": "deploy-handler"},
                        "inputArtifacts": [{"name": "src"}],
                    }
                ],
            },
        ],
    }


def create_pipeline(url: str, name: str = "app-pipeline") -> str:
    """Create `pipeline_definition(name, ...)` with a new role `NAME-role`; answers the name."""
    role = create_role(url, f"{name}-role", "codepipeline.amazonaws.com")
    client(url, "codepipeline").create_pipeline(pipeline=pipeline_definition(name, role))
    return name


def codebuild_project(name: str, role_arn: str) -> dict[str, Any]:
    """A CreateProject request for a CodePipeline-sourced project of service role `role_arn`."""
    return {
        "name": name,
        "source": {"type": "CODEPIPELINE", "buildspec": "buildspec.yml"},
        "artifacts": {"type": "CODEPIPELINE"},
        "environment": {
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
            "privilegedMode": True,
        },
        "serviceRole": role_arn,
    }


def make_zip() -> bytes:
    """A Lambda deployment package: a zip holding a `bootstrap` file."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bootstrap", b"binary")
    return buffer.getvalue()
