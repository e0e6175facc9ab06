"""Stand-in `aws` CLI for the local pipeline rehearsal: the two ECR commands the buildspec
uses, answered by the emulator's ECR through boto3, with the real CLI's --query (JMESPath),
--output text and error format (`An error occurred (CODE) when calling the OP operation`,
exit 254). Every call is recorded in $STANDIN_STATE_DIR/calls.jsonl.
"""

import base64
import datetime
import json
import os
import pathlib
import sys

import boto3
import jmespath
from botocore.exceptions import ClientError

STATE = pathlib.Path(os.environ["STANDIN_STATE_DIR"])


def record(args):
    with open(STATE / "calls.jsonl", "a", encoding="utf-8") as calls:
        calls.write(json.dumps({"tool": "aws", "args": args}) + "\n")


def options(args):
    parsed, i = {}, 0
    while i < len(args):
        if not args[i].startswith("--"):
            sys.exit(f"stand-in aws: unexpected argument {args[i]}")
        parsed[args[i][2:]] = args[i + 1]
        i += 2
    return parsed


def text(value):
    if value is None:
        return "None"
    if isinstance(value, list):
        return "\t".join(text(v) for v in value)
    if isinstance(value, dict):
        return "\t".join(text(v) for v in value.values())
    return str(value)


def jsonable(value):
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    raise TypeError(type(value))


def main():
    args = sys.argv[1:]
    record(args)
    if len(args) < 2 or args[0] != "ecr":
        print(f"stand-in aws supports only `aws ecr ...`, not `aws {' '.join(args[:2])}`", file=sys.stderr)
        sys.exit(252)
    operation, opts = args[1], options(args[2:])
    region = opts.pop("region", None)
    client = boto3.client("ecr", region_name=region) if region else boto3.client("ecr")
    query, output = opts.pop("query", None), opts.pop("output", "json")
    try:
        if operation == "get-login-password":
            token = client.get_authorization_token()["authorizationData"][0]["authorizationToken"]
            print(base64.b64decode(token).decode().split(":", 1)[1])
            return
        if operation != "describe-images":
            print(f"stand-in aws does not support `aws ecr {operation}`", file=sys.stderr)
            sys.exit(252)
        request = {"repositoryName": opts.pop("repository-name")}
        if "registry-id" in opts:
            request["registryId"] = opts.pop("registry-id")
        if "image-ids" in opts:
            key, _, value = opts.pop("image-ids").partition("=")
            request["imageIds"] = [{key: value}]
        response = client.describe_images(**request)
    except ClientError as error:
        code = error.response["Error"]["Code"]
        message = error.response["Error"].get("Message", "")
        print(f"\nAn error occurred ({code}) when calling the {error.operation_name} operation: {message}", file=sys.stderr)
        sys.exit(254)
    response.pop("ResponseMetadata", None)
    response = json.loads(json.dumps(response, default=jsonable))
    result = jmespath.search(query, response) if query else response
    print(text(result) if output == "text" else json.dumps(result, indent=4))


main()
