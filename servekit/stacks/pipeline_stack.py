"""The deploy pipeline (CDK Pipelines): on every push to the branch, test, synthesize, then deploy each
environment in order, each verified before the next one starts.

```
Source (CodeStar/CodeConnections) ─► Synth: make test, make synth ─► UpdatePipeline (self-mutation)
  ─► Assets ─► <env 1>: [approval] deploy stacks ─► verify ─► <env 2>: ... ─► prod: approval ─► deploy ─► verify
```

- `make test` runs the whole suite (unit and integration: cfn-lint, cdk-nag, the real servers, the offline
  deploy), and `make synth` runs cdk-nag again on exactly what deploys: a finding or a failing test stops the
  pipeline before anything reaches an account.
- Each environment is a `cdk.Stage` holding the same stacks as a workstation deploy (`add_serving_stacks`),
  with that environment's `env_name`, account and region: the same stack and endpoint names
  (`<app>-<env>-<endpoint>`), so `servekit verify`, `servekit invoke --deployed` and a workstation deploy all
  find them.
- After each stage, a CodeBuild step runs `python -m servekit.verify <endpoint> --deployed --env <env>` (the
  `servekit verify` command, importing only what it needs) per endpoint:
  InService on the EndpointConfig just deployed (a rolled-back update fails it) and a smoke request.
- The pipeline lives in the connection's account and region (a connection cannot be used from elsewhere).
  Other accounts must be bootstrapped with `--trust <pipeline account>`; their verification assumes the
  environment's `verify_role_arn`. Each other region gets a replication bucket in a small support stack of
  ours (KMS-encrypted, access-logged), instead of CDK's default support stack.
- Everything is checked by the same cdk-nag packs as the endpoints. The acknowledgements below each name one
  finding on one construct, with the reason; they cover what CDK Pipelines generates and cannot be configured
  (its roles' inline default policies and the wildcards AWS requires for CodeBuild reports and logs).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from constructs import Construct

from servekit import config as cfg
from servekit.constructs import ModelData
from servekit.constructs.checkov import skip_access_log_bucket, skip_check
from servekit.naming import ArtifactKey
from servekit.stacks import add_serving_stacks, stack_name

# CodeBuild's standard image with the README's toolchain: Python 3.11, Node 20, Java 17.
BUILD_IMAGE = codebuild.LinuxBuildImage.STANDARD_7_0
RUNTIMES = {"python": "3.11", "nodejs": "20", "java": "corretto17"}
# The CDK CLI that self-mutation and asset publishing install: package.json's pin (a unit test keeps them equal),
# not CDK Pipelines' default of the latest 2.x.
CDK_CLI_VERSION = "2.1148.1"
# What `servekit verify` imports: the config schema, boto3 and rich, not the CDK or the frameworks.
VERIFY_INSTALL = [
    "python3.11 -m venv .venv",
    ".venv/bin/pip install --quiet -c constraints.txt boto3 pydantic PyYAML rich sagemaker-core",
    ".venv/bin/pip install --quiet --no-deps -e .",
]


def environment_config(config: cfg.ServekitConfig, environment: cfg.PipelineEnvironment) -> cfg.ServekitConfig:
    """The app's config as one pipeline environment deploys it: its env_name, account and region."""
    app = config.app.model_copy(update={
        "env_name": environment.name, "account": environment.account, "region": environment.region})
    return config.model_copy(update={"app": app, "pipeline": None})


def repo_relative(config_path: str | Path, root: str | Path | None = None) -> str:
    """The config file's path inside the repository, as the pipeline's checkout will see it. The repository is the
    git repository that holds the config (the app runs in the project's folder, which may be below its root)."""
    path = Path(config_path)
    absolute = (path if path.is_absolute() else Path(root or os.getcwd()) / path).resolve()
    found = Path(root).resolve() if root else _git_root(absolute.parent)
    try:
        if found is None:
            raise ValueError
        return absolute.relative_to(found).as_posix()
    except ValueError:
        where = found or f"(no git repository holds {absolute.parent})"
        raise ValueError(f"the config {config_path} is outside the repository {where}; the pipeline can only "
                         "synthesize a file it checks out") from None


