"""Everything the shim keeps besides moto's own state (`ShimState`), and the records it is made of."""

from __future__ import annotations

import datetime
import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Faults:
    latency_ms: float = 0.0
    throttle_probability: float = 0.0
    seed: int | None = None
    iam_propagation_seconds: float = 0.0
    outage_after_mutating_calls: int | None = None
    rng: random.Random = field(default_factory=random.Random)
    mutating_calls_since_faults: int = 0
    throttled: int = 0
    propagation_rejections: int = 0

    FIELDS = (
        "latency_ms",
        "throttle_probability",
        "seed",
        "iam_propagation_seconds",
        "outage_after_mutating_calls",
    )

    @classmethod
    def from_json(cls, payload: Any) -> "Faults":
        if not isinstance(payload, dict):
            raise ValueError("the fault set must be a JSON object, e.g. {\"latency_ms\": 100}")
        unknown = sorted(set(payload) - set(cls.FIELDS))
        if unknown:
            raise ValueError(f"unknown fault field(s) {unknown}; use only {list(cls.FIELDS)}")

        def number(name: str, minimum: float = 0.0, maximum: float | None = None) -> float:
            value = payload.get(name, 0)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{name} must be a number, got {value!r}")
            if value < minimum or (maximum is not None and value > maximum):
                bound = f"between {minimum} and {maximum}" if maximum is not None else f">= {minimum}"
                raise ValueError(f"{name} must be {bound}, got {value}")
            return float(value)

        seed = payload.get("seed")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        outage = payload.get("outage_after_mutating_calls")
        if outage is not None and (isinstance(outage, bool) or not isinstance(outage, int) or outage < 0):
            raise ValueError(f"outage_after_mutating_calls must be an integer >= 0, got {outage!r}")
        return cls(
            latency_ms=number("latency_ms"),
            throttle_probability=number("throttle_probability", 0.0, 1.0),
            seed=seed,
            iam_propagation_seconds=number("iam_propagation_seconds"),
            outage_after_mutating_calls=outage,
            rng=random.Random(seed),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "latency_ms": self.latency_ms,
            "throttle_probability": self.throttle_probability,
            "seed": self.seed,
            "iam_propagation_seconds": self.iam_propagation_seconds,
            "outage_after_mutating_calls": self.outage_after_mutating_calls,
            "mutating_calls_since_faults": self.mutating_calls_since_faults,
            "throttled": self.throttled,
            "propagation_rejections": self.propagation_rejections,
        }

    @property
    def outage_active(self) -> bool:
        return (
            self.outage_after_mutating_calls is not None
            and self.mutating_calls_since_faults >= self.outage_after_mutating_calls
        )


@dataclass
class Job:
    job_id: str
    data: dict[str, Any]
    status: str = "Created"
    results: list[dict[str, Any]] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    # CodePipeline's limits on the action (codepipeline.job_expire): when it started, when its worker last
    # answered "in progress", the two limits, and why CodePipeline failed it (None while it has not).
    registered_at: float = field(default_factory=time.time)
    last_reply_at: float | None = None
    action_timeout_seconds: float = 24 * 3600.0
    reply_timeout_seconds: float = 20 * 60.0
    timed_out: str | None = None

    def to_json(self) -> dict[str, Any]:
        answer = {
            "jobId": self.job_id,
            "status": self.status,
            "results": self.results,
            "outcomes": self.outcomes,
            "data": self.data,
        }
        if self.timed_out:
            answer["timedOut"] = self.timed_out
        return answer


@dataclass
class Webhook:
    definition: dict[str, Any]
    url: str
    arn: str
    tags: dict[str, str] = field(default_factory=dict)
    registered: bool = False

    def list_item(self) -> dict[str, Any]:
        item: dict[str, Any] = {"definition": self.definition, "url": self.url, "arn": self.arn}
        if self.tags:
            item["tags"] = [{"key": k, "value": v} for k, v in self.tags.items()]
        return item


@dataclass
class EcsRollout:
    """The deployment of a service that DescribeServices polls move on (README "ECS rollouts")."""

    deployment_id: str
    needed: int  # polls that still show it IN_PROGRESS
    polls: int = 0
    rollback: bool = False  # a rollback (circuit breaker or deployment alarm) deployment (it is not rolled back in turn)
    # A blue/green deployment baking (every task of the new revision running): when its bake is over, epoch seconds.
    bake_until: float | None = None


@dataclass
class EcsServiceState:
    # The last deployment that COMPLETED, which a circuit-breaker rollback returns to: (id, task definition ARN).
    stable: tuple[str, str] | None = None
    rollout: EcsRollout | None = None


