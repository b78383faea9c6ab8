"""model.environment: the handlers' settings (and a user handler's own) reach the container from servekit.yaml; the
variables servekit sets itself are refused with the key to use instead."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template
from pydantic import ValidationError

from servekit import config
from servekit.cdk import ModelData, TorchServeEndpoint

SOURCE = {"kind": "torchscript", "path": "/m.pt"}


def test_when_handler_settings_are_set_on_the_model_then_the_container_gets_them_beside_servekits(stack, archives):
    from servekit import adapter, naming

    (ep,) = config.parse({"app": {"name": "a", "env_name": "dev", "region": "us-east-1"}, "endpoints": [{
        "name": "qa", "server": "torchserve", "instance_type": "ml.m5.xlarge",
        "model": {"source": SOURCE, "environment": {"SERVEKIT_TOP_K": "3"}}}]}).endpoints
    adapter.make_endpoint(stack, "Qa", ep, {naming.ArtifactKey.of(ep, "AllTraffic"):
                                            ModelData.from_asset(archives["torchserve_pip"])}, None)
    (model,) = Template.from_stack(stack).find_resources("AWS::SageMaker::Model").values()
    env = model["Properties"]["PrimaryContainer"]["Environment"]
    assert env["SERVEKIT_TOP_K"] == "3" and env["SAGEMAKER_TS_BATCH_SIZE"] == "1"


@pytest.mark.parametrize(("key", "message"), [
    ("SAGEMAKER_TS_BATCH_SIZE", "environment.SAGEMAKER_TS_BATCH_SIZE: servekit sets it from tuning"),
    ("OMP_NUM_THREADS", "environment.OMP_NUM_THREADS: servekit sets it from tuning"),
    ("TS_DEFAULT_SERVICE_HANDLER", "environment.TS_DEFAULT_SERVICE_HANDLER: servekit sets it from tuning"),
    ("SAGEMAKER_REGION", "environment.SAGEMAKER_REGION: SAGEMAKER_\\* variables belong to SageMaker"),
    ("1BAD", "'1BAD' is not a variable name"),
])
def test_when_the_environment_sets_what_servekit_owns_then_validation_names_the_key(key, message):
    with pytest.raises(ValidationError, match=message):
        config.TorchServeModel.model_validate({"source": SOURCE, "environment": {key: "1"}})


def test_when_a_construct_user_sets_a_tuning_variable_then_the_construct_refuses(stack, archives):
    with pytest.raises(ValueError, match=r"Qa: environment \['SAGEMAKER_TS_MAX_WORKERS'\]: servekit sets these from "
                                         "tuning"):
        TorchServeEndpoint(stack, "Qa", model_data=ModelData.from_asset(archives["torchserve_pip"]),
                           instance_type="ml.m5.xlarge", environment={"SAGEMAKER_TS_MAX_WORKERS": "4"})


def test_when_a_construct_user_sets_their_handlers_variable_then_the_container_gets_it(stack, archives):
    TorchServeEndpoint(stack, "Qa", model_data=ModelData.from_asset(archives["torchserve_pip"]),
                       instance_type="ml.m5.xlarge", environment={"MY_HANDLER_MODE": "fast"})
    (model,) = Template.from_stack(stack).find_resources("AWS::SageMaker::Model").values()
    assert model["Properties"]["PrimaryContainer"]["Environment"]["MY_HANDLER_MODE"] == "fast"
