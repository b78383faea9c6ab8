"""`servekit verify ENDPOINT [--deployed]`: did the deploy really take, and does the endpoint answer?

Deployed (`--deployed`), three checks, in order:

1. **What was deployed**: the stack's EndpointConfig, read from CloudFormation. GetTemplate gives the
   template the stack now holds (the one just deployed) and the logical id of the EndpointConfig its
   Endpoint uses; DescribeStackResource gives that resource's physical id, the config's ARN.
2. **What serves**: DescribeEndpoint, polled (bounded) until the endpoint settles. It must be `InService`
   **and** name that EndpointConfig. A blue/green update that SageMaker rolled back on an alarm ends
   `InService` too, on the *old* config, and CloudFormation may have reported success: a different
   config name is a silent rollback, and fails verification.
3. **It answers**: one request with the example payload (examples/<endpoint>.json) through
   InvokeEndpoint; the answer must be non-empty (and JSON when it says it is).

An inference component (`servekit verify <component endpoint>/<component> --deployed`) must also settle
InService (DescribeInferenceComponent, polled within the same bound) after its endpoint, and the request names
it (InvokeEndpoint's InferenceComponentName; its example is examples/<component>.json).

Local (no `--deployed`): /ping, then the same request to a server started with `servekit serve`.

The AWS clients, the clock and sleep are parameters, so the unit tests drive every path with botocore's
Stubber and a fake clock; the CLI passes real boto3 clients.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from servekit import naming

SETTLING = {"Creating", "Updating", "SystemUpdating", "RollingBack"}
FAILED = {"Failed", "UpdateRollbackFailed", "OutOfService", "Deleting"}


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Result:
    endpoint: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> bool:
        self.checks.append(Check(name, ok, detail))
        return ok

    def lines(self) -> list[str]:
        return [f"{'ok  ' if c.ok else 'FAIL'} {c.name}: {c.detail}" for c in self.checks]


def config_name(physical_id: str) -> str:
    """An EndpointConfig's name from its physical id (CloudFormation keeps the ARN: ...:endpoint-config/NAME)."""
    return physical_id.rsplit("/", 1)[-1] if physical_id.startswith("arn:") else physical_id


def _template_body(body: Any) -> dict[str, Any]:
    if isinstance(body, dict):
        return body
    try:
        return json.loads(body)
    except (TypeError, ValueError):
        import yaml

        return yaml.safe_load(body)


def deployed_config_logical_id(template: dict[str, Any], endpoint_name: str) -> str | None:
    """The logical id of the EndpointConfig that the template's Endpoint (named `endpoint_name`) uses."""
    resources = template.get("Resources", {})
    configs = [k for k, v in resources.items() if v.get("Type") == "AWS::SageMaker::EndpointConfig"]
    for resource in resources.values():
        if resource.get("Type") != "AWS::SageMaker::Endpoint":
            continue
        props = resource.get("Properties", {})
        name = props.get("EndpointName")
        if isinstance(name, str) and name != endpoint_name:
            continue
        ref = props.get("EndpointConfigName")
        if isinstance(ref, dict):
            target = ref.get("Fn::GetAtt", [None])[0] if "Fn::GetAtt" in ref else ref.get("Ref")
            if target in configs:
                return target
    return configs[0] if len(configs) == 1 else None