def _git_root(folder: Path) -> Path | None:
    import subprocess

    try:
        result = subprocess.run(["git", "-C", str(folder), "rev-parse", "--show-toplevel"], capture_output=True,
                                text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return Path(os.getcwd()).resolve()  # no git here: the folder the app runs in
    return Path(result.stdout.strip()).resolve() if result.returncode == 0 else None


class ServingStage(cdk.Stage):
    """One environment: the shared stack and a stack per endpoint, as on a workstation."""

    def __init__(self, scope: Construct, construct_id: str, *, config: cfg.ServekitConfig,
                 model_data: Mapping[ArtifactKey, ModelData], **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.serving_stacks = add_serving_stacks(self, config, model_data)


class RegionSupportStack(cdk.Stack):
    """The pipeline's artifact bucket in one more region (CodePipeline copies artifacts there for the stages
    of that region): KMS-encrypted with a key the stage's accounts may use, access-logged, TLS only."""

    def __init__(self, scope: Construct, construct_id: str, **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.bucket = _artifact_bucket(self, "Replication", cross_environment=True)


def _artifact_bucket(scope: Construct, prefix: str, *, cross_environment: bool = False) -> s3.Bucket:
    """A KMS-encrypted, access-logged, TLS-only bucket for pipeline artifacts. One the pipeline uses from another
    region needs names it can refer to: a generated bucket name, and an alias for its key (as CDK's own support
    stacks do)."""
    key: kms.IKey = kms.Key(scope, f"{prefix}Key", enable_key_rotation=True,
                            description=f"servekit pipeline artifacts ({prefix})", removal_policy=cdk.RemovalPolicy.DESTROY)
    if cross_environment:
        stack = cdk.Stack.of(scope)
        key = kms.Alias(scope, f"{prefix}KeyAlias", alias_name=f"alias/{stack.stack_name}-artifacts"[:256],
                        target_key=key, removal_policy=cdk.RemovalPolicy.DESTROY)
    logs = s3.Bucket(
        scope, f"{prefix}AccessLogs",
        encryption=s3.BucketEncryption.S3_MANAGED,  # server access logs cannot be delivered to SSE-KMS buckets
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=True,
        lifecycle_rules=[s3.LifecycleRule(expiration=cdk.Duration.days(365),
                                          noncurrent_version_expiration=cdk.Duration.days(30))],
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )
    skip_access_log_bucket(logs)
    bucket = s3.Bucket(
        scope, f"{prefix}Artifacts",
        bucket_name=cdk.PhysicalName.GENERATE_IF_NEEDED if cross_environment else None,
        encryption=s3.BucketEncryption.KMS,
        encryption_key=key,
        bucket_key_enabled=True,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=True,
        server_access_logs_bucket=logs,
        server_access_logs_prefix="artifacts/",
        lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=cdk.Duration.days(30))],
        removal_policy=cdk.RemovalPolicy.RETAIN,
    )
    transient = ("Pipeline artifacts are intermediate build outputs, rebuilt from the source repository at any "
                 "commit; a replica would be a second copy of data that is never the record of anything.")
    audit = ("Server access logs of the artifact bucket; kept versioned for a year in this account. Replicating them "
             "to another Region or account is an organisation's choice (a log-archive account), not the pipeline's.")
    no_kms = ("S3 delivers server access logs only to buckets encrypted with SSE-S3: a destination with default "
              "SSE-KMS encryption receives no logs.")
    for target, replication_reason in ((bucket, transient), (logs, audit)):
        cdk.Validations.of(target).acknowledge(*(
            cdk.Acknowledgment(id=f"{pack}-S3BucketReplicationEnabled", reason=replication_reason)
            for pack in ("HIPAA.Security", "NIST.800.53.R5")))
    cdk.Validations.of(logs).acknowledge(*(
        cdk.Acknowledgment(id=f"{pack}-S3DefaultEncryptionKMS", reason=no_kms) for pack in ("HIPAA.Security", "NIST.800.53.R5")))
    return bucket


class PipelineStack(cdk.Stack):
    """CDK Pipelines for `config.pipeline`: one stage per environment, approval before production,
    `servekit verify --deployed` after each stage."""

    def __init__(self, scope: Construct, construct_id: str, *, config: cfg.ServekitConfig,
                 model_data: Mapping[ArtifactKey, ModelData], config_path: str = "servekit.yaml", **kwargs) -> None:
        if config.pipeline is None:
            raise ValueError("PipelineStack needs a `pipeline` block in the config")
        pipeline_config = config.pipeline
        env = cdk.Environment(account=pipeline_config.account, region=pipeline_config.region)
        super().__init__(scope, construct_id, env=env, **kwargs)
        self.config_path = config_path

        other_regions = sorted({e.region for e in pipeline_config.environments} - {pipeline_config.region})
        replication = {}
        for region in other_regions:
            support = RegionSupportStack(
                scope, f"{construct_id}-support-{region}",
                env=cdk.Environment(account=pipeline_config.account, region=region),
                description=f"servekit pipeline {construct_id}: artifact replication bucket in {region}",
            )
            self.add_stack_dependency(support)
            replication[region] = support.bucket
        self.replication_buckets = list(replication.values())

        self.artifact_bucket = _artifact_bucket(self, "Pipeline")
        self.source = pipelines.CodePipelineSource.connection(
            f"{pipeline_config.repository.owner}/{pipeline_config.repository.name}",
            pipeline_config.branch,
            connection_arn=pipeline_config.connection_arn,
            trigger_on_push=True,
        )
        build_spec = codebuild.BuildSpec.from_object({"phases": {"install": {"runtime-versions": RUNTIMES}}})
        self.synth_step = pipelines.ShellStep(
            "Synth",
            input=self.source,
            commands=["make test", f"make synth CONFIG={config_path}"],
            primary_output_directory="cdk.out",
        )
        self.pipeline = pipelines.CodePipeline(
            self, "Pipeline",
            synth=self.synth_step,
            # One of the two: with stages in other regions, the map holds this region's bucket too.
            artifact_bucket=None if replication else self.artifact_bucket,
            cross_region_replication_buckets={**replication, pipeline_config.region: self.artifact_bucket}
            if replication else None,
            pipeline_type=codepipeline.PipelineType.V2,
            cli_version=CDK_CLI_VERSION,
            self_mutation=True,
            publish_assets_in_parallel=False,
            code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(build_image=BUILD_IMAGE),
                partial_build_spec=build_spec,
            ),
            synth_code_build_defaults=pipelines.CodeBuildOptions(
                build_environment=codebuild.BuildEnvironment(
                    build_image=BUILD_IMAGE, compute_type=codebuild.ComputeType.LARGE),
                timeout=cdk.Duration.minutes(120),
            ),
        )
        self.stages: dict[str, ServingStage] = {}
        for environment in pipeline_config.environments:
            env_config = environment_config(config, environment)
            stage = ServingStage(
                self, environment.name, config=env_config, model_data=model_data,
                env=cdk.Environment(account=environment.account, region=environment.region),
            )
            self.stages[environment.name] = stage
            pre = [pipelines.ManualApprovalStep(
                f"Approve-{environment.name}",
                comment=f"Deploy {config.app.name} to {environment.name} ({environment.account}, {environment.region})?",
            )] if environment.approval else []
            self.pipeline.add_stage(stage, pre=pre, post=[self._verify_step(env_config, environment)])
        self.pipeline.build_pipeline()
        self._acknowledge()

    def _verify_step(self, env_config: cfg.ServekitConfig, environment: cfg.PipelineEnvironment) -> pipelines.CodeBuildStep:
        """`servekit verify <endpoint> --deployed --env <env>` for every endpoint of the stage, with permission
        to read exactly those stacks and endpoints (or to assume the environment's verify role)."""
        names = [e.name for e in env_config.endpoints]
        role_option = f" --role-arn {environment.verify_role_arn}" if environment.verify_role_arn else ""
        commands = [
            f".venv/bin/python -m servekit.verify {name} --deployed --config {self.config_path} --env {environment.name}{role_option}"
            for name in names
        ]
        if environment.verify_role_arn:
            statements = [iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[environment.verify_role_arn])]
        else:
            partition = self.partition
            where = f"{environment.region}:{environment.account}"
            full = [stack_name(env_config.app, name) for name in names]
            statements = [
                iam.PolicyStatement(
                    actions=["sagemaker:DescribeEndpoint", "sagemaker:InvokeEndpoint"],
                    # SageMaker writes endpoint ARNs in lower case.
                    resources=[f"arn:{partition}:sagemaker:{where}:endpoint/{n.lower()}" for n in full],
                ),
                iam.PolicyStatement(
                    actions=["cloudformation:GetTemplate", "cloudformation:DescribeStackResource"],
                    resources=[f"arn:{partition}:cloudformation:{where}:stack/{n}/*" for n in full],
                ),
            ]
        return pipelines.CodeBuildStep(
            f"Verify-{environment.name}",
            input=self.source,
            install_commands=VERIFY_INSTALL,
            commands=commands,
            role_policy_statements=statements,
            env={"AWS_REGION": environment.region, "AWS_DEFAULT_REGION": environment.region},
        )

    def _acknowledge(self) -> None:
        """Exact cdk-nag findings on what CDK Pipelines generates, each with its reason (see the module doc)."""
        for node in self.node.find_all():
            if isinstance(node, codebuild.CfnProject):
                cdk.Validations.of(node).acknowledge(cdk.Acknowledgment(
                    id="HIPAA.Security-CodeBuildProjectSourceRepoUrl",
                    reason="The project's source is the pipeline's artifact (type CODEPIPELINE), not a repository URL: "
                    "the repository is read through the CodeStar/CodeConnections connection, with no credentials "
                    "in the project (the rule flags every project without OAUTH auth).",
                ))
            elif isinstance(node, iam.Policy) and not any(isinstance(p, ServingStage) for p in node.node.scopes):
                assets = node.node.path.startswith(f"{self.node.path}/Pipeline/Assets/")
                acknowledge_generated_policy(node, self._replication_rows() + (_ASSET_ROLE if assets else []))
                if assets:  # checkov's CKV_AWS_111 (write access without constraints) is the same codebuild '*'
                    skip_check(node.node.default_child, "CKV_AWS_111", _ASSET_BUILDS_REASON)

    def _replication_rows(self) -> list[tuple[re.Pattern[str], Callable[[dict], bool], str]]:
        """With stages in other regions: the replication buckets' objects, and CDK's grant on their keys."""
        rows: list[tuple[re.Pattern[str], Callable[[dict], bool], str]] = []
        for bucket in self.replication_buckets:
            name = self.resolve(bucket.bucket_name)
            rows.append((_pattern(r"Resource::arn:{P}:s3:::" + re.escape(name) + r"/\*"), lambda s: True,
                         "Objects of the pipeline's replication bucket in another region (named by CodePipeline "
                         "per execution)."))
        if self.replication_buckets:
            rows.append((re.compile(r"Resource::\*"),
                         lambda s: all(a.startswith("kms:") for a in _as_list(s.get("Action"))),
                         "Stages in other regions: CDK grants use of each region's replication key on '*', because "
                         "that key is in another stack and is named only through its alias; the key's own policy "
                         "names this role. Narrowing it needs the key's ARN, which exists only once that stack is "
                         "deployed."))
        return rows


