"""ECS rollouts (README "ECS rollouts"): deployments that `DescribeServices` polls move on, the
deployment circuit breaker and its rollback, tasks of images marked bad failing to start, services
behind a Classic Load Balancer answering without `rolloutState`, the task-definition refusal of
services another deployment controller deploys, deployment alarms that fail (and roll back) a
deployment, and blue/green deployments that bake before they complete.
"""

from __future__ import annotations

import copy
import json
import math
import random
import time
import uuid
from dataclasses import dataclass
from typing import Any

from moto.core.utils import utcnow

from . import cloudwatch
from .backends import ecs_backend
from .codepipeline_runs import runs as pipeline_runs
from .core import Handler, Shim
from .images import architecture_mismatch, image_marked_bad
from .protocol import AwsError, AwsRequest, Response, json_body, json_response
from .state import EcsRollout, EcsServiceState


# What ECS reports for a service created without one (ECS API Reference, DeploymentConfiguration:
# maximumPercent defaults to 200 and minimumHealthyPercent to 100 for a REPLICA service; the
# circuit breaker is off unless turned on).
ECS_DEFAULT_DEPLOYMENT_CONFIGURATION: dict[str, Any] = {
    "deploymentCircuitBreaker": {"enable": False, "rollback": False},
    "maximumPercent": 200,
    "minimumHealthyPercent": 100,
}
ECS_MAX_EVENTS = 100  # DescribeServices returns the 100 most recent service events
ECS_TARGET = "AmazonEC2ContainerServiceV20141113"
# ECS API Reference, DeploymentConfiguration `strategy` (botocore's ecs model: ROLLING | BLUE_GREEN |
# LINEAR | CANARY); all but ROLLING shift production traffic and then bake (`bakeTimeInMinutes`).
ECS_STRATEGIES = ("ROLLING", "BLUE_GREEN", "LINEAR", "CANARY")
# AWS::ECS::Service DeploymentConfiguration, BakeTimeInMinutes: Minimum 0, Maximum 1440.
ECS_MAX_BAKE_MINUTES = 1440


@dataclass(frozen=True)
class EcsFailure:
    """Why ECS fails a deployment, as DescribeServices and the service events word it."""

    reason: str  # the failed deployment's rolloutStateReason
    event: str  # what follows "(deployment ID) deployment failed: "
    rollback_reason: str  # the rollback deployment's rolloutStateReason, "{id}" the deployment it returns to
    rollback: bool  # whether the configuration asks for a rollback
    failed_tasks: bool  # whether tasks failing to start caused it (failedTasks at the threshold)


def ecs_breaker_failure(service: Any) -> EcsFailure:
    """ECS Developer Guide, "How the Amazon ECS deployment circuit breaker detects failures"."""
    return EcsFailure(
        reason="ECS deployment circuit breaker: tasks failed to start.",
        event="tasks failed to start.",
        rollback_reason="ECS deployment circuit breaker: rolling back to deploymentId {id}.",
        rollback=bool(ecs_breaker(service).get("rollback")),
        failed_tasks=True,
    )


def ecs_alarm_failure(service: Any, alarm: str) -> EcsFailure:
    """ECS Developer Guide, "How CloudWatch alarms detect Amazon ECS deployment failures": ECS "set[s] the
    deployment to failed when it detects that a specified CloudWatch alarm has gone into the ALARM state"
    and, with `rollback`, rolls back "to the last completed deployment". The service events are the ones
    ECS posts ("(deployment ID) deployment failed: alarm detected.", then "rolling back to deployment
    ID."); the rolloutStateReason naming the alarm is modelled on the circuit breaker's (the Developer
    Guide does not quote it)."""
    return EcsFailure(
        reason=f"ECS deployment alarms: alarm {alarm} is in ALARM state.",
        event="alarm detected.",
        rollback_reason="ECS deployment alarms: rolling back to deploymentId {id}.",
        rollback=bool(ecs_alarms(service).get("rollback")),
        failed_tasks=False,
    )


