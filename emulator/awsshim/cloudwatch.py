"""CloudWatch alarms as CloudWatch keeps them, where moto 5.2.5 does not: a new alarm starts in
INSUFFICIENT_DATA, an updated one keeps its state and its tags, StateTransitionedTimestamp moves when
the state value changes, DescribeAlarmHistory answers (moto raises NotImplementedError) from a history
that outlives the alarm, and tag calls refuse an alarm ARN that does not exist.

The pipeline execution engine reads alarms through `alarm_state` and `alarm_states_since` (the
CloudWatchAlarm rule of a stage condition), never through the API, so its reads are not recorded
calls and need no credentials.
"""

from __future__ import annotations

import datetime
import json
import threading
from dataclasses import dataclass
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends
from moto.cloudwatch.responses import CloudWatchResponse
from moto.core.responses import ActionResult
from moto.core.utils import utcnow

from .core import Handler, Shim
from .protocol import ACCOUNT_ID, AwsError, AwsRequest, Response

# PutMetricAlarm and SetAlarmState read an alarm, let moto change it and fix what moto set, as one step.
ALARMS = threading.Lock()

# CloudWatch API Reference, DescribeAlarmHistory: MaxRecords 1-100 (the service model's range).
HISTORY_MAX_RECORDS = 100


@dataclass(frozen=True)
class AlarmState:
    """One state of an alarm: its value (OK, ALARM or INSUFFICIENT_DATA), the reason CloudWatch (or
    SetAlarmState) gave, and when the alarm entered it, in epoch seconds."""

    value: str
    reason: str
    since: float


def backend(account: str, region: str) -> Any:
    return cloudwatch_backends[account][region]


def history(cloudwatch: Any) -> list[dict[str, Any]]:
    """The region's alarm history, oldest first. It lives on moto's backend, so a reset clears it;
    it outlives the alarm (API Reference, DescribeAlarmHistory: "CloudWatch retains the history of an
    alarm even if you delete the alarm",
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarmHistory.html)."""
    return cloudwatch.__dict__.setdefault("shim_alarm_history", [])


def epoch(moment: datetime.datetime) -> float:
    """moto's naive UTC datetimes as epoch seconds."""
    return moment.replace(tzinfo=datetime.timezone.utc).timestamp()


def alarm_state(account: str, region: str, name: str) -> AlarmState | None:
    """The alarm's current state, or None when no alarm of that name exists."""
    with ALARMS:
        alarm = backend(account, region).alarms.get(name)
        if alarm is None:
            return None
        entered = getattr(alarm, "state_transitioned_timestamp", alarm.state_updated_timestamp)
        return AlarmState(alarm.state_value, alarm.state_reason, epoch(entered))


def alarm_states_since(account: str, region: str, name: str, since: float) -> list[AlarmState]:
    """The state the alarm was in at `since` (epoch seconds), then every state it entered after it,
    oldest first: what a CloudWatchAlarm rule needs to tell whether the alarm was in ALARM at any
    moment of a bake. Empty when the alarm did not exist in that time; a deleted alarm's states end
    with its deletion."""
    with ALARMS:
        entries = [
            entry
            for entry in history(backend(account, region))
            if entry["AlarmName"] == name and "state" in entry
        ]
    states: list[AlarmState] = []
    for entry in entries:
        state = AlarmState(entry["state"], entry["reason"], epoch(entry["Timestamp"]))
        if state.since <= since:
            states = [state] if state.value else []
        elif state.value:
            states.append(state)
        else:
            break  # deleted after `since`
    return states


def record(cloudwatch: Any, name: str, kind: str, summary: str, data: dict[str, Any], state: tuple[str, str] | None) -> None:
    """One AlarmHistoryItem (API Reference, AlarmHistoryItem: AlarmName, AlarmType, Timestamp,
    HistoryItemType, HistorySummary, HistoryData as a JSON string); `state` (value, reason) marks an
    item that changed the alarm's state, ("", "") its deletion."""
    entry: dict[str, Any] = {
        "AlarmName": name,
        "AlarmType": "MetricAlarm",
        "Timestamp": utcnow(),
        "HistoryItemType": kind,
        "HistorySummary": summary,
        "HistoryData": json.dumps({"version": "1.0", **data}),
    }
    if state is not None:
        entry["state"], entry["reason"] = state
    history(cloudwatch).append(entry)


def request_backend(req: AwsRequest) -> Any:
    return backend(ACCOUNT_ID, req.region)


