"""The architecture an image was built for, through a real shim process: a push through the registry
records the platform its config blob names; Lambda takes an image of another architecture (the update is
Successful, as on AWS) and then every invoke fails with Runtime.InvalidEntrypoint; an ECS deployment of
such an image on ARM64 or X86_64 tasks fails as its tasks cannot start (the circuit breaker rolls back).
Without docker-registry these tests skip, and fail when the CI environment variable is set."""

from __future__ import annotations

import json
from typing import Any

from shim_helpers import ACCOUNT, REGION, client, create_role
from test_ecr_registry import basic, oci_manifest, put_manifest, registry, upload  # noqa: F401 - a fixture

REPO = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/app"
LAMBDA_PULL = {
    "Sid": "LambdaECRImageRetrievalPolicy",
    "Effect": "Allow",
    "Principal": {"Service": "lambda.amazonaws.com"},
    "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
}


def push_built_for(url: str, architecture: str, tag: str, entrypoint: str = "/var/task/bootstrap") -> str:
    """An image built for `architecture` (GOARCH) pushed through the registry to `app:tag`; its digest."""
    auth = basic(client(url, "ecr"))
    config = json.dumps(
        {
            "architecture": architecture,
            "os": "linux",
            "config": {"Entrypoint": [entrypoint]},
            "rootfs": {"type": "layers", "diff_ids": []},
        }
    ).encode()
    layer = f"{architecture} {tag}".encode() * 50
    manifest = oci_manifest(
        {"digest": upload(url, auth, "app", config), "size": len(config)},
        {"digest": upload(url, auth, "app", layer), "size": len(layer)},
    )
    pushed = put_manifest(url, auth, "app", tag, json.dumps(manifest).encode())
    assert pushed.status_code == 201, pushed.text
    return pushed.headers["Docker-Content-Digest"]


def repository(url: str) -> None:
    ecr = client(url, "ecr")
    ecr.create_repository(repositoryName="app")
    ecr.set_repository_policy(repositoryName="app", policyText=json.dumps({"Version": "2012-10-17", "Statement": [LAMBDA_PULL]}))


def invoke(fn: Any, **qualifier: str) -> tuple[str | None, dict[str, Any] | str]:
    answer = fn.invoke(FunctionName="api", Payload=b"{}", **qualifier)
    payload = answer["Payload"].read().decode()
    try:
        return answer.get("FunctionError"), json.loads(payload)
    except ValueError:
        return answer.get("FunctionError"), payload


def settle(fn: Any) -> dict[str, Any]:
    for _ in range(10):
        configuration = fn.get_function_configuration(FunctionName="api")
        if configuration["LastUpdateStatus"] != "InProgress":
            return configuration
    raise AssertionError("the update never finished")


def test_an_arm64_function_updated_to_an_x86_64_image_succeeds_then_every_invoke_fails(
    shim: str, registry: dict[str, Any]
) -> None:
    repository(shim)
    arm = push_built_for(shim, "arm64", "arm")
    amd = push_built_for(shim, "amd64", "amd")
    fn = client(shim, "lambda")
    role = create_role(shim, "api-fn", "lambda.amazonaws.com")
    fn.create_function(
        FunctionName="api", PackageType="Image", Code={"ImageUri": f"{REPO}:arm"}, Role=role, Architectures=["arm64"], Publish=True
    )
    fn.create_alias(FunctionName="api", Name="live", FunctionVersion="1")
    error, _ = invoke(fn)
    assert error is None, "an arm64 image runs on an arm64 function"

    # Lambda takes the x86_64 image: the update is Successful, the version publishes
    fn.update_function_code(FunctionName="api", ImageUri=f"{REPO}@{amd}")
    configuration = settle(fn)
    assert configuration["LastUpdateStatus"] == "Successful"
    assert configuration["CodeSha256"] == amd.split(":", 1)[1]
    version = fn.publish_version(FunctionName="api")["Version"]
    # ... and every invoke of it fails
    for qualifier in ({}, {"Qualifier": version}):
        error, payload = invoke(fn, **qualifier)
        assert error == "Unhandled"
        assert isinstance(payload, dict) and payload["errorType"] == "Runtime.InvalidEntrypoint"
        assert payload["errorMessage"].startswith("RequestId: ")
        assert payload["errorMessage"].endswith("Error: fork/exec /var/task/bootstrap: exec format error")
    # the alias still on version 1 runs the arm64 image
    assert invoke(fn, Qualifier="live")[0] is None
    assert arm != amd