def _pattern(text: str) -> re.Pattern[str]:
    """A finding pattern; {P} is any partition as cdk-nag writes it (a literal, or <AWS::Partition>)."""
    return re.compile(text.replace("{P}", r"(?:aws[a-z-]*|<AWS::Partition>)"))


# Wildcards in the policies CDK Pipelines (and CodeBuild) generate, each allowed only with its reason.
# (finding pattern, statement test, reason); a wildcard no row explains stays a finding and fails the synth.
_WILDCARDS: list[tuple[re.Pattern[str], Callable[[dict], bool], str]] = [
    (re.compile(r"Action::s3:(GetObject|GetBucket|List|DeleteObject|Abort|PutObject)\*"), lambda s: True,
     "CDK's S3 grant (grantRead/grantReadWrite) on the pipeline's artifact bucket and its objects: the wildcard "
     "names one family of S3 actions, and the statement's resources are that bucket only."),
    (re.compile(r"Action::kms:(GenerateDataKey|ReEncrypt)\*"), lambda s: True,
     "Envelope encryption of pipeline artifacts: the variants of GenerateDataKey/ReEncrypt KMS uses, on the "
     "artifact key only."),
    (re.compile(r"Resource::<[A-Za-z0-9]+Artifacts[A-Za-z0-9]+\.Arn>/\*"), lambda s: True,
     "Objects of the pipeline's own artifact bucket, which CodePipeline names per execution."),
    (_pattern(r"Resource::arn:{P}:codebuild:[^:]*:\d{12}:report-group/<[A-Za-z0-9]+>-\*"), lambda s: True,
     "CodeBuild test report groups, which CodeBuild names after this project at run time."),
    (_pattern(r"Resource::arn:{P}:logs:[^:]*:\d{12}:log-group:/aws/codebuild/<[A-Za-z0-9]+>:\*"), lambda s: True,
     "Log streams of this project's own log group, one per build."),
    (_pattern(r"Resource::arn:{P}:cloudformation:[^:]+:\d{12}:stack/[A-Za-z0-9-]+/\*"), lambda s: True,
     "One named stack: a stack's ARN ends in an id CloudFormation assigns when it creates the stack."),
    (re.compile(r"Resource::arn:\*:iam::\d{12}:role/\*"),
     lambda s: s.get("Action") == "sts:AssumeRole" and "iam:ResourceTag/aws-cdk:bootstrap-role" in json.dumps(s),
     "Only roles tagged aws-cdk:bootstrap-role (deploy, file-publishing, image-publishing): the CDK bootstrap roles, "
     "which self-mutation and asset publishing assume; their names carry the bootstrap qualifier."),
    (re.compile(r"Resource::\*"),
     lambda s: set(_as_list(s.get("Action"))) <= {"cloudformation:DescribeStacks", "s3:ListBucket"},
     "cdk deploy (self-mutation) reads the status of stacks and the bootstrap bucket it deploys to; those read-only "
     "calls are made before the names are known."),
]
# The one role CDK Pipelines shares between its asset-publishing projects (one project per asset, generated names).
_ASSET_BUILDS_REASON = ("CDK Pipelines lets the asset-publishing role run its own publishing builds, one project per "
                        "asset with a generated name.")