def ecs_alarms(service: Any) -> dict[str, Any]:
    config = getattr(service, "deployment_configuration", None) or {}
    alarms = config.get("alarms") if isinstance(config, dict) else None
    return alarms if isinstance(alarms, dict) else {}


def ecs_check_deployment_configuration(config: Any) -> None:
    """CreateService / UpdateService `deploymentConfiguration` refused as ECS refuses it (ECS API Reference,
    DeploymentConfiguration and DeploymentAlarms): `strategy` one of ROLLING, BLUE_GREEN, LINEAR, CANARY;
    `bakeTimeInMinutes` "You must provide this parameter when you use the BLUE_GREEN deployment strategy",
    0 to 1440; `alarms` needs `alarmNames`, `enable` and `rollback` (all three "Required: Yes")."""
    if not isinstance(config, dict):
        return
    strategy = config.get("strategy")
    if strategy is not None and strategy not in ECS_STRATEGIES:
        raise AwsError(
            "InvalidParameterException",
            f"Invalid deployment strategy: {strategy}. Valid values are {', '.join(ECS_STRATEGIES)}.",
        )
    bake = config.get("bakeTimeInMinutes")
    if bake is not None and (isinstance(bake, bool) or not isinstance(bake, int) or not 0 <= bake <= ECS_MAX_BAKE_MINUTES):
        raise AwsError("InvalidParameterException", f"bakeTimeInMinutes must be between 0 and {ECS_MAX_BAKE_MINUTES}.")
    if strategy == "BLUE_GREEN" and bake is None:
        raise AwsError("InvalidParameterException", "bakeTimeInMinutes is required for the BLUE_GREEN deployment strategy.")
    alarms = config.get("alarms")
    if alarms is None:
        return
    names = alarms.get("alarmNames") if isinstance(alarms, dict) else None
    if (
        not isinstance(names, list)
        or not all(isinstance(n, str) and n for n in names)
        or not isinstance(alarms.get("enable"), bool)
        or not isinstance(alarms.get("rollback"), bool)
    ):
        raise AwsError("InvalidParameterException", "alarms requires alarmNames, enable and rollback.")


def ecs_alarm_in_alarm(service: Any, deployment: dict[str, Any]) -> str | None:
    """The first of the service's deployment alarms (enabled) that went into ALARM since the deployment
    started, read from cloudwatch.py in the service's account and Region; an alarm already in ALARM when
    the deployment started does not fail it (aws/copilot-cli PR #4512: the setting "is ignored if
    associated alarms are already in alarm state")."""
    alarms = ecs_alarms(service)
    if alarms.get("enable") is not True:
        return None
    _, _, _, region, account, _ = str(service.arn).split(":", 5)
    started = cloudwatch.epoch(deployment["createdAt"])
    for name in alarms.get("alarmNames") or []:
        state = cloudwatch.alarm_state(account, region, name)
        if state is not None and state.value == "ALARM" and state.since >= started:
            return str(name)
    return None


def ecs_bake_minutes(service: Any) -> int | None:
    """The bake of a deployment that shifts production traffic (ECS Developer Guide, "Amazon ECS
    blue/green deployments": "Monitor application health, performance metrics, and alarm states during
    the bake time period"); None for a rolling update."""
    config = getattr(service, "deployment_configuration", None) or {}
    if config.get("strategy") in (None, "ROLLING"):
        return None
    return int(config.get("bakeTimeInMinutes") or 0)


def ecs_cluster_name(value: Any) -> str:
    text = str(value or "default")  # a name or an ARN (cluster/NAME); ECS's default cluster is `default`
    return text.rsplit("/", 1)[-1]


def ecs_find_service(backend: Any, cluster: Any, service: Any) -> Any:
    """moto's service for a cluster and a service name or ARN, ACTIVE or not; None when unknown."""
    name = str(service or "").rsplit("/", 1)[-1]
    return backend.services.get(f"{ecs_cluster_name(cluster)}:{name}")


