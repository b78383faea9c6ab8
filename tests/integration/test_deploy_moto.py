"""Offline deploy: the real CDK CLI bootstraps, deploys, updates and destroys the embedded default against moto's
server on loopback, and `servekit verify --deployed` checks each endpoint through the same API calls it makes on
AWS (GetTemplate, DescribeStackResource, DescribeEndpoint, InvokeEndpoint).

moto (5.2.5) is reached as http://localhost:<port> (its CloudFormation reads templates that the CLI uploads to S3
from URLs it recognises by `localhost`), with dummy credentials; its default account is 123456789012.

What moto does not check, so neither does this test (cfn-lint, cdk-nag and the unit tests cover it):
- IAM: any caller may do anything; the execution roles' least privilege is checked by cdk-nag at synth and by the
  construct tests, and the templates' validity by cfn-lint (test_synth_cli.py).
- The model data and image: SageMaker in moto never downloads ModelDataUrl nor pulls the image, and an endpoint is
  InService at once. (The test does check that the CLI uploaded each model.tar.gz to the bootstrap bucket, byte for
  byte, where ModelDataUrl points.) The artifacts themselves run in real TorchServe/Triton in the local tests.
- InvokeEndpoint: moto answers a canned body ("body") for any endpoint name, so the smoke request only proves the
  call path; the real servers answer the same payloads in test_local_*.
- CloudWatch alarms, Application Auto Scaling and CDK metadata resources: moto's CloudFormation skips those types
  (the stacks deploy without them); deployment policies, traffic shifting and rollbacks are not simulated.
- Inference components (component_endpoints): moto 5.2.5 has no AWS::SageMaker::InferenceComponent (its
  SageMaker backend implements Model, EndpointConfig and Endpoint only), so no component endpoint is deployed
  here; their templates are checked by cfn-lint and cdk-nag (tests/unit/constructs/test_components.py) and their
  models, one by one, in the real servers of the local tests.
- Uncompressed model data copied by servekit (`model_data: uncompressed` with a source servekit builds): the copy
  into the data bucket is CDK's BucketDeployment, a custom resource backed by a Lambda function, which moto's
  CloudFormation cannot run, so the default (which uses model.tar.gz) is what deploys here; the templates of
  that case are checked by the CDK CLI, cdk-nag, cfn-lint and checkov (test_synth_uncompressed.py), its role by
  the IAM evaluator (test_execution_roles.py), and the layout folder by the real Triton and TorchServe.
- Replacement through references: moto's UpdateStack updates only resources whose own template text changed, so
  the update here replaces the Model but leaves the EndpointConfig and Endpoint as they were (on AWS the new Model
  name replaces the EndpointConfig and starts a new fleet; `servekit diff` reports that chain, from real synths, in
  test_diff_cli.py).

Workarounds, each the narrowest found, applied only to the moto server this test starts (in-process):
1. moto's list of SageMaker instance types predates ml.g5: ml.g5.xlarge (the resnet endpoint) is accepted.
2. moto's CloudFormation ignores AWS::SageMaker::Endpoint's EndpointName and invents one: it is honoured, as AWS does.
3. moto's CloudFormation passes AWS::KMS::Key's Tags to its KMS backend in template form (Key/Value), which expects
   TagKey/TagValue, and fails: they are translated.
4. moto's CloudFormation never detaches or deletes an AWS::IAM::ManagedPolicy, so the role it is attached to cannot
   be deleted and `cdk destroy` fails: the policy is detached and deleted, as CloudFormation does.
5. moto's ExecuteChangeSet does not register a stack's outputs and exports, so the stacks that import the shared
   stack's key fail: the CLI deploys with `--method=direct` (CreateStack/UpdateStack), a real CDK CLI option.
6. moto's UpdateStack resolves UsePreviousValue only for parameters passed at creation; the CLI passes
   BootstrapVersion that way for a parameter the stack took from its default: the default is used, as AWS does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import yaml

from servekit.local.process import free_port

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"
ACCOUNT, REGION = "123456789012", "us-east-1"
ENDPOINTS = ("image-classifier", "question-answering", "resnet")
pytestmark = pytest.mark.integration


def _patch_moto(mp: pytest.MonkeyPatch) -> None:
    from moto.cloudformation import models as cloudformation
    from moto.iam import models as iam
    from moto.kms import models as kms
    from moto.sagemaker import models as sagemaker

    validate = sagemaker.FakeEndpointConfig.validate_instance_type

    def validate_instance_type(self, instance_type: str) -> None:
        if instance_type != "ml.g5.xlarge":  # (1)
            validate(self, instance_type)

    mp.setattr(sagemaker.FakeEndpointConfig, "validate_instance_type", validate_instance_type)
    mp.setattr(sagemaker.FakeEndpoint, "cloudformation_name_type", staticmethod(lambda: "EndpointName"))  # (2)

    create_key = kms.Key.create_from_cloudformation_json.__func__

    def key_from_template(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):  # (3)
        properties = cloudformation_json["Properties"]
        properties["Tags"] = [{"TagKey": t["Key"], "TagValue": t["Value"]} for t in properties.get("Tags", [])]
        return create_key(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)

    mp.setattr(kms.Key, "create_from_cloudformation_json", classmethod(key_from_template))

    def delete_managed_policy(self, account_id: str, region_name: str) -> None:  # (4)
        backend = self.backend
        for owner in [*backend.roles.values(), *backend.users.values(), *backend.groups.values()]:
            if self.arn in owner.managed_policies:
                self.detach_from(owner)
        backend.managed_policies.pop(self.arn, None)

    mp.setattr(iam.ManagedPolicy, "delete", delete_managed_policy, raising=False)

    def resolve_update_parameters(self, instance, incoming_params):  # (6)
        defaults = {k: v.get("Default") for k, v in instance.template_dict.get("Parameters", {}).items()}
        previous = {**defaults, **instance.parameters}  # an SSM-typed parameter keeps its path, as on AWS
        parameters = {p["ParameterKey"]: p["ParameterValue"] for p in incoming_params if "ParameterValue" in p}
        parameters.update({p["ParameterKey"]: previous[p["ParameterKey"]]
                           for p in incoming_params if p.get("UsePreviousValue", False)})
        return parameters

    mp.setattr(cloudformation.CloudFormationBackend, "_resolve_update_parameters", resolve_update_parameters)


@pytest.fixture(scope="module")
def moto_url():
    """moto's server on loopback, in this process (so the workarounds apply); stopped when the module ends."""
    from moto.server import ThreadedMotoServer

    with pytest.MonkeyPatch.context() as mp:
        _patch_moto(mp)
        port = free_port()
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            yield f"http://localhost:{port}"
        finally:
            server.stop()


