"""`servekit ...`: init, schema, validate, synth, build, check-artifact, serve, invoke, bench, diff, verify.

Each command prints what a person needs and exits non-zero on failure, with one line per problem and
no traceback for anything the user can fix.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from servekit import config as cfg
from servekit import naming, project, registry, synth_table

# Wide enough for the endpoint table when stdout is a pipe or CI log (rich would default to 80 columns).
console = Console(stderr=False, highlight=False, width=None if sys.stdout.isatty() else 200)
errors = Console(stderr=True, highlight=False, soft_wrap=True)  # one problem per line, never wrapped


def _load(path: str) -> cfg.ServekitConfig:
    try:
        return cfg.load(path)
    except cfg.ConfigError as err:
        errors.print(f"[red]servekit: {err.source}: {len(err.problems)} problem(s)[/red]")
        for problem in err.problems:
            errors.print(f"  - {problem}", markup=False)
        raise SystemExit(2) from None


def _endpoint(config: cfg.ServekitConfig, name: str):
    """The endpoint `name`, or the component `<component endpoint>/<component>` (its endpoint of its server)."""
    for endpoint in config.endpoints:
        if endpoint.name == name:
            return endpoint
    fleet, _, component = name.partition("/")
    for ce in config.component_endpoints:
        for c in ce.components if ce.name == fleet else ():
            if c.name == component:
                return c.serve
    names = ", ".join([e.name for e in config.endpoints]
                      + [f"{ce.name}/{c.name}" for ce in config.component_endpoints for c in ce.components])
    errors.print(f"servekit: no endpoint {name!r} in the config; use one of: {names}", markup=False)
    raise SystemExit(2)


# --- init and schema --------------------------------------------------------------------------
def cmd_init(args: argparse.Namespace) -> int:
    from servekit import describe, init

    shapes = [[int(d) for d in shape.replace("x", ",").split(",") if d.strip()] for shape in args.input_shape or []]
    try:
        written = init.run(Path(args.folder), model=Path(args.model) if args.model else None, add=args.add,
                           input_shapes=shapes, say=lambda m: errors.print(m, markup=False))
    except (init.InitError, describe.DescribeError) as err:
        errors.print(f"servekit init: {err}", markup=False)
        return 2
    for path in written:
        console.print(f"wrote {path}", markup=False)
    console.print("next: `servekit validate`, then `servekit build`, `servekit serve ENDPOINT`, `servekit synth`",
                  markup=False)
    return 0


def cmd_schema(_args: argparse.Namespace) -> int:
    from servekit.config.json_schema import json_schema_text

    sys.stdout.write(json_schema_text())
    return 0


# --- validate ---------------------------------------------------------------------------------
def cmd_validate(args: argparse.Namespace) -> int:
    config = _load(args.config)
    for line in cfg.advisories(config):
        errors.print(f"  warning: {line}", markup=False)
    listed = [f"{e.name} ({e.server})" for e in config.endpoints]
    listed += [f"{ce.name} (components: {', '.join(f'{c.name} ({c.serve.server})' for c in ce.components)})"
               for ce in config.component_endpoints]
    console.print(f"{args.config}: valid — {len(listed)} endpoint(s): " + ", ".join(listed), markup=False)
    return 0


# --- synth ------------------------------------------------------------------------------------
def cmd_synth(args: argparse.Namespace) -> int:
    """Run servekit.app in the project's folder, without the CDK CLI, with the context the CLI would give it:
    the cloud assembly it writes is what `cdk deploy --app cdk.out` and `cdk diff --app cdk.out` take."""
    _load(args.config)  # fail here, before the app starts, with the same one-line-per-problem output
    here = project.of(args.config)
    output = Path(args.output).resolve() if args.output else here.assembly_dir
    # -O: jsii's generated Python skips its typeguard checks of every call (the Node kernel still checks).
    command = [sys.executable, "-O", "-m", "servekit.app"]
    result = subprocess.run(command, cwd=here.root, env=project.synth_environment(here, output))
    if result.returncode != 0:
        errors.print(f"servekit: synth failed (exit {result.returncode}); see the lines above", markup=False)
        return result.returncode or 1
    print_endpoint_table(output)
    cli = project.cdk_cli(here.root)
    shown = str(output.relative_to(Path.cwd())) if output.is_relative_to(Path.cwd()) else str(output)
    console.print(f"deploy: {cli or 'cdk'} deploy --app {shown} --all (with AWS credentials)"
                  + ("" if cli else f"; the CDK CLI is not installed here: {project.CDK_CLI_HINT}"), markup=False)
    return 0


def print_endpoint_table(assembly: Path) -> None:
    rows = synth_table.endpoint_rows(assembly)
    table = Table(title=f"servekit: {len(rows)} endpoint(s) synthesized into {assembly}/")
    for column in ("stack", "server", "image", "instance", "gpu_ami", "tuning", "volume_key"):
        table.add_column(column.replace("_", " "), overflow="fold")
    for row in rows:
        table.add_row(*row.values())
    console.print(table)


# --- build and check-artifact -----------------------------------------------------------------
def cmd_build(args: argparse.Namespace) -> int:
    from servekit import model_build

    config = _load(args.config)
    selected = [_endpoint(config, args.endpoint)] if args.endpoint else [
        *config.endpoints, *(c.serve for ce in config.component_endpoints for c in ce.components)]
    for endpoint in selected:
        try:
            artifact = model_build.build(endpoint, cache_dir=Path(args.cache_dir),
                                         progress=lambda m: errors.print(m, markup=False))
        except model_build.BuildError as err:
            errors.print(f"servekit: {endpoint.name}: {err}", markup=False)
            return 2
        if isinstance(artifact, model_build.RemoteArtifact):
            console.print(f"{endpoint.name}: {artifact.uri} (in S3, not built)", markup=False)
        else:
            console.print(f"{endpoint.name}: {artifact.path} ({artifact.size_bytes / 1e6:.1f} MB, identity {artifact.identity[:16]})",
                          markup=False)
    return 0


def cmd_check_artifact(args: argparse.Namespace) -> int:
    from servekit import model_build

    problems = model_build.check_artifact(
        Path(args.path), registry.get(args.server), default_model_name=args.default_model_name, instance_type=args.instance_type
    )
    if problems:
        errors.print(f"{args.path}: {len(problems)} problem(s) for {args.server}", markup=False)
        for problem in problems:
            errors.print(f"  - {problem}", markup=False)
        return 1
    console.print(f"{args.path}: a valid {args.server} artifact", markup=False)
    return _load_artifact(args) if args.load else 0


def _load_artifact(args: argparse.Namespace) -> int:
    """check-artifact --load: the artifact in its real server on this machine (TorchServe through the toolkit, the
    real tritonserver, the TFS emulation), with the settings of --endpoint, and one request made from the model's
    signature (bench's payload for that endpoint) or --data; exit 0 when it answers 200."""
    import tempfile

    from servekit import local

    if not args.endpoint:
        errors.print("servekit: --load needs --endpoint NAME: the endpoint of servekit.yaml whose server settings "
                     "load the artifact (and whose example request it is sent)", markup=False)
        return 2
    config = _load(args.config)
    endpoint = _endpoint(config, args.endpoint)
    if endpoint.server != args.server:
        errors.print(f"servekit: --endpoint {args.endpoint} is a {endpoint.server} endpoint, not {args.server}",
                     markup=False)
        return 2
    artifact = Path(args.path).resolve()
    try:
        body, content_type = ((Path(args.data).read_bytes(), args.content_type) if args.data else
                              (lambda p: (p.body, p.content_type))(endpoint.plugin.payloads(endpoint,
                                                                                                          artifact)[0]))
    except Exception as err:  # noqa: BLE001 - a payload that cannot be made: one line, with the way out
        errors.print(f"servekit: no request for {args.endpoint} ({err}); pass --data FILE", markup=False)
        return 2
    with tempfile.TemporaryDirectory(prefix="servekit-load-") as tmp:
        try:
            server = local.start(endpoint, artifact, workdir=Path(tmp) / "serve",
                                 progress=lambda m: errors.print(m, markup=False))
        except Exception as err:  # noqa: BLE001 - the server refused the artifact: its words, one line
            errors.print(f"{args.path}: {endpoint.server} did not load it: {' '.join(str(err).split())[-1500:]}",
                         markup=False)
            return 1
        return _one_request(args, endpoint, server, body, content_type)


def _one_request(args: argparse.Namespace, endpoint, server, body: bytes, content_type: str) -> int:
    import urllib.error
    import urllib.request

    with server:
        request = urllib.request.Request(server.invocations_url, data=body, method="POST",
                                         headers={"Content-Type": content_type, "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as answer:
                status, text = answer.status, answer.read()[:200].decode(errors="replace")
        except urllib.error.HTTPError as err:
            status, text = err.code, err.read()[:500].decode(errors="replace")
        kind = "the emulation of" if server.emulated else "the real"
        if status != 200:
            errors.print(f"{args.path}: {kind} {endpoint.server} loaded it but answered {status} to a {content_type} "
                         f"request: {text}", markup=False)
            return 1
    console.print(f"{args.path}: loaded by {kind} {endpoint.server}; it answered 200 to a {content_type} request "
                  f"({len(body)} bytes): {text[:120]}", markup=False)
    return 0


# --- serve and invoke -------------------------------------------------------------------------
def _artifact(endpoint, cache_dir: str) -> Path:
    from servekit import model_build

    try:
        artifact = model_build.build(endpoint, cache_dir=Path(cache_dir), progress=lambda m: errors.print(m, markup=False))
    except model_build.BuildError as err:
        errors.print(f"servekit: {endpoint.name}: {err}", markup=False)
        raise SystemExit(2) from None
    if isinstance(artifact, model_build.RemoteArtifact):
        errors.print(f"servekit: {endpoint.name} uses {artifact.uri}, which is in S3; serve a local source", markup=False)
        raise SystemExit(2)
    return artifact.path


def cmd_serve(args: argparse.Namespace) -> int:
    """The endpoint's artifact in its model server, behind servekit's SageMaker runtime front on --port: the
    container's own routes pass through, and InvokeEndpoint answers as SageMaker does (servekit/local/runtime_front.py),
    so a boto3 client given endpoint_url runs unchanged against it."""
    import time

    from servekit import local
    from servekit.local.runtime_front import RuntimeFront

    config = _load(args.config)
    endpoint = _endpoint(config, args.endpoint)
    fleet = args.endpoint.partition("/")[0]
    names = {args.endpoint, endpoint.name, fleet, naming.endpoint_name(config.app, fleet)}
    try:  # bound first: a port in use fails before the model server starts
        front = RuntimeFront("", names=names, port=args.port)
    except OSError as err:
        errors.print(f"servekit: cannot listen on 127.0.0.1:{args.port} ({err.strerror or err}); pass another --port "
                     "(0 picks a free one)", markup=False)
        return 2
    artifact = _artifact(endpoint, args.cache_dir)
    serve_dir = project.of(args.config).serve_dir(args.endpoint)
    workdir = Path(args.workdir).resolve() if args.workdir else serve_dir
    server = local.start(endpoint, artifact, workdir=workdir, progress=lambda m: errors.print(m, markup=False))
    front.backend = server.url
    with server, front, local.announce(serve_dir, front):
        kind = "EMULATION of" if server.emulated else "real"
        console.print(f"{endpoint.name}: {kind} {endpoint.server} serving {artifact} at {front.url} "
                      f"(/ping, /invocations; SageMaker's InvokeEndpoint at /endpoints/"
                      f"{naming.endpoint_name(config.app, fleet)}/invocations), ready in {server.startup_seconds:.1f} s",
                      markup=False)
        for line in server.differences:
            console.print(f"  differs from the cloud: {line}", markup=False)
        console.print(f"  the model server itself answers at {server.url}, behind servekit's front", markup=False)
        console.print(f"log: {server.server.log_path}; Ctrl-C (or SIGTERM) stops it", markup=False)
        try:
            while server.running():
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0


def cmd_invoke(args: argparse.Namespace) -> int:
    import urllib.error
    import urllib.request

    from servekit import codecs

    try:
        body = Path(args.data).read_bytes() if args.data != "-" else sys.stdin.buffer.read()
    except OSError as err:
        errors.print(f"servekit: cannot read --data {args.data}: {err.strerror or err}", markup=False)
        return 2
    headers = {"Content-Type": args.content_type, "Accept": args.accept}
    if args.deployed:
        config = _load(args.config)
        endpoint = _endpoint(config, args.endpoint)
    else:  # a local server may come from another file: the body is checked only when the endpoint is known
        try:
            config = cfg.load(args.config)
        except cfg.ConfigError:
            config = None
        endpoint = next((e for e in config.endpoints if e.name == args.endpoint), None) if config else None
    problem = endpoint and codecs.request_problem(endpoint.plugin, body, args.content_type)
    if problem:
        errors.print(f"servekit: not sending this request to {args.endpoint} ({endpoint.server}): {problem}", markup=False)
        return 2
    if args.deployed:
        return _invoke_deployed(config, args.endpoint, body, args.content_type, args.accept)
    url = _local_url(args)
    if url is None:
        return 1
    request = urllib.request.Request(f"{url}/invocations", data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=args.timeout_seconds) as response:
            sys.stdout.buffer.write(response.read() + b"\n")
            return 0
    except urllib.error.HTTPError as err:
        errors.print(f"HTTP {err.code}: {err.read().decode(errors='replace')}", markup=False)
        return 1
    except urllib.error.URLError as err:
        errors.print(f"servekit: nothing answers at {url} ({err.reason}); start it with `servekit serve {args.endpoint}`",
                     markup=False)
        return 1


def _local_url(args: argparse.Namespace) -> str | None:
    """--url, else --port on this machine, else the `servekit serve` of this endpoint running in the project; None
    (and one line saying how to start one) when there is none."""
    from servekit import local

    if args.url:
        return args.url.rstrip("/")
    if args.port:
        return f"http://127.0.0.1:{args.port}"
    folder = project.of(args.config).serve_dir(args.endpoint)
    url = local.running_url(folder)
    if url is None:
        errors.print(f"servekit: no `servekit serve {args.endpoint}` runs in the project {folder.parents[2]}; start "
                     f"it there (`servekit serve {args.endpoint}`) in another terminal, or pass --port or --url",
                     markup=False)
    return url


def _invoke_deployed(config: cfg.ServekitConfig, endpoint: str, body: bytes, content_type: str, accept: str) -> int:
    """InvokeEndpoint on `<app>-<env>-<endpoint>` (the name the stacks give it) with the user's credentials, and
    for `<component endpoint>/<component>` the component's InferenceComponentName; every failure is one line on
    stderr and exit 1, never a traceback."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    fleet, _, component = endpoint.partition("/")  # `<component endpoint>/<component>` addresses a component
    name, region = naming.endpoint_name(config.app, fleet), config.app.region
    target = {"InferenceComponentName": naming.inference_component_name(name, component)} if component else {}
    try:
        runtime = boto3.client("sagemaker-runtime", region_name=region)
        response = runtime.invoke_endpoint(EndpointName=name, Body=body, ContentType=content_type, Accept=accept,
                                           **target)
        answer = response["Body"].read()
    except NoCredentialsError:
        errors.print(f"servekit: no AWS credentials to call endpoint {name} in {region}; configure them (aws configure, "
                     "AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)", markup=False)
        return 1
    except ClientError as err:
        error = err.response.get("Error", {})
        code, message = error.get("Code", "Error"), error.get("Message", str(err))
        if code == "ModelError":  # the container answered an error: show its status and body, and where its log is
            status = err.response.get("OriginalStatusCode", "?")
            message = f"the model container answered {status}: {err.response.get('OriginalMessage') or message}"
            if err.response.get("LogStreamArn"):
                message += f" (log: {err.response['LogStreamArn']})"
        errors.print(f"servekit: endpoint {name} in {region}: {code}: {' '.join(str(message).split())}", markup=False)
        return 1
    except BotoCoreError as err:
        errors.print(f"servekit: calling endpoint {name} in {region} failed: {err}", markup=False)
        return 1
    sys.stdout.buffer.write(answer + b"\n")
    return 0


# --- bench ------------------------------------------------------------------------------------
def cmd_bench(args: argparse.Namespace) -> int:
    from servekit import bench

    config = _load(args.config)
    return bench.run_command(args, config, _endpoint(config, args.endpoint), console=console, errors=errors)


# --- diff and verify --------------------------------------------------------------------------
def cmd_diff(args: argparse.Namespace) -> int:
    from servekit import diff

    return diff.run_command(args, console=console, errors=errors)


def cmd_verify(args: argparse.Namespace) -> int:
    from servekit import verify

    config = _load(args.config)
    _endpoint(config, args.endpoint)
    return verify.run_command(args, config, console=console, errors=errors)


def _project_defaults(args: argparse.Namespace) -> None:
    """Every command works from any folder: the config is found (servekit.project.find_config) and made absolute,
    and what a command keeps goes into that project's folder unless an option says otherwise."""
    if getattr(args, "config_option", None):  # validate and synth take the config either way
        args.config = args.config_option
    if "config" in args and args.func is not cmd_diff:  # diff's config is a path in each git ref's tree, kept as given
        args.config = str(project.find_config(args.config))
    if getattr(args, "cache_dir", "") is None:
        args.cache_dir = str(project.of(args.config).cache_dir)


def main(argv: list[str] | None = None) -> int:
    # Long on purpose: the whole command line declared in one place, one parser per command, in `--help` order.
    parser = argparse.ArgumentParser(prog="servekit", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    config_help = "servekit.yaml; default: the one in the current folder or the nearest folder above it"
    p = sub.add_parser("init", help="make a folder a servekit project (servekit.yaml, cdk.json, .gitignore, the "
                       "JSON Schema); --model writes the endpoint a model file describes")
    p.add_argument("folder", nargs="?", default=".")
    p.add_argument("--model", help="a .onnx, TorchScript .pt, .keras/.h5 file or a SavedModel folder")
    p.add_argument("--input-shape", action="append", help="TorchScript: the shape of each forward() tensor, batch "
                   "first, e.g. 1,3,224,224 (once per tensor)")
    p.add_argument("--add", action="store_true", help="add the model's endpoint to an existing servekit.yaml")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("schema", help="print servekit.yaml's JSON Schema (for editors)")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("validate", help="check servekit.yaml; one line per problem")
    p.add_argument("config", nargs="?", help=config_help)
    p.add_argument("--config", dest="config_option", metavar="CONFIG", help="the same, as the other commands take it")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("synth", help="build the artifacts and synthesize CloudFormation into the project's cdk.out "
                       "(no CDK CLI needed)")
    p.add_argument("config", nargs="?", help=config_help)
    p.add_argument("--config", dest="config_option", metavar="CONFIG", help="the same, as the other commands take it")
    p.add_argument("--output", help="the cloud assembly folder; default: cdk.out beside servekit.yaml")
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("build", help="build model.tar.gz artifacts (cached by identity)")
    p.add_argument("endpoint", nargs="?", help="one endpoint; default: all")
    p.add_argument("--config", help=config_help)
    p.add_argument("--cache-dir", help="default: .servekit/cache beside servekit.yaml")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("check-artifact", help="report layout problems in a model.tar.gz")
    p.add_argument("path")
    p.add_argument("--server", required=True, choices=registry.names())
    p.add_argument("--default-model-name", help="TFS: the model SAGEMAKER_TFS_DEFAULT_MODEL_NAME names")
    p.add_argument("--instance-type", help="checks GPU-only settings (e.g. Triton KIND_GPU) against it")
    p.add_argument("--load", action="store_true", help="then load it in its server on this machine (the real "
                   "TorchServe or tritonserver, the TFS emulation) and send it one request")
    p.add_argument("--endpoint", help="with --load: the endpoint whose settings load it and whose request is sent")
    p.add_argument("--config", help=config_help)
    p.add_argument("--data", help="with --load: the request body instead of one made from the model's signature")
    p.add_argument("--content-type", default="application/json", help="with --data")
    p.set_defaults(func=cmd_check_artifact)

    p = sub.add_parser("serve", help="run an endpoint's artifact in its model server on this machine")
    p.add_argument("endpoint")
    p.add_argument("--config", help=config_help)
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--workdir", help="where the artifact is unpacked and logs go; default .servekit/serve/<endpoint> "
                   "beside servekit.yaml")
    p.add_argument("--cache-dir", help="default: .servekit/cache beside servekit.yaml")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("invoke", help="send one request to a served (or, with --deployed, a deployed) endpoint")
    p.add_argument("endpoint", help="an endpoint's name, or <component endpoint>/<component> (with --deployed)")
    p.add_argument("--data", required=True, help="request body file, or - for stdin")
    p.add_argument("--content-type", default="application/json")
    p.add_argument("--accept", default="application/json")
    p.add_argument("--url", help="a server at this URL; default: the `servekit serve` of this endpoint running in "
                   "the project")
    p.add_argument("--port", type=int, help="a server on this port of 127.0.0.1")
    p.add_argument("--deployed", action="store_true", help="call the SageMaker endpoint with your AWS credentials")
    p.add_argument("--config", help=config_help)
    p.add_argument("--timeout-seconds", type=float, default=60.0)
    p.set_defaults(func=cmd_invoke)

    p = sub.add_parser("bench", help="load-test an endpoint (local server, --url or --deployed); --sweep compares "
                       "tuning values")
    from servekit.bench import add_arguments as add_bench_arguments

    add_bench_arguments(p)
    p.set_defaults(func=cmd_bench)

    from servekit import diff, verify

    p = sub.add_parser("diff", help="per-endpoint impact of a change (fleet replaced, in place, ...) between two "
                       "cdk.out folders or git refs")
    diff.add_arguments(p)
    p.set_defaults(func=cmd_diff)

    p = sub.add_parser("verify", help="check a deployed (or local) endpoint: InService on the deployed config, "
                       "and a smoke request")
    verify.add_arguments(p)
    p.set_defaults(func=cmd_verify)

    args = parser.parse_args(argv)
    _project_defaults(args)
    from servekit.local.process import termination_as_interrupt

    try:
        with termination_as_interrupt():  # kill or a closed terminal stops local servers as Ctrl-C does
            return args.func(args)
    except KeyboardInterrupt:
        errors.print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