def ecs_task_definition(backend: Any, reference: str) -> Any:
    """The task definition UpdateService names (FAMILY, FAMILY:REVISION or an ARN; a bare family is its
    latest ACTIVE revision), refused as ECS refuses it: `ClientException` "TaskDefinition not found."
    (ECS's answer for an unknown revision), "TaskDefinition is inactive" for a deregistered one (as
    AWS answers UpdateService, aws-cdk issue #33195)."""
    family, _, revision = reference.rsplit("/", 1)[-1].partition(":")
    revisions = backend.task_definitions.get(family) or {}
    if revision:
        found = revisions.get(int(revision)) if revision.isdigit() else None
    else:
        active = [td for td in revisions.values() if td.status == "ACTIVE"]
        found = max(active, key=lambda td: td.revision) if active else None
    if found is None:
        raise AwsError("ClientException", "TaskDefinition not found.")
    if found.status != "ACTIVE":
        raise AwsError("ClientException", "TaskDefinition is inactive")
    return found


def ecs_deployment_id() -> str:
    # ECS deployment ids are `ecs-svc/` and 19 digits, as ECS's service events and DescribeServices
    # answers show them (e.g. "(deployment ecs-svc/1571272475813219068) deployment failed: ...").
    return f"ecs-svc/{random.randint(10**18, 10**19 - 1)}"


def ecs_new_deployment(service: Any, task_definition: str, reason: str | None = None) -> dict[str, Any]:
    """A PRIMARY deployment starting (the ECS API Reference's Deployment data type): no task running yet,
    rolloutState IN_PROGRESS with ECS's reason "ECS deployment ID in progress." (ECS Developer Guide,
    "Amazon ECS service deployment state change events")."""
    now = utcnow()
    deployment_id = ecs_deployment_id()
    template = service.deployments[0] if service.deployments else {}
    return {
        "id": deployment_id,
        "status": "PRIMARY",
        "taskDefinition": task_definition,
        "desiredCount": service.desired_count,
        "pendingCount": service.desired_count,
        "runningCount": 0,
        "failedTasks": 0,
        "createdAt": now,
        "updatedAt": now,
        "launchType": template.get("launchType", service.launch_type),
        "platformVersion": template.get("platformVersion"),
        "platformFamily": template.get("platformFamily"),
        "networkConfiguration": template.get("networkConfiguration"),
        "rolloutState": "IN_PROGRESS",
        "rolloutStateReason": reason or f"ECS deployment {deployment_id} in progress.",
    }


def ecs_event(service: Any, message: str) -> None:
    """A service event as ECS words them ("(service NAME) ..."), newest first."""
    service.events.insert(0, {"id": str(uuid.uuid4()), "createdAt": utcnow(), "message": f"(service {service.name}) {message}"})
    del service.events[ECS_MAX_EVENTS:]


def ecs_failure_threshold(desired: int) -> int:
    # ECS API Reference, ServiceDeploymentCircuitBreaker: "a minimum threshold of 3 and a maximum
    # threshold of 200", from "0.5 * desired task count".
    return min(200, max(3, math.ceil(0.5 * desired)))


def ecs_breaker(service: Any) -> dict[str, Any]:
    config = getattr(service, "deployment_configuration", None) or {}
    breaker = config.get("deploymentCircuitBreaker") if isinstance(config, dict) else None
    return breaker if isinstance(breaker, dict) else {}


def ecs_task_definition_images(backend: Any, arn: str) -> list[str]:
    family, _, revision = arn.rsplit("/", 1)[-1].partition(":")
    found = (backend.task_definitions.get(family) or {}).get(int(revision)) if revision.isdigit() else None
    return [str(c.get("image") or "") for c in (found.container_definitions if found is not None else [])]


