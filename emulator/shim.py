#!/usr/bin/env python3
"""Local AWS emulator: moto's server app behind a WSGI middleware, the `awsshim` package next to this file.

The middleware adds what moto lacks for this product (CodePipeline webhooks,
job results, action executions and pipeline state, CodeBuild UpdateProject,
report groups and reports, CodeStar connections / CodeConnections, ECS rollouts,
Lambda container-image updates, ECR's registry under /v2/ in front of a
docker-registry child process), corrects moto answers that would
make an AWS-correct client fail, records every AWS call, and injects faults
(latency, throttling, IAM propagation delay, outage). See README.md.

Run: python emulator/shim.py [--host 127.0.0.1] [--port 0] [--verbose] [--ignore-stdin]
Prints exactly one line `READY http://HOST:PORT` on stdout once listening and
exits when stdin reaches EOF or on SIGTERM/SIGINT.
"""

from awsshim.process import main  # `python emulator/shim.py` puts emulator/ on sys.path

if __name__ == "__main__":
    main()
