"""CodeBuild operations moto 5.2.5 lacks or answers wrongly: CreateProject without a source location,
UpdateProject, report groups and reports (moto has none) and their place in the Resource Groups Tagging
API's GetResources; and the control route telling the emulator a build ran (README "Operations the shim
serves", CodeBuild).
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from moto.codebuild.models import codebuild_backends
from moto.core.resource_tagging import make_tag_matcher, match_resource_type

from .core import ControlCall, Handler, Shim
from .protocol import (
    ACCOUNT_ID,
    DEFAULT_REGION,
    AwsError,
    AwsRequest,
    Response,
    control_json,
    json_body,
    json_response,
    require,
)


# Stands in for a location moto insists on; never leaves the shim.
PLACEHOLDER_LOCATION = "emulator-placeholder-location"


LOCATION_OPTIONAL_SOURCE_TYPES = {"CODEPIPELINE", "NO_SOURCE"}


# CodeBuild's curated images (CodeBuild User Guide, "Docker images provided by CodeBuild"): the aarch64
# ones (`aws/codebuild/amazonlinux-aarch64-standard:3.0`, `...amazonlinux2-aarch64-standard:3.0`) run only
# in an ARM_CONTAINER environment, the x86_64 ones only in LINUX_CONTAINER (and its GPU / Lambda kinds).
CURATED_IMAGE_PREFIX = "aws/codebuild/"


def validate_environment(environment: Any, failed_call: str = "") -> None:
    """A curated image of one architecture in an environment of the other is refused: 400
    InvalidInputException "AWS CodeBuild curated image IMAGE is not supported for projects with environment
    type TYPE and compute type COMPUTE" (aws/aws-cdk#35368 for CreateProject; aws/copilot-cli#3110 for
    UpdateProject, prefixed "Failed to call UpdateProject, reason: "). ARM_CONTAINER takes every general
    compute type (CodeBuild User Guide, "Build environment compute modes and types", since July 2024:
    aws/aws-cdk#30869); custom images are not checked."""
    if not isinstance(environment, dict):
        return
    image, kind, compute = environment.get("image"), environment.get("type"), environment.get("computeType")
    if not isinstance(image, str) or not image.startswith(CURATED_IMAGE_PREFIX):
        return
    arm_image = "aarch64" in image
    if (kind == "ARM_CONTAINER" and not arm_image) or (kind == "LINUX_CONTAINER" and arm_image):
        raise AwsError(
            "InvalidInputException",
            f"{failed_call}AWS CodeBuild curated image {image} is not supported for projects with environment type "
            f"{kind} and compute type {compute}",
        )


def codebuild_create_project(shim: Shim, req: AwsRequest) -> Response:
    validate_environment(req.params.get("environment"))
    params = json.loads(json.dumps(req.params))  # a copy to fill in
    originals: dict[str, str | None] = {}
    for member, optional_types in (("source", LOCATION_OPTIONAL_SOURCE_TYPES), ("artifacts", {"CODEPIPELINE"})):
        section = params.get(member)
        if isinstance(section, dict) and section.get("type") in optional_types and not section.get("location"):
            originals[member] = section.get("location")
            section["location"] = PLACEHOLDER_LOCATION
    if not originals:
        return shim.forward(req)
    response = shim.forward(req, json.dumps(params).encode())
    if response.status != 200:
        return response
    name = params.get("name")
    with shim.state.lock:
        project = codebuild_backends[ACCOUNT_ID][req.region].codebuild_projects.get(name)
        if project is not None:
            # Take the placeholder out of moto's stored project too, so every
            # later read (BatchGetProjects, StartBuild) sees what was sent.
            restore_locations(project.project_metadata, originals)
    payload = json.loads(response.body)
    restore_locations(payload.get("project", {}), originals)
    return response.with_body(json.dumps(payload).encode())


def restore_locations(project: dict[str, Any], originals: dict[str, str | None]) -> None:
    for member, original in originals.items():
        section = project.get(member)
        if isinstance(section, dict) and section.get("location") == PLACEHOLDER_LOCATION:
            if original is None:
                del section["location"]
            else:
                section["location"] = original


# UpdateProject members and where moto keeps them in project_metadata.
UPDATABLE_PROJECT_MEMBERS = (
    "description",
    "source",
    "secondarySources",
    "sourceVersion",
    "secondarySourceVersions",
    "artifacts",
    "secondaryArtifacts",
    "cache",
    "environment",
    "serviceRole",
    "timeoutInMinutes",
    "queuedTimeoutInMinutes",
    "encryptionKey",
    "tags",
    "vpcConfig",
    "logsConfig",
    "fileSystemLocations",
    "buildBatchConfig",
    "concurrentBuildLimit",
    "autoRetryLimit",
)


def codebuild_update_project(shim: Shim, req: AwsRequest) -> Response:
    name = require(req.params, "name")
    backend = codebuild_backends[ACCOUNT_ID][req.region]
    with shim.state.lock:
        project = backend.codebuild_projects.get(name)
        if project is None:
            project = next((p for p in backend.codebuild_projects.values() if p.arn == name), None)
        if project is None:
            raise AwsError(
                "ResourceNotFoundException",
                f"Failed to call UpdateProject, reason: Project {name} not found",
            )
        validate_project_update(req.params)
        validate_environment(req.params.get("environment"), "Failed to call UpdateProject, reason: ")
        metadata = project.project_metadata
        for member in UPDATABLE_PROJECT_MEMBERS:
            if member not in req.params:
                continue
            value = req.params[member]
            if member == "serviceRole":
                if not value.startswith("arn:"):
                    value = f"arn:aws:iam::{ACCOUNT_ID}:role/service-role/{value}"
                project.service_role = value
            if member == "tags":
                project.tags = value
            metadata[member] = value
        if "badgeEnabled" in req.params:
            metadata["badge"] = {"badgeEnabled": bool(req.params["badgeEnabled"])}
        metadata["lastModifiedDate"] = time.time()
        project_name = project.project_metadata["name"]
    # Read the result back through moto's BatchGetProjects so the answer is
    # serialised exactly like every other CodeBuild answer.
    env = dict(req.environ)
    env["HTTP_X_AMZ_TARGET"] = "CodeBuild_20161006.BatchGetProjects"
    read_back = shim.call_moto(env, json.dumps({"names": [project_name]}).encode())
    projects = json.loads(read_back.body).get("projects") if read_back.status == 200 else None
    if not projects:
        raise AwsError("InternalFailure", f"the updated project {project_name} could not be read back", 500)
    return json_response(req, {"project": projects[0]})


def validate_project_update(params: dict[str, Any]) -> None:
    source = params.get("source")
    if source is not None and source.get("type") not in {
        "BITBUCKET",
        "CODECOMMIT",
        "CODEPIPELINE",
        "GITHUB",
        "GITHUB_ENTERPRISE",
        "GITLAB",
        "GITLAB_SELF_MANAGED",
        "NO_SOURCE",
        "S3",
    }:
        raise AwsError("InvalidInputException", "Invalid type provided: Project source type")
    artifacts = params.get("artifacts")
    if artifacts is not None and artifacts.get("type") not in {"CODEPIPELINE", "S3", "NO_ARTIFACTS"}:
        raise AwsError("InvalidInputException", "Invalid type provided: Artifact type")
    role = params.get("serviceRole")
    if role is not None and (not isinstance(role, str) or not role):
        raise AwsError("InvalidInputException", "Invalid service role")


REPORT_TYPES = ("TEST", "CODE_COVERAGE")
REPORT_EXPORT_TYPES = ("S3", "NO_EXPORT")
REPORT_GROUP_SORT_KEYS = {"NAME": "name", "CREATED_TIME": "created", "LAST_MODIFIED_TIME": "lastModified"}
REPORT_STATUSES = ("GENERATING", "SUCCEEDED", "FAILED", "INCOMPLETE", "DELETING")
REPORT_LIFETIME_SECONDS = 30 * 24 * 3600  # "A report expires 30 days after it is created."
MAX_TAGS = 50


def report_group_arn(region: str, name: str) -> str:
    return f"arn:aws:codebuild:{region}:{ACCOUNT_ID}:report-group/{name}"


def new_report_group(
    region: str, name: str, report_type: str, export_config: dict[str, Any], tags: list[dict[str, str]]
) -> dict[str, Any]:
    now = time.time()
    return {
        "arn": report_group_arn(region, name),
        "name": name,
        "type": report_type,
        "exportConfig": export_config,
        "created": now,
        "lastModified": now,
        "tags": tags,
        "status": "ACTIVE",
    }


def public_report_group(group: dict[str, Any]) -> dict[str, Any]:
    """A ReportGroup as AWS answers it: no `tags` member for an untagged group."""
    return {key: value for key, value in group.items() if key != "tags" or value}


def new_report(group: dict[str, Any], build_arn: str, succeeded: bool) -> dict[str, Any]:
    """One report of `group` uploaded by build `build_arn`, as BatchGetReports answers it."""
    now = time.time()
    region = group["arn"].split(":")[3]
    return {
        "arn": f"arn:aws:codebuild:{region}:{ACCOUNT_ID}:report/{group['name']}:{uuid.uuid4()}",
        "type": group["type"],
        "name": group["name"],
        "reportGroupArn": group["arn"],
        "executionId": build_arn,
        "status": "SUCCEEDED" if succeeded else "FAILED",
        "created": now,
        "expired": now + REPORT_LIFETIME_SECONDS,
        "exportConfig": group["exportConfig"],
        "truncated": False,
    }


def codebuild_tags(tags: Any) -> list[dict[str, str]]:
    """CodeBuild's tag list, `[{"key", "value"}]` with lowercase members."""
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(tag, dict) and isinstance(tag.get("key"), str) for tag in tags):
        raise AwsError("InvalidInputException", 'Invalid tags: give a list of {"key": ..., "value": ...}')
    if len(tags) > MAX_TAGS:
        raise AwsError("InvalidInputException", f"Invalid tags: at most {MAX_TAGS} tags, got {len(tags)}")
    return [{"key": tag["key"], "value": str(tag.get("value", ""))} for tag in tags]


