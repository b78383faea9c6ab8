"""Synth: wall time of `servekit synth` for 1, 10 and 50 endpoints, and of a minimal one-resource CDK app as the floor.

    .venv/bin/python bench/bench_synth.py [--counts 1,10,50] [--repeat 1] [--profile 50] [--peer] [--messages 30]

Generates servekit.yaml files with N TorchServe endpoints (copies of the embedded default's question-answering
endpoint, all built from the same model source, so every artifact comes from the cache after the first build),
then times `servekit synth FILE --output DIR` end to end (CDK CLI, app.py in Python, cdk-nag, templates, the
table). The floor is `cdk synth` of an app with one stack holding one SNS topic: the fixed cost of the CDK CLI,
Node and jsii. Also shown: the Python app alone (`python app.py` with CDK_OUTDIR, as the CLI runs it), and how
the time per extra endpoint compares with the fixed cost.
Target: 50 endpoints in under 3x the time of 1. `--profile N` writes a py-spy profile of app.py for N endpoints
(needs `pip install py-spy`); `--messages N` counts app.py's jsii messages to Node for N endpoints, by the
servekit function that sent each (the cost that grows with endpoints). Figures, not assertions.

`--peer` also times the hand-written L2 peer in the same run: aws-cdk's aws-sagemaker-alpha (Model,
EndpointConfig, Endpoint; one stack per endpoint, as servekit has, the same model asset and the same cdk-nag
packs), each as `python app.py` with CDK_OUTDIR, beside servekit's app.py, and prints servekit's ratio to it
per endpoint count. Twice: bare (three resources an endpoint), and full, with what servekit adds to each endpoint
(five alarms, instance scaling, a dashboard) written in the L2s, which is the like-for-like peer; the table gives
each app's resources and milliseconds per resource above the floor. The alpha package is installed for the run only, into a temporary folder (pip --target,
from the package registry), never into requirements.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from servekit import bench  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PY = REPO / ".venv" / "bin" / "python"
# The interpreter flags cdk.json runs app.py with (-O: jsii skips its Python-side type checks, see cdk.json's note in
# docs/performance.md); every app in this bench runs with them, the peers and the floor too, so the ratios compare apps.
PY_FLAGS = [a for a in json.loads((REPO / "cdk.json").read_text())["app"].split() if a.startswith("-")]
CDK = REPO / "node_modules" / ".bin" / "cdk"
ENV = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
       "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "20"}
TARGET_RATIO = 3.0

MINIMAL_APP = """
import aws_cdk as cdk
from aws_cdk import aws_sns as sns

app = cdk.App()
stack = cdk.Stack(app, "Minimal")
sns.Topic(stack, "Topic")
app.synth()
"""


def write_config(path: Path, count: int) -> Path:
    data = yaml.safe_load((REPO / "servekit.yaml").read_text())
    qa = next(e for e in data["endpoints"] if e["name"] == "question-answering")
    data["endpoints"] = [{**qa, "name": f"qa-{i:03d}"} for i in range(count)]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def timed(command: list[str], *, env: dict[str, str] | None = None, cwd: Path = REPO) -> float:
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env or ENV, capture_output=True, text=True)
    took = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout[-2000:]}\n"
                           f"{result.stderr[-3000:]}")
    return took


def servekit_synth(config: Path, out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    return timed([str(REPO / ".venv" / "bin" / "servekit"), "synth", str(config), "--output", str(out)])


def python_app(config: Path, out: Path) -> float:
    """app.py as the CDK CLI runs it (CDK_OUTDIR, the context in CDK_CONTEXT_JSON), without the CLI."""
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    env = {**ENV, "CDK_OUTDIR": str(out), "CDK_CONTEXT_JSON": json.dumps({**context, "config": str(config)})}
    return timed([str(PY), *PY_FLAGS, "app.py"], env=env)


def minimal_synth(work: Path) -> float:
    app = work / "minimal_app.py"
    app.write_text(MINIMAL_APP)
    out = work / "minimal.out"
    shutil.rmtree(out, ignore_errors=True)
    return timed([str(CDK), "synth", "--quiet", "--app", " ".join([str(PY), *PY_FLAGS, str(app)]), "--output", str(out)], cwd=work)


PEER_APP = """
import os
import sys

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sagemaker_alpha as sagemaker

from servekit.constructs.nag import add_nag_packs

