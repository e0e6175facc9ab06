"""moto's backends of the request's account and region."""

from __future__ import annotations

from typing import Any

from moto.codepipeline.models import codepipeline_backends
from moto.ecs.models import ecs_backends

from .protocol import ACCOUNT_ID, AwsRequest


def pipeline_backend(req: AwsRequest) -> Any:
    return codepipeline_backends[ACCOUNT_ID][req.region]


def ecs_backend(req: AwsRequest) -> Any:
    return ecs_backends[ACCOUNT_ID][req.region]