def ecs_wrong_architecture(shim: Shim, backend: Any, arn: str) -> bool:
    """Whether a container image of the task definition was built for another CPU architecture than the
    tasks run on: `runtimePlatform.cpuArchitecture`, X86_64 when left out (ECS API Reference,
    RuntimePlatform; terraform-aws-modules/terraform-aws-ecs#155 "It's always defaults to x86"). Such a task
    starts and its container exits at once with "exec format error" (runatlantis/atlantis#2001 on ARM
    Fargate, aws-samples/amazon-bedrock-serverless-prompt-chaining#213 on x86 Fargate: "the ECS tasks are
    constantly failing with `exec ...: exec format error`", the deployment never completes), so its
    deployment fails as one of an image marked bad does. Caller holds the lock."""
    family, _, revision = arn.rsplit("/", 1)[-1].partition(":")
    found = (backend.task_definitions.get(family) or {}).get(int(revision)) if revision.isdigit() else None
    if found is None:
        return False
    runs_on = (getattr(found, "runtime_platform", None) or {}).get("cpuArchitecture") or "X86_64"
    return any(
        architecture_mismatch(shim.state, str(c.get("image") or ""), runs_on) for c in found.container_definitions
    )


def ecs_start_deployment(shim: Shim, service: Any, task_definition: str) -> None:
    """UpdateService with a new task definition (or forceNewDeployment): a new PRIMARY deployment, the
    previous PRIMARY becomes ACTIVE until the new one completes (ECS API Reference, Deployment `status`:
    ACTIVE is a deployment that still has running tasks being replaced by the new PRIMARY one).
    Caller holds the lock."""
    tracked = shim.state.ecs_services.setdefault(service.arn, EcsServiceState())
    if tracked.stable is None:  # a service the shim did not see created: its completed deployment
        for deployment in service.deployments:
            if deployment.get("rolloutState") == "COMPLETED":
                tracked.stable = (deployment["id"], deployment["taskDefinition"])
    now = utcnow()
    for deployment in service.deployments:
        if deployment["status"] == "PRIMARY":
            deployment["status"] = "ACTIVE"
            deployment["updatedAt"] = now
    new = ecs_new_deployment(service, task_definition)
    service.deployments.insert(0, new)
    tracked.rollout = EcsRollout(new["id"], needed=shim.state.ecs_rollout_polls)


def ecs_complete(tracked: EcsServiceState, service: Any, deployment: dict[str, Any]) -> None:
    """The deployment reached a steady state: COMPLETED, the deployments it replaced gone, and the
    service events ECS posts ("(deployment ID) deployment completed.", "has reached a steady state.")."""
    deployment.update(
        rolloutState="COMPLETED",
        rolloutStateReason=f"ECS deployment {deployment['id']} completed.",
        runningCount=deployment["desiredCount"],
        pendingCount=0,
        updatedAt=utcnow(),
    )
    service.deployments[:] = [deployment]
    tracked.stable = (deployment["id"], deployment["taskDefinition"])
    tracked.rollout = None
    ecs_event(service, f"(deployment {deployment['id']}) deployment completed.")
    ecs_event(service, "has reached a steady state.")