count, model, full = int(sys.argv[1]), sys.argv[2], sys.argv[3] == "full"
app = cdk.App()
env = cdk.Environment(region="us-east-1")
image = sagemaker.ContainerImage.from_dlc("pytorch-inference", "2.6.0-cpu-py312-ubuntu22.04-sagemaker")
for i in range(count):
    stack = cdk.Stack(app, f"peer-{i:03d}", env=env)
    m = sagemaker.Model(stack, "Model", containers=[sagemaker.ContainerDefinition(
        image=image, model_data=sagemaker.ModelData.from_asset(model),
        environment={"SAGEMAKER_TS_BATCH_SIZE": "1", "SAGEMAKER_TS_MAX_WORKERS": "2"})])
    config = sagemaker.EndpointConfig(stack, "Config", instance_production_variants=[
        sagemaker.InstanceProductionVariantProps(model=m, variant_name="AllTraffic",
                                                  instance_type=sagemaker.InstanceType.M5_XLARGE)])
    endpoint = sagemaker.Endpoint(stack, "Endpoint", endpoint_config=config)
    if full:  # what servekit adds to each endpoint, written with the L2s as a hand-written app would
        v = endpoint.find_instance_production_variant("AllTraffic")
        latency, invocations = v.metric_model_latency(statistic="p99"), v.metric_invocations()
        errors = [v.metric_invocation_response_code(code) for code in (
            sagemaker.InvocationHttpResponseCode.INVOCATION_5XX_ERRORS,
            sagemaker.InvocationHttpResponseCode.INVOCATION_4XX_ERRORS)]
        usage = [v.metric_cpu_utilization(), v.metric_memory_utilization()]
        for j, metric in enumerate([latency, *errors, *usage]):
            metric.create_alarm(stack, f"Alarm{j}", threshold=80, evaluation_periods=3, datapoints_to_alarm=2)
        v.auto_scale_instance_count(max_capacity=4).scale_on_invocations("Invocations", max_requests_per_second=10)
        cloudwatch.Dashboard(stack, "Dashboard", widgets=[[
            cloudwatch.GraphWidget(title="latency", left=[latency, v.metric_overhead_latency()]),
            cloudwatch.GraphWidget(title="traffic", left=[invocations, *errors]),
            cloudwatch.GraphWidget(title="utilisation", left=usage, width=24)]])
add_nag_packs(app)
try:
    app.synth()
except RuntimeError as err:  # the peer's own findings (its default role has AmazonSageMakerFullAccess, ...)
    if "Validation failed" not in str(err):
        raise
"""


COUNTING_APP = """
import collections, runpy, sys
from jsii._kernel.providers.process import _NodeProcess

counts = collections.Counter()
send = _NodeProcess.send


def counted(self, request, response_type):  # which servekit function asked Node, one message each
    frame = sys._getframe(1)
    while frame and ("/servekit/" not in frame.f_code.co_filename or "site-packages" in frame.f_code.co_filename):
        frame = frame.f_back
    counts[f"{frame.f_code.co_filename.split('/servekit/')[-1]}:{frame.f_code.co_name}" if frame else "cdk"] += 1
    return send(self, request, response_type)


_NodeProcess.send = counted
try:
    runpy.run_path("app.py", run_name="__main__")
finally:
    print(f"jsii messages: {sum(counts.values())}")
    for where, count in counts.most_common(15):
        print(f"{count:7d}  {where}")
"""


def jsii_messages(work: Path, config: Path) -> str:
    """app.py for `config` with every jsii message to Node counted by the servekit function that sent it."""
    script = work / "counting_app.py"
    script.write_text(COUNTING_APP)
    out = work / "messages.out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    context = json.loads((REPO / "cdk.json").read_text())["context"]
    env = {**ENV, "CDK_OUTDIR": str(out), "CDK_CONTEXT_JSON": json.dumps({**context, "config": str(config)})}
    return subprocess.run([str(PY), str(script)], cwd=REPO, env=env, capture_output=True, text=True,
                          check=True).stdout


def install_peer(work: Path) -> Path:
    """aws-sagemaker-alpha matching the installed aws-cdk-lib, into a folder of this run (not into .venv)."""
    from importlib.metadata import version

    target = work / "peer-site"
    subprocess.run([str(PY), "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    f"aws-cdk.aws-sagemaker-alpha=={version('aws-cdk-lib')}a0"], check=True, env=ENV)
    return target


def peer_app(work: Path, site: Path, count: int, model: Path, kind: str = "bare") -> float:
    """kind bare: Model, EndpointConfig, Endpoint; full: also servekit's alarms, scaling and dashboard, in L2s."""
    app = work / "peer_app.py"
    app.write_text(PEER_APP)
    out = work / f"peer-{kind}-{count}.out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    env = {**ENV, "CDK_OUTDIR": str(out), "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    return timed([str(PY), *PY_FLAGS, str(app), str(count), str(model), kind], env=env, cwd=work)


