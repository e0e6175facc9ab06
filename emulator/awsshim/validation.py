"""Request validation: every AWS call is checked against its service's botocore model before the shim or
moto answers it, as AWS's front end checks it (README "Request validation"): required members, string and
list lengths, `pattern` (Java regexes, see javaregex.py), `enum` values, numeric ranges, map keys and
values, nested structures. A call that fails is answered the way its service answers, in its protocol:
`ValidationException` (JSON, REST-JSON), `ValidationError` or the operation's modelled `InvalidParameter`
(query), ECR's `InvalidParameterException`, S3's `InvalidBucketName` (bucket names only).

The walk follows botocore's own client-side `ParamValidator` (botocore/validate.py), plus `pattern` and
`enum`, which only the server enforces. `EMULATOR_VALIDATION=off` turns it off.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any

import botocore.session
from botocore.exceptions import UnknownServiceError
from botocore.model import OperationModel, OperationNotFoundError, ServiceModel, Shape

from .javaregex import java_pattern
from .modelparams import request_input, wire_name
from .parsing import s3_bucket_and_key
from .protocol import AwsError, AwsRequest


# Signing names whose botocore model goes by another name.
MODEL_BY_SIGNING_NAME = {"tagging": "resourcegroupstaggingapi", "monitoring": "cloudwatch", "states": "stepfunctions"}

_models_lock = threading.Lock()
_session: Any = None
_models: dict[str, ServiceModel | None] = {}


def enabled() -> bool:
    return os.environ.get("EMULATOR_VALIDATION", "on").strip().lower() not in ("off", "0", "false", "no")


def service_model(signing_name: str) -> ServiceModel | None:
    """The botocore model of the service a request is signed for (loaded once), None when botocore has none."""
    global _session
    name = MODEL_BY_SIGNING_NAME.get(signing_name, signing_name)
    with _models_lock:
        if name not in _models:
            _session = _session or botocore.session.get_session()
            try:
                _models[name] = _session.get_service_model(name)
            except UnknownServiceError:
                _models[name] = None
        return _models[name]


def operation_model(req: AwsRequest) -> OperationModel | None:
    model = service_model(req.service)
    if model is None or not re.fullmatch(r"[A-Z][A-Za-z0-9]*", req.operation):
        return None
    try:
        return model.operation_model(req.operation)
    except OperationNotFoundError:
        return None


def validation_error(req: AwsRequest) -> AwsError | None:
    """The error AWS answers a request its checks refuse, or None when the request passes (or is not checked)."""
    if not enabled():
        return None
    if req.protocol == "rest-xml":
        return s3_error(req)
    operation = operation_model(req)
    if operation is None or operation.input_shape is None:
        return None
    value = request_input(req, operation)
    if value is None:
        return None
    checker = Checker()
    checker.check(value, operation.input_shape, "")
    if not checker.failures:
        return None
    return service_error(req, operation, checker.failures)


def service_error(req: AwsRequest, operation: OperationModel, failures: list["Failure"]) -> AwsError:
    if req.service == "ecr":
        # ECR names the member and constraint in its own words, e.g. "Invalid parameter at 'repositoryName'
        # failed to satisfy constraint: 'must satisfy regular expression '...''" (jenkins-x/jx#1344,
        # aws/aws-dotnet-deploy#549 for a length).
        first = failures[0]
        constraint = first.constraint.removeprefix("Member ")
        pattern = constraint.removeprefix("must satisfy regular expression pattern: ")
        if pattern != constraint:
            constraint = f"must satisfy regular expression '{pattern}'"
        message = f"Invalid parameter at '{first.path}' failed to satisfy constraint: '{constraint}'"
        return AwsError("InvalidParameterException", message)
    count = len(failures)
    # AWS's wording, e.g. "1 validation error detected: Value 'AWSLambdaBasicExecutionRole' at 'role' failed to
    # satisfy constraint: Member must satisfy regular expression pattern: ..." (dbuarque/repack-lambda#3); several
    # joined with "; " (newscorpaus/consigliere#18, an STS ValidationError).
    message = f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(str(f) for f in failures)
    if req.protocol != "query":
        return AwsError("ValidationException", message)
    modelled = {error.metadata.get("error", {}).get("code", error.name) for error in operation.error_shapes}
    return AwsError("InvalidParameter" if "InvalidParameter" in modelled else "ValidationError", message)


class Failure:
    """One failed constraint of one value: AWS reports each as `Value 'V' at 'PATH' failed to satisfy constraint: C`."""

    def __init__(self, value: Any, path: str, constraint: str, sensitive: bool = False):
        self.value = value
        self.path = path
        self.constraint = constraint
        self.sensitive = sensitive

    def __str__(self) -> str:
        if self.value is None:
            shown = "Value null"
        elif self.sensitive:  # AWS leaves out the value of a sensitive member
            shown = "Value"
        else:
            shown = f"Value '{java_text(self.value)}'"
        return f"{shown} at '{self.path}' failed to satisfy constraint: {self.constraint}"


def java_text(value: Any) -> str:
    """A value as AWS's (Java) message shows it: `[a, b]` for a list, `{k=v}` for a map, `true` for a boolean."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(java_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={java_text(item)}" for key, item in value.items()) + "}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def member_path(path: str, name: str) -> str:
    """AWS names a member by its Java field name: the model's name with a lower-case first letter."""
    field = name[:1].lower() + name[1:]
    return f"{path}.{field}" if path else field


