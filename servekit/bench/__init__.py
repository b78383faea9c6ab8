"""`servekit bench <endpoint>`: load-test an endpoint, locally or deployed, and compare tuning values.

    servekit bench question-answering                                  # local TorchServe, concurrency 1,4,16
    servekit bench resnet --concurrency 1,8 --duration 20              # local Triton, every encoding
    servekit bench question-answering --rate 5,10 --requests 200       # open loop at a fixed request rate
    servekit bench question-answering --sweep batch_size=1,8 --p99-budget-ms 500
    servekit bench resnet --sweep preferred_batch_size=[4],[4,8] --concurrency 4,16
    servekit bench question-answering --url http://127.0.0.1:8080      # a server that already runs
    servekit bench question-answering --deployed                       # the SageMaker endpoint (SigV4)

What it does, in order:
- target: the endpoint's artifact is built (or taken from the cache) and served by `servekit.local.start`
  (the real TorchServe or Triton, or the TFS emulation, labelled so); or `--url` names a running server; or
  `--deployed` calls `<app>-<env>-<endpoint>` through SageMaker's runtime API, each request signed with SigV4
  by botocore with the credentials the AWS CLI would use;
- payloads: the endpoint's example request (examples/<endpoint>.json, or examples/question-answering.json for
  the question-answering handler) or, without one, a deterministic input made from the model's signature
  (Triton's config.pbtxt, the SavedModel's serving_default, 1x3x224x224 for the vision handler), sent in every
  encoding the server takes: JSON and x-npy (TorchServe vision, TFS), KServe JSON and Triton binary+json
  (servekit.codecs). `--encoding` picks some; `--data` sends your own file instead;
- steps: a closed loop at each `--concurrency` (N requests in flight, each sent when the previous one of its
  slot answers) or an open loop at each `--rate` (requests/s on a fixed schedule; latency counts from the
  scheduled time, so a slow server cannot hide its queueing), each after a warm-up whose answers are not
  counted, each ending at `--duration` seconds or `--requests` requests, whichever comes first;
- report: throughput (answers 200 per second), p50/p90/p99/max latency (ms, of answers 200) and errors (any
  other status, timeouts, refused connections, by kind) per step: a table on the terminal, bench.json,
  bench.csv and bench.png (latency and throughput against concurrency or rate) in the output folder;
- `--sweep key=v1,v2,...`: the local server is restarted with each value (the endpoint config copied with
  pydantic's model_copy and validated again), the steps are run for each, the results are shown side by
  side, and with `--p99-budget-ms` the value with the highest throughput whose p99 fits the budget with no
  errors is recommended.

Bounded: every step stops by itself (duration and request count, both capped: HARD_LIMITS), requests time
out (`--timeout`), in-flight requests are capped, and the whole run stops at `--max-total-seconds`.
Load is only ever sent to the one target named: the local server on 127.0.0.1, `--url`, or the deployed endpoint.

The helpers here (percentile, run_step, payloads, tables, plot) are shared with the scripts in bench/.

The package, one job per module: common.py (limits, BenchError), stats.py (StepResult, percentiles),
payloads.py (request bodies), target.py (local URL or SigV4-signed endpoint), load.py (the load generator),
sweep.py (--sweep), report.py (tables, JSON, CSV, PNG), command.py (the command). This module re-exports
their public names: `from servekit import bench; bench.run_step(...)`.
"""

from servekit.bench.command import (
    Plan,
    add_arguments,
    choose_payloads,
    plan_from_args,
    run_command,
)
from servekit.bench.common import (
    DEFAULT_IMAGE_SHAPE,
    ERROR_SAMPLE_CHARS,
    EXAMPLES_DIR,
    HARD_LIMITS,
    ROOT,
    BenchError,
    ProgressFn,
    SignFn,
)
from servekit.bench.load import (
    Limits,
    run_step,
)
from servekit.bench.payloads import (
    Payload,
    custom_payload,
    example_array,
    example_file,
    image,
    image_payloads,
    payloads_for,
    tfs_input,
    vision_shape,
)
from servekit.bench.report import (
    Recommendation,
    comparison_table,
    format_ms,
    machine_facts,
    markdown_table,
    plot,
    read_csv,
    recommend,
    results_table,
    server_time_line,
    step_label,
    write_csv,
    write_json,
)
from servekit.bench.stats import (
    CSV_COLUMNS,
    StepResult,
    per_request_ms,
    percentile,
)
from servekit.bench.sweep import (
    Sweep,
    parse_numbers,
    parse_sweep,
    resolve_key,
    split_top_level,
    with_setting,
)
from servekit.bench.target import (
    Target,
    deployed_target,
    local_target,
    sagemaker_endpoint_name,
    server_timings,
    sigv4_signer,
)

__all__ = [
    "per_request_ms",
    "server_time_line",
    "server_timings",
    "format_ms",
    "step_label",
    "BenchError",
    "CSV_COLUMNS",
    "DEFAULT_IMAGE_SHAPE",
    "ERROR_SAMPLE_CHARS",
    "EXAMPLES_DIR",
    "HARD_LIMITS",
    "Limits",
    "Payload",
    "Plan",
    "ProgressFn",
    "ROOT",
    "Recommendation",
    "SignFn",
    "StepResult",
    "Sweep",
    "Target",
    "add_arguments",
    "choose_payloads",
    "comparison_table",
    "custom_payload",
    "deployed_target",
    "example_array",
    "example_file",
    "image",
    "image_payloads",
    "local_target",
    "machine_facts",
    "markdown_table",
    "parse_numbers",
    "parse_sweep",
    "payloads_for",
    "percentile",
    "plan_from_args",
    "plot",
    "read_csv",
    "recommend",
    "resolve_key",
    "results_table",
    "run_command",
    "run_step",
    "sagemaker_endpoint_name",
    "sigv4_signer",
    "split_top_level",
    "tfs_input",
    "vision_shape",
    "with_setting",
    "write_csv",
    "write_json",
]
