"""The control API under `/_shim/` (README "Control API"): one route per method and path, each answered by
the module of its concern. These calls are never recorded as AWS calls."""

from __future__ import annotations

import json
import re
from typing import Any, Callable

from moto.moto_api._internal.models import moto_api_backend

from .codebuild import record_build
from .codepipeline import job_status, register_job, seed_execution, stored_webhooks
from .codepipeline_runs import approval_record, clock, condition_status, open_approval, stage_result, start_conditions
from .connections import set_connection_status
from .core import ControlCall, Shim
from .github import github_faults, github_records, github_settings
from .images import bad_images
from .parsing import read_body
from .protocol import Response, control_json
from .quirks import configure_moto
from .registry import registry_status
from .state import Faults


ROLLOUT_SETTINGS = {
    "/_shim/ecs": ("rollout_polls", "ecs_rollout_polls"),
    "/_shim/lambda": ("update_polls", "lambda_update_polls"),
    "/_shim/ecr/scan-polls": ("polls", "ecr_scan_polls"),  # README "ECR's registry": image scans
}


def rollout_setting(shim: Shim, call: ControlCall) -> Response:
    """How many polls an ECS deployment / a Lambda image update / an ECR basic scan stays in progress."""
    path, method, payload = call.path, call.method, call.payload
    name, attribute = ROLLOUT_SETTINGS[path]
    with shim.state.lock:
        if method == "POST":
            value = payload.get(name) if isinstance(payload, dict) else None
            if (
                not isinstance(payload, dict)
                or set(payload) != {name}
                or isinstance(value, bool)
                or not isinstance(value, int)
                or value < 0
            ):
                raise ValueError(f'send {{"{name}": N}} with N an integer >= 0, got {payload!r}')
            setattr(shim.state, attribute, value)
        return control_json({name: getattr(shim.state, attribute)})


def reset(shim: Shim, call: ControlCall) -> Response:
    """POST /_shim/reset: moto's state and the shim's, as at start."""
    moto_api_backend.reset()
    configure_moto()
    with shim.state.lock:
        shim.state.clear()
    shim.iam.reset()
    return control_json({"reset": True})


def iam_control(shim: Shim, call: ControlCall) -> Response | None:
    """/_shim/iam and below: IAM enforcement's settings, denials, grants and audits (awsshim/iam)."""
    answered = shim.iam.control(call.method, call.path, call.payload)
    return control_json(*answered) if answered is not None else None


def list_calls(shim: Shim, call: ControlCall) -> Response:
    with shim.state.lock:
        return control_json(list(shim.state.calls))


def clear_calls(shim: Shim, call: ControlCall) -> Response:
    with shim.state.lock:
        shim.state.calls.clear()
        return control_json({"cleared": True})


def get_faults(shim: Shim, call: ControlCall) -> Response:
    with shim.state.lock:
        return control_json(shim.state.faults.to_json())


def set_faults(shim: Shim, call: ControlCall) -> Response:
    with shim.state.lock:
        shim.state.faults = Faults.from_json(call.payload)
        return control_json(shim.state.faults.to_json())


def clear_faults(shim: Shim, call: ControlCall) -> Response:
    with shim.state.lock:
        shim.state.faults = Faults()
        return control_json(shim.state.faults.to_json())


ControlRoute = Callable[[Shim, ControlCall], "Response | None"]
GET, POST, DELETE = frozenset({"GET"}), frozenset({"POST"}), frozenset({"DELETE"})
GET_POST = GET | POST