def put_metric_alarm(shim: Shim, req: AwsRequest) -> Response:
    """CloudWatch API Reference, PutMetricAlarm: "When this operation creates an alarm, the alarm
    state is immediately set to INSUFFICIENT_DATA ... When you update an existing alarm, its state is
    left unchanged, but the update completely overwrites the previous configuration"; Tags: "If you
    are using this operation to update an existing alarm, any tags you specify in this parameter are
    ignored" (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html).
    moto starts every alarm in OK and replaces an updated one whole, state and history included."""
    name = req.params.get("AlarmName")
    check_periods(req.params.get("Period"), req.params.get("EvaluationPeriods"))
    cloudwatch = request_backend(req)
    with ALARMS:
        before = cloudwatch.alarms.get(name)
        tags_before = cloudwatch.tagger.get_tag_dict_for_resource(before.alarm_arn) if before else {}
        response = shim.forward(req)
        alarm = cloudwatch.alarms.get(name)
        if response.status >= 300 or alarm is None or alarm is before:
            return response
        if before is None:
            alarm.state_value = "INSUFFICIENT_DATA"
            alarm.state_transitioned_timestamp = alarm.state_updated_timestamp
            created = {"alarmName": name, "alarmArn": alarm.alarm_arn}
            record(cloudwatch, name, "ConfigurationUpdate", f'Alarm "{name}" created',
                   {"type": "Create", "createdAlarm": created}, (alarm.state_value, alarm.state_reason))
            return response
        for field in ("state_value", "state_reason", "state_reason_data", "state_updated_timestamp"):
            setattr(alarm, field, getattr(before, field))
        alarm.state_transitioned_timestamp = getattr(before, "state_transitioned_timestamp", before.state_updated_timestamp)
        cloudwatch.tagger.delete_all_tags_for_resource(alarm.alarm_arn)
        cloudwatch.tagger.tag_resource(alarm.alarm_arn, cloudwatch.tagger.convert_dict_to_tags_input(tags_before))
        record(cloudwatch, name, "ConfigurationUpdate", f'Alarm "{name}" updated', {"type": "Update"}, None)
    return response


def check_periods(period: Any, evaluation_periods: Any) -> None:
    """API Reference, PutMetricAlarm, Period: "Valid values are 10, 20, 30, and any multiple of 60"; "Period
    multiplied by EvaluationPeriods can't be more than 604,800 seconds. For alarms with a period of less
    than one hour (3,600 seconds), the total evaluation period can't be longer than one day (86,400
    seconds)." (moto accepts any period.) A metric-math alarm gives its periods per metric: unchecked."""
    if period in (None, ""):
        return
    seconds = int(period)
    if seconds not in (10, 20, 30) and (seconds <= 0 or seconds % 60):
        raise AwsError("ValidationError", f"Period {seconds} is not valid: use 10, 20, 30 or a multiple of 60 seconds")
    total = seconds * int(evaluation_periods or 1)
    limit = 86_400 if seconds < 3_600 else 604_800
    if total > limit:
        raise AwsError(
            "ValidationError",
            f"Period {seconds} times EvaluationPeriods {evaluation_periods} is {total} seconds, over the {limit} "
            "a period of this length allows; use fewer evaluation periods",
        )


def set_alarm_state(shim: Shim, req: AwsRequest) -> Response:
    """CloudWatch API Reference, SetAlarmState: "Temporarily sets the state of an alarm for testing
    purposes"; ResourceNotFound for an alarm that does not exist
    (https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_SetAlarmState.html).
    A change of state value is a StateUpdate history item ("Alarm updated from OK to ALARM") and
    moves StateTransitionedTimestamp (MetricAlarm: "The date and time that the alarm's StateValue
    most recently changed"); StateUpdatedTimestamp moves on every call."""
    name = req.params.get("AlarmName")
    cloudwatch = request_backend(req)
    with ALARMS:
        before = cloudwatch.alarms.get(name)
        if before is None:
            raise AwsError("ResourceNotFound", f"Alarm {name} not found", 404)
        old = (before.state_value, before.state_reason)
        response = shim.forward(req)
        alarm = cloudwatch.alarms.get(name)
        if response.status >= 300 or alarm is None or alarm.state_value == old[0]:
            return response
        alarm.state_transitioned_timestamp = alarm.state_updated_timestamp
        data = {
            "oldState": {"stateValue": old[0], "stateReason": old[1]},
            "newState": {"stateValue": alarm.state_value, "stateReason": alarm.state_reason},
        }
        record(cloudwatch, name, "StateUpdate", f"Alarm updated from {old[0]} to {alarm.state_value}",
               data, (alarm.state_value, alarm.state_reason))
    return response


def delete_alarms(shim: Shim, req: AwsRequest) -> Response:
    """CloudWatch API Reference, DeleteAlarms: "If you specify any incorrect alarm names, the alarms
    you specify with correct names are still deleted" (moto does the same). The alarm's tags go with
    it (moto keeps them for the next alarm of that name); its history stays."""
    names = req.params.get("AlarmNames") or []
    if req.protocol == "query":
        names = [value for key, value in sorted(req.params.items()) if key.startswith("AlarmNames.member.")]
    cloudwatch = request_backend(req)
    with ALARMS:
        existing = {name: cloudwatch.alarms[name] for name in names if name in cloudwatch.alarms}
        response = shim.forward(req)
        if response.status >= 300:
            return response
        for name, alarm in existing.items():
            if name not in cloudwatch.alarms:
                cloudwatch.tagger.delete_all_tags_for_resource(alarm.alarm_arn)
                record(cloudwatch, name, "ConfigurationUpdate", f'Alarm "{name}" deleted', {"type": "Delete"}, ("", ""))
    return response


