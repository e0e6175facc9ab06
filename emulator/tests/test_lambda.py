"""Lambda as the shim corrects it (awsshim/awslambda.py): event invoke configs and LoggingConfig kept and
reported as AWS does; container images are in test_lambda_images.py."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from shim_helpers import client, create_role, error_code, make_zip


def test_put_function_event_invoke_config_replaces_the_previous_one(shim: str) -> None:
    role_arn = create_role(shim, "invoke-config-role", "lambda.amazonaws.com")
    lam = client(shim, "lambda")
    lam.create_function(
        FunctionName="invoke-config",
        Runtime="provided.al2023",
        Handler="bootstrap",
        Role=role_arn,
        Code={"ZipFile": make_zip()},
    )
    destination = {"OnFailure": {"Destination": "arn:aws:sns:us-east-1:123456789012:failures"}}
    lam.put_function_event_invoke_config(FunctionName="invoke-config", MaximumRetryAttempts=2, DestinationConfig=destination)
    lam.put_function_event_invoke_config(FunctionName="invoke-config", MaximumRetryAttempts=0)
    config = lam.get_function_event_invoke_config(FunctionName="invoke-config")
    assert config["MaximumRetryAttempts"] == 0
    assert "OnFailure" not in config.get("DestinationConfig", {})
    with pytest.raises(ClientError) as error:
        lam.put_function_event_invoke_config(FunctionName="absent", MaximumRetryAttempts=0)
    assert error_code(error.value) == "ResourceNotFoundException"


def test_lambda_logging_config_is_kept_and_reported_like_aws(shim: str) -> None:
    role_arn = create_role(shim, "logging-role", "lambda.amazonaws.com")
    lam = client(shim, "lambda")
    lam.create_function(FunctionName="plain", Runtime="provided.al2023", Handler="bootstrap", Role=role_arn, Code={"ZipFile": make_zip()})
    assert lam.get_function(FunctionName="plain")["Configuration"]["LoggingConfig"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/plain"}
    created = lam.create_function(
        FunctionName="logged",
        Runtime="provided.al2023",
        Handler="bootstrap",
        Role=role_arn,
        Code={"ZipFile": make_zip()},
        LoggingConfig={"LogFormat": "JSON", "LogGroup": "/app/logged"},
    )
    assert created["LoggingConfig"] == {"LogFormat": "JSON", "LogGroup": "/app/logged"}
    lam.update_function_configuration(FunctionName="logged", LoggingConfig={"LogGroup": "/app/other"})
    assert lam.get_function_configuration(FunctionName="logged")["LoggingConfig"] == {"LogFormat": "JSON", "LogGroup": "/app/other"}
    lam.delete_function(FunctionName="logged")
    lam.create_function(FunctionName="logged", Runtime="provided.al2023", Handler="bootstrap", Role=role_arn, Code={"ZipFile": make_zip()})
    assert lam.get_function(FunctionName="logged")["Configuration"]["LoggingConfig"]["LogFormat"] == "Text"
