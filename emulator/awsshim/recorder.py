"""The call log (`GET /_shim/calls`; README "Control API", call log entries): one entry per AWS call,
API and registry alike, in arrival order."""

from __future__ import annotations

import json
import re
import time

from .iam.enforcer import Denial
from .protocol import Response
from .state import ShimState

XML_ERROR_CODE = re.compile(rb"<Code>([^<]+)</Code>")


def response_error_code(response: Response) -> str | None:
    """The AWS error code a failed answer carries (`x-amzn-ErrorType`, JSON `__type` or XML `<Code>`), else None."""
    if response.status < 300:
        return None
    header = response.header("x-amzn-ErrorType")
    if header:
        return header.split(":", 1)[0]
    try:
        loaded = json.loads(response.body)
    except ValueError:
        match = XML_ERROR_CODE.search(response.body)
        return match.group(1).decode("utf-8", "replace") if match else None
    code = loaded.get("__type") or loaded.get("code") if isinstance(loaded, dict) else None
    return str(code).rsplit("#", 1)[-1] if code else None


def record_call(
    state: ShimState,
    started: float,
    service: str,
    operation: str,
    status: int,
    mutating: bool,
    fault: str | None,
    denial: Denial | None,
    registry: bool = False,
    error: str | None = None,
) -> None:
    """Append the call's entry; `started` is its arrival (epoch seconds), `denial` IAM enforcement's refusal,
    `error` the error code of a failed call."""
    with state.lock:
        state.calls.append(
            {
                "service": service,
                "operation": operation,
                "status": status,
                "mutating": mutating,
                "fault": fault,
                "time": started,
                "duration_ms": round((time.time() - started) * 1000.0, 3),
                **({"error": error} if error else {}),
                **({"registry": True} if registry else {}),
                **({"denied": denial.record} if denial is not None else {}),  # IAM enforcement
            }
        )
