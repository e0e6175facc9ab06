"""ECS rollouts through a real shim process: services created settled, UpdateService deployments that
DescribeServices polls move on (IN_PROGRESS for `rollout_polls` polls, then COMPLETED), images marked
bad failing with and without the circuit breaker's rollback or retrying forever without it, the
refusals of missing and deleted services, task definitions as the deploy handler uses them, and IAM
enforcement of the handler's calls under an assumed role (emulator/awsshim/ecs.py, emulator/awsshim/iam)."""

from __future__ import annotations

import json
import urllib.error
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shim_helpers import ACCOUNT, ACCOUNT_ROOT, REGION, assumed_client, client, control, denied, role_with_policy, trust_policy

GOOD = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/web@sha256:{'a' * 64}"
NEW = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/web@sha256:{'b' * 64}"
BAD_DIGEST = f"sha256:{'b' * 64}"
SERVICE_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/prod/web"
CLUSTER_ARN = f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/prod"


def task_definition(ecs: Any, image: str, family: str = "web", **extra: Any) -> str:
    return ecs.register_task_definition(
        family=family, containerDefinitions=[{"name": "web", "image": image, "memory": 256}], **extra
    )["taskDefinition"]["taskDefinitionArn"]


def team_service(url: str, breaker: dict[str, bool] | None = None) -> tuple[Any, str]:
    """The team's existing service: cluster prod, service web on revision 1 (image GOOD), 2 tasks."""
    ecs = client(url, "ecs")
    ecs.create_cluster(clusterName="prod")
    first = task_definition(ecs, GOOD)
    config: dict[str, Any] = {"maximumPercent": 200, "minimumHealthyPercent": 100}
    if breaker is not None:
        config["deploymentCircuitBreaker"] = breaker
    ecs.create_service(
        cluster="prod", serviceName="web", taskDefinition="web:1", desiredCount=2, deploymentConfiguration=config
    )
    return ecs, first


def poll(ecs: Any) -> dict[str, Any]:
    return ecs.describe_services(cluster="prod", services=["web"])["services"][0]


def messages(service: dict[str, Any]) -> list[str]:
    return [event["message"] for event in service["events"]]