def test_an_x86_64_function_refuses_to_run_an_arm64_image_and_runs_an_amd64_one(
    shim: str, registry: dict[str, Any]
) -> None:
    repository(shim)
    push_built_for(shim, "arm64", "arm", entrypoint="/lambda-entrypoint.sh")
    push_built_for(shim, "amd64", "amd")
    fn = client(shim, "lambda")
    role = create_role(shim, "api-fn", "lambda.amazonaws.com")
    fn.create_function(FunctionName="api", PackageType="Image", Code={"ImageUri": f"{REPO}:arm"}, Role=role)
    error, payload = invoke(fn)
    assert error == "Unhandled" and isinstance(payload, dict)
    assert payload["errorMessage"].endswith("fork/exec /lambda-entrypoint.sh: exec format error")
    fn.update_function_code(FunctionName="api", ImageUri=f"{REPO}:amd")
    assert settle(fn)["LastUpdateStatus"] == "Successful"
    assert invoke(fn)[0] is None


def ecs_service(url: str, image: str, cpu_architecture: str | None) -> Any:
    """Service web in cluster prod (circuit breaker with rollback) on revision 1 of `image`."""
    ecs = client(url, "ecs")
    ecs.create_cluster(clusterName="prod")
    register_task(ecs, image, cpu_architecture)
    ecs.create_service(
        cluster="prod",
        serviceName="web",
        taskDefinition="web:1",
        desiredCount=2,
        deploymentConfiguration={"deploymentCircuitBreaker": {"enable": True, "rollback": True}},
    )
    return ecs


def register_task(ecs: Any, image: str, cpu_architecture: str | None) -> None:
    platform = {"runtimePlatform": {"cpuArchitecture": cpu_architecture, "operatingSystemFamily": "LINUX"}} if cpu_architecture else {}
    ecs.register_task_definition(family="web", containerDefinitions=[{"name": "web", "image": image, "memory": 256}], **platform)


def rollout_of(ecs: Any, image: str, cpu_architecture: str | None) -> str:
    """Registers revision 2 of `image` and rolls it out; the deployment's final rolloutState."""
    register_task(ecs, image, cpu_architecture)
    ecs.update_service(cluster="prod", service="web", taskDefinition="web:2")
    for _ in range(10):
        service = ecs.describe_services(cluster="prod", services=["web"])["services"][0]
        mine = next(d for d in service["deployments"] if d["taskDefinition"].endswith("web:2"))
        if mine["rolloutState"] != "IN_PROGRESS":
            return str(mine["rolloutState"])
    return "IN_PROGRESS"


def test_an_ecs_deployment_of_an_image_for_another_architecture_fails(shim: str, registry: dict[str, Any]) -> None:
    repository(shim)
    arm = push_built_for(shim, "arm64", "arm")
    amd = push_built_for(shim, "amd64", "amd")
    # ARM64 tasks cannot start an amd64 image; the circuit breaker fails the deployment and rolls back
    ecs = ecs_service(shim, f"{REPO}@{arm}", "ARM64")
    assert rollout_of(ecs, f"{REPO}:amd", "ARM64") == "FAILED"
    service = ecs.describe_services(cluster="prod", services=["web"])["services"][0]
    assert service["taskDefinition"].endswith("web:1")
    assert any("deployment failed: tasks failed to start." in e["message"] for e in service["events"])


def test_ecs_tasks_without_a_runtime_platform_run_x86_64(shim: str, registry: dict[str, Any]) -> None:
    repository(shim)
    arm = push_built_for(shim, "arm64", "arm")
    amd = push_built_for(shim, "amd64", "amd")
    ecs = ecs_service(shim, f"{REPO}@{amd}", None)
    assert rollout_of(ecs, f"{REPO}@{arm}", None) == "FAILED"
    client(shim, "ecs").delete_service(cluster="prod", service="web", force=True)


def test_ecs_runs_an_image_built_for_its_tasks_architecture(shim: str, registry: dict[str, Any]) -> None:
    repository(shim)
    arm = push_built_for(shim, "arm64", "arm")
    ecs = ecs_service(shim, f"{REPO}:arm", "ARM64")
    push_built_for(shim, "arm64", "arm2")
    assert rollout_of(ecs, f"{REPO}:arm2", "ARM64") == "COMPLETED"
    assert arm.startswith("sha256:")
