"""Request validation (README "Request validation"): the shim refuses what AWS's own checks of the service
model refuse (lengths, patterns, enums, required members, numeric ranges, map keys) in each protocol's
error shape, lets a valid request through, logs the refusal, and stops checking with
`EMULATOR_VALIDATION=off`. Clients are built with `parameter_validation=False`, so what is tested is the
server's check, not botocore's."""

from __future__ import annotations

import json
import re
import sys
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from shim_helpers import (
    ACCOUNT,
    EMULATOR,
    REGION,
    control,
    create_role,
    denied,
    make_zip,
    pipeline_definition,
    start_shim,
    stop_shim,
    trust_policy,
)

sys.path.insert(0, str(EMULATOR))

from awsshim import javaregex  # noqa: E402

ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/service-role"
TRUST = json.dumps(trust_policy({"Service": "lambda.amazonaws.com"}))


def unchecked(url: str, service: str) -> Any:
    """A boto3 client that sends whatever it is given (no client-side validation) and tries once."""
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(
            parameter_validation=False, retries={"total_max_attempts": 1, "mode": "standard"}, s3={"addressing_style": "path"}
        ),
    )


def raw(url: str, service: str, body: bytes, headers: dict[str, str], path: str = "/", method: str = "POST") -> tuple[int, dict[str, str], bytes]:
    """A signed-looking request as raw HTTP: answers status, headers and body, errors included."""
    request = urllib.request.Request(url + path, data=body, method=method, headers=headers)
    request.add_header(
        "Authorization",
        f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240101/{REGION}/{service}/aws4_request, SignedHeaders=host, Signature=0",
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def refusal(call: Any) -> dict[str, Any]:
    """The `Error` of the ClientError `call` raises, with the HTTP status added."""
    error: ClientError = denied(call)
    return {**error.response["Error"], "status": error.response["ResponseMetadata"]["HTTPStatusCode"]}


def test_too_long_pipeline_name_is_a_json_validation_exception(shim: str) -> None:
    name = "p" * 101
    status, headers, body = raw(
        shim,
        "codepipeline",
        json.dumps({"pipeline": pipeline_definition(name, ROLE_ARN)}).encode(),
        {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "CodePipeline_20150709.CreatePipeline"},
    )
    assert status == 400
    assert headers["x-amzn-ErrorType"] == "ValidationException"
    assert json.loads(body) == {
        "__type": "ValidationException",
        "message": f"1 validation error detected: Value '{name}' at 'pipeline.name' failed to satisfy constraint: "
        "Member must have length less than or equal to 100",
    }


def test_too_long_role_name_is_a_query_validation_error(shim: str) -> None:
    name = "r" * 65
    form = urlencode({"Action": "CreateRole", "Version": "2010-05-08", "RoleName": name, "AssumeRolePolicyDocument": TRUST})
    status, _, body = raw(shim, "iam", form.encode(), {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 400
    text = body.decode()
    assert "<Type>Sender</Type><Code>ValidationError</Code>" in text
    assert (
        f"<Message>1 validation error detected: Value '{name}' at 'roleName' failed to satisfy constraint: "
        "Member must have length less than or equal to 64</Message>"
    ) in text
    assert unchecked(shim, "iam").list_roles()["Roles"] == []


def test_bad_enum_is_ecrs_invalid_parameter_exception(shim: str) -> None:
    ecr = unchecked(shim, "ecr")
    ecr.create_repository(repositoryName="app")
    error = refusal(lambda: ecr.put_image_tag_mutability(repositoryName="app", imageTagMutability="SOMETIMES"))
    assert error["Code"] == "InvalidParameterException" and error["status"] == 400
    assert error["Message"] == (
        "Invalid parameter at 'imageTagMutability' failed to satisfy constraint: 'must satisfy enum value set: "
        "[MUTABLE, IMMUTABLE, IMMUTABLE_WITH_EXCLUSION, MUTABLE_WITH_EXCLUSION]'"
    )
    assert ecr.describe_repositories()["repositories"][0]["imageTagMutability"] == "MUTABLE"


def test_malformed_role_arn_is_a_rest_json_validation_exception(shim: str) -> None:
    error = refusal(
        lambda: unchecked(shim, "lambda").create_function(
            FunctionName="fn", Role="lambdarole", Runtime="python3.12", Handler="h.main", Code={"ZipFile": make_zip()}
        )
    )
    assert error["Code"] == "ValidationException" and error["status"] == 400
    assert error["Message"] == (
        "1 validation error detected: Value 'lambdarole' at 'role' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
    )


def test_missing_required_members_are_each_named(shim: str) -> None:
    error = refusal(lambda: unchecked(shim, "codebuild").create_project(name="build"))
    assert error["Code"] == "ValidationException"
    missing = ["source", "artifacts", "environment", "serviceRole"]
    assert error["Message"] == "4 validation errors detected: " + "; ".join(
        f"Value null at '{member}' failed to satisfy constraint: Member must not be null" for member in missing
    )
    query = refusal(lambda: unchecked(shim, "iam").create_role(RoleName="r"))
    assert query["Code"] == "ValidationError" and query["Type"] == "Sender"
    assert "Value null at 'assumeRolePolicyDocument' failed to satisfy constraint: Member must not be null" in query["Message"]


def test_number_below_its_minimum_is_refused_in_the_uri_routed_operation(shim: str) -> None:
    error = refusal(lambda: unchecked(shim, "lambda").update_function_configuration(FunctionName="fn", MemorySize=127))
    assert error["Code"] == "ValidationException" and error["status"] == 400
    assert error["Message"] == (
        "1 validation error detected: Value '127' at 'memorySize' failed to satisfy constraint: "
        "Member must have value greater than or equal to 128"
    )
    label = refusal(lambda: unchecked(shim, "lambda").get_function(FunctionName="no spaces allowed"))
    assert label["Code"] == "ValidationException" and "at 'functionName'" in label["Message"]


def test_nested_list_members_and_map_keys_have_aws_paths(shim: str) -> None:
    tags = [{"Key": "k" * 129, "Value": "v"}]
    error = refusal(lambda: unchecked(shim, "iam").create_role(RoleName="r", AssumeRolePolicyDocument=TRUST, Tags=tags))
    assert f"Value '{'k' * 129}' at 'tags.1.member.key' failed to satisfy constraint: Member must have length less than or equal to 128" in error["Message"]

    role = create_role(shim, "fn-role", "lambda.amazonaws.com")
    lam = unchecked(shim, "lambda")
    variables = {"1BAD": "x"}
    error = refusal(
        lambda: lam.create_function(
            FunctionName="fn", Role=role, Runtime="python3.12", Handler="h.main", Code={"ZipFile": make_zip()},
            Environment={"Variables": variables},
        )
    )
    # The variables are sensitive: AWS leaves their value out of the message.
    assert error["Message"] == (
        "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must "
        "satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]"
    )
    # Tag keys are `[\p{L}\p{Z}\p{N}_.:/=+\-@]*`: any Unicode letter passes, `#` does not.
    created = lam.create_function(
        FunctionName="fn", Role=role, Runtime="python3.12", Handler="h.main", Code={"ZipFile": make_zip()},
        Tags={"équipe": "ok"},
    )
    bad_tag = refusal(lambda: lam.tag_resource(Resource=created["FunctionArn"], Tags={"bad#key": "v"}))
    assert "at 'tags' failed to satisfy constraint: Map keys must satisfy constraint" in bad_tag["Message"]


def test_sns_answers_its_modelled_invalid_parameter(shim: str) -> None:
    error = refusal(lambda: unchecked(shim, "sns").create_topic(Name="t", Tags=[{"Key": "", "Value": "v"}]))
    assert error["Code"] == "InvalidParameter" and error["status"] == 400
    assert "Value '' at 'tags.1.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1" in error["Message"]


def test_s3_checks_bucket_names_only(shim: str) -> None:
    s3 = unchecked(shim, "s3")
    for name in ("Upper_Case", "ab", "a..b", "192.168.1.1", "xn--bucket", "bucket-s3alias", "-dash"):
        error = refusal(lambda: s3.create_bucket(Bucket=name))
        assert (error["Code"], error["status"]) == ("InvalidBucketName", 400), name
    s3.create_bucket(Bucket="valid.bucket-1")
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == ["valid.bucket-1"]


def test_valid_requests_pass_and_refusals_are_logged_with_their_code(shim: str) -> None:
    role = create_role(shim, "pipeline-role", "codepipeline.amazonaws.com")
    longest = "p" * 100
    unchecked(shim, "codepipeline").create_pipeline(pipeline=pipeline_definition(longest, role))
    assert unchecked(shim, "codepipeline").get_pipeline(name=longest)["pipeline"]["name"] == longest
    control(shim, "DELETE", "/_shim/calls")
    denied(lambda: unchecked(shim, "events").put_rule(Name="bad name!", EventPattern="{}"))
    unchecked(shim, "events").put_rule(Name="good-name", EventPattern='{"source": ["aws.codepipeline"]}')
    calls = control(shim, "GET", "/_shim/calls")
    assert [(c["operation"], c["status"], c.get("error")) for c in calls] == [
        ("PutRule", 400, "ValidationException"),
        ("PutRule", 200, None),
    ]


def test_validation_can_be_turned_off() -> None:
    process, url = start_shim({"EMULATOR_VALIDATION": "off"})
    try:
        unchecked(url, "events").put_rule(Name="bad name!", EventPattern="{}")
        assert [c.get("error") for c in control(url, "GET", "/_shim/calls")] == [None]
    finally:
        stop_shim(process)


# ---------------------------------------------------------------- Java patterns in Python


@pytest.mark.parametrize(
    ("java", "matching", "failing"),
    [
        (r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*", ["équipe 1", "名前"], ["a#b", "tab\t"]),
        (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*", ["ok\t", "emoji 😀"], ["\x01"]),
        (r"^\P{C}*$", ["printable text"], ["bell\x07"]),
        (r"[\w-_]*", ["a-b_c"], ["é", "a b"]),
        (r"(?!(?i)AWS_)[a-zA-Z_][a-zA-Z0-9_]*", ["name"], ["aws_name", "AWS_name"]),
        (r"\A[a-z]+\z", ["abc"], ["abc\n"]),
        (r"[\p{Alnum}]+", ["abc1"], ["é"]),
        (r"a.b", ["a-b"], ["a\rb"]),
        (r"[a|b]+", ["a|b"], ["c"]),
    ],
)
def test_java_patterns_translate(java: str, matching: list[str], failing: list[str]) -> None:
    compiled = javaregex.java_pattern(java)
    assert compiled is not None, javaregex.UNTRANSLATABLE.get(java)
    for text in matching:
        assert compiled.fullmatch(text), text
    for text in failing:
        assert not compiled.fullmatch(text), text


def test_untranslatable_patterns_are_skipped_and_remembered() -> None:
    for java in (r"[\p{Print}&&[^|:/]]+", r"^[-_a-zA-Z0-9]*${2,64}$", r"[\p{IsAlphabetic}]+"):
        assert javaregex.java_pattern(java) is None
        assert java in javaregex.UNTRANSLATABLE


# The services the emulator answers (their botocore names).
SERVED_SERVICES = (
    "codebuild", "codeconnections", "codepipeline", "codestar-connections", "ecr", "ecs", "events", "iam",
    "lambda", "logs", "resourcegroupstaggingapi", "s3", "secretsmanager", "sns", "sqs", "sts",
)


def test_readme_lists_the_untranslatable_patterns_of_the_served_services() -> None:
    session = botocore.session.get_session()
    skipped = set()
    for service in SERVED_SERVICES:
        model = session.get_service_model(service)
        for name in model.shape_names:
            pattern = model.shape_for(name).metadata.get("pattern")
            if pattern is not None and javaregex.java_pattern(pattern) is None:
                skipped.add(f"{service}: `{pattern}`")
    readme = (EMULATOR / "README.md").read_text()
    section = readme.split("## Request validation", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^- (\S+: `.*`)$", section.split("Untranslatable patterns", 1)[1], re.MULTILINE))
    assert listed == skipped