def ecs_fail(shim: Shim, tracked: EcsServiceState, service: Any, deployment: dict[str, Any], failure: EcsFailure) -> None:
    """ECS stops a deployment: the circuit breaker, whose tasks keep failing to start (ECS Developer Guide,
    "How the Amazon ECS deployment circuit breaker detects failures"), or a deployment alarm in ALARM
    (ecs_alarm_failure). rolloutState FAILED with the reason ECS gives ("ECS deployment circuit breaker:
    tasks failed to start." as DescribeServices shows it; the Developer Guide's EventBridge example has
    "task failed to start."), failedTasks at the threshold when tasks failed, and the event "(deployment ID)
    deployment failed: ...". With rollback on, ECS rolls back to the last deployment that completed: a new
    PRIMARY deployment of its task definition whose reason is "ECS deployment circuit breaker: rolling back
    to deploymentId ID." (the Developer Guide's rollback event), the event "rolling back to deployment
    ID.", and the failed deployment ACTIVE until the rollback completes."""
    now = utcnow()
    deployment.update(rolloutState="FAILED", rolloutStateReason=failure.reason, updatedAt=now)
    if failure.failed_tasks:
        deployment.update(failedTasks=ecs_failure_threshold(deployment["desiredCount"]), runningCount=0, pendingCount=0)
    ecs_event(service, f"(deployment {deployment['id']}) deployment failed: {failure.event}")
    rollout = tracked.rollout
    tracked.rollout = None
    stable = tracked.stable
    if (
        not failure.rollback
        or rollout is None
        or rollout.rollback
        or stable is None
        or stable[1] == deployment["taskDefinition"]
    ):
        return  # no rollback: the service stays on the failed deployment's task definition
    stable_id, stable_task_definition = stable
    previous = next((d for d in service.deployments if d["taskDefinition"] == stable_task_definition and d is not deployment), None)
    deployment["status"] = "ACTIVE"
    back = ecs_new_deployment(service, stable_task_definition, failure.rollback_reason.format(id=stable_id))
    if previous is not None:  # the tasks the last completed deployment still runs
        back["runningCount"] = min(previous.get("runningCount") or 0, back["desiredCount"])
        back["pendingCount"] = back["desiredCount"] - back["runningCount"]
    service.deployments[:] = [back, deployment]
    service.task_definition = stable_task_definition
    tracked.rollout = EcsRollout(back["id"], needed=shim.state.ecs_rollout_polls, rollback=True)
    ecs_event(service, f"rolling back to deployment {stable_id}.")


def ecs_bake(shim: Shim, tracked: EcsServiceState, service: Any, deployment: dict[str, Any], minutes: int) -> None:
    """Every task of the new revision runs and production traffic has shifted: the deployment stays
    IN_PROGRESS through its bake ("the time period when both blue and green service revisions are running
    simultaneously after the production traffic has shifted", ECS API Reference, DeploymentConfiguration
    `bakeTimeInMinutes`; ECS Developer Guide, "Amazon ECS blue/green deployments"), then completes. A minute
    lasts as long as a minute of a CodePipeline rule's WaitTime (POST /_shim/codepipeline/clock)."""
    rollout = tracked.rollout
    if rollout is None:
        return
    if rollout.bake_until is None:
        rollout.bake_until = time.time() + minutes * pipeline_runs(shim).minute_seconds
        deployment.update(runningCount=deployment["desiredCount"], pendingCount=0, updatedAt=utcnow())
    if time.time() >= rollout.bake_until:
        ecs_complete(tracked, service, deployment)


def ecs_advance(shim: Shim, backend: Any, service: Any) -> None:
    """One DescribeServices poll of a service: its deployment in progress stays IN_PROGRESS for the
    configured number of polls, then completes (a blue/green, linear or canary one after its bake); one
    whose image is marked bad gains a failed task per poll and, with the circuit breaker on, fails at the
    next poll after that (with rollback, ECS rolls back); without the circuit breaker it stays
    IN_PROGRESS, ECS launching tasks again and again. A deployment alarm that goes into ALARM fails the
    deployment at the next poll, whatever else holds (ecs_alarm_failure). Caller holds the lock."""
    tracked = shim.state.ecs_services.get(service.arn)
    rollout = tracked.rollout if tracked is not None else None
    if tracked is None or rollout is None:
        return
    deployment = next((d for d in service.deployments if d["id"] == rollout.deployment_id), None)
    if deployment is None or deployment.get("rolloutState") != "IN_PROGRESS":
        tracked.rollout = None
        return
    rollout.polls += 1
    alarm = None if rollout.rollback else ecs_alarm_in_alarm(service, deployment)
    if alarm is not None:
        ecs_fail(shim, tracked, service, deployment, ecs_alarm_failure(service, alarm))
        return
    bad = image_marked_bad(
        shim.state, *ecs_task_definition_images(backend, deployment["taskDefinition"])
    ) or ecs_wrong_architecture(shim, backend, deployment["taskDefinition"])
    breaker = ecs_breaker(service).get("enable") is True
    if rollout.polls <= rollout.needed or (bad and not breaker):
        if bad:
            failed = deployment["failedTasks"] + 1
            if breaker:
                failed = min(failed, ecs_failure_threshold(deployment["desiredCount"]) - 1)
            deployment.update(failedTasks=failed, updatedAt=utcnow())
        return
    bake = None if rollout.rollback else ecs_bake_minutes(service)
    if bad:
        ecs_fail(shim, tracked, service, deployment, ecs_breaker_failure(service))
    elif bake is not None:
        ecs_bake(shim, tracked, service, deployment, bake)
    else:
        ecs_complete(tracked, service, deployment)