@pytest.fixture(scope="module")
def aws_env(moto_url, tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("home")  # no ~/.aws of the machine's user
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDK_"))}
    env.update({
        "AWS_ENDPOINT_URL": moto_url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"), "HOME": str(home),
        "CDK_DISABLE_CLI_TELEMETRY": "true", "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "20",
    })
    return env


def run(args: list, env: dict[str, str], timeout: int = 900) -> subprocess.CompletedProcess:
    result = subprocess.run([str(a) for a in args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(map(str, args))} failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}"
    return result


def synth(config: Path, out: Path) -> Path:
    result = subprocess.run([sys.executable, "-m", "servekit.cli", "synth", str(config), "--output", str(out)],
                            cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-4000:]
    return out


def cdk(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return run([CDK, *args, "--no-notices"], env)


def clients(env: dict[str, str]) -> dict:
    return {name: boto3.client(name, endpoint_url=env["AWS_ENDPOINT_URL"], region_name=REGION,
                               aws_access_key_id="testing", aws_secret_access_key="testing")
            for name in ("cloudformation", "sagemaker", "s3")}


def verify(env: dict[str, str], endpoint: str, config: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "servekit.cli", "verify", endpoint, "--deployed", "--config",
                           str(config), "--timeout-seconds", "60", "--poll-seconds", "1"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def template_of(assembly: Path, endpoint: str) -> dict:
    return json.loads((assembly / f"servekit-dev-{endpoint}.template.json").read_text())


def model_of(aws: dict, endpoint: str) -> dict:
    """The SageMaker Model the endpoint's stack holds now (by its physical id in CloudFormation)."""
    stack = f"servekit-dev-{endpoint}"
    resources = aws["cloudformation"].describe_stack_resources(StackName=stack)["StackResources"]
    (arn,) = [r["PhysicalResourceId"] for r in resources if r.get("ResourceType") == "AWS::SageMaker::Model"]
    return aws["sagemaker"].describe_model(ModelName=arn.rsplit("/", 1)[-1])


def of_type(template: dict, resource_type: str) -> dict:
    (found,) = [r for r in template["Resources"].values() if r["Type"] == resource_type]
    return found


def test_the_default_deploys_verifies_updates_and_destroys_against_moto(aws_env, tmp_path):
    timings: dict[str, float] = {}
    started = time.monotonic()
    default = synth(ROOT / "servekit.yaml", tmp_path / "v1.out")
    data = yaml.safe_load((ROOT / "servekit.yaml").read_text())
    next(e for e in data["endpoints"] if e["name"] == "question-answering")["tuning"]["batch_size"] = 4
    (tmp_path / "v2").mkdir()
    changed_config = tmp_path / "v2" / "servekit.yaml"
    changed_config.write_text(yaml.safe_dump(data, sort_keys=False))
    changed = synth(changed_config, tmp_path / "v2.out")
    timings["two synths"] = time.monotonic() - started
    aws = clients(aws_env)

    # Bootstrap and first deploy, with the real CLI.
    mark = time.monotonic()
    cdk(aws_env, "bootstrap", f"aws://{ACCOUNT}/{REGION}", "--app", str(default))
    timings["bootstrap"] = time.monotonic() - mark
    mark = time.monotonic()
    cdk(aws_env, "deploy", "--all", "--app", str(default), "--require-approval", "never", "--method=direct")
    timings["deploy"] = time.monotonic() - mark
    stacks = {s["StackName"]: s["StackStatus"] for s in aws["cloudformation"].describe_stacks()["Stacks"]}
    assert stacks == {"CDKToolkit": "CREATE_COMPLETE", "servekit-dev-shared": "CREATE_COMPLETE",
                      **{f"servekit-dev-{e}": "CREATE_COMPLETE" for e in ENDPOINTS}}

    for name in ENDPOINTS:
        template = template_of(default, name)
        described = aws["sagemaker"].describe_endpoint(EndpointName=f"servekit-dev-{name}")
        assert described["EndpointStatus"] == "InService"
        config = aws["sagemaker"].describe_endpoint_config(EndpointConfigName=described["EndpointConfigName"])
        variant = of_type(template, "AWS::SageMaker::EndpointConfig")["Properties"]["ProductionVariants"][0]
        assert config["ProductionVariants"][0]["InstanceType"] == variant["InstanceType"]
        model = aws["sagemaker"].describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
        container = of_type(template, "AWS::SageMaker::Model")["Properties"]["PrimaryContainer"]
        assert model["PrimaryContainer"]["Environment"] == container["Environment"]
        assert model["PrimaryContainer"]["Image"] == container["Image"]
        # The model data is where ModelDataUrl points: the CLI uploaded the staged model.tar.gz there.
        bucket, key = model["PrimaryContainer"]["ModelDataUrl"].removeprefix("s3://").split("/", 1)
        assets = json.loads((default / f"servekit-dev-{name}.assets.json").read_text())["files"]
        (staged,) = [a["source"]["path"] for a in assets.values() if a["source"]["path"].endswith(".tar.gz")]
        assert aws["s3"].head_object(Bucket=bucket, Key=key)["ContentLength"] == (default / staged).stat().st_size

        result = verify(aws_env, name, ROOT / "servekit.yaml")
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"ok   deployed stack: servekit-dev-{name} deployed EndpointConfig" in result.stdout
        assert "ok   endpoint: InService on " in result.stdout
        assert "ok   smoke request: answered" in result.stdout
        assert f"servekit-dev-{name} in {REGION}: verified ({name}.json)" in result.stdout

    # An update that changes one variable. moto's CloudFormation updates only the resources whose own template
    # text changed and does not follow a replaced resource through Ref/GetAtt: the Model is replaced with the new
    # variable, but the EndpointConfig and Endpoint, whose text is the same, are left as they are (on AWS they follow:
    # a new EndpointConfig, a new fleet; `servekit diff` shows that chain, test_diff_cli.py on real synths).
    models_before = {e: model_of(aws, e) for e in ENDPOINTS}
    mark = time.monotonic()
    cdk(aws_env, "deploy", "--all", "--app", str(changed), "--require-approval", "never", "--method=direct")
    timings["update"] = time.monotonic() - mark
    models_after = {e: model_of(aws, e) for e in ENDPOINTS}
    assert models_after["question-answering"]["ModelName"] != models_before["question-answering"]["ModelName"]
    assert models_after["question-answering"]["PrimaryContainer"]["Environment"]["SAGEMAKER_TS_BATCH_SIZE"] == "4"
    assert {e: models_after[e]["ModelName"] for e in ("image-classifier", "resnet")} == \
        {e: models_before[e]["ModelName"] for e in ("image-classifier", "resnet")}
    result = verify(aws_env, "question-answering", changed_config)
    assert result.returncode == 0, result.stdout + result.stderr

    # A silent rollback: the endpoint InService on another config than the stack deployed. moto implements neither
    # UpdateEndpoint nor rollbacks, so the endpoint is pointed at the other config in moto's backend, where
    # SageMaker's automatic rollback leaves it; verify reads it through the API and must fail.
    from moto.sagemaker.models import sagemaker_backends

    qa = "servekit-dev-question-answering"
    deployed = aws["sagemaker"].describe_endpoint(EndpointName=qa)["EndpointConfigName"]
    previous = aws["sagemaker"].describe_endpoint_config(EndpointConfigName=deployed)
    variants = [{**v, "ModelName": models_after["question-answering"]["ModelName"]} for v in previous["ProductionVariants"]]
    aws["sagemaker"].create_endpoint_config(EndpointConfigName="servekit-previous-config", ProductionVariants=variants)
    sagemaker_backends[ACCOUNT][REGION].endpoints[qa].endpoint_config_name = "servekit-previous-config"
    assert aws["sagemaker"].describe_endpoint(EndpointName=qa)["EndpointConfigName"] == "servekit-previous-config"
    rolled_back = verify(aws_env, "question-answering", ROOT / "servekit.yaml")
    assert rolled_back.returncode == 1
    assert f"FAIL endpoint: InService but on EndpointConfig servekit-previous-config, not {deployed}" in rolled_back.stderr
    assert "rolled the update back" in rolled_back.stderr
    assert "not verified" in rolled_back.stdout.lower()

    # Destroy: every servekit stack and endpoint is gone; the bootstrap stack stays, as on AWS.
    mark = time.monotonic()
    cdk(aws_env, "destroy", "--all", "--app", str(changed), "--force")
    timings["destroy"] = time.monotonic() - mark
    remaining = [s["StackName"] for s in aws["cloudformation"].describe_stacks()["Stacks"]]
    assert remaining == ["CDKToolkit"]
    assert aws["sagemaker"].list_endpoints()["Endpoints"] == []
    print("timings (s): " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))