def report_export_config(config: Any) -> dict[str, Any]:
    kind = config.get("exportConfigType") if isinstance(config, dict) else None
    if kind not in REPORT_EXPORT_TYPES:
        raise AwsError("InvalidInputException", f"Invalid export config type {kind!r}: use one of {list(REPORT_EXPORT_TYPES)}")
    destination = config.get("s3Destination")
    if kind == "S3" and not (isinstance(destination, dict) and destination.get("bucket")):
        raise AwsError("InvalidInputException", "An S3 export config needs s3Destination.bucket")
    return config


def find_report_group(shim: Shim, req: AwsRequest, member: str) -> dict[str, Any]:
    """The report group named by ARN in `member` (caller holds the lock)."""
    arn = require(req.params, member)
    group = shim.state.report_groups.get(arn)
    if group is None:
        raise AwsError("ResourceNotFoundException", f"Report group {arn} does not exist")
    return group


def page(items: list[Any], req: AwsRequest, maximum: int = 100) -> tuple[list[Any], str | None]:
    """One page of `items` by the request's `maxResults` and `nextToken` (an offset)."""
    limit = req.params.get("maxResults", maximum)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= maximum:
        raise AwsError("InvalidInputException", f"maxResults must be between 1 and {maximum}, got {limit!r}")
    token = req.params.get("nextToken") or "0"
    if not (isinstance(token, str) and token.isdigit()):
        raise AwsError("InvalidInputException", f"Invalid next token {token!r}")
    start = int(token)
    end = start + limit
    return items[start:end], (str(end) if end < len(items) else None)