def ecs_behind_classic_load_balancer(service: Any) -> bool:
    """A service created with `loadBalancers` naming a Classic Load Balancer (`loadBalancerName`; an
    Application or Network Load Balancer is named by `targetGroupArn`)."""
    return any(isinstance(lb, dict) and lb.get("loadBalancerName") for lb in getattr(service, "load_balancers", None) or [])


def ecs_hide_rollout_state(backend: Any, described: dict[str, Any]) -> None:
    """ECS API Reference, Deployment `rolloutState`: "The rolloutState of a service is only returned for
    services that use the rolling update (ECS) deployment type that aren't behind a Classic Load
    Balancer." Drops it (and its reason) from such a service's deployments as DescribeServices,
    CreateService and UpdateService answer them; the deployments move on all the same."""
    service = ecs_find_service(backend, described.get("clusterArn"), described.get("serviceArn") or described.get("serviceName"))
    if service is None or not ecs_behind_classic_load_balancer(service):
        return
    for deployment in described.get("deployments") or []:
        deployment.pop("rolloutState", None)
        deployment.pop("rolloutStateReason", None)


def ecs_refuse_controller(service: Any) -> None:
    """UpdateService with a new task definition on a service another controller deploys. ECS API
    Reference, UpdateService: for the blue/green (CODE_DEPLOY) controller "If the network configuration,
    platform version, task definition, or load balancer need to be updated, create a new CodeDeploy
    deployment", and ECS answers InvalidParameterException "Unable to update task definition on services
    with a CODE_DEPLOY deployment controller. Use AWS CodeDeploy to trigger a new deployment." (the
    message AWS sends: fabfuel/ecs-deploy#175, cdklabs/cdk-ecs-codedeploy#121); for an external
    controller "If the launch type, load balancer, network configuration, platform version, or task
    definition need to be updated, create a new task set" (the same refusal, its message modelled on
    CODE_DEPLOY's)."""
    controller = (getattr(service, "deployment_controller", None) or {}).get("type", "ECS")
    if controller == "CODE_DEPLOY":
        raise AwsError(
            "InvalidParameterException",
            "Unable to update task definition on services with a CODE_DEPLOY deployment controller. "
            "Use AWS CodeDeploy to trigger a new deployment.",
        )
    if controller == "EXTERNAL":
        raise AwsError(
            "InvalidParameterException",
            "Unable to update task definition on services with a EXTERNAL deployment controller. "
            "Use a new task set (CreateTaskSet) to deploy it.",
        )


def ecs_service_as_described(shim: Shim, req: AwsRequest, service: Any, tags: bool) -> dict[str, Any]:
    """The service as moto's DescribeServices serializes it (after the shim changed it); not a poll."""
    env = {
        key: value
        for key, value in req.environ.items()
        if key != "HTTP_CONTENT_MD5" and not key.startswith("HTTP_X_AMZ_CHECKSUM_")
    }
    env["HTTP_X_AMZ_TARGET"] = f"{ECS_TARGET}.DescribeServices"
    env["REQUEST_METHOD"] = "POST"
    body: dict[str, Any] = {"cluster": service.cluster_arn, "services": [service.arn]}
    if tags:
        body["include"] = ["TAGS"]
    answer = json_body(shim.call_moto(env, json.dumps(body).encode())) or {}
    services = answer.get("services") or [{}]
    ecs_hide_rollout_state(ecs_backend(req), services[0])
    return services[0]


