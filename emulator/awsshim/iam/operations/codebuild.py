"""CodeBuild operations (projects, builds, report groups) -> IAM actions and resources."""

from __future__ import annotations

from typing import Callable

from .common import Check, OperationTable, Request, name_from, pass_role_checks
from ..policy import as_list


def _codebuild_project(r: Request, *names: str) -> str:
    return r.arn("codebuild", f"project/{name_from(r.param(*names) or '', 'project/')}")


def _codebuild_builds(r: Request) -> list[Check]:
    projects: list[str] = []
    for build_id in as_list(r.param("ids")):
        name = name_from(build_id, ":build/").split(":", 1)[0]
        arn = r.arn("codebuild", f"project/{name}")
        if arn not in projects:
            projects.append(arn)
    return [Check("codebuild:BatchGetBuilds", tuple(projects) or (r.arn("codebuild", "project/*"),))]


def _codebuild_report_group(action: str) -> Callable[[Request], list[Check]]:
    """CreateReport / UpdateReport / BatchPutTestCases are IAM actions the build
    container's agent is checked against (not public API operations); the
    resource is the report group, from reportGroupArn, a report ARN
    (report/GROUP:ID) or a name."""

    def checks(r: Request) -> list[Check]:
        group = r.param("reportGroupArn")
        if not group:
            report = r.param("reportArn", "arn")
            if isinstance(report, str) and ":report/" in report:
                group = r.arn("codebuild", "report-group/" + report.split(":report/", 1)[1].rsplit(":", 1)[0])
            else:
                group = r.arn("codebuild", f"report-group/{r.param('reportGroupName', 'name') or ''}")
        if not str(group).startswith("arn:"):
            group = r.arn("codebuild", f"report-group/{group}")
        return [Check(action, (str(group),))]

    return checks


def _codebuild_project_write(action: str) -> Callable[[Request], list[Check]]:
    def checks(r: Request) -> list[Check]:
        return [Check(action, (_codebuild_project(r, "name"),))] + pass_role_checks(
            r, r.param("serviceRole"), "codebuild.amazonaws.com"
        )

    return checks


def _codebuild_projects(r: Request) -> list[Check]:
    """BatchGetProjects: every project named (names or ARNs)."""
    arns = [r.arn("codebuild", f"project/{name_from(n, 'project/')}") for n in as_list(r.param("names"))]
    return [Check("codebuild:BatchGetProjects", tuple(dict.fromkeys(arns)) or (r.arn("codebuild", "project/*"),))]


def _codebuild_report_group_arns(r: Request) -> list[Check]:
    """BatchGetReportGroups: every report group named by ARN."""
    arns = [
        str(a) if str(a).startswith("arn:") else r.arn("codebuild", f"report-group/{a}")
        for a in as_list(r.param("reportGroupArns"))
    ]
    return [
        Check(
            "codebuild:BatchGetReportGroups",
            tuple(dict.fromkeys(arns)) or (r.arn("codebuild", "report-group/*"),),
        )
    ]


def _codebuild_report_group_by_arn(action: str) -> Callable[[Request], list[Check]]:
    """UpdateReportGroup / DeleteReportGroup name the group by its ARN (`arn`)."""

    def checks(r: Request) -> list[Check]:
        group = str(r.param("arn") or "")
        if not group.startswith("arn:"):
            group = r.arn("codebuild", f"report-group/{group}")
        return [Check(action, (group,))]

    return checks


OPERATIONS: OperationTable = {
    # CodeBuild. Source: "Actions, resources, and condition keys for AWS CodeBuild". CodeBuild has
    # no tagging action: tags on CreateProject / CreateReportGroup are governed by
    # aws:RequestTag on those actions themselves, so no tag-on-create check.
    ("codebuild", "StartBuild"): lambda r: [Check("codebuild:StartBuild", (_codebuild_project(r, "projectName"),))],
    ("codebuild", "BatchGetBuilds"): _codebuild_builds,
    ("codebuild", "BatchGetProjects"): _codebuild_projects,
    ("codebuild", "CreateProject"): _codebuild_project_write("codebuild:CreateProject"),
    ("codebuild", "UpdateProject"): _codebuild_project_write("codebuild:UpdateProject"),
    ("codebuild", "DeleteProject"): lambda r: [Check("codebuild:DeleteProject", (_codebuild_project(r, "name"),))],
    ("codebuild", "CreateReportGroup"): lambda r: [
        Check("codebuild:CreateReportGroup", (r.arn("codebuild", f"report-group/{r.param('name') or ''}"),))
    ],
    ("codebuild", "BatchGetReportGroups"): _codebuild_report_group_arns,
    ("codebuild", "UpdateReportGroup"): _codebuild_report_group_by_arn("codebuild:UpdateReportGroup"),
    ("codebuild", "DeleteReportGroup"): _codebuild_report_group_by_arn("codebuild:DeleteReportGroup"),
    ("codebuild", "CreateReport"): _codebuild_report_group("codebuild:CreateReport"),
    ("codebuild", "UpdateReport"): _codebuild_report_group("codebuild:UpdateReport"),
    ("codebuild", "BatchPutTestCases"): _codebuild_report_group("codebuild:BatchPutTestCases"),
}
