"""CodeBuild report groups and reports, and builds recorded through the control API,
driven through a real shim process with boto3."""

from __future__ import annotations

import json
import urllib.error
from typing import Any

import pytest
from botocore.exceptions import ClientError

from shim_helpers import ACCOUNT, client, codebuild_project, control, create_role, error_code

NO_EXPORT = {"exportConfigType": "NO_EXPORT"}


def group_arn(name: str) -> str:
    return f"arn:aws:codebuild:us-east-1:{ACCOUNT}:report-group/{name}"


def create_project(url: str, name: str = "app-build") -> str:
    role = create_role(url, f"{name}-role", "codebuild.amazonaws.com")
    client(url, "codebuild").create_project(**codebuild_project(name, role))
    return name


def record_build(url: str, payload: Any) -> Any:
    return control(url, "POST", "/_shim/codebuild/builds", payload)


def control_error(url: str, payload: Any) -> tuple[int, str]:
    with pytest.raises(urllib.error.HTTPError) as raised:
        record_build(url, payload)
    return raised.value.code, json.loads(raised.value.read())["error"]


# ---------------------------------------------------------------- builds


def test_a_build_creates_its_report_groups_untagged_on_the_first_report(shim: str) -> None:
    project = create_project(shim)
    answer = record_build(shim, {"projectName": project, "reportGroups": ["junit", "coverage"], "succeeded": True})
    assert answer["reportGroupArns"] == [group_arn("app-build-junit"), group_arn("app-build-coverage")]
    assert answer["buildArn"].startswith(f"arn:aws:codebuild:us-east-1:{ACCOUNT}:build/app-build:")

    codebuild = client(shim, "codebuild")
    groups = codebuild.batch_get_report_groups(reportGroupArns=answer["reportGroupArns"])["reportGroups"]
    for group, name in zip(groups, ["app-build-junit", "app-build-coverage"]):
        assert group["name"] == name
        assert group["type"] == "TEST"
        assert group["exportConfig"] == NO_EXPORT
        assert group["status"] == "ACTIVE"
        assert group.get("tags", []) == []
    assert sorted(codebuild.list_report_groups()["reportGroups"]) == sorted(answer["reportGroupArns"])

    second = record_build(shim, {"projectName": project, "reportGroups": ["junit"], "succeeded": False})
    assert second["reportGroupArns"] == [group_arn("app-build-junit")]
    assert len(codebuild.list_report_groups()["reportGroups"]) == 2
    listed = codebuild.list_reports_for_report_group(reportGroupArn=group_arn("app-build-junit"))["reports"]
    assert listed == [second["reportArns"][0], answer["reportArns"][0]]  # newest first
    reports = codebuild.batch_get_reports(reportArns=listed + ["arn:aws:codebuild:us-east-1:123456789012:report/x:y"])
    assert [r["status"] for r in reports["reports"]] == ["FAILED", "SUCCEEDED"]
    assert reports["reports"][0]["reportGroupArn"] == group_arn("app-build-junit")
    assert reports["reports"][0]["executionId"] == second["buildArn"]
    assert reports["reports"][0]["arn"].startswith(f"arn:aws:codebuild:us-east-1:{ACCOUNT}:report/app-build-junit:")
    assert reports["reportsNotFound"] == ["arn:aws:codebuild:us-east-1:123456789012:report/x:y"]
    failed = codebuild.list_reports_for_report_group(reportGroupArn=group_arn("app-build-junit"), filter={"status": "FAILED"})
    assert failed["reports"] == second["reportArns"]


def test_a_build_reports_into_existing_groups_and_keeps_their_tags(shim: str) -> None:
    project = create_project(shim)
    codebuild = client(shim, "codebuild")
    tagged = codebuild.create_report_group(
        name="app-build-junit", type="TEST", exportConfig=NO_EXPORT, tags=[{"key": "team", "value": "core"}]
    )["reportGroup"]
    shared = codebuild.create_report_group(name="shared", type="TEST", exportConfig=NO_EXPORT)["reportGroup"]
    answer = record_build(shim, {"projectName": project, "reportGroups": ["junit", shared["arn"]]})
    assert answer["reportGroupArns"] == [tagged["arn"], shared["arn"]]
    assert len(codebuild.list_report_groups()["reportGroups"]) == 2
    group = codebuild.batch_get_report_groups(reportGroupArns=[tagged["arn"]])["reportGroups"][0]
    assert group["tags"] == [{"key": "team", "value": "core"}]
    assert len(codebuild.list_reports_for_report_group(reportGroupArn=shared["arn"])["reports"]) == 1


