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


ARM_IMAGE = "aws/codebuild/amazonlinux-aarch64-standard:3.0"
X86_IMAGE = "aws/codebuild/amazonlinux-x86_64-standard:5.0"


def test_a_curated_image_runs_only_in_the_environment_of_its_architecture(shim: str) -> None:
    role = create_role(shim, "build-role", "codebuild.amazonaws.com")
    codebuild = client(shim, "codebuild")
    for name, kind, image, compute in (
        ("arm", "ARM_CONTAINER", ARM_IMAGE, "BUILD_GENERAL1_SMALL"),
        ("arm-large", "ARM_CONTAINER", ARM_IMAGE, "BUILD_GENERAL1_LARGE"),
        ("x86", "LINUX_CONTAINER", X86_IMAGE, "BUILD_GENERAL1_SMALL"),
        ("custom", "ARM_CONTAINER", "123456789012.dkr.ecr.us-east-1.amazonaws.com/builder:1", "BUILD_GENERAL1_SMALL"),
    ):
        request = codebuild_project(name, role)
        request["environment"].update(type=kind, image=image, computeType=compute)
        created = codebuild.create_project(**request)["project"]
        assert (created["environment"]["type"], created["environment"]["image"]) == (kind, image)
    for kind, image in (("ARM_CONTAINER", X86_IMAGE), ("LINUX_CONTAINER", ARM_IMAGE), ("ARM_CONTAINER", "aws/codebuild/standard:7.0")):
        request = codebuild_project("refused", role)
        request["environment"].update(type=kind, image=image)
        with pytest.raises(ClientError) as raised:
            codebuild.create_project(**request)
        assert raised.value.response["Error"] == {
            "Code": "InvalidInputException",
            "Message": f"AWS CodeBuild curated image {image} is not supported for projects with environment type "
            f"{kind} and compute type BUILD_GENERAL1_SMALL",
        }
    # an update that moves to ARM must change the image with the type
    x86 = codebuild_project("x86", role)["environment"]
    with pytest.raises(ClientError) as raised:
        codebuild.update_project(name="x86", environment=dict(x86, type="ARM_CONTAINER", image=X86_IMAGE))
    assert raised.value.response["Error"]["Message"].startswith(
        f"Failed to call UpdateProject, reason: AWS CodeBuild curated image {X86_IMAGE} is not supported"
    )
    moved = codebuild.update_project(name="x86", environment=dict(x86, type="ARM_CONTAINER", image=ARM_IMAGE))["project"]
    assert moved["environment"]["type"] == "ARM_CONTAINER"