def ecs_create_service(shim: Shim, req: AwsRequest) -> Response:
    """moto drops deploymentConfiguration and reports the first deployment IN_PROGRESS with no task
    running for good. The service starts settled: its deploymentConfiguration (with AWS's defaults),
    one PRIMARY deployment COMPLETED with every task running, the steady-state event."""
    ecs_check_deployment_configuration(req.params.get("deploymentConfiguration"))
    with shim.state.lock:
        response = shim.forward(req)
        if response.status >= 300:
            return response
        service = ecs_find_service(ecs_backend(req), req.params.get("cluster"), req.params.get("serviceName"))
        if service is None:
            return response
        config = copy.deepcopy(ECS_DEFAULT_DEPLOYMENT_CONFIGURATION)
        given = req.params.get("deploymentConfiguration")
        if isinstance(given, dict):
            config.update(copy.deepcopy(given))
        service.deployment_configuration = config
        service.events = []
        service.running_count = service.desired_count
        service.pending_count = 0
        tracked = EcsServiceState()
        shim.state.ecs_services[service.arn] = tracked
        if service.deployments:
            deployment = service.deployments[0]
            deployment["id"] = ecs_deployment_id()
            deployment["desiredCount"] = service.desired_count
            ecs_complete(tracked, service, deployment)
        return json_response(req, {"service": ecs_service_as_described(shim, req, service, tags=True)})


def ecs_describe_services(shim: Shim, req: AwsRequest) -> Response:
    """Each DescribeServices naming a service is a poll of its deployment in progress (ecs_advance)."""
    with shim.state.lock:
        backend = ecs_backend(req)
        seen: set[str] = set()
        for name in req.params.get("services") or []:
            service = ecs_find_service(backend, req.params.get("cluster"), name)
            if service is None or service.arn in seen or service.status != "ACTIVE":
                continue
            seen.add(service.arn)
            ecs_advance(shim, backend, service)
        response = shim.forward(req)
        answer = json_body(response) if response.status < 300 else None
        if answer is None:
            return response
        for described in answer.get("services") or []:
            ecs_hide_rollout_state(backend, described)
        return response.with_body(json.dumps(answer, default=str).encode())


def ecs_update_service(shim: Shim, req: AwsRequest) -> Response:
    """UpdateService as ECS does it: a deleted (INACTIVE) service answers `ServiceNotActiveException`
    "Service was not ACTIVE." (ECS API Reference, UpdateService errors: "The specified service isn't
    active"; the message as AWS sends it, alchemy-run/alchemy PR #1581), where moto updates it; the
    task definition is stored as its ARN (moto keeps whatever string was sent); a new task definition
    (or forceNewDeployment) starts a new deployment (ecs_start_deployment); deploymentConfiguration is
    merged into the service's."""
    params = req.params
    with shim.state.lock:
        backend = ecs_backend(req)
        if ecs_cluster_name(params.get("cluster")) not in backend.clusters:
            return shim.forward(req)  # moto: ClusterNotFoundException
        service = ecs_find_service(backend, params.get("cluster"), params.get("service"))
        if service is None:
            return shim.forward(req)  # moto: ServiceNotFoundException "Service not found."
        if service.status != "ACTIVE":
            raise AwsError("ServiceNotActiveException", "Service was not ACTIVE.")
        body = dict(params)
        force = bool(body.pop("forceNewDeployment", False))
        new_task_definition = None
        if params.get("taskDefinition"):
            new_task_definition = ecs_task_definition(backend, str(params["taskDefinition"])).arn
            if new_task_definition != service.task_definition:
                ecs_refuse_controller(service)
            body["taskDefinition"] = new_task_definition
        old_task_definition = service.task_definition
        config = copy.deepcopy(getattr(service, "deployment_configuration", None) or ECS_DEFAULT_DEPLOYMENT_CONFIGURATION)
        given = params.get("deploymentConfiguration")
        if isinstance(given, dict):
            ecs_check_deployment_configuration({**config, **given})
        response = shim.forward(req, json.dumps(body).encode())
        if response.status >= 300:
            return response
        if isinstance(given, dict):
            config.update(copy.deepcopy(given))
        service.deployment_configuration = config
        if service.deployments:
            primary = service.deployments[0]
            if primary.get("status") == "PRIMARY" and primary["desiredCount"] != service.desired_count:
                primary["desiredCount"] = service.desired_count
                if primary.get("rolloutState") == "COMPLETED":
                    primary.update(runningCount=service.desired_count, pendingCount=0, updatedAt=utcnow())
            target = new_task_definition or old_task_definition
            if force or (new_task_definition is not None and new_task_definition != old_task_definition):
                ecs_start_deployment(shim, service, target)
        return json_response(req, {"service": ecs_service_as_described(shim, req, service, tags=False)})