def sort_order(req: AwsRequest, default: str) -> bool:
    """True for a descending `sortOrder`."""
    order = req.params.get("sortOrder") or default
    if order not in ("ASCENDING", "DESCENDING"):
        raise AwsError("InvalidInputException", f"Invalid sort order {order!r}: use ASCENDING or DESCENDING")
    return order == "DESCENDING"


def codebuild_create_report_group(shim: Shim, req: AwsRequest) -> Response:
    name = require(req.params, "name")
    if not isinstance(name, str) or not 2 <= len(name) <= 128:
        raise AwsError("InvalidInputException", f"Invalid report group name {name!r}: it must be 2 to 128 characters")
    report_type = req.params.get("type")
    if report_type not in REPORT_TYPES:
        raise AwsError("InvalidInputException", f"Invalid report group type {report_type!r}: use one of {list(REPORT_TYPES)}")
    export_config = report_export_config(req.params.get("exportConfig"))
    tags = codebuild_tags(req.params.get("tags"))
    with shim.state.lock:
        arn = report_group_arn(req.region, name)
        if arn in shim.state.report_groups:
            # Worded like AWS's duplicate CreateProject ("Project already exists: ARN").
            raise AwsError("ResourceAlreadyExistsException", f"Report group already exists: {arn}")
        group = new_report_group(req.region, name, report_type, export_config, tags)
        shim.state.report_groups[arn] = group
        return json_response(req, {"reportGroup": public_report_group(group)})


