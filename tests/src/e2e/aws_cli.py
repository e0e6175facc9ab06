"""`aws` in the rehearsal's build: records the call in $STANDIN_STATE_DIR/calls.jsonl (the demo
prints each command the build ran), then runs the real AWS CLI from the project's venv against
the emulator ($AWS_ENDPOINT_URL) with the build role's credentials.

It is the AWS CLI version 1 (PyPI's `awscli`); CodeBuild's standard images carry version 2
(AWS CodeBuild User Guide, "Docker images provided by CodeBuild"). The buildspec's two commands,
`aws ecr get-login-password` and `aws ecr describe-images` with `--query` and `--output text`,
take the same arguments and print the same output in both. A service error prints the same
`An error occurred (CODE) when calling the OPERATION operation: MESSAGE` line; version 1 exits
255 for it and version 2 exits 254 (AWS CLI User Guide, "Command line return codes in the AWS
CLI": 254, "the service returned an error"), and the buildspec only tells zero from non-zero.
"""

import json
import os
import pathlib
import sys

from awscli.clidriver import main

with open(pathlib.Path(os.environ["STANDIN_STATE_DIR"]) / "calls.jsonl", "a", encoding="utf-8") as calls:
    calls.write(json.dumps({"tool": "aws", "args": sys.argv[1:]}) + "\n")
sys.exit(main())