def bound(number: Any) -> str:
    return str(int(number)) if float(number).is_integer() else str(number)


class Checker:
    """Walks a value along its shape and collects the constraints it fails."""

    def __init__(self) -> None:
        self.failures: list[Failure] = []

    def check(self, value: Any, shape: Shape, path: str) -> None:
        if shape.type_name == "structure":
            self.structure(value, shape, path)
        elif shape.type_name == "list":
            self.list(value, shape, path)
        elif shape.type_name == "map":
            self.map(value, shape, path)
        else:
            for constraint in scalar_failures(value, shape):
                self.failures.append(Failure(value, path, constraint, bool(shape.metadata.get("sensitive"))))

    def structure(self, value: Any, shape: Shape, path: str) -> None:
        if not isinstance(value, dict):
            return
        required = set(shape.required_members)
        for name, member in shape.members.items():
            item = value.get(name, value.get(wire_name(name, member)))
            if item is None:
                if name in required:
                    self.failures.append(Failure(None, member_path(path, name), "Member must not be null"))
                continue
            self.check(item, member, member_path(path, name))

    def list(self, value: Any, shape: Shape, path: str) -> None:
        if not isinstance(value, list):
            return
        for constraint in length_failures(len(value), shape):
            self.failures.append(Failure(value, path, constraint))
        for number, item in enumerate(value, 1):
            if item is None:
                continue
            self.check(item, shape.member, f"{path}.{number}.member")

    def map(self, value: Any, shape: Shape, path: str) -> None:
        if not isinstance(value, dict):
            return
        for constraint in length_failures(len(value), shape):
            self.failures.append(Failure(value, path, constraint))
        sensitive = any(bool(s.metadata.get("sensitive")) for s in (shape, shape.key, shape.value))
        key_failures = sorted({c for key in value for c in scalar_failures(key, shape.key)})
        if key_failures:
            constraint = f"Map keys must satisfy constraint: [{', '.join(key_failures)}]"
            self.failures.append(Failure(value, path, constraint, sensitive))
        if shape.value.type_name in ("structure", "list", "map"):
            for key, item in value.items():
                if item is not None:
                    self.check(item, shape.value, f"{path}.{key}")
            return
        value_failures = sorted({c for item in value.values() for c in scalar_failures(item, shape.value)})
        if value_failures:
            constraint = f"Map value must satisfy constraint: [{', '.join(value_failures)}]"
            self.failures.append(Failure(value, path, constraint, sensitive))


def length_failures(length: int, shape: Shape) -> list[str]:
    failures = []
    if "min" in shape.metadata and length < shape.metadata["min"]:
        failures.append(f"Member must have length greater than or equal to {bound(shape.metadata['min'])}")
    if "max" in shape.metadata and length > shape.metadata["max"]:
        failures.append(f"Member must have length less than or equal to {bound(shape.metadata['max'])}")
    return failures


def scalar_failures(value: Any, shape: Shape) -> list[str]:
    """The constraints a string or number fails (other types and mistyped values are not checked)."""
    metadata = shape.metadata
    if shape.type_name == "string" and isinstance(value, str):
        failures = []
        pattern = metadata.get("pattern")
        compiled = java_pattern(pattern) if pattern is not None else None
        if compiled is not None and not compiled.fullmatch(value):
            failures.append(f"Member must satisfy regular expression pattern: {pattern}")
        if shape.enum and value not in shape.enum:
            failures.append(f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        return failures + length_failures(len(value), shape)
    numeric = shape.type_name in ("integer", "long", "float", "double")
    if numeric and isinstance(value, (int, float)) and not isinstance(value, bool):
        failures = []
        if "min" in metadata and value < metadata["min"]:
            failures.append(f"Member must have value greater than or equal to {bound(metadata['min'])}")
        if "max" in metadata and value > metadata["max"]:
            failures.append(f"Member must have value less than or equal to {bound(metadata['max'])}")
        return failures
    return []


# Bucket naming rules: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
IP_ADDRESS = re.compile(r"\d+\.\d+\.\d+\.\d+")
BUCKET_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
BUCKET_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def s3_error(req: AwsRequest) -> AwsError | None:
    """S3 checks the name of a bucket it creates against its naming rules (other S3 input is not checked:
    S3's model carries no constraints AWS documents it enforces, and it answers in its own codes)."""
    if req.operation != "CreateBucket":
        return None
    bucket, _ = s3_bucket_and_key(req.environ, req.path)
    name = bucket or ""
    valid = (
        BUCKET_NAME.fullmatch(name)
        and ".." not in name
        and not IP_ADDRESS.fullmatch(name)
        and not name.startswith(BUCKET_PREFIXES)
        and not name.endswith(BUCKET_SUFFIXES)
    )
    return None if valid else AwsError("InvalidBucketName", "The specified bucket is not valid.")