def codebuild_batch_get_report_groups(shim: Shim, req: AwsRequest) -> Response:
    arns = require(req.params, "reportGroupArns")
    if not isinstance(arns, list) or len(arns) > 100:
        raise AwsError("InvalidInputException", "reportGroupArns must be a list of 1 to 100 ARNs")
    with shim.state.lock:
        groups = shim.state.report_groups
        return json_response(
            req,
            {
                "reportGroups": [public_report_group(groups[arn]) for arn in arns if arn in groups],
                "reportGroupsNotFound": [arn for arn in arns if arn not in groups],
            },
        )


def codebuild_list_report_groups(shim: Shim, req: AwsRequest) -> Response:
    sort_by = req.params.get("sortBy") or "CREATED_TIME"
    if sort_by not in REPORT_GROUP_SORT_KEYS:
        raise AwsError("InvalidInputException", f"Invalid sortBy {sort_by!r}: use one of {sorted(REPORT_GROUP_SORT_KEYS)}")
    descending = sort_order(req, "ASCENDING")
    with shim.state.lock:
        groups = sorted(
            shim.state.report_groups.values(), key=lambda g: g[REPORT_GROUP_SORT_KEYS[sort_by]], reverse=descending
        )
        arns, token = page([g["arn"] for g in groups], req)
    payload: dict[str, Any] = {"reportGroups": arns}
    if token:
        payload["nextToken"] = token
    return json_response(req, payload)


def codebuild_update_report_group(shim: Shim, req: AwsRequest) -> Response:
    with shim.state.lock:
        group = find_report_group(shim, req, "arn")
        export_config = report_export_config(req.params["exportConfig"]) if "exportConfig" in req.params else None
        tags = codebuild_tags(req.params["tags"]) if "tags" in req.params else None
        if export_config is not None:
            group["exportConfig"] = export_config
        if tags is not None:
            group["tags"] = tags  # the given list replaces the group's tags, as in AWS
        group["lastModified"] = time.time()
        return json_response(req, {"reportGroup": public_report_group(group)})


def codebuild_delete_report_group(shim: Shim, req: AwsRequest) -> Response:
    arn = require(req.params, "arn")
    with shim.state.lock:
        if arn not in shim.state.report_groups:
            # DeleteReportGroup models no not-found error (only InvalidInputException),
            # like DeleteProject: deleting an absent group succeeds.
            return json_response(req, {})
        if shim.state.reports.get(arn) and not req.params.get("deleteReports"):
            # API reference: "If you call DeleteReportGroup for a report group that
            # contains one or more reports, an exception is thrown." (InvalidInputException)
            raise AwsError("InvalidInputException", f"Cannot delete report group {arn} because it contains reports")
        del shim.state.report_groups[arn]
        shim.state.reports.pop(arn, None)
    return json_response(req, {})


def codebuild_list_reports_for_report_group(shim: Shim, req: AwsRequest) -> Response:
    with shim.state.lock:
        group = find_report_group(shim, req, "reportGroupArn")
        wanted = (req.params.get("filter") or {}).get("status")
        if wanted is not None and wanted not in REPORT_STATUSES:
            raise AwsError("InvalidInputException", f"Invalid report status {wanted!r}: use one of {list(REPORT_STATUSES)}")
        reports = [r for r in shim.state.reports.get(group["arn"], []) if wanted is None or r["status"] == wanted]
        if sort_order(req, "DESCENDING"):
            reports = reports[::-1]
        arns, token = page([r["arn"] for r in reports], req)
    payload: dict[str, Any] = {"reports": arns}
    if token:
        payload["nextToken"] = token
    return json_response(req, payload)


def all_reports(shim: Shim) -> dict[str, dict[str, Any]]:
    """Every report by ARN (caller holds the lock)."""
    return {report["arn"]: report for reports in shim.state.reports.values() for report in reports}


def codebuild_batch_get_reports(shim: Shim, req: AwsRequest) -> Response:
    arns = require(req.params, "reportArns")
    if not isinstance(arns, list) or len(arns) > 100:
        raise AwsError("InvalidInputException", "reportArns must be a list of 1 to 100 ARNs")
    with shim.state.lock:
        known = all_reports(shim)
        return json_response(
            req,
            {
                "reports": [known[arn] for arn in arns if arn in known],
                "reportsNotFound": [arn for arn in arns if arn not in known],
            },
        )


def codebuild_delete_report(shim: Shim, req: AwsRequest) -> Response:
    arn = require(req.params, "arn")
    with shim.state.lock:
        for reports in shim.state.reports.values():
            reports[:] = [report for report in reports if report["arn"] != arn]
    return json_response(req, {})