def ecs_delete_service(shim: Shim, req: AwsRequest) -> Response:
    with shim.state.lock:
        service = ecs_find_service(ecs_backend(req), req.params.get("cluster"), req.params.get("service"))
        response = shim.forward(req)
        if response.status < 300 and service is not None:
            shim.state.ecs_services.pop(service.arn, None)
        return response


def ecs_list_task_definitions(shim: Shim, req: AwsRequest) -> Response:
    """moto ignores `sort` and `maxResults`. ECS API Reference, ListTaskDefinitions: "By default (ASC),
    task definitions are listed lexicographically by family name and in ascending numerical order by
    revision ... Setting this parameter to DESC reverses the sort order on family name and revision";
    maxResults 1-100 (default 100) with a nextToken; `familyPrefix` is "the full family name", matched
    whole (AWS lists nothing for a shorter prefix, as getmoto/moto PR #2602 shows with the CLI)."""
    params = req.params
    family = params.get("familyPrefix")
    status = params.get("status") or "ACTIVE"
    order = params.get("sort") or "ASC"
    if status not in ("ACTIVE", "INACTIVE", "DELETE_IN_PROGRESS"):
        raise AwsError("InvalidParameterException", f"Invalid status {status!r}: use ACTIVE, INACTIVE or DELETE_IN_PROGRESS")
    if order not in ("ASC", "DESC"):
        raise AwsError("InvalidParameterException", f"Invalid sort {order!r}: use ASC or DESC")
    limit = params.get("maxResults", 100)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 100:
        raise AwsError("InvalidParameterException", "maxResults must be between 1 and 100.")
    token = params.get("nextToken") or "0"
    if not (isinstance(token, str) and token.isdigit()):
        raise AwsError("InvalidParameterException", "Invalid nextToken.")
    with shim.state.lock:
        found = sorted(
            (td.family, td.revision, td.arn)
            for name, revisions in ecs_backend(req).task_definitions.items()
            if family in (None, "", name)
            for td in revisions.values()
            if td.status == status
        )
    if order == "DESC":
        found.reverse()
    start = int(token)
    payload: dict[str, Any] = {"taskDefinitionArns": [arn for _, _, arn in found[start : start + limit]]}
    if start + limit < len(found):
        payload["nextToken"] = str(start + limit)
    return json_response(req, payload)


# The operations this module answers, by (signing name, operation); front.py merges every service's table.
SERVED: dict[tuple[str, str], Handler] = {
    ("ecs", "CreateService"): ecs_create_service,
    ("ecs", "DescribeServices"): ecs_describe_services,
    ("ecs", "UpdateService"): ecs_update_service,
    ("ecs", "DeleteService"): ecs_delete_service,
    ("ecs", "ListTaskDefinitions"): ecs_list_task_definitions,
}