def verify_deployed(
    *,
    endpoint_name: str,
    stack_name: str,
    sagemaker: Any,
    cloudformation: Any,
    runtime: Any,
    payload: bytes,
    content_type: str = "application/json",
    accept: str = "application/json",
    timeout_seconds: float = 3600.0,
    poll_seconds: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] | None = None,
    component: str | None = None,
) -> Result:
    """The three checks above; stops at the first failure (a later check would only repeat it). With `component`
    (an InferenceComponentName), the component must also settle InService, and the smoke request goes to it."""
    from botocore.exceptions import ClientError
    # Long on purpose: the three checks read top to bottom in the order a deploy is verified, each stopping it.

    result = Result(endpoint_name)
    # 1. The EndpointConfig the stack just deployed.
    try:
        template = _template_body(cloudformation.get_template(StackName=stack_name)["TemplateBody"])
    except ClientError as err:
        result.add("deployed stack", False, f"{stack_name}: {err.response['Error'].get('Message', err)}; deploy it first")
        return result
    logical_id = deployed_config_logical_id(template, endpoint_name)
    if logical_id is None:
        result.add("deployed stack", False, f"{stack_name} holds no EndpointConfig for endpoint {endpoint_name}")
        return result
    detail = cloudformation.describe_stack_resource(StackName=stack_name, LogicalResourceId=logical_id)
    resource = detail["StackResourceDetail"]
    status = resource.get("ResourceStatus", "")
    if status.endswith("_FAILED") or not resource.get("PhysicalResourceId"):
        result.add("deployed stack", False, f"{stack_name}/{logical_id} is {status}: {resource.get('ResourceStatusReason', '')}")
        return result
    expected = config_name(resource["PhysicalResourceId"])
    result.add("deployed stack", True, f"{stack_name} deployed EndpointConfig {expected} ({status})")

    # 2. The endpoint settles InService on that config.
    start = clock()
    while True:
        try:
            described = sagemaker.describe_endpoint(EndpointName=endpoint_name)
        except ClientError as err:
            result.add("endpoint", False, f"{endpoint_name}: {err.response['Error'].get('Message', err)}")
            return result
        state = described["EndpointStatus"]
        serving = described.get("EndpointConfigName", "")
        elapsed = clock() - start
        if state == "InService":
            if serving.lower() != expected.lower():
                reason = described.get("FailureReason")
                result.add("endpoint", False, f"InService but on EndpointConfig {serving}, not {expected}, which the "
                           "stack deployed: SageMaker rolled the update back" + (f" ({reason})" if reason else ""))
                return result
            result.add("endpoint", True, f"InService on {serving} (after {elapsed:.0f} s)")
            break
        if state in FAILED or state not in SETTLING:
            reason = described.get("FailureReason", "no reason given")
            result.add("endpoint", False, f"{state}: {reason}")
            return result
        if elapsed + poll_seconds > timeout_seconds:
            result.add("endpoint", False, f"still {state} after {elapsed:.0f} s (limit {timeout_seconds:.0f} s); "
                       "check the endpoint's events, or raise --timeout-seconds")
            return result
        if progress:
            progress(f"{endpoint_name}: {state} ({elapsed:.0f} s); next look in {poll_seconds:.0f} s")
        sleep(poll_seconds)

    # 2b. The inference component settles InService too (its copies are placed after the endpoint's fleet).
    if component is not None and not _component_in_service(result, sagemaker, component, start, clock, sleep,
                                                           timeout_seconds, poll_seconds, progress):
        return result
    # 3. One real request.
    target = {"InferenceComponentName": component} if component is not None else {}
    try:
        response = runtime.invoke_endpoint(EndpointName=endpoint_name, Body=payload, ContentType=content_type,
                                           Accept=accept, **target)
    except ClientError as err:
        result.add("smoke request", False, f"InvokeEndpoint failed: {err.response['Error'].get('Message', err)}")
        return result
    body = response["Body"].read()
    answered_type = response.get("ContentType", "")
    check_answer(result, body, answered_type)
    return result


def _component_in_service(result: Result, sagemaker: Any, component: str, start: float, clock: Callable[[], float],
                          sleep: Callable[[float], None], timeout_seconds: float, poll_seconds: float,
                          progress: Callable[[str], None] | None) -> bool:
    from botocore.exceptions import ClientError

    while True:
        try:
            described = sagemaker.describe_inference_component(InferenceComponentName=component)
        except ClientError as err:
            return result.add("component", False, f"{component}: {err.response['Error'].get('Message', err)}")
        state = described["InferenceComponentStatus"]
        elapsed = clock() - start
        if state == "InService":
            copies = described.get("RuntimeConfig", {}).get("CurrentCopyCount")
            return result.add("component", True, f"{component} InService" + (
                f" with {copies} cop(ies)" if copies is not None else "") + f" (after {elapsed:.0f} s)")
        if state not in ("Creating", "Updating"):
            return result.add("component", False, f"{component} {state}: {described.get('FailureReason', 'no reason given')}")
        if elapsed + poll_seconds > timeout_seconds:
            return result.add("component", False, f"{component} still {state} after {elapsed:.0f} s (limit "
                              f"{timeout_seconds:.0f} s); raise --timeout-seconds")
        if progress:
            progress(f"{component}: {state} ({elapsed:.0f} s); next look in {poll_seconds:.0f} s")
        sleep(poll_seconds)


