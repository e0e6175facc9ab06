"""CloudWatch alarm operations -> IAM actions and alarm ARNs (signing name `monitoring`).

Source: Service Authorization Reference, "Actions, resources, and condition keys for Amazon
CloudWatch" (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatch.html):
PutMetricAlarm, DescribeAlarms, SetAlarmState, DeleteAlarms, DescribeAlarmHistory, TagResource,
UntagResource and ListTagsForResource take the alarm resource type,
arn:aws:cloudwatch:REGION:ACCOUNT:alarm:NAME (the catalogue in iam/catalogue.py lists the same).
"""

from __future__ import annotations

from typing import Any, Callable

from .common import Check, OperationTable, Request, by_resource_arn, has_tags
from ..policy import as_list


def _alarm(r: Request, name: Any) -> str:
    return r.arn("cloudwatch", f"alarm:{name}")


def _named_alarms(action: str) -> Callable[[Request], list[Check]]:
    """DeleteAlarms / DescribeAlarms: every alarm the request names, each judged; DescribeAlarms
    without names is judged on the alarms it can answer with: `alarm:PREFIX*` for AlarmNamePrefix,
    else `alarm:*` (the emulator's reading: the reference names the alarm type, not how a listing
    without names is authorized)."""

    def checks(r: Request) -> list[Check]:
        names = [str(name) for name in as_list(r.param("AlarmNames")) if name]
        if names:
            return [Check(action, tuple(_alarm(r, name) for name in names))]
        prefix = r.param("AlarmNamePrefix") or ""
        return [Check(action, (_alarm(r, f"{prefix}*"),))]

    return checks


def _one_alarm(action: str) -> Callable[[Request], list[Check]]:
    """SetAlarmState, DescribeAlarmHistory: the alarm AlarmName names; DescribeAlarmHistory without
    one reads every alarm's history (`alarm:*`)."""

    def checks(r: Request) -> list[Check]:
        return [Check(action, (_alarm(r, r.param("AlarmName") or "*"),))]

    return checks


def _put_metric_alarm(r: Request) -> list[Check]:
    """PutMetricAlarm on the alarm; with Tags also cloudwatch:TagResource (API Reference,
    PutMetricAlarm, Tags: "To be able to associate tags with the alarm when you create the alarm, you
    must have the cloudwatch:TagResource permission")."""
    arn = _alarm(r, r.param("AlarmName") or "")
    result = [Check("cloudwatch:PutMetricAlarm", (arn,))]
    if has_tags(r.param("Tags")):
        result.append(Check("cloudwatch:TagResource", (arn,)))
    return result


OPERATIONS: OperationTable = {
    ("monitoring", "PutMetricAlarm"): _put_metric_alarm,
    ("monitoring", "DescribeAlarms"): _named_alarms("cloudwatch:DescribeAlarms"),
    ("monitoring", "DeleteAlarms"): _named_alarms("cloudwatch:DeleteAlarms"),
    ("monitoring", "SetAlarmState"): _one_alarm("cloudwatch:SetAlarmState"),
    ("monitoring", "DescribeAlarmHistory"): _one_alarm("cloudwatch:DescribeAlarmHistory"),
    ("monitoring", "TagResource"): by_resource_arn("cloudwatch:TagResource", "ResourceARN"),
    ("monitoring", "UntagResource"): by_resource_arn("cloudwatch:UntagResource", "ResourceARN"),
    ("monitoring", "ListTagsForResource"): by_resource_arn("cloudwatch:ListTagsForResource", "ResourceARN"),
}
