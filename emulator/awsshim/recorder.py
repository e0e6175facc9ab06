"""The call log (`GET /_shim/calls`; README "Control API", call log entries): one entry per AWS call,
API and registry alike, in arrival order."""

from __future__ import annotations

import time

from .iam.enforcer import Denial
from .state import ShimState


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
) -> None:
    """Append the call's entry; `started` is its arrival (epoch seconds), `denial` IAM enforcement's refusal."""
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
                **({"registry": True} if registry else {}),
                **({"denied": denial.record} if denial is not None else {}),  # IAM enforcement
            }
        )
