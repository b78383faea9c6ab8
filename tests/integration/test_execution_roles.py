"""The execution role of every synthesized endpoint, evaluated by a real IAM policy evaluator
(@cloud-copilot/iam-simulate, pinned in package.json, run by node offline) against the calls SageMaker makes
for each feature (servekit.facts.iam, from AWS's CreateModel execution-role page and the guardrails page).

Each call must be Allowed; and the role allows nothing beyond the list: every action it names belongs to a
feature the endpoint uses, and "*" appears only for actions that take no resource type. Runs for the
embedded default, a GovCloud config and a config with every role-relevant feature on.

What this cannot show: whether SageMaker's service itself makes another call at deploy (only a real deploy
shows that), and key policies or bucket policies of resources servekit does not own.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import tarfile
from pathlib import Path

import aws_cdk as cdk
import pytest

from servekit import config as cfg
from servekit import naming
from servekit.constructs import ModelData
from servekit.facts import iam as iam_facts
from servekit.stacks import add_serving_stacks

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
# The partition of a region, written here independently of servekit (servekit.images.partition_of).
PARTITIONS = {"us-east-1": "aws", "eu-west-1": "aws", "us-gov-west-1": "aws-us-gov", "cn-north-1": "aws-cn"}


@pytest.fixture(scope="module")
def tarball(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("artifact")
    (folder / "weights.bin").write_bytes(b"\0" * 16)
    path = folder / "model.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder / "weights.bin", arcname="weights.bin")
    return path


@pytest.fixture(scope="module")
def layout(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("layout")
    (folder / "weights.bin").write_bytes(b"\0" * 16)
    return folder


def synth(data: dict, tarball: Path, layout: Path | None = None) -> tuple[dict[str, dict], str]:
    """`layout`: the folder served by endpoints with model_data: uncompressed (servekit-built ones)."""
    config = cfg.parse(data)
    app = cdk.App()
    model_data = {key: _model_data(endpoint, tarball, layout) for key, endpoint in naming.artifact_endpoints(config)}
    stacks = add_serving_stacks(app, config, model_data)
    assembly = app.synth()
    shared = assembly.get_stack_by_name(cfg_stack_name(config, "shared")).template
    templates = {name: assembly.get_stack_by_name(s.stack_name).template for name, s in stacks.items()}
    for template in templates.values():
        template["SharedKeyPolicy"] = key_policy(shared, config.app.region)
        template["SharedKeyArn"] = config.app.kms_key_arn  # the user's own key, when given, encrypts the data bucket
    return templates, config.app.region


def _model_data(endpoint, tarball: Path, layout: Path | None) -> ModelData:
    """An S3 source as synth binds it (model_build returns it without building); the local files otherwise."""
    from servekit import model_build
    from servekit.synth import model_data_of

    if endpoint.plugin.models(endpoint)[0][1].source.kind == "s3":
        return model_data_of(model_build.build(endpoint, cache_dir=tarball.parent))
    if endpoint.copies_layout:
        return ModelData.from_directory(layout, identity="0" * 64)
    return ModelData.from_asset(tarball)


def cfg_stack_name(config: cfg.ServekitConfig, suffix: str) -> str:
    from servekit.stacks import stack_name

    return stack_name(config.app, suffix)


def key_policy(shared: dict, region: str) -> dict:
    """The shared KMS key's key policy: KMS needs it to delegate to IAM before any role's grant counts. With a key of
    the user's own (app.kms_key_arn), AWS's default key policy, which delegates to IAM in its account."""
    keys = [v for v in shared["Resources"].values() if v["Type"] == "AWS::KMS::Key"]
    if not keys:
        partition = "aws-us-gov" if region.startswith("us-gov-") else "aws"
        return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*",
                                                        "Principal": {"AWS": f"arn:{partition}:iam::{ACCOUNT}:root"}}]}
    (key,) = keys
    r = Resolver(shared, region)
    doc = copy.deepcopy(key["Properties"]["KeyPolicy"])
    for s in doc["Statement"]:
        s["Principal"] = {k: r(v) for k, v in s["Principal"].items()}
        s["Resource"] = r(s["Resource"])
    return doc


class Resolver:
    """Turns CloudFormation intrinsics into concrete strings, the same way for the policy and the requests."""

    def __init__(self, template: dict, region: str):
        self.resources = template["Resources"]
        self.region = region
        self.partition = PARTITIONS[region]

    def __call__(self, value):
        if isinstance(value, str | int | float):
            return value
        if isinstance(value, list):
            return [self(v) for v in value]
        (fn, arg), = value.items()
        if fn == "Ref":
            pseudo = {"AWS::Partition": self.partition, "AWS::Region": self.region, "AWS::AccountId": ACCOUNT,
                      "AWS::URLSuffix": "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"}
            if arg in pseudo:
                return pseudo[arg]
            props = self.resources[arg].get("Properties", {})
            return self(props.get("AlarmName") or props.get("EndpointName") or arg)
        if fn == "Fn::Join":
            return arg[0].join(str(self(v)) for v in arg[1])
        if fn == "Fn::Sub":
            text = arg if isinstance(arg, str) else arg[0]
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(self({"Ref": m.group(1)})), text)
        if fn == "Fn::ImportValue":
            name = str(self(arg))
            if "Key" in name:
                return f"arn:{self.partition}:kms:{self.region}:{ACCOUNT}:key/imported-volume-key"
            if name.endswith("DataBucketArn"):
                return f"arn:{self.partition}:s3:::imported-data-bucket"
            if name.endswith("DataBucketName"):
                return "imported-data-bucket"
            return f"imported-{name}"
        if fn == "Fn::GetAtt":
            logical, attr = arg
            return f"arn:{self.partition}:sagemaker:{self.region}:{ACCOUNT}:{attr.lower()}/{logical.lower()}"
        raise AssertionError(f"unhandled intrinsic {fn}")


def s3_object_arn(partition: str, uri: str, key_suffix: str = "") -> str:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return f"arn:{partition}:s3:::{bucket}/{(key.rstrip('/') + '/' + key_suffix) if key_suffix else key}"


def expected_calls(template: dict, region: str) -> tuple[list[dict], set[str]]:
    """(requests SageMaker makes with the role, the features they belong to), read from the template's
    Model, EndpointConfig and Endpoint: what the service will actually touch."""
    r = Resolver(template, region)
    p = r.partition
    res = template["Resources"]
    calls, features = [], {"image", "model_data", "logs", "metrics"}

    def call(action, resource, **context):
        calls.append({"action": action, "resource": resource, "account": ACCOUNT, "context": context})
        if action.startswith("kms:"):
            calls[-1]["resourcePolicy"] = template["SharedKeyPolicy"]

    (endpoint,) = [v["Properties"] for v in res.values() if v["Type"] == "AWS::SageMaker::Endpoint"]
    (config,) = [v["Properties"] for v in res.values() if v["Type"] == "AWS::SageMaker::EndpointConfig"]
    name = r(endpoint["EndpointName"])
    for model in (v["Properties"] for v in res.values() if v["Type"] == "AWS::SageMaker::Model"):
        image = r(model["PrimaryContainer"]["Image"])
        account, _, image_region = image.split("/")[0].split(".")[0], None, image.split(".")[3]
        repo = image.split("/", 1)[1].split(":")[0]
        call("ecr:GetAuthorizationToken", "*")
        for action in ("ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"):
            call(action, f"arn:{PARTITIONS[image_region]}:ecr:{image_region}:{account}:repository/{repo}")
        source = model["PrimaryContainer"].get("ModelDataSource", {}).get("S3DataSource")
        if source is None:
            call("s3:GetObject", s3_object_arn(p, r(model["PrimaryContainer"]["ModelDataUrl"])))
        else:  # an uncompressed prefix: SageMaker lists it, then reads each object
            features.add("uncompressed_model_data")
            prefix = r(source["S3Uri"])
            bucket, _, key = prefix.removeprefix("s3://").partition("/")
            call("s3:ListBucket", f"arn:{p}:s3:::{bucket}", **{"s3:prefix": key})
            call("s3:GetObject", s3_object_arn(p, prefix, "1/model.pt"))
            if bucket == "imported-data-bucket":  # servekit's data bucket: SSE-KMS with the shared key
                call("kms:Decrypt", template.get("SharedKeyArn") or f"arn:{p}:kms:{region}:{ACCOUNT}:key/imported-volume-key")
        if "VpcConfig" in model:
            features.add("vpc")
            for action in iam_facts.CALLS["vpc"][0]:
                if action in iam_facts.NO_RESOURCE_TYPE:
                    call(action, "*")
            eni = f"arn:{p}:ec2:{region}:{ACCOUNT}:network-interface/eni-0123456789abcdef0"
            call("ec2:CreateNetworkInterface", eni)
            for subnet in r(model["VpcConfig"]["Subnets"]):
                call("ec2:CreateNetworkInterface", f"arn:{p}:ec2:{region}:{ACCOUNT}:subnet/{subnet}")
            for action in ("ec2:CreateNetworkInterfacePermission", "ec2:DeleteNetworkInterface",
                           "ec2:DeleteNetworkInterfacePermission"):
                call(action, eni)
    group = f"arn:{p}:logs:{region}:{ACCOUNT}:log-group:/aws/sagemaker/Endpoints/{name}"
    for action in ("logs:CreateLogGroup", "logs:DescribeLogStreams"):
        call(action, group)
    for action in ("logs:CreateLogStream", "logs:PutLogEvents"):
        call(action, f"{group}:log-stream:AllTraffic/i-0123456789abcdef0")
    for namespace in ("AWS/SageMaker", "/aws/sagemaker/Endpoints"):
        call("cloudwatch:PutMetricData", "*", **{"cloudwatch:namespace": namespace})
    if "KmsKeyId" in config:
        features.add("volume_key")
        call("kms:Decrypt", r(config["KmsKeyId"]))
    components = [v["Properties"] for v in res.values() if v["Type"] == "AWS::SageMaker::InferenceComponent"]
    for alarm in [a for holder in (endpoint, *components)
                  for a in holder.get("DeploymentConfig", {}).get("AutoRollbackConfiguration", {}).get("Alarms", [])]:
        features.add("rollback_alarms")
        call("cloudwatch:DescribeAlarms", f"arn:{p}:cloudwatch:{region}:{ACCOUNT}:alarm:{r(alarm['AlarmName'])}")
    capture = config.get("DataCaptureConfig")
    if capture:
        features.add("data_capture")
        call("s3:PutObject", s3_object_arn(p, r(capture["DestinationS3Uri"]), f"{name}/AllTraffic/2026/12/03/x.jsonl"))
        if "KmsKeyId" in capture:
            call("kms:GenerateDataKey", r(capture["KmsKeyId"]))
    async_config = config.get("AsyncInferenceConfig")
    if async_config:
        features.add("async")
        out = async_config["OutputConfig"]
        call("s3:PutObject", s3_object_arn(p, r(out["S3OutputPath"]), "result.out"))
        call("s3:PutObject", s3_object_arn(p, r(out["S3FailurePath"]), "failure.out"))
        for topic in (out.get("NotificationConfig") or {}).values():
            if isinstance(topic, str) and topic.startswith("arn:"):
                call("sns:Publish", topic)
        if "KmsKeyId" in out:
            call("kms:GenerateDataKey", r(out["KmsKeyId"]))
            call("kms:Decrypt", r(out["KmsKeyId"]))
    for variant in [*config["ProductionVariants"], *config.get("ShadowProductionVariants", [])]:
        dump = variant.get("CoreDumpConfig")
        if dump:
            features.add("core_dump")
            call("s3:PutObject", s3_object_arn(p, r(dump["DestinationS3Uri"]), "core.python3.4242"))
            if "KmsKeyId" in dump:
                for action in ("kms:Encrypt", "kms:GenerateDataKey"):
                    call(action, r(dump["KmsKeyId"]))
        if variant.get("EnableSSMAccess"):
            features.add("ssm_access")
            for action in iam_facts.CALLS["ssm_access"][0]:
                call(action, "*")
    return calls, features


def role_policies(template: dict, region: str) -> list[dict]:
    """The policies of the execution role (the Models' ExecutionRoleArn), not of other roles in the stack (the
    function that copies an uncompressed layout has its own)."""
    r = Resolver(template, region)
    resources = template["Resources"]
    roles = {m["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0] for m in resources.values()
             if m["Type"] == "AWS::SageMaker::Model"}
    policies = [v["Properties"]["PolicyDocument"] for v in resources.values()
                if v["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy")
                and {ref.get("Ref") for ref in v["Properties"].get("Roles", [])} & roles]
    resolved = []
    for doc in policies:
        statements = []
        for s in doc["Statement"]:
            s = copy.deepcopy(s)
            s["Resource"] = r(s["Resource"])
            statements.append(s)
        resolved.append({"Version": doc["Version"], "Statement": statements})
    return resolved


def simulate(policies: list[dict], requests: list[dict]) -> list[dict]:
    proc = subprocess.run(["node", str(Path(__file__).with_name("iam_simulate.cjs"))], cwd=ROOT, check=True,
                          input=json.dumps({"policies": policies, "requests": requests}), capture_output=True,
                          text=True, timeout=300)
    return json.loads(proc.stdout)


def assert_role_is_complete_and_least_privilege(templates: dict[str, dict], region: str) -> None:
    for name, template in templates.items():
        calls, features = expected_calls(template, region)
        policies = role_policies(template, region)
        results = simulate(policies, calls)
        denied = [(c["action"], c["resource"], c["result"], c.get("errors")) for c in results if c["result"] != "Allowed"]
        assert not denied, f"{name}: the execution role denies calls SageMaker makes: {denied}"
        allowed = {a for f in features for a in iam_facts.CALLS[f][0]}
        for doc in policies:
            for s in doc["Statement"]:
                assert s["Effect"] == "Allow"
                actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
                extra = set(actions) - allowed
                assert not extra, f"{name}: the role allows {sorted(extra)}, which no feature it uses needs"
                resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
                if "*" in resources:
                    assert set(actions) <= iam_facts.NO_RESOURCE_TYPE, \
                        f"{name}: '*' resource for {actions}, which take a resource type"


def test_when_the_default_is_synthesized_then_each_role_allows_exactly_what_sagemaker_calls(default_config_data,
                                                                                           tarball):
    templates, region = synth(default_config_data, tarball)
    assert_role_is_complete_and_least_privilege(templates, region)
    _, features = expected_calls(templates["question-answering"], region)
    assert {"rollback_alarms", "volume_key", "data_capture"} <= features  # the canary reads its alarms


def test_when_the_region_is_govcloud_then_every_arn_is_in_the_aws_us_gov_partition(default_config_data, tarball):
    default_config_data["app"]["region"] = "us-gov-west-1"
    # sagemaker-core lists no Triton image in us-gov-west-1 (validate says so): TFS and TorchServe there.
    default_config_data["endpoints"] = [e for e in default_config_data["endpoints"] if e["server"] != "triton"]
    templates, region = synth(default_config_data, tarball)
    assert_role_is_complete_and_least_privilege(templates, region)
    for template in templates.values():
        text = json.dumps(role_policies(template, region))
        assert "arn:aws:" not in text


def test_when_every_role_feature_is_on_then_the_role_still_allows_exactly_the_calls(default_config_data, tarball):
    qa = next(e for e in default_config_data["endpoints"] if e["name"] == "question-answering")
    qa["network"] = {"subnet_ids": ["subnet-0a1b2c3d"], "security_group_ids": ["sg-0a1b2c3d"]}
    qa["deployment"]["rollback_alarm_names"] = ["team-slo-breach"]
    qa["data_capture"] = {"s3_uri": "s3://my-capture/qa", "sampling_percent": 5}
    qa["async_inference"] = {"output_s3_uri": "s3://my-async/out", "failure_s3_uri": "s3://my-async/failed",
                             "success_topic_arn": "arn:aws:sns:us-east-1:123456789012:done",
                             "error_topic_arn": "arn:aws:sns:us-east-1:123456789012:failed"}
    qa.pop("scaling")
    qa["hosting"] = {"ssm_access": True, "core_dump": {
        "s3_uri": "s3://my-dumps/qa", "kms_key_arn": f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0123abcd-12ab-34cd-56ef-1234567890ab"}}
    templates, region = synth(default_config_data, tarball)
    _, features = expected_calls(templates["question-answering"], region)
    assert features >= {"vpc", "async", "data_capture", "rollback_alarms", "volume_key", "core_dump", "ssm_access"}
    assert_role_is_complete_and_least_privilege(templates, region)


def test_when_models_are_uncompressed_prefixes_then_the_role_lists_and_reads_only_each_prefix(default_config_data,
                                                                                            tarball, layout):
    """A servekit-built layout (copied into the data bucket, SSE-KMS) and a user's prefix: ListBucket limited to the
    prefix, GetObject under it, Decrypt for the data bucket's key; the copying function's role is not this role."""
    qa = next(e for e in default_config_data["endpoints"] if e["name"] == "question-answering")
    qa["model_data"] = "uncompressed"
    resnet = next(e for e in default_config_data["endpoints"] if e["name"] == "resnet")
    resnet["model_data"] = "uncompressed"
    resnet["model"]["source"] = {"kind": "s3", "uri": "s3://team-models/resnet/v3/"}
    templates, region = synth(default_config_data, tarball, layout)
    for name in ("question-answering", "resnet"):
        calls, features = expected_calls(templates[name], region)
        assert "uncompressed_model_data" in features
        assert any(c["action"] == "s3:ListBucket" for c in calls)
    assert_role_is_complete_and_least_privilege(templates, region)
    # The check can fail: a listing of another prefix of the same bucket is denied.
    calls = [{"action": "s3:ListBucket", "resource": "arn:aws:s3:::team-models", "account": ACCOUNT,
              "context": {"s3:prefix": "other-team/"}}]
    (result,) = simulate(role_policies(templates["resnet"], region), calls)
    assert result["result"] == "ImplicitlyDenied"


def test_when_a_role_lacks_describe_alarms_then_the_evaluator_denies_the_rollback_read(default_config_data, tarball):
    """The check can fail: drop the DescribeAlarms statement and the evaluator must deny that call."""
    templates, region = synth(default_config_data, tarball)
    template = templates["question-answering"]
    calls, _ = expected_calls(template, region)
    policies = role_policies(template, region)
    for doc in policies:
        doc["Statement"] = [s for s in doc["Statement"] if "cloudwatch:DescribeAlarms" not in str(s["Action"])]
    results = {(c["action"], c["result"]) for c in simulate(policies, calls)}
    assert ("cloudwatch:DescribeAlarms", "ImplicitlyDenied") in results


def test_when_models_are_inference_components_then_the_fleets_role_allows_exactly_their_calls(default_config_data,
                                                                                            tarball):
    """Each component's Model (image, model data) and the rollback alarm's DescribeAlarms, on one role."""
    from component_fixtures import component_endpoint

    component_endpoint(default_config_data, hosting={"ssm_access": True, "core_dump": {"s3_uri": "s3://my-dumps/fleet"}})
    default_config_data["endpoints"] = []
    templates, region = synth(default_config_data, tarball)
    calls, features = expected_calls(templates["gpu-fleet"], region)
    assert {"core_dump", "ssm_access"} <= features
    assert sum(c["action"] == "s3:GetObject" for c in calls) == 2  # both components' model data
    assert_role_is_complete_and_least_privilege(templates, region)


def test_when_a_component_is_uncompressed_then_the_fleets_role_lists_and_reads_only_its_prefix(default_config_data,
                                                                                             tarball, layout):
    from component_fixtures import component_endpoint

    component_endpoint(default_config_data)["components"][1]["model_data"] = "uncompressed"
    default_config_data["endpoints"] = []
    templates, region = synth(default_config_data, tarball, layout)
    calls, features = expected_calls(templates["gpu-fleet"], region)
    assert "uncompressed_model_data" in features
    assert [c["action"] for c in calls].count("s3:GetObject") == 2  # the archive component and the prefix one
    assert_role_is_complete_and_least_privilege(templates, region)


def test_when_every_feature_of_all_features_yaml_is_on_then_each_role_allows_exactly_the_calls(tarball, layout):
    """tests/fixtures/all-features.yaml (every key servekit has, the component fleet with its alarms, rollback on
    them, data cache, scheduling, scale-in policy, MetricsConfig, VPC and data capture included): nothing missing,
    nothing extra."""
    import yaml

    data = yaml.safe_load((Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "all-features.yaml").read_text())
    templates, region = synth(data, tarball, layout)
    assert "gpu-fleet" in templates
    _, features = expected_calls(templates["gpu-fleet"], region)
    assert "rollback_alarms" in features  # the components roll back on their own alarms: DescribeAlarms granted
    assert {"vpc", "data_capture"} <= features  # the fleet's VPC (ENIs) and its capture to the shared bucket
    assert_role_is_complete_and_least_privilege(templates, region)