def tagged_alarm_must_exist(shim: Shim, req: AwsRequest) -> Response | None:
    """TagResource, UntagResource and ListTagsForResource on an alarm ARN that names no alarm answer
    ResourceNotFoundException (API Reference, TagResource / ListTagsForResource, Errors); moto lists
    an empty set for it and refuses untagging an alarm that has no tags yet."""
    arn = str(req.params.get("ResourceARN") or "")
    if ":alarm:" not in arn:
        return None
    name = arn.split(":alarm:", 1)[1]
    alarm = request_backend(req).alarms.get(name)
    if alarm is None or alarm.alarm_arn != arn:
        raise AwsError("ResourceNotFoundException", f"Alarm {arn} does not exist", 404)
    if req.operation == "UntagResource":
        request_backend(req).tagger.tags.setdefault(arn, {})
    return None


def timestamp_param(value: Any) -> datetime.datetime | None:
    """A timestamp parameter as moto hands it over: epoch seconds (JSON) or ISO-8601 (query)."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) or str(value).replace(".", "", 1).isdigit():
        return datetime.datetime.fromtimestamp(float(value), datetime.timezone.utc).replace(tzinfo=None)
    parsed = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed.astimezone(datetime.timezone.utc).replace(tzinfo=None) if parsed.tzinfo else parsed


def describe_alarm_history(self: CloudWatchResponse) -> ActionResult:
    """DescribeAlarmHistory (API Reference): AlarmName, AlarmTypes (MetricAlarm when omitted),
    HistoryItemType, StartDate/EndDate, ScanBy (TimestampDescending by default), MaxRecords and
    NextToken; taught to moto's response class so moto serializes it in every protocol it speaks."""
    name = self._get_param("AlarmName")
    kind = self._get_param("HistoryItemType")  # its values: the model's enum, checked by validation.py
    types = self._get_param("AlarmTypes") or ["MetricAlarm"]
    start = timestamp_param(self._get_param("StartDate"))
    end = timestamp_param(self._get_param("EndDate"))
    limit = int(self._get_param("MaxRecords") or HISTORY_MAX_RECORDS)
    offset = int(self._get_param("NextToken") or 0)
    with ALARMS:
        entries = [
            {key: value for key, value in entry.items() if key[0].isupper()}
            for entry in history(self.cloudwatch_backend)
            if (name is None or entry["AlarmName"] == name)
            and (kind is None or entry["HistoryItemType"] == kind)
            and entry["AlarmType"] in types
            and (start is None or entry["Timestamp"] >= start)
            and (end is None or entry["Timestamp"] <= end)
        ]
    if self._get_param("ScanBy", "TimestampDescending") == "TimestampDescending":
        entries.reverse()
    result: dict[str, Any] = {"AlarmHistoryItems": entries[offset : offset + limit]}
    if offset + limit < len(entries):
        result["NextToken"] = str(offset + limit)
    return ActionResult(result)


def describe_alarms(self: CloudWatchResponse) -> ActionResult:
    """DescribeAlarms (API Reference): AlarmNames, AlarmNamePrefix or ActionPrefix choose the alarms
    and StateValue narrows them further (moto applies only the first filter given, so a StateValue
    beside names was ignored); names that exist are answered, a missing one is simply absent."""
    names = self._get_param("AlarmNames") or []
    prefix = self._get_param("AlarmNamePrefix")
    action_prefix = self._get_param("ActionPrefix")
    state = self._get_param("StateValue")
    with ALARMS:
        alarms = [
            alarm
            for alarm in self.cloudwatch_backend.alarms.values()
            if (not names or alarm.name in names)
            and (not prefix or alarm.name.startswith(prefix))
            and (not action_prefix or any(action.startswith(action_prefix) for action in alarm.alarm_actions))
            and (not state or alarm.state_value == state)
        ]
    alarms.sort(key=lambda alarm: alarm.name)
    return ActionResult(
        {
            "MetricAlarms": [alarm for alarm in alarms if alarm.rule is None],
            "CompositeAlarms": [alarm for alarm in alarms if alarm.rule is not None],
        }
    )


# moto 5.2.5 has no DescribeAlarmHistory and filters DescribeAlarms by one parameter only: its
# dispatcher finds these methods by the operation's name.
CloudWatchResponse.describe_alarm_history = describe_alarm_history  # type: ignore[attr-defined]
CloudWatchResponse.describe_alarms = describe_alarms  # type: ignore[method-assign]


SERVED: dict[tuple[str, str], Handler] = {
    ("monitoring", "PutMetricAlarm"): put_metric_alarm,
    ("monitoring", "SetAlarmState"): set_alarm_state,
    ("monitoring", "DeleteAlarms"): delete_alarms,
    ("monitoring", "TagResource"): tagged_alarm_must_exist,
    ("monitoring", "UntagResource"): tagged_alarm_must_exist,
    ("monitoring", "ListTagsForResource"): tagged_alarm_must_exist,
}