_ASSET_ROLE: list[tuple[re.Pattern[str], Callable[[dict], bool], str]] = [
    (_pattern(r"Resource::arn:{P}:logs:[^:]*:\d{12}:log-group:/aws/codebuild/\*"), lambda s: True,
     "The asset-publishing role is shared by one CodeBuild project per asset, with generated names; it may write "
     "only CodeBuild logs of this account and region."),
    (_pattern(r"Resource::arn:{P}:codebuild:[^:]*:\d{12}:report-group/\*"), lambda s: True,
     "The asset-publishing role is shared by one CodeBuild project per asset, with generated names; it may write "
     "only CodeBuild reports of this account and region."),
    (re.compile(r"Resource::\*"),
     lambda s: set(_as_list(s.get("Action"))) <= {"codebuild:BatchGetBuilds", "codebuild:StartBuild", "codebuild:StopBuild"},
     _ASSET_BUILDS_REASON),
]
INLINE_REASON = ("CDK Pipelines creates this role and adds its grants to the role's default (inline) policy; the "
                 "policy is scoped to the pipeline's own resources, and each wildcard in it is acknowledged by its exact "
                 "AwsSolutions-IAM5 finding with a reason.")


def acknowledge_generated_policy(
    policy: iam.Policy, extra_rows: list[tuple[re.Pattern[str], Callable[[dict], bool], str]] = ()
) -> None:
    """IAMNoInlinePolicy, and each IAM5 wildcard that one of the _WILDCARDS rows explains, on one policy."""
    acknowledgements = [cdk.Acknowledgment(id=f"{pack}-IAMNoInlinePolicy", reason=INLINE_REASON)
                        for pack in ("HIPAA.Security", "NIST.800.53.R5")]
    document = cdk.Stack.of(policy).resolve(policy.document.to_json())
    reasons: dict[str, list[str | None]] = {}
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        findings = [f"Action::{a}" for a in _as_list(statement.get("Action")) if "*" in a]
        findings += [f"Resource::{r}" for r in map(flatten_reference, _as_list(statement.get("Resource"))) if "*" in r]
        for finding in findings:
            reason = next((why for pattern, test, why in [*_WILDCARDS, *extra_rows]
                           if pattern.fullmatch(finding) and test(statement)), None)
            reasons.setdefault(finding, []).append(reason)
    for finding, why in reasons.items():
        if all(why):  # every statement that raises it is explained
            acknowledgements.append(cdk.Acknowledgment(id=f"AwsSolutions-IAM5[{finding}]", reason=why[0]))
    cdk.Validations.of(policy).acknowledge(*acknowledgements)