def test_create_service_starts_settled_with_its_deployment_configuration(shim: str) -> None:
    ecs, first = team_service(shim, {"enable": True, "rollback": True})
    service = poll(ecs)
    assert service["taskDefinition"] == first
    assert (service["runningCount"], service["pendingCount"]) == (2, 0)
    assert service["deploymentConfiguration"] == {
        "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    }
    [deployment] = service["deployments"]
    assert deployment["status"] == "PRIMARY"
    assert deployment["rolloutState"] == "COMPLETED"
    assert deployment["rolloutStateReason"] == f"ECS deployment {deployment['id']} completed."
    assert deployment["id"].startswith("ecs-svc/") and deployment["id"][8:].isdigit()
    assert (deployment["runningCount"], deployment["desiredCount"], deployment["failedTasks"]) == (2, 2, 0)
    assert messages(service)[0] == "(service web) has reached a steady state."
    # without one, ECS's defaults: no circuit breaker
    ecs.create_service(cluster="prod", serviceName="api", taskDefinition="web:1", desiredCount=1)
    api = ecs.describe_services(cluster="prod", services=["api"])["services"][0]
    assert api["deploymentConfiguration"]["deploymentCircuitBreaker"] == {"enable": False, "rollback": False}


def test_update_service_rolls_out_over_the_configured_polls(shim: str) -> None:
    ecs, first = team_service(shim, {"enable": True, "rollback": True})
    second = task_definition(ecs, NEW)
    updated = ecs.update_service(cluster=CLUSTER_ARN, service="web", taskDefinition="web:2")["service"]
    assert updated["taskDefinition"] == second  # an ARN, whatever form was sent
    new, old = updated["deployments"]
    assert (new["status"], new["rolloutState"], new["taskDefinition"]) == ("PRIMARY", "IN_PROGRESS", second)
    assert new["rolloutStateReason"] == f"ECS deployment {new['id']} in progress."
    assert (new["runningCount"], new["pendingCount"]) == (0, 2)
    assert (old["status"], old["taskDefinition"]) == ("ACTIVE", first)
    for _ in range(2):  # the default: two polls in progress
        assert [d["rolloutState"] for d in poll(ecs)["deployments"]] == ["IN_PROGRESS", "COMPLETED"]
    service = poll(ecs)
    [done] = service["deployments"]
    assert (done["id"], done["rolloutState"], done["runningCount"]) == (new["id"], "COMPLETED", 2)
    assert done["rolloutStateReason"] == f"ECS deployment {new['id']} completed."
    assert service["taskDefinition"] == second
    assert messages(service)[:2] == [
        "(service web) has reached a steady state.",
        f"(service web) (deployment {new['id']}) deployment completed.",
    ]
    # the same task definition again starts nothing; forceNewDeployment does
    assert len(ecs.update_service(cluster="prod", service="web", taskDefinition=second)["service"]["deployments"]) == 1
    assert control(shim, "POST", "/_shim/ecs", {"rollout_polls": 0}) == {"rollout_polls": 0}
    forced = ecs.update_service(cluster="prod", service="web", forceNewDeployment=True)["service"]
    assert [d["rolloutState"] for d in forced["deployments"]] == ["IN_PROGRESS", "COMPLETED"]
    assert [d["rolloutState"] for d in poll(ecs)["deployments"]] == ["COMPLETED"]


def test_a_bad_image_fails_and_ecs_rolls_back_to_the_last_completed_deployment(shim: str) -> None:
    ecs, first = team_service(shim, {"enable": True, "rollback": True})
    stable_id = poll(ecs)["deployments"][0]["id"]
    second = task_definition(ecs, NEW)
    assert control(shim, "POST", "/_shim/ecs/bad-images", {"images": [BAD_DIGEST]}) == {"images": [BAD_DIGEST]}
    new_id = ecs.update_service(cluster="prod", service="web", taskDefinition=second)["service"]["deployments"][0]["id"]
    assert [poll(ecs)["deployments"][0]["failedTasks"] for _ in range(2)] == [1, 2]
    service = poll(ecs)
    assert service["taskDefinition"] == first  # rolled back
    back, failed = service["deployments"]
    assert (failed["id"], failed["status"], failed["rolloutState"]) == (new_id, "ACTIVE", "FAILED")
    assert failed["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start."
    assert failed["failedTasks"] == 3  # the threshold: 0.5 * desired count, at least 3
    assert (back["status"], back["rolloutState"], back["taskDefinition"]) == ("PRIMARY", "IN_PROGRESS", first)
    assert back["id"] not in (stable_id, new_id)
    assert back["rolloutStateReason"] == f"ECS deployment circuit breaker: rolling back to deploymentId {stable_id}."
    assert messages(service)[:2] == [
        f"(service web) rolling back to deployment {stable_id}.",
        f"(service web) (deployment {new_id}) deployment failed: tasks failed to start.",
    ]
    for _ in range(2):
        assert [d["rolloutState"] for d in poll(ecs)["deployments"]] == ["IN_PROGRESS", "FAILED"]
    [done] = poll(ecs)["deployments"]
    assert (done["id"], done["rolloutState"], done["taskDefinition"]) == (back["id"], "COMPLETED", first)


def test_a_bad_image_without_rollback_fails_and_the_service_stays_on_it(shim: str) -> None:
    ecs, first = team_service(shim, {"enable": True, "rollback": False})
    bad = task_definition(ecs, NEW)
    control(shim, "POST", "/_shim/ecs/bad-images", {"images": [NEW]})  # by URI this time
    ecs.update_service(cluster="prod", service="web", taskDefinition=bad)
    control(shim, "POST", "/_shim/ecs", {"rollout_polls": 1})  # the running rollout keeps its 2 polls
    poll(ecs)
    poll(ecs)
    for _ in range(3):  # failed for good: nothing moves any more
        service = poll(ecs)
        new, old = service["deployments"]
        assert (new["status"], new["rolloutState"], new["taskDefinition"]) == ("PRIMARY", "FAILED", bad)
        assert new["rolloutStateReason"] == "ECS deployment circuit breaker: tasks failed to start."
        assert (old["status"], old["taskDefinition"]) == ("ACTIVE", first)
        assert service["taskDefinition"] == bad
    assert not any("rolling back" in m for m in messages(service))


def test_without_the_circuit_breaker_ecs_keeps_trying(shim: str) -> None:
    ecs, _ = team_service(shim)
    bad = task_definition(ecs, NEW)
    control(shim, "POST", "/_shim/ecs/bad-images", {"images": [BAD_DIGEST]})
    ecs.update_service(cluster="prod", service="web", taskDefinition=bad)
    failed = []
    for _ in range(8):
        new = poll(ecs)["deployments"][0]
        assert (new["rolloutState"], new["taskDefinition"]) == ("IN_PROGRESS", bad)
        failed.append(new["failedTasks"])
    assert failed == list(range(1, 9))
    # un-marking the image lets the next tasks start
    control(shim, "DELETE", "/_shim/ecs/bad-images")
    [done] = poll(ecs)["deployments"]
    assert (done["rolloutState"], done["taskDefinition"]) == ("COMPLETED", bad)


def test_missing_and_deleted_services_answer_as_ecs_does(shim: str) -> None:
    ecs, first = team_service(shim)
    missing = denied(lambda: ecs.update_service(cluster="prod", service="nope", taskDefinition=first))
    assert missing.response["Error"] == {"Code": "ServiceNotFoundException", "Message": "Service not found."}
    assert missing.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    described = ecs.describe_services(cluster="prod", services=["nope"])
    assert described["services"] == []
    assert [f["reason"] for f in described["failures"]] == ["MISSING"]
    no_cluster = denied(lambda: ecs.update_service(cluster="other", service="web", taskDefinition=first))
    assert no_cluster.response["Error"]["Code"] == "ClusterNotFoundException"
    unknown = denied(lambda: ecs.update_service(cluster="prod", service="web", taskDefinition="web:9"))
    assert unknown.response["Error"] == {"Code": "ClientException", "Message": "TaskDefinition not found."}
    second = task_definition(ecs, NEW)
    ecs.deregister_task_definition(taskDefinition=second)
    inactive = denied(lambda: ecs.update_service(cluster="prod", service="web", taskDefinition=second))
    assert inactive.response["Error"] == {"Code": "ClientException", "Message": "TaskDefinition is inactive"}
    assert poll(ecs)["taskDefinition"] == first  # the refusals changed nothing

    ecs.delete_service(cluster="prod", service="web", force=True)
    assert poll(ecs)["status"] == "INACTIVE"
    gone = denied(lambda: ecs.update_service(cluster="prod", service="web", taskDefinition=first))
    assert gone.response["Error"] == {"Code": "ServiceNotActiveException", "Message": "Service was not ACTIVE."}
    assert gone.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_task_definitions_as_the_handler_reads_and_registers_them(shim: str) -> None:
    ecs = client(shim, "ecs")
    arns = [task_definition(ecs, f"img:{i}", tags=[{"key": "job", "value": str(i)}]) for i in range(3)]
    task_definition(ecs, "img:x", family="web-worker")
    described = ecs.describe_task_definition(taskDefinition=arns[1], include=["TAGS"])
    assert described["tags"] == [{"key": "job", "value": "1"}]
    assert described["taskDefinition"]["containerDefinitions"][0]["image"] == "img:1"
    assert ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]["revision"] == 3
    assert ecs.list_task_definitions(familyPrefix="web")["taskDefinitionArns"] == arns
    newest = ecs.list_task_definitions(familyPrefix="web", sort="DESC", status="ACTIVE", maxResults=2)
    assert newest["taskDefinitionArns"] == arns[::-1][:2]
    rest = ecs.list_task_definitions(familyPrefix="web", sort="DESC", maxResults=2, nextToken=newest["nextToken"])
    assert rest["taskDefinitionArns"] == [arns[0]] and "nextToken" not in rest
    everything = ecs.list_task_definitions(sort="DESC")["taskDefinitionArns"]
    assert everything[0].endswith("task-definition/web-worker:1") and everything[1:] == arns[::-1]
    ecs.deregister_task_definition(taskDefinition=arns[0])
    assert ecs.list_task_definitions(familyPrefix="web", status="INACTIVE")["taskDefinitionArns"] == [arns[0]]
    ecs.tag_resource(resourceArn=arns[2], tags=[{"key": "k", "value": "v"}])
    assert {"key": "k", "value": "v"} in ecs.list_tags_for_resource(resourceArn=arns[2])["tags"]


def test_control_routes(shim: str) -> None:
    assert control(shim, "GET", "/_shim/ecs") == {"rollout_polls": 2}
    assert control(shim, "GET", "/_shim/lambda") == {"update_polls": 2}
    for path, payload in [
        ("/_shim/ecs", {"rollout_polls": -1}),
        ("/_shim/ecs", {"rollout_polls": True}),
        ("/_shim/ecs", {"polls": 3}),
        ("/_shim/lambda", {"update_polls": "2"}),
        ("/_shim/ecs/bad-images", {"images": "x"}),
        ("/_shim/ecs/bad-images", {"images": [""]}),
    ]:
        with pytest.raises(urllib.error.HTTPError) as bad:
            control(shim, "POST", path, payload)
        assert bad.value.code == 400, (path, payload)
    control(shim, "POST", "/_shim/ecs", {"rollout_polls": 5})
    control(shim, "POST", "/_shim/lambda", {"update_polls": 7})
    control(shim, "POST", "/_shim/ecs/bad-images", {"images": ["a", "b"]})
    assert control(shim, "POST", "/_shim/lambda/bad-images", {"images": ["b", "c"]}) == {"images": ["a", "b", "c"]}
    assert control(shim, "GET", "/_shim/ecs/bad-images") == {"images": ["a", "b", "c"]}
    control(shim, "POST", "/_shim/reset")
    assert control(shim, "GET", "/_shim/ecs") == {"rollout_polls": 2}
    assert control(shim, "GET", "/_shim/lambda") == {"update_polls": 2}
    assert control(shim, "GET", "/_shim/lambda/bad-images") == {"images": []}


# --------------------------------------------------------------------------
# IAM: the deploy handler's calls under its role
# --------------------------------------------------------------------------

TASK_ROLE = f"arn:aws:iam::{ACCOUNT}:role/web-task"
EXECUTION_ROLE = f"arn:aws:iam::{ACCOUNT}:role/web-execution"
HANDLER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/deploy-handler"
SESSION = f"arn:aws:sts::{ACCOUNT}:assumed-role/deploy-handler/job"


def handler_policy(*, tag_on_create: bool = True, passed_to: str = "ecs-tasks.amazonaws.com") -> dict[str, Any]:
    statements: list[dict[str, Any]] = [
        {
            "Sid": "Service",
            "Effect": "Allow",
            "Action": ["ecs:DescribeServices", "ecs:UpdateService"],
            "Resource": SERVICE_ARN,
            "Condition": {"ArnEquals": {"ecs:cluster": CLUSTER_ARN}},
        },
        {
            "Sid": "TaskDefinitions",
            "Effect": "Allow",
            "Action": ["ecs:DescribeTaskDefinition", "ecs:ListTaskDefinitions"],
            "Resource": "*",
        },
        {
            "Sid": "Register",
            "Effect": "Allow",
            "Action": "ecs:RegisterTaskDefinition",
            "Resource": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:*",
        },
        {
            "Sid": "PassTaskRoles",
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": [TASK_ROLE, EXECUTION_ROLE],
            "Condition": {"StringEquals": {"iam:PassedToService": passed_to}},
        },
    ]
    if tag_on_create:
        statements.append(
            {
                "Sid": "TagOnRegister",
                "Effect": "Allow",
                "Action": "ecs:TagResource",
                "Resource": f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:*",
                "Condition": {"StringEquals": {"ecs:CreateAction": "RegisterTaskDefinition"}},
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def handler_session(url: str, policy: dict[str, Any]) -> Any:
    """An ECS client signed as the deploy handler: role deploy-handler (assumable by Lambda and the
    account) with `policy` as its inline policy `deploy`, assumed as session `job`."""
    role_with_policy(url, "deploy-handler", trust_policy({"Service": "lambda.amazonaws.com"}, ACCOUNT_ROOT), "deploy", policy)
    return assumed_client(url, "ecs", HANDLER_ROLE, "job")


def register_as_handler(ecs: Any, tags: bool = True) -> str:
    return ecs.register_task_definition(
        family="web",
        taskRoleArn=TASK_ROLE,
        executionRoleArn=EXECUTION_ROLE,
        containerDefinitions=[{"name": "web", "image": NEW, "memory": 256}],
        **({"tags": [{"key": "deploy-job", "value": "job-1"}]} if tags else {}),
    )["taskDefinition"]["taskDefinitionArn"]


def assert_denied(error: ClientError, action: str, resource: str) -> None:
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error.response["Error"]["Message"] == (
        f"User: {SESSION} is not authorized to perform: {action} on resource: {resource} "
        f"because no identity-based policy allows the {action} action"
    )


def test_the_handlers_calls_under_a_least_privilege_role(shim: str) -> None:
    team_service(shim, {"enable": True, "rollback": True})
    ecs = handler_session(shim, handler_policy())
    service = ecs.describe_services(cluster=CLUSTER_ARN, services=["web"])["services"][0]
    current = service["taskDefinition"]
    assert ecs.describe_task_definition(taskDefinition=current, include=["TAGS"])["taskDefinition"]["family"] == "web"
    assert ecs.list_task_definitions(familyPrefix="web", sort="DESC", status="ACTIVE", maxResults=10)["taskDefinitionArns"]
    new = register_as_handler(ecs)
    assert new.endswith("task-definition/web:2")
    assert ecs.update_service(cluster=CLUSTER_ARN, service="web", taskDefinition=new)["service"]["taskDefinition"] == new
    grants = {(g["action"], g["resource"]) for g in control(shim, "GET", "/_shim/iam/grants")}
    assert ("ecs:RegisterTaskDefinition", f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:2") in grants
    assert ("ecs:TagResource", f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:2") in grants
    assert ("iam:PassRole", TASK_ROLE) in grants and ("iam:PassRole", EXECUTION_ROLE) in grants
    assert ("ecs:UpdateService", SERVICE_ARN) in grants
    assert control(shim, "GET", "/_shim/iam/denials") == []

    # another service, another cluster: outside the grant
    client(shim, "ecs").create_service(cluster="prod", serviceName="api", taskDefinition="web:1", desiredCount=1)
    other = denied(lambda: ecs.update_service(cluster="prod", service="api", taskDefinition=new))
    assert_denied(other, "ecs:UpdateService", f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/prod/api")
    client(shim, "ecs").create_cluster(clusterName="staging")
    elsewhere = denied(lambda: ecs.describe_services(cluster="staging", services=["web"]))
    assert_denied(elsewhere, "ecs:DescribeServices", f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/staging/web")


def test_registering_with_tags_needs_tag_on_create_and_roles_need_pass_role_to_ecs_tasks(shim: str) -> None:
    team_service(shim)
    untagging = handler_session(shim, handler_policy(tag_on_create=False))
    refused = denied(lambda: register_as_handler(untagging))
    assert_denied(refused, "ecs:TagResource", f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web:2")
    assert register_as_handler(untagging, tags=False).endswith("/web:2")  # no tags, no tag check
    client(shim, "iam").delete_role_policy(RoleName="deploy-handler", PolicyName="deploy")
    client(shim, "iam").put_role_policy(
        RoleName="deploy-handler", PolicyName="deploy", PolicyDocument=json.dumps(handler_policy(passed_to="lambda.amazonaws.com"))
    )
    wrong_service = denied(lambda: register_as_handler(untagging))
    assert_denied(wrong_service, "iam:PassRole", TASK_ROLE)
    assert control(shim, "GET", "/_shim/iam/denials")[-1]["reason"] == "no statement allows"


@pytest.mark.parametrize("controller", ["CODE_DEPLOY", "EXTERNAL"])
def test_update_service_refuses_a_new_task_definition_on_another_controllers_service(shim: str, controller: str) -> None:
    ecs = client(shim, "ecs")
    ecs.create_cluster(clusterName="prod")
    first = task_definition(ecs, GOOD)
    second = task_definition(ecs, NEW)
    ecs.create_service(
        cluster="prod", serviceName="web", taskDefinition=first, desiredCount=1, deploymentController={"type": controller}
    )
    with pytest.raises(ClientError) as refused:
        ecs.update_service(cluster="prod", service="web", taskDefinition=second)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterException"
    assert f"Unable to update task definition on services with a {controller} deployment controller" in str(refused.value)
    service = poll(ecs)
    assert service["taskDefinition"] == first  # nothing changed
    assert service["deploymentController"] == {"type": controller}
    # what UpdateService may still change on such a service: the desired count
    assert ecs.update_service(cluster="prod", service="web", desiredCount=2)["service"]["desiredCount"] == 2


def test_a_service_behind_a_classic_load_balancer_answers_without_rollout_state(shim: str) -> None:
    ecs = client(shim, "ecs")
    ecs.create_cluster(clusterName="prod")
    first = task_definition(ecs, GOOD)
    second = task_definition(ecs, NEW)
    created = ecs.create_service(
        cluster="prod",
        serviceName="web",
        taskDefinition=first,
        desiredCount=2,
        loadBalancers=[{"loadBalancerName": "web-classic", "containerName": "web", "containerPort": 80}],
    )["service"]
    assert all("rolloutState" not in d and "rolloutStateReason" not in d for d in created["deployments"])
    updated = ecs.update_service(cluster="prod", service="web", taskDefinition=second)["service"]
    assert [d["status"] for d in updated["deployments"]] == ["PRIMARY", "ACTIVE"]
    assert all("rolloutState" not in d for d in updated["deployments"])
    for _ in range(2):  # still two deployments: not stable for the ServicesStable waiter
        assert len(poll(ecs)["deployments"]) == 2
    service = poll(ecs)
    [done] = service["deployments"]
    assert "rolloutState" not in done and done["taskDefinition"] == second
    assert service["runningCount"] == service["desiredCount"] == 2
    # a service behind an Application Load Balancer (a target group) keeps it
    ecs.create_service(
        cluster="prod",
        serviceName="api",
        taskDefinition=first,
        desiredCount=1,
        loadBalancers=[{"targetGroupArn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/api/0123456789abcdef", "containerName": "web", "containerPort": 80}],
    )
    api = ecs.describe_services(cluster="prod", services=["api"])["services"][0]
    assert api["deployments"][0]["rolloutState"] == "COMPLETED"