def test_a_build_of_an_unknown_project_or_group_is_refused_with_the_fix(shim: str) -> None:
    status, message = control_error(shim, {"projectName": "ghost", "reportGroups": ["junit"]})
    assert status == 404 and "ghost" in message and "CreateProject" in message
    project = create_project(shim)
    status, message = control_error(shim, {"projectName": project, "reportGroups": [group_arn("absent")]})
    assert status == 404 and group_arn("absent") in message
    assert client(shim, "codebuild").list_report_groups()["reportGroups"] == []
    status, message = control_error(shim, {"projectName": project, "reportGroups": "junit"})
    assert status == 400 and "reportGroups" in message
    status, message = control_error(shim, {"reportGroups": ["junit"]})
    assert status == 400 and "projectName" in message


# ---------------------------------------------------------------- report group API


def test_create_report_group_answers_the_group_and_a_duplicate_already_exists(shim: str) -> None:
    codebuild = client(shim, "codebuild")
    export = {"exportConfigType": "S3", "s3Destination": {"bucket": "reports", "packaging": "NONE"}}
    group = codebuild.create_report_group(
        name="unit", type="TEST", exportConfig=export, tags=[{"key": "env", "value": "dev"}]
    )["reportGroup"]
    assert group["arn"] == group_arn("unit")
    assert (group["name"], group["type"], group["status"]) == ("unit", "TEST", "ACTIVE")
    assert group["exportConfig"] == export
    assert group["tags"] == [{"key": "env", "value": "dev"}]
    assert group["created"] == group["lastModified"]
    with pytest.raises(ClientError) as raised:
        codebuild.create_report_group(name="unit", type="TEST", exportConfig=NO_EXPORT)
    assert error_code(raised.value) == "ResourceAlreadyExistsException"
    assert raised.value.response["Error"]["Message"] == f"Report group already exists: {group_arn('unit')}"
    with pytest.raises(ClientError) as raised:
        codebuild.create_report_group(name="bad", type="TEST", exportConfig={"exportConfigType": "S3"})
    assert error_code(raised.value) == "InvalidInputException"


def test_batch_get_and_list_report_groups(shim: str) -> None:
    codebuild = client(shim, "codebuild")
    for name in ("b-group", "a-group", "c-group"):
        codebuild.create_report_group(name=name, type="TEST", exportConfig=NO_EXPORT)
    found = codebuild.batch_get_report_groups(reportGroupArns=[group_arn("a-group"), group_arn("nope")])
    assert [g["name"] for g in found["reportGroups"]] == ["a-group"]
    assert found["reportGroupsNotFound"] == [group_arn("nope")]
    by_name = codebuild.list_report_groups(sortBy="NAME", sortOrder="DESCENDING")["reportGroups"]
    assert by_name == [group_arn("c-group"), group_arn("b-group"), group_arn("a-group")]
    first = codebuild.list_report_groups(maxResults=2)
    assert first["reportGroups"] == [group_arn("b-group"), group_arn("a-group")]
    rest = codebuild.list_report_groups(maxResults=2, nextToken=first["nextToken"])
    assert rest["reportGroups"] == [group_arn("c-group")] and "nextToken" not in rest


