"""CloudWatch alarms as CloudWatch keeps them: a new alarm starts in INSUFFICIENT_DATA, an update keeps
its state and tags, SetAlarmState transitions are StateUpdate history items that outlive the alarm,
DescribeAlarms by name leaves a missing name out, tag calls refuse an unknown alarm ARN; and the
in-process accessors the pipeline engine reads alarm states through."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from socketserver import ThreadingMixIn

import pytest
from botocore.exceptions import ClientError

from shim_helpers import client, denied, error_code, iam_user

EMULATOR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(EMULATOR))

from awsshim import cloudwatch  # noqa: E402
from awsshim.front import ShimApp  # noqa: E402
from awsshim.protocol import ACCOUNT_ID  # noqa: E402

REGION = "us-east-1"


def put_alarm(cw: Any, name: str, **extra: Any) -> None:
    settings: dict[str, Any] = {
        "MetricName": "5xx",
        "Namespace": "App",
        "Statistic": "Sum",
        "Period": 60,
        "EvaluationPeriods": 1,
        "Threshold": 1,
        "ComparisonOperator": "GreaterThanOrEqualToThreshold",
    }
    cw.put_metric_alarm(AlarmName=name, **{**settings, **extra})


def only_alarm(cw: Any, name: str) -> dict[str, Any]:
    alarms = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"]
    assert len(alarms) == 1, alarms
    return alarms[0]


def test_a_new_alarm_is_insufficient_data_and_an_update_keeps_state_and_tags(shim: str) -> None:
    cw = client(shim, "cloudwatch")
    put_alarm(cw, "web-5xx", Tags=[{"Key": "Environment", "Value": "dev"}])
    alarm = only_alarm(cw, "web-5xx")
    assert alarm["StateValue"] == "INSUFFICIENT_DATA"
    assert alarm["AlarmArn"] == f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:web-5xx"
    assert alarm["StateTransitionedTimestamp"] == alarm["StateUpdatedTimestamp"]

    cw.set_alarm_state(AlarmName="web-5xx", StateValue="ALARM", StateReason="error rate above 1")
    put_alarm(cw, "web-5xx", Threshold=5, Tags=[{"Key": "Environment", "Value": "prod"}])
    updated = only_alarm(cw, "web-5xx")
    assert updated["Threshold"] == 5
    assert (updated["StateValue"], updated["StateReason"]) == ("ALARM", "error rate above 1")
    tags = cw.list_tags_for_resource(ResourceARN=updated["AlarmArn"])["Tags"]
    assert tags == [{"Key": "Environment", "Value": "dev"}], "PutMetricAlarm ignores Tags on an update"


def test_set_alarm_state_is_history_that_outlives_the_alarm(shim: str) -> None:
    cw = client(shim, "cloudwatch")
    put_alarm(cw, "bake")
    cw.set_alarm_state(AlarmName="bake", StateValue="OK", StateReason="quiet")
    first = only_alarm(cw, "bake")
    cw.set_alarm_state(AlarmName="bake", StateValue="OK", StateReason="still quiet")
    again = only_alarm(cw, "bake")
    assert again["StateTransitionedTimestamp"] == first["StateTransitionedTimestamp"]
    assert again["StateUpdatedTimestamp"] >= first["StateUpdatedTimestamp"]
    cw.set_alarm_state(AlarmName="bake", StateValue="ALARM", StateReason="fired")
    cw.delete_alarms(AlarmNames=["bake", "never-made"])
    assert cw.describe_alarms(AlarmNames=["bake"])["MetricAlarms"] == []

    items = cw.describe_alarm_history(AlarmName="bake")["AlarmHistoryItems"]
    summaries = [item["HistorySummary"] for item in items]
    assert summaries == [
        'Alarm "bake" deleted',
        "Alarm updated from OK to ALARM",
        "Alarm updated from INSUFFICIENT_DATA to OK",
        'Alarm "bake" created',
    ]
    states = cw.describe_alarm_history(AlarmName="bake", HistoryItemType="StateUpdate", ScanBy="TimestampAscending")
    assert [item["HistorySummary"] for item in states["AlarmHistoryItems"]][-1] == "Alarm updated from OK to ALARM"
    page = cw.describe_alarm_history(AlarmName="bake", MaxRecords=1)
    assert len(page["AlarmHistoryItems"]) == 1 and page["NextToken"]
    rest = cw.describe_alarm_history(AlarmName="bake", MaxRecords=10, NextToken=page["NextToken"])
    assert len(rest["AlarmHistoryItems"]) == 3


def test_describe_alarms_by_name_leaves_missing_names_out_and_narrows_by_state(shim: str) -> None:
    cw = client(shim, "cloudwatch")
    put_alarm(cw, "present")
    answer = cw.describe_alarms(AlarmNames=["present", "absent"])
    assert [alarm["AlarmName"] for alarm in answer["MetricAlarms"]] == ["present"]
    put_alarm(cw, "firing")
    cw.set_alarm_state(AlarmName="firing", StateValue="ALARM", StateReason="drill")
    alarming = cw.describe_alarms(AlarmNames=["present", "firing"], StateValue="ALARM")["MetricAlarms"]
    assert [alarm["AlarmName"] for alarm in alarming] == ["firing"], "StateValue narrows the names given"
    assert [a["AlarmName"] for a in cw.describe_alarms(AlarmNamePrefix="fir")["MetricAlarms"]] == ["firing"]


@pytest.mark.parametrize(
    "call, code",
    [
        (lambda cw: cw.set_alarm_state(AlarmName="absent", StateValue="ALARM", StateReason="x"), "ResourceNotFound"),
        (lambda cw: cw.set_alarm_state(AlarmName="present", StateValue="RED", StateReason="x"), "ValidationException"),
        (lambda cw: cw.set_alarm_state(AlarmName="present", StateValue="OK", StateReason="x", StateReasonData="{"), "InvalidFormat"),
        (lambda cw: cw.list_tags_for_resource(ResourceARN=arn("absent")), "ResourceNotFoundException"),
        (lambda cw: put_alarm(cw, "odd-period", Period=45), "ValidationError"),
        (lambda cw: put_alarm(cw, "too-long", Period=60, EvaluationPeriods=1441), "ValidationError"),
        (lambda cw: cw.tag_resource(ResourceARN=arn("absent"), Tags=[{"Key": "k", "Value": "v"}]), "ResourceNotFoundException"),
    ],
)
def test_what_cloudwatch_refuses(shim: str, call: Any, code: str) -> None:
    cw = client(shim, "cloudwatch")
    put_alarm(cw, "present")
    with pytest.raises(ClientError) as refused:
        call(cw)
    assert error_code(refused.value) == code


def test_an_alarm_without_tags_can_be_untagged(shim: str) -> None:
    cw = client(shim, "cloudwatch")
    put_alarm(cw, "plain")
    cw.untag_resource(ResourceARN=arn("plain"), TagKeys=["Environment"])
    assert cw.list_tags_for_resource(ResourceARN=arn("plain"))["Tags"] == []


def test_iam_judges_alarm_calls_on_the_alarm_arn(shim: str) -> None:
    """A principal allowed one alarm may set and read that alarm only; tagging at creation also needs
    cloudwatch:TagResource."""
    cw = client(shim, "cloudwatch")
    put_alarm(cw, "mine")
    put_alarm(cw, "theirs")
    allowed = {
        "Effect": "Allow",
        "Action": ["cloudwatch:SetAlarmState", "cloudwatch:DescribeAlarms", "cloudwatch:PutMetricAlarm"],
        "Resource": arn("mine"),
    }
    key, secret = iam_user(shim, "operator", allowed)
    operator = client(shim, "cloudwatch", key, secret)
    operator.set_alarm_state(AlarmName="mine", StateValue="ALARM", StateReason="drill")
    assert only_alarm(operator, "mine")["StateValue"] == "ALARM"
    refused = [
        denied(lambda: operator.set_alarm_state(AlarmName="theirs", StateValue="ALARM", StateReason="drill")),
        denied(lambda: operator.describe_alarms(AlarmNames=["mine", "theirs"])),
        denied(lambda: operator.describe_alarms()),
        denied(lambda: put_alarm(operator, "mine", Tags=[{"Key": "Environment", "Value": "dev"}])),
    ]
    assert all(error_code(error).startswith("AccessDenied") for error in refused), refused


def arn(name: str) -> str:
    return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{name}"


class ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def in_process() -> Iterator[str]:
    """A shim in this test process, so the accessors read the very backend the API calls changed."""
    server = make_server("127.0.0.1", 0, ShimApp(), server_class=ThreadingServer, handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_the_engine_reads_states_and_their_history(in_process: str) -> None:
    cw = client(in_process, "cloudwatch")
    assert cloudwatch.alarm_state(ACCOUNT_ID, REGION, "rollback") is None
    assert cloudwatch.alarm_states_since(ACCOUNT_ID, REGION, "rollback", time.time()) == []
    put_alarm(cw, "rollback")
    cw.set_alarm_state(AlarmName="rollback", StateValue="OK", StateReason="quiet")
    bake_started = time.time()
    time.sleep(0.01)
    cw.set_alarm_state(AlarmName="rollback", StateValue="ALARM", StateReason="fired")
    cw.set_alarm_state(AlarmName="rollback", StateValue="OK", StateReason="recovered")

    now = cloudwatch.alarm_state(ACCOUNT_ID, REGION, "rollback")
    assert now is not None and (now.value, now.reason) == ("OK", "recovered")
    during_bake = cloudwatch.alarm_states_since(ACCOUNT_ID, REGION, "rollback", bake_started)
    assert [state.value for state in during_bake] == ["OK", "ALARM", "OK"]
    assert during_bake[0].since <= bake_started < during_bake[1].since <= during_bake[2].since
    later = cloudwatch.alarm_states_since(ACCOUNT_ID, REGION, "rollback", time.time())
    assert [state.value for state in later] == ["OK"]

    cw.delete_alarms(AlarmNames=["rollback"])
    assert cloudwatch.alarm_state(ACCOUNT_ID, REGION, "rollback") is None
    assert cloudwatch.alarm_states_since(ACCOUNT_ID, REGION, "rollback", time.time()) == []
