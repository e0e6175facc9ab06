"""moto fixes that apply across services: its configuration (Lambda without Docker) and the
CodePipeline timestamps it answers as ISO-8601 strings where AWS's JSON protocol sends epoch seconds.
"""

from __future__ import annotations

import datetime
from typing import Any

from moto.moto_api._internal.models import moto_api_backend


# Timestamp members moto's CodePipeline answers as ISO-8601 strings. AWS's
# JSON protocol sends epoch seconds, and the Rust SDK rejects anything else
# ("failed to parse timestamp"), so these are converted on the way out.
CODEPIPELINE_TIMESTAMP_KEYS = frozenset(
    {"created", "updated", "startTime", "lastUpdateTime", "lastStatusChange", "lastTriggered"}
)


def configure_moto() -> None:
    """Let Lambda functions run without Docker; applied at start and after every reset."""
    lambda_config = dict(moto_api_backend.get_config().get("lambda") or {})
    lambda_config["use_docker"] = False
    moto_api_backend.set_config({"lambda": lambda_config})


def epoch_seconds(value: Any) -> Any:
    """Epoch seconds for an ISO-8601 string or datetime; anything else unchanged."""
    if isinstance(value, datetime.datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    else:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def timestamps_to_epoch(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: epoch_seconds(item) if key in CODEPIPELINE_TIMESTAMP_KEYS else timestamps_to_epoch(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [timestamps_to_epoch(item) for item in value]
    return value