# (methods, path, route): None takes any method; a string path matches exactly, a pattern from the start.
ROUTES: list[tuple[frozenset[str] | None, str | re.Pattern[str], ControlRoute]] = [
    (POST, "/_shim/reset", reset),
    (None, re.compile(r"/_shim/iam(?:/.*)?\Z", re.DOTALL), iam_control),
    (GET, "/_shim/calls", list_calls),
    (DELETE, "/_shim/calls", clear_calls),
    (GET, "/_shim/faults", get_faults),
    (POST, "/_shim/faults", set_faults),
    (DELETE, "/_shim/faults", clear_faults),
    (POST, "/_shim/codepipeline/jobs", register_job),
    (GET, re.compile(r"^/_shim/codepipeline/jobs/(?P<id>[^/]+)$"), job_status),
    (POST, "/_shim/codepipeline/executions", seed_execution),
    (POST, "/_shim/codepipeline/stage-results", stage_result),
    (POST, "/_shim/codepipeline/approvals", open_approval),
    (GET, re.compile(r"^/_shim/codepipeline/approvals/(?P<token>[^/]+)$"), approval_record),
    (POST, "/_shim/codepipeline/conditions", start_conditions),
    (GET, re.compile(r"^/_shim/codepipeline/conditions/(?P<id>[^/]+)$"), condition_status),
    (GET_POST, "/_shim/codepipeline/clock", clock),
    (POST, "/_shim/codebuild/builds", record_build),
    (GET, "/_shim/codepipeline/webhooks", stored_webhooks),
    (POST, re.compile(r"^/_shim/connections/(?P<arn>.+)/status$"), set_connection_status),
    *[(GET_POST, path, rollout_setting) for path in ROLLOUT_SETTINGS],
    (GET_POST | DELETE, "/_shim/ecs/bad-images", bad_images),
    (GET_POST | DELETE, "/_shim/lambda/bad-images", bad_images),
    (GET_POST, "/_shim/registry", registry_status),
    (GET_POST, "/_shim/github", github_settings),
    (GET_POST | DELETE, "/_shim/github/faults", github_faults),
    (GET | DELETE, re.compile(r"^/_shim/github/(?:statuses|requests)$"), github_records),
]

ENDPOINTS = [
    "POST /_shim/reset",
    "GET|DELETE /_shim/calls",
    "GET|POST /_shim/iam",
    "GET|DELETE /_shim/iam/denials",
    "GET|DELETE /_shim/iam/grants",
    "POST /_shim/iam/mutants",
    "POST /_shim/iam/scope",
    "GET|POST|DELETE /_shim/faults",
    "POST /_shim/codepipeline/jobs",
    "GET /_shim/codepipeline/jobs/{jobId}",
    "POST /_shim/codepipeline/executions",
    "POST /_shim/codepipeline/stage-results",
    "POST /_shim/codepipeline/approvals",
    "GET /_shim/codepipeline/approvals/{token}",
    "POST /_shim/codepipeline/conditions",
    "GET /_shim/codepipeline/conditions/{id}",
    "GET|POST /_shim/codepipeline/clock",
    "GET /_shim/codepipeline/webhooks",
    "POST /_shim/connections/{connectionArn}/status",
    "POST /_shim/codebuild/builds",
    "GET|POST /_shim/ecs",
    "GET|POST /_shim/lambda",
    "GET|POST|DELETE /_shim/ecs/bad-images (= /_shim/lambda/bad-images)",
    "GET|POST /_shim/ecr/scan-polls",
    "GET|POST /_shim/registry",
    "GET|POST /_shim/github",
    "GET|POST|DELETE /_shim/github/faults",
    "GET|DELETE /_shim/github/statuses, /_shim/github/requests",
]


def control(shim: Shim, environ: dict[str, Any]) -> Response:
    """Answer a control call: the first route of its method and path that answers; else 404 listing them."""
    method = environ.get("REQUEST_METHOD", "GET").upper()
    path = environ.get("PATH_INFO", "").rstrip("/")
    raw = read_body(environ)
    try:
        payload = json.loads(raw) if raw.strip() else {}
    except ValueError as error:
        return control_json({"error": f"the request body is not JSON ({error}); send a JSON object"}, 400)
    try:
        for methods, pattern, route in ROUTES:
            matched = pattern.match(path) if isinstance(pattern, re.Pattern) else None
            if (methods is None or method in methods) and (path == pattern or matched):
                answered = route(shim, ControlCall(method, path, payload, environ, matched.groupdict() if matched else {}))
                if answered is not None:
                    return answered
    except ValueError as error:
        return control_json({"error": str(error)}, 400)
    return control_json({"error": f"no control endpoint {method} {path}", "endpoints": ENDPOINTS}, 404)
