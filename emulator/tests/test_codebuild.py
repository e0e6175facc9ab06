"""CodeBuild projects as the shim serves them (awsshim/codebuild.py): CreateProject's placeholder location
hidden, UpdateProject merging; report groups are in test_report_groups.py."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from shim_helpers import client, codebuild_project, create_role, error_code


def test_create_project_hides_the_placeholder_location(shim: str) -> None:
    role = create_role(shim, "build-role", "codebuild.amazonaws.com")
    codebuild = client(shim, "codebuild")
    created = codebuild.create_project(**codebuild_project("app-build", role))["project"]
    assert "location" not in created["source"] and "location" not in created["artifacts"]
    got = codebuild.batch_get_projects(names=["app-build"])["projects"][0]
    assert "location" not in got["source"] and "location" not in got["artifacts"]
    assert got["source"]["buildspec"] == "buildspec.yml"


def test_update_project_merges_fields_and_keeps_arn_and_created(shim: str) -> None:
    role = create_role(shim, "build-role", "codebuild.amazonaws.com")
    codebuild = client(shim, "codebuild")
    before = codebuild.create_project(**codebuild_project("app-build", role))["project"]
    environment = dict(codebuild_project("app-build", role)["environment"], image="aws/codebuild/standard:8.0")
    updated = codebuild.update_project(name="app-build", environment=environment, timeoutInMinutes=30)["project"]
    assert updated["environment"]["image"] == "aws/codebuild/standard:8.0"
    assert updated["timeoutInMinutes"] == 30
    assert updated["arn"] == before["arn"] and updated["created"] == before["created"]
    assert updated["source"] == {"type": "CODEPIPELINE", "buildspec": "buildspec.yml"}
    got = codebuild.batch_get_projects(names=["app-build"])["projects"][0]
    assert got["environment"]["image"] == "aws/codebuild/standard:8.0"

    with pytest.raises(ClientError) as raised:
        codebuild.update_project(name="missing", timeoutInMinutes=30)
    assert error_code(raised.value) == "ResourceNotFoundException"