def resources(out: Path) -> int:
    """CloudFormation resources in every template of a cloud assembly."""
    return sum(len(json.loads(t.read_text()).get("Resources", {})) for t in out.glob("*.template.json"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,10,50")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--profile", type=int, default=0, help="py-spy profile of app.py for this many endpoints")
    parser.add_argument("--peer", action="store_true", help="also time the aws-sagemaker-alpha L2 peer app")
    parser.add_argument("--messages", type=int, default=0,
                        help="count app.py's jsii messages for this many endpoints, by the servekit function sending")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="servekit-synth-") as tmp:
        work = Path(tmp)
        configs = {n: write_config(work / f"servekit-{n}.yaml", n) for n in counts}
        servekit_synth(configs[counts[0]], work / "warm.out")  # builds or caches the artifact; warms the disk cache
        minimal_synth(work)
        times: dict[str, list[float]] = {"floor": [], **{f"synth {n}": [] for n in counts},
                                         **{f"app {n}": [] for n in counts}}
        for _ in range(args.repeat):
            times["floor"].append(minimal_synth(work))
            for n in counts:
                times[f"synth {n}"].append(servekit_synth(configs[n], work / f"out-{n}"))
                times[f"app {n}"].append(python_app(configs[n], work / f"app-{n}"))
        if args.peer:
            site = install_peer(work)
            model = next((work / "warm.out").glob("asset.*.tar.gz"))  # the same artifact servekit uploads
            peer_app(work, site, counts[0], model)  # warm: imports, disk cache
            for _ in range(args.repeat):
                for n in counts:
                    times.setdefault(f"peer {n}", []).append(peer_app(work, site, n, model))
                    times.setdefault(f"peer-full {n}", []).append(peer_app(work, site, n, model, "full"))
        med = {k: statistics.median(v) for k, v in times.items()}
        stacks = {n: len(list((work / f"out-{n}").glob("*.template.json"))) for n in counts}
        rows = [["what", "stacks", "servekit synth s", "app.py alone s", "× 1 endpoint"]]
        rows.append(["minimal CDK app, one SNS topic (floor)", "1", f"{med['floor']:.1f}", "-", "-"])
        base = med[f"synth {counts[0]}"]
        for n in counts:
            rows.append([f"{n} endpoint(s)", str(stacks[n]), f"{med[f'synth {n}']:.1f}", f"{med[f'app {n}']:.1f}",
                         f"{med[f'synth {n}'] / base:.2f}"])
        print(bench.markdown_table(rows))
        if args.peer:
            # Resources differ: servekit's endpoint has alarms, scaling and a dashboard the bare peer lacks, so the
            # full peer (the same additions in L2s) is the like-for-like one; ms per resource is above the floor.
            floor = med["floor"]
            rows = [["endpoints", "app", "resources", "app.py s", "ms per resource over the floor", "servekit / it"]]
            for n in counts:
                apps = [("aws-sagemaker-alpha, bare", f"peer {n}", work / f"peer-bare-{n}.out"),
                        ("aws-sagemaker-alpha + alarms, scaling, dashboard", f"peer-full {n}",
                         work / f"peer-full-{n}.out"), ("servekit", f"app {n}", work / f"app-{n}")]
                for label, key, out in apps:
                    count = resources(out)
                    rows.append([str(n), label, str(count), f"{med[key]:.1f}",
                                 f"{1000 * (med[key] - floor) / max(count, 1):.0f}",
                                 f"{med[f'app {n}'] / med[key]:.2f}"])
            print()
            print(bench.markdown_table(rows))
        if len(counts) > 1:
            first, last = counts[0], counts[-1]
            per = (med[f"synth {last}"] - med[f"synth {first}"]) / (last - first)
            ratio = med[f"synth {last}"] / base
            verdict = "met" if ratio < TARGET_RATIO else "MISSED"
            print(f"\nper extra endpoint: {per:.2f} s; fixed cost (1 endpoint) {base:.1f} s, floor {med['floor']:.1f} s")
            print(f"target: synth of {last} endpoints under {TARGET_RATIO:g}x that of {first}: {ratio:.2f}x ({verdict})")
        print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after")
        if args.messages:
            print(f"\n{args.messages} endpoints, jsii round trips (each a message to Node and its answer):")
            print(jsii_messages(work, write_config(work / "messages.yaml", args.messages)))
        if args.profile:
            config = write_config(work / "profile.yaml", args.profile)
            out = work / "profile.out"
            out.mkdir()
            context = json.loads((REPO / "cdk.json").read_text())["context"]
            env = {**ENV, "CDK_OUTDIR": str(out), "CDK_CONTEXT_JSON": json.dumps({**context, "config": str(config)})}
            target = REPO / ".servekit" / f"synth-{args.profile}.pyspy.txt"
            timed([str(REPO / ".venv" / "bin" / "py-spy"), "record", "--subprocesses", "--format", "raw", "-r", "100",
                   "-o", str(target), "--", str(PY), *PY_FLAGS, "app.py"], env=env)
            print(f"py-spy profile: {target}")


if __name__ == "__main__":
    main()
