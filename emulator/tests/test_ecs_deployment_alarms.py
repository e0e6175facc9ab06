"""ECS deployments watched by more than the circuit breaker, through a real shim process: deployment
alarms (`deploymentConfiguration.alarms`) that fail a rolling deployment and roll it back, blue/green
deployments (`strategy` BLUE_GREEN, `bakeTimeInMinutes`) that stay IN_PROGRESS through their bake and
then complete or, on an alarm, roll back, and CreateService / UpdateService refusing what ECS refuses
(emulator/awsshim/ecs.py)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shim_helpers import client, control
from test_ecs_rollouts import NEW, messages, poll, task_definition, team_service


def alarm(shim: str, name: str) -> Any:
    cw = client(shim, "cloudwatch")
    cw.put_metric_alarm(
        AlarmName=name, MetricName="5xx", Namespace="App", Statistic="Sum", Period=60, EvaluationPeriods=1,
        Threshold=1, ComparisonOperator="GreaterThanOrEqualToThreshold",
    )
    return cw


def watched(shim: str, rollback: bool, **config: Any) -> tuple[Any, Any, str]:
    """The team's service with the deployment alarm web-5xx (and `config`), updated to revision 2."""
    ecs, first = team_service(shim, {"enable": True, "rollback": True})
    cw = alarm(shim, "web-5xx")
    ecs.update_service(
        cluster="prod", service="web",
        deploymentConfiguration={"alarms": {"alarmNames": ["web-5xx"], "enable": True, "rollback": rollback}, **config},
    )
    for _ in range(3):
        poll(ecs)
    return ecs, cw, first


def test_the_deployment_configuration_keeps_alarms_and_strategy(shim: str) -> None:
    ecs, cw, _ = watched(shim, True, strategy="BLUE_GREEN", bakeTimeInMinutes=5)
    config = poll(ecs)["deploymentConfiguration"]
    assert config["alarms"] == {"alarmNames": ["web-5xx"], "enable": True, "rollback": True}
    assert (config["strategy"], config["bakeTimeInMinutes"]) == ("BLUE_GREEN", 5)
    assert config["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}


def test_an_alarm_in_alarm_fails_a_rolling_deployment_and_ecs_rolls_back(shim: str) -> None:
    ecs, cw, first = watched(shim, True)
    stable_id = poll(ecs)["deployments"][0]["id"]
    second = task_definition(ecs, NEW)
    new_id = ecs.update_service(cluster="prod", service="web", taskDefinition=second)["service"]["deployments"][0]["id"]
    assert poll(ecs)["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    cw.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="5xx above 1")
    service = poll(ecs)
    assert service["taskDefinition"] == first
    back, failed = service["deployments"]
    assert (failed["id"], failed["status"], failed["rolloutState"]) == (new_id, "ACTIVE", "FAILED")
    assert failed["rolloutStateReason"] == "ECS deployment alarms: alarm web-5xx is in ALARM state."
    assert failed["failedTasks"] == 0
    assert (back["rolloutState"], back["taskDefinition"]) == ("IN_PROGRESS", first)
    assert back["rolloutStateReason"] == f"ECS deployment alarms: rolling back to deploymentId {stable_id}."
    assert messages(service)[:2] == [
        f"(service web) rolling back to deployment {stable_id}.",
        f"(service web) (deployment {new_id}) deployment failed: alarm detected.",
    ]
    for _ in range(3):  # the rollback is not failed by the alarm in turn
        service = poll(ecs)
    [done] = service["deployments"]
    assert (done["id"], done["rolloutState"], done["taskDefinition"]) == (back["id"], "COMPLETED", first)


def test_without_rollback_the_alarm_fails_the_deployment_and_the_service_stays_on_it(shim: str) -> None:
    ecs, cw, first = watched(shim, False)
    second = task_definition(ecs, NEW)
    ecs.update_service(cluster="prod", service="web", taskDefinition=second)
    cw.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="5xx above 1")
    for _ in range(3):
        service = poll(ecs)
        new, old = service["deployments"]
        assert (new["status"], new["rolloutState"], new["taskDefinition"]) == ("PRIMARY", "FAILED", second)
        assert (old["taskDefinition"], service["taskDefinition"]) == (first, second)
    assert not any("rolling back" in m for m in messages(service))


def test_an_alarm_already_in_alarm_when_the_deployment_starts_does_not_fail_it(shim: str) -> None:
    ecs, cw, _ = watched(shim, True)
    cw.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="before")
    second = task_definition(ecs, NEW)
    ecs.update_service(cluster="prod", service="web", taskDefinition=second)
    for _ in range(2):
        poll(ecs)
    [done] = poll(ecs)["deployments"]
    assert (done["rolloutState"], done["taskDefinition"]) == ("COMPLETED", second)


def test_a_blue_green_deployment_bakes_then_completes(shim: str) -> None:
    control(shim, "POST", "/_shim/codepipeline/clock", {"minuteSeconds": 0.2})
    ecs, _, _ = watched(shim, True, strategy="BLUE_GREEN", bakeTimeInMinutes=2)
    second = task_definition(ecs, NEW)
    ecs.update_service(cluster="prod", service="web", taskDefinition=second)
    for _ in range(5):  # two polls scaling up, then the 0.4 s bake
        new = poll(ecs)["deployments"][0]
        assert (new["rolloutState"], new["taskDefinition"]) == ("IN_PROGRESS", second)
    assert new["runningCount"] == new["desiredCount"] == 2
    time.sleep(0.5)
    [done] = poll(ecs)["deployments"]
    assert (done["rolloutState"], done["taskDefinition"]) == ("COMPLETED", second)


def test_an_alarm_during_the_bake_rolls_the_blue_green_deployment_back(shim: str) -> None:
    control(shim, "POST", "/_shim/codepipeline/clock", {"minuteSeconds": 60})
    ecs, cw, first = watched(shim, True, strategy="BLUE_GREEN", bakeTimeInMinutes=10)
    second = task_definition(ecs, NEW)
    ecs.update_service(cluster="prod", service="web", taskDefinition=second)
    for _ in range(4):
        assert poll(ecs)["deployments"][0]["rolloutState"] == "IN_PROGRESS"
    cw.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="5xx above 1")
    service = poll(ecs)
    back, failed = service["deployments"]
    assert (failed["taskDefinition"], failed["rolloutState"]) == (second, "FAILED")
    assert (back["taskDefinition"], service["taskDefinition"]) == (first, first)


@pytest.mark.parametrize(
    ("config", "code", "message"),
    [
        # an unknown strategy fails the model's enum at the front end (emulator/awsshim/validation.py)
        ({"strategy": "RED_BLACK"}, "ValidationException", "deploymentConfiguration.strategy"),
        ({"strategy": "BLUE_GREEN"}, "InvalidParameterException", "bakeTimeInMinutes is required for the BLUE_GREEN deployment strategy."),
        ({"strategy": "BLUE_GREEN", "bakeTimeInMinutes": 1441}, "InvalidParameterException", "bakeTimeInMinutes must be between 0 and 1440."),
    ],
)
def test_deployment_configurations_ecs_refuses(shim: str, config: dict[str, Any], code: str, message: str) -> None:
    ecs, _ = team_service(shim)
    for call in (
        lambda: ecs.update_service(cluster="prod", service="web", deploymentConfiguration=config),
        lambda: ecs.create_service(cluster="prod", serviceName="api", taskDefinition="web:1", desiredCount=1, deploymentConfiguration=config),
    ):
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == code
        assert message in refused.value.response["Error"]["Message"]
    assert "strategy" not in poll(ecs)["deploymentConfiguration"]