@dataclass
class EcrScan:
    """A basic image scan that DescribeImageScanFindings polls move on (README "ECR's registry": image scans)."""

    needed: int  # polls that show it IN_PROGRESS (`ecr_scan_polls` when it started)
    # The image's `last_scan` (moto's) this scan stands for: an image whose last_scan differs (deleted and pushed
    # again, moto reset) is not this scan's.
    started: datetime.datetime
    polls: int = 0
    completed: bool = False


@dataclass
class RegistryToken:
    """A password GetAuthorizationToken issued: the registry judges calls made with it as made by the access
    key that asked for it, in that region's registry of that account, until it expires."""

    password: str
    access_key: str | None
    region: str
    account: str
    expires_at: float


@dataclass
class LambdaUpdate:
    """An UpdateFunctionCode with an image that GetFunction / GetFunctionConfiguration polls move on."""

    needed: int
    previous: dict[str, Any]  # code, code_sha_256, code_size before the update
    status: str = "InProgress"  # LastUpdateStatus: InProgress, Successful, Failed
    polls: int = 0
    # What AWS reports while an update runs (update-function-code answers): "The function is being
    # created." with the code "Creating".
    reason: str | None = "The function is being created."
    reason_code: str | None = "Creating"


# GetAuthorizationToken (Amazon ECR API Reference): "Authorization tokens are valid for 12 hours."
REGISTRY_TOKEN_SECONDS = 12 * 3600.0
# DescribeImageScanFindings polls a basic scan answers IN_PROGRESS before COMPLETE (POST /_shim/ecr/scan-polls).
ECR_SCAN_POLLS = 1


class ShimState:
    """Everything the shim keeps besides moto's own state."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.clear()

    def clear(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.faults = Faults()
        # Rollout simulation settings (POST /_shim/ecs, /_shim/lambda, /_shim/ecs/bad-images).
        self.ecs_rollout_polls = 2
        self.lambda_update_polls = 2
        # How many DescribeImageScanFindings polls a basic scan stays IN_PROGRESS (POST /_shim/ecr/scan-polls).
        self.ecr_scan_polls = ECR_SCAN_POLLS
        self.bad_images: list[str] = []
        # Lifetime of the registry passwords GetAuthorizationToken issues (POST /_shim/registry).
        self.registry_token_seconds: float = REGISTRY_TOKEN_SECONDS
        self.github: Any = None  # the GitHub stand-in's GitHubState (github.py), made at its first use
        self.clear_resources()

    def clear_resources(self) -> None:
        self.jobs: dict[str, Job] = {}
        self.webhooks: dict[str, Webhook] = {}
        # connection id (the ARN's last segment) -> connection; the same
        # connection answers to both the codestar-connections and the
        # codeconnections ARN, as in AWS.
        self.connections: dict[str, dict[str, Any]] = {}
        self.role_created_at: dict[str, float] = {}
        self.bucket_policies: dict[str, bytes] = {}
        # function name -> LoggingConfig, which moto neither stores nor reports
        self.function_logging: dict[str, dict[str, Any]] = {}
        # (pipelineName, pipelineExecutionId) -> seeded answers
        self.executions: dict[tuple[str, str], dict[str, Any]] = {}
        # CodePipeline's stage machinery (codepipeline_runs.PipelineRuns), made at its first use
        self.pipeline_runs: Any = None
        # CodeBuild report groups (moto has none): ARN -> ReportGroup as AWS answers it,
        # and report-group ARN -> its reports, oldest first.
        self.report_groups: dict[str, dict[str, Any]] = {}
        self.reports: dict[str, list[dict[str, Any]]] = {}
        # ECS service ARN -> its deployments' simulation; unqualified function ARN -> its image update.
        self.ecs_services: dict[str, EcsServiceState] = {}
        self.lambda_updates: dict[str, LambdaUpdate] = {}
        # ECR registry passwords GetAuthorizationToken handed out -> who asked, where, until when
        # (README "ECR's registry"); the registry's content stays, its tags are answered from moto.
        self.registry_tokens: dict[str, RegistryToken] = {}
        # (repository ARN, image digest) -> its basic scan in progress or completed (ecr_track_scan).
        self.ecr_scans: dict[tuple[str, str], EcrScan] = {}
        # (registry id, region, ecrRepositoryPrefix) -> the pull-through cache rule as ECR answers it (moto has none).
        self.ecr_cache_rules: dict[tuple[str, str, str], dict[str, Any]] = {}
        # manifest digest -> the platform its config blob names ({"os", "architecture"[, "variant"]}), recorded
        # on a push through the registry (images.py); Lambda and ECS refuse to run it elsewhere.
        self.image_platforms: dict[str, dict[str, str]] = {}