def flatten_reference(value: object) -> str:
    """A resolved CloudFormation value as cdk-nag writes it into finding ids (its flattenCfnReference)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict):
        if "Fn::Join" in value:
            delimiter, items = value["Fn::Join"]
            return delimiter.join(flatten_reference(i) for i in items)
        if "Fn::Sub" in value:
            return flatten_reference(value["Fn::Sub"])
        if "Fn::GetAtt" in value:
            resource, attribute = value["Fn::GetAtt"]
            return f"<{flatten_reference(resource)}.{flatten_reference(attribute)}>"
        if "Fn::ImportValue" in value:
            return flatten_reference(value["Fn::ImportValue"])
        if "Ref" in value:
            return f"<{flatten_reference(value['Ref'])}>"
    return json.dumps(value, separators=(",", ":"))


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def add_pipeline_stack(app: cdk.App, config: cfg.ServekitConfig, model_data: Mapping[ArtifactKey, ModelData],
                       config_path: str | Path) -> PipelineStack | None:
    """The pipeline stack, `<app>-pipeline`, when the config has a `pipeline` block (else nothing). A config outside
    the repository cannot be synthesized by the pipeline: one line on stderr and exit 2, no traceback."""
    if config.pipeline is None:
        return None
    try:
        relative = repo_relative(config_path)
    except ValueError as err:
        import sys

        print(f"servekit: pipeline: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    return PipelineStack(app, f"{config.app.name}-pipeline", config=config, model_data=model_data, config_path=relative,
                         description=f"servekit {config.app.name}: the deploy pipeline (CDK Pipelines)")