def tagging_get_resources(shim: Shim, req: AwsRequest) -> Response:
    """moto's GetResources, plus the shim's tagged report groups on the last page."""
    response = shim.forward(req)
    body = json_body(response) if response.status == 200 else None
    if body is None or body.get("PaginationToken"):
        return response
    type_filters = req.params.get("ResourceTypeFilters") or None
    arn_list = req.params.get("ResourceARNList") or None
    matches_tags = make_tag_matcher(req.params.get("TagFilters") or None)
    with shim.state.lock:
        groups = list(shim.state.report_groups.values())
    for group in groups:
        tags = {tag["key"]: tag["value"] for tag in group["tags"]}
        if (
            tags
            and group["arn"].split(":")[3] == req.region
            and match_resource_type("codebuild:report-group", type_filters)
            and matches_tags(tags)
            and (arn_list is None or group["arn"] in arn_list)
        ):
            body.setdefault("ResourceTagMappingList", []).append(
                {"ResourceARN": group["arn"], "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}
            )
    return response.with_body(json.dumps(body).encode())


def record_build(shim: Shim, call: ControlCall) -> Response:
    """A build of a project ran (locally) and uploaded reports: do what CodeBuild does.

    Each buildspec `reports:` entry N names report group PROJECT-N, created untagged
    (type TEST, no export) on the first report unless it exists; an entry that is a
    report-group ARN names that group, which must exist."""
    payload = call.payload
    if not isinstance(payload, dict):
        raise ValueError('a build must be a JSON object, e.g. {"projectName": "app-build", "reportGroups": ["junit"], "succeeded": true}')
    project = payload.get("projectName")
    entries = payload.get("reportGroups", [])
    succeeded = payload.get("succeeded", True)
    if not isinstance(project, str) or not project:
        raise ValueError("projectName (a non-empty string) is required")
    if not isinstance(entries, list) or not all(isinstance(e, str) and e for e in entries):
        raise ValueError('reportGroups must be a list of buildspec report group names (or report group ARNs), e.g. ["junit"]')
    if not isinstance(succeeded, bool):
        raise ValueError(f"succeeded must be true or false, got {succeeded!r}")
    region = DEFAULT_REGION
    with shim.state.lock:
        if project not in codebuild_backends[ACCOUNT_ID][region].codebuild_projects:
            return control_json({"error": f"no CodeBuild project {project!r}; create it with CreateProject first"}, 404)
        targets: list[tuple[str, str]] = []  # (ARN, name) per entry
        for entry in entries:
            if entry.startswith("arn:"):
                if entry not in shim.state.report_groups:
                    return control_json({"error": f"no report group {entry!r}; a buildspec ARN must name an existing report group"}, 404)
                targets.append((entry, shim.state.report_groups[entry]["name"]))
                continue
            name = f"{project}-{entry}"
            if len(name) > 128:
                raise ValueError(f"report group name {name!r} is longer than 128 characters")
            targets.append((report_group_arn(region, name), name))
        build_arn = f"arn:aws:codebuild:{region}:{ACCOUNT_ID}:build/{project}:{uuid.uuid4()}"
        report_arns: list[str] = []
        for arn, name in targets:
            group = shim.state.report_groups.get(arn)
            if group is None:
                group = new_report_group(region, name, "TEST", {"exportConfigType": "NO_EXPORT"}, [])
                shim.state.report_groups[arn] = group
            report = new_report(group, build_arn, succeeded)
            shim.state.reports.setdefault(arn, []).append(report)
            report_arns.append(report["arn"])
    return control_json(
        {"reportGroupArns": [arn for arn, _ in targets], "reportArns": report_arns, "buildArn": build_arn}
    )


# The operations this module answers, by (signing name, operation); front.py merges every service's table.
SERVED: dict[tuple[str, str], Handler] = {
    ("codebuild", "CreateProject"): codebuild_create_project,
    ("codebuild", "UpdateProject"): codebuild_update_project,
    ("codebuild", "CreateReportGroup"): codebuild_create_report_group,
    ("codebuild", "BatchGetReportGroups"): codebuild_batch_get_report_groups,
    ("codebuild", "ListReportGroups"): codebuild_list_report_groups,
    ("codebuild", "UpdateReportGroup"): codebuild_update_report_group,
    ("codebuild", "DeleteReportGroup"): codebuild_delete_report_group,
    ("codebuild", "ListReportsForReportGroup"): codebuild_list_reports_for_report_group,
    ("codebuild", "BatchGetReports"): codebuild_batch_get_reports,
    ("codebuild", "DeleteReport"): codebuild_delete_report,
    ("tagging", "GetResources"): tagging_get_resources,
}