def check_answer(result: Result, body: bytes, content_type: str) -> bool:
    if not body:
        return result.add("smoke request", False, "the endpoint answered with an empty body")
    if "json" in content_type.lower():
        try:
            json.loads(body)
        except ValueError:
            return result.add("smoke request", False, f"answered {content_type} that is not JSON: {body[:120]!r}")
    preview = body[:80].decode(errors="replace").replace("\n", " ")
    return result.add("smoke request", True, f"answered {len(body)} bytes ({content_type or 'no content type'}): {preview}")


def verify_local(*, endpoint_name: str, url: str, payload: bytes, content_type: str = "application/json",
                 accept: str = "application/json", timeout_seconds: float = 60.0) -> Result:
    """/ping and one request against a server started with `servekit serve`."""
    result = Result(endpoint_name)
    base = url.rstrip("/")
    try:
        with urllib.request.urlopen(f"{base}/ping", timeout=timeout_seconds) as response:
            result.add("ping", True, f"{base}/ping answered {response.status}")
    except (urllib.error.URLError, OSError) as err:
        result.add("ping", False, f"nothing healthy at {base} ({getattr(err, 'reason', err)}); start it with "
                   f"`servekit serve {endpoint_name}`")
        return result
    request = urllib.request.Request(f"{base}/invocations", data=payload, method="POST",
                                     headers={"Content-Type": content_type, "Accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=timeout_seconds) as response:
            check_answer(result, response.read(), response.headers.get("Content-Type", ""))
    except urllib.error.HTTPError as err:
        result.add("smoke request", False, f"HTTP {err.code}: {err.read()[:200].decode(errors='replace')}")
    except (urllib.error.URLError, OSError) as err:
        result.add("smoke request", False, f"no answer: {getattr(err, 'reason', err)}")
    return result


def example_payload(endpoint: str, config_path: str | Path) -> Path | None:
    """examples/<endpoint>.json beside the config file, else in the current folder."""
    for base in (Path(config_path).resolve().parent, Path.cwd()):
        candidate = base / "examples" / f"{endpoint}.json"
        if candidate.is_file():
            return candidate
    return None


# ---------------------------------------------------------------------------------------------
# `servekit verify` (cli.py wires it)
# ---------------------------------------------------------------------------------------------
def add_arguments(parser: Any) -> None:
    parser.add_argument("endpoint", help="an endpoint's name, or <component endpoint>/<component>")
    parser.add_argument("--deployed", action="store_true",
                        help="check the deployed endpoint (CloudFormation + SageMaker, your AWS credentials)")
    parser.add_argument("--config", help="servekit.yaml; default: the one in the current folder or the nearest above "
                        "it")
    parser.add_argument("--env", help="a pipeline environment of the config (its name, account and region); "
                        "default: the config's app")
    parser.add_argument("--data", help="request body; default examples/<endpoint>.json")
    parser.add_argument("--content-type", default="application/json")
    parser.add_argument("--accept", default="application/json")
    parser.add_argument("--url", help="the local server (without --deployed); default: the `servekit serve` of this "
                        "endpoint running in the project, else http://127.0.0.1:8080")
    parser.add_argument("--role-arn", help="assume this role first (a pipeline verifying another account)")
    parser.add_argument("--timeout-seconds", type=float, default=3600.0,
                        help="how long the endpoint may take to settle (deployed), or to answer (local)")
    parser.add_argument("--poll-seconds", type=float, default=30.0)


def target(config: Any, env: str | None) -> tuple[str, str]:
    """(env_name, region) of the app, or of the pipeline environment named `env`."""
    if env is None:
        return config.app.env_name, config.app.region
    pipeline = getattr(config, "pipeline", None)
    names = [e.name for e in pipeline.environments] if pipeline else []
    if env not in names:
        raise ValueError(f"--env {env}: the config has no pipeline environment of that name"
                         + (f"; use one of: {', '.join(names)}" if names else " (it has no `pipeline` block)"))
    chosen = next(e for e in pipeline.environments if e.name == env)
    return chosen.name, chosen.region


def _session(region: str, role_arn: str | None) -> Any:
    import boto3

    session = boto3.Session(region_name=region)
    if not role_arn:
        return session
    credentials = session.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="servekit-verify")["Credentials"]
    return boto3.Session(aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
                         aws_session_token=credentials["SessionToken"], region_name=region)


def run_command(args: Any, config: Any, *, console: Any, errors: Any) -> int:
    """Print one line per check; exit 0 when all pass, 1 when one fails, 2 for a usage problem."""
    try:
        env_name, region = target(config, args.env)
    except ValueError as err:
        errors.print(f"servekit: {err}", markup=False)
        return 2
    fleet, _, component = args.endpoint.partition("/")  # `<component endpoint>/<component>` names a component
    data = Path(args.data) if args.data else example_payload(component or args.endpoint, args.config)
    if data is None or not data.is_file():
        errors.print(f"servekit: no request body for {args.endpoint}: "
                     + (f"{args.data} does not exist" if args.data else f"examples/{args.endpoint}.json is missing")
                     + "; pass --data FILE", markup=False)
        return 2
    payload = data.read_bytes()
    name = naming.endpoint_name(config.app, fleet, env_name)
    if args.deployed:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            session = _session(region, args.role_arn)
            result = verify_deployed(
                endpoint_name=name, stack_name=name, sagemaker=session.client("sagemaker"),
                cloudformation=session.client("cloudformation"), runtime=session.client("sagemaker-runtime"),
                payload=payload, content_type=args.content_type, accept=args.accept,
                timeout_seconds=args.timeout_seconds, poll_seconds=args.poll_seconds,
                progress=lambda line: errors.print(line, markup=False),
                component=naming.inference_component_name(name, component) if component else None,
            )
        except (BotoCoreError, ClientError) as err:
            errors.print(f"servekit: verifying {name} in {region}: {err}", markup=False)
            return 1
        where = f"{name} in {region}"
    else:
        from servekit import local, project

        args.url = args.url or local.running_url(project.of(args.config).serve_dir(args.endpoint)) or \
            "http://127.0.0.1:8080"
        result = verify_local(endpoint_name=args.endpoint, url=args.url, payload=payload, content_type=args.content_type,
                              accept=args.accept, timeout_seconds=min(args.timeout_seconds, 300.0))
        where = f"{args.endpoint} at {args.url}"
    for line in result.lines():
        (console if line.startswith("ok") else errors).print(line, markup=False)
    console.print(f"{where}: {'verified' if result.ok else 'NOT verified'} ({data.name})", markup=False)
    return 0 if result.ok else 1


def main(argv: list[str] | None = None) -> int:
    """`python -m servekit.verify ...`: the same command as `servekit verify`, importing only what it needs
    (the pipeline's verification step installs the config schema's dependencies and boto3, nothing more)."""
    import argparse
    import sys

    from rich.console import Console

    from servekit import config as cfg

    parser = argparse.ArgumentParser(prog="servekit verify", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    console = Console(highlight=False, soft_wrap=True)
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        config = cfg.load(args.config)
    except cfg.ConfigError as err:
        errors.print(f"servekit: {err}", markup=False)
        return 2
    if args.endpoint not in [e.name for e in config.endpoints]:
        errors.print(f"servekit: no endpoint {args.endpoint!r} in {args.config}", markup=False)
        return 2
    sys.stdout.flush()
    return run_command(args, config, console=console, errors=errors)


if __name__ == "__main__":
    raise SystemExit(main())