def test_update_report_group_replaces_tags_and_export_config(shim: str) -> None:
    codebuild = client(shim, "codebuild")
    arn = codebuild.create_report_group(
        name="unit", type="TEST", exportConfig=NO_EXPORT, tags=[{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]
    )["reportGroup"]["arn"]
    updated = codebuild.update_report_group(arn=arn, tags=[{"key": "c", "value": "3"}])["reportGroup"]
    assert updated["tags"] == [{"key": "c", "value": "3"}]
    assert updated["exportConfig"] == NO_EXPORT
    export = {"exportConfigType": "S3", "s3Destination": {"bucket": "reports"}}
    updated = codebuild.update_report_group(arn=arn, exportConfig=export)["reportGroup"]
    assert updated["exportConfig"] == export and updated["tags"] == [{"key": "c", "value": "3"}]
    assert updated["lastModified"] >= updated["created"]
    assert "tags" not in codebuild.update_report_group(arn=arn, tags=[])["reportGroup"]
    with pytest.raises(ClientError) as raised:
        codebuild.update_report_group(arn=group_arn("ghost"), tags=[])
    assert error_code(raised.value) == "ResourceNotFoundException"


def test_delete_report_group_with_reports_needs_delete_reports(shim: str) -> None:
    project = create_project(shim)
    codebuild = client(shim, "codebuild")
    report_arn = record_build(shim, {"projectName": project, "reportGroups": ["junit"]})["reportArns"][0]
    arn = group_arn("app-build-junit")
    with pytest.raises(ClientError) as raised:
        codebuild.delete_report_group(arn=arn)
    assert error_code(raised.value) == "InvalidInputException"
    assert raised.value.response["Error"]["Message"] == f"Cannot delete report group {arn} because it contains reports"
    codebuild.delete_report_group(arn=arn, deleteReports=True)
    assert codebuild.list_report_groups()["reportGroups"] == []
    assert codebuild.batch_get_reports(reportArns=[report_arn])["reportsNotFound"] == [report_arn]
    codebuild.delete_report_group(arn=arn)  # absent: succeeds, as AWS models no not-found error

    record_build(shim, {"projectName": project, "reportGroups": ["junit"]})
    for report in codebuild.list_reports_for_report_group(reportGroupArn=arn)["reports"]:
        codebuild.delete_report(arn=report)
    codebuild.delete_report_group(arn=arn)
    assert codebuild.list_report_groups()["reportGroups"] == []


def test_list_reports_for_an_unknown_group_is_not_found(shim: str) -> None:
    with pytest.raises(ClientError) as raised:
        client(shim, "codebuild").list_reports_for_report_group(reportGroupArn=group_arn("ghost"))
    assert error_code(raised.value) == "ResourceNotFoundException"


def test_tagged_report_groups_are_listed_by_get_resources(shim: str) -> None:
    project = create_project(shim)
    codebuild = client(shim, "codebuild")
    codebuild.create_report_group(name="tagged", type="TEST", exportConfig=NO_EXPORT, tags=[{"key": "app", "value": "demo"}])
    codebuild.create_report_group(name="other", type="TEST", exportConfig=NO_EXPORT, tags=[{"key": "app", "value": "x"}])
    record_build(shim, {"projectName": project, "reportGroups": ["junit"]})  # untagged: not listed
    client(shim, "sns").create_topic(Name="topic", Tags=[{"Key": "app", "Value": "demo"}])
    tagging = client(shim, "resourcegroupstaggingapi")

    def listed(**filters: Any) -> list[str]:
        return sorted(m["ResourceARN"] for m in tagging.get_resources(**filters)["ResourceTagMappingList"])

    topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:topic"
    assert listed() == sorted([group_arn("tagged"), group_arn("other"), topic])
    assert listed(TagFilters=[{"Key": "app", "Values": ["demo"]}]) == sorted([group_arn("tagged"), topic])
    assert listed(ResourceTypeFilters=["codebuild:report-group"]) == sorted([group_arn("tagged"), group_arn("other")])
    assert listed(ResourceTypeFilters=["sns"]) == [topic]
    mapping = tagging.get_resources(ResourceARNList=[group_arn("tagged")])["ResourceTagMappingList"]
    assert mapping == [{"ResourceARN": group_arn("tagged"), "Tags": [{"Key": "app", "Value": "demo"}]}]


def test_reset_forgets_report_groups(shim: str) -> None:
    project = create_project(shim)
    record_build(shim, {"projectName": project, "reportGroups": ["junit"]})
    control(shim, "POST", "/_shim/reset")
    assert client(shim, "codebuild").list_report_groups()["reportGroups"] == []
