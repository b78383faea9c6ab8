"""servekit bench: statistics, reports (table, JSON, CSV, a real PNG), sweeps, recommendation, SigV4, and the load
generator against a small HTTP server on 127.0.0.1 (counts only: speed is measured in bench/, never asserted)."""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import math
import threading
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from servekit import bench, codecs
from servekit import config as cfg
from servekit.servers.triton.payloads import triton_payloads
from servekit.servers.triton.signature import TritonSignature

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def config() -> cfg.ServekitConfig:
    return cfg.load(ROOT / "servekit.yaml")


def endpoint_named(config: cfg.ServekitConfig, name: str):
    return next(e for e in config.endpoints if e.name == name)


def step(variant="", payload="json", concurrency=1, rate=None, latencies=(10.0, 20.0, 30.0), errors=None,
         duration=1.0) -> bench.StepResult:
    return bench.StepResult.from_samples(latencies_ms=list(latencies), error_kinds=collections.Counter(errors or {}),
                                         duration_s=duration, variant=variant, payload=payload,
                                         concurrency=concurrency, rate=rate)


# ---------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("q", [0, 1, 25, 50, 90, 99, 99.9, 100])
def test_when_percentiles_are_taken_then_they_match_numpys_linear_interpolation(q):
    values = list(np.random.default_rng(1).exponential(20.0, 997))
    assert bench.percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_when_there_are_no_values_then_the_percentile_is_nan_and_one_value_is_every_percentile():
    assert math.isnan(bench.percentile([], 50))
    assert bench.percentile([7.0], 1) == bench.percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError, match="outside 0..100"):
        bench.percentile([1.0], 101)


def test_when_a_step_is_summarized_then_throughput_counts_answers_200_and_errors_are_by_kind():
    result = step(latencies=[10.0, 20.0, 30.0, 40.0], errors={"HTTP 503": 2, "timeout": 1}, duration=2.0)
    assert (result.requests, result.ok, result.errors) == (7, 4, 3)
    assert result.throughput_rps == 2.0
    assert result.p50_ms == 25.0 and result.max_ms == 40.0 and result.mean_ms == 25.0
    assert result.error_kinds == {"HTTP 503": 2, "timeout": 1}
    assert result.error_rate == pytest.approx(3 / 7)
    assert result.step == "c=1" and result.load == 1.0


def test_when_no_request_succeeds_then_the_latencies_are_none_not_nan():
    result = step(latencies=[], errors={"ClientConnectorError": 5})
    assert result.ok == 0 and result.p50_ms is None and result.p99_ms is None and result.max_ms is None
    assert result.throughput_rps == 0.0
    json.dumps(result.row(), allow_nan=False)  # valid JSON, no NaN


def test_when_a_step_is_open_loop_then_it_is_labelled_by_its_rate():
    result = step(concurrency=None, rate=12.5)
    assert result.step == "rate=12.5/s" and result.load == 12.5


# ---------------------------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------------------------
def results() -> list[bench.StepResult]:
    return [
        step("batch_size=1", "json", 1, latencies=[10, 11, 12]),
        step("batch_size=1", "json", 4, latencies=[30, 35, 90], errors={"HTTP 503": 1}),
        step("batch_size=8", "json", 1, latencies=[12, 13, 14]),
        step("batch_size=8", "json", 4, latencies=[20, 22, 40]),
    ]


def test_when_results_are_tabled_then_each_step_shows_throughput_percentiles_and_errors():
    console = Console(record=True, width=200)
    console.print(bench.results_table(results(), "title"))
    text = console.export_text()
    assert "batch_size=8" in text and "c=4" in text and "HTTP 503: 1" in text
    assert "p99 ms" in text and "req/s" in text


def test_when_a_sweep_is_compared_then_values_stand_side_by_side_per_step():
    console = Console(record=True, width=200)
    console.print(bench.comparison_table(results(), "side by side"))
    lines = console.export_text().splitlines()
    row = next(line for line in lines if "c=4" in line)
    assert "| 0" in row and "| 1" in row  # errors of both values on one row


def test_when_json_and_csv_are_written_then_they_read_back_with_every_step(tmp_path):
    meta = {"endpoint": "question-answering", "machine": bench.machine_facts()}
    bench.write_json(tmp_path / "bench.json", results(), meta)
    bench.write_csv(tmp_path / "bench.csv", results())
    data = json.loads((tmp_path / "bench.json").read_text())
    assert data["endpoint"] == "question-answering" and data["machine"]["cpu_count"] >= 1
    assert [s["step"] for s in data["steps"]] == ["c=1", "c=4", "c=1", "c=4"]
    assert data["steps"][1]["error_kinds"] == {"HTTP 503": 1}
    rows = bench.read_csv(tmp_path / "bench.csv")
    assert list(rows[0]) == bench.CSV_COLUMNS
    assert rows[1]["variant"] == "batch_size=1" and rows[1]["errors"] == "1" and rows[1]["error_kinds"] == "HTTP 503: 1"
    assert float(rows[3]["p99_ms"]) == pytest.approx(results()[3].p99_ms)
    assert rows[0]["rate"] == ""


def assert_png(path: Path) -> tuple[int, int]:
    from matplotlib import image

    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    pixels = image.imread(str(path))
    assert pixels.ndim == 3 and pixels.shape[0] > 200 and pixels.shape[1] > 400
    assert pixels.std() > 0  # not a blank canvas
    return pixels.shape[1], pixels.shape[0]


def test_when_the_plot_is_drawn_then_a_real_png_is_written(tmp_path):
    path = bench.plot(tmp_path / "out" / "bench.png", results(), "servekit bench question-answering")
    assert path.exists()
    assert_png(path)


def test_when_steps_are_open_loop_or_failed_then_the_plot_still_draws(tmp_path):
    steps = [step(concurrency=None, rate=r) for r in (1.0, 8.0, 32.0)] + [
        step(concurrency=None, rate=64.0, latencies=[], errors={"timeout": 3})]
    assert_png(bench.plot(tmp_path / "rate.png", steps, "rate"))


def test_when_a_markdown_table_is_made_then_columns_line_up():
    text = bench.markdown_table([["a", "bb"], ["ccc", "d"]])
    assert text.splitlines() == ["| a   | bb |", "|-----|----|", "| ccc | d  |"]


# ---------------------------------------------------------------------------------------------
# Command-line lists and limits
# ---------------------------------------------------------------------------------------------
def test_when_lists_are_split_then_brackets_keep_their_commas():
    assert bench.split_top_level("1, [4,8] ,{a: 1, b: 2},8") == ["1", "[4,8]", "{a: 1, b: 2}", "8"]
    for bad in ("1,,2", "[4,8", "4]"):
        with pytest.raises(bench.BenchError):
            bench.split_top_level(bad)
    with pytest.raises(bench.BenchError, match="comma-separated ints"):
        bench.parse_numbers("1,x", "--concurrency")


def args(**overrides) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    namespace = parser.parse_args(["question-answering"])
    for key, value in overrides.items():
        setattr(namespace, key, value)
    return namespace


def test_when_no_limits_are_given_then_steps_are_1_4_16_for_10_seconds_after_2_of_warm_up():
    plan = bench.plan_from_args(args())
    assert plan.steps == [(1, None), (4, None), (16, None)]
    assert (plan.limits.duration_s, plan.limits.requests, plan.limits.warmup_s) == (10.0, None, 2.0)


def test_when_only_a_request_count_is_given_then_it_ends_the_step_within_the_hard_duration_cap():
    plan = bench.plan_from_args(args(requests=200, rate="5,10"))
    assert plan.steps == [(None, 5.0), (None, 10.0)]
    assert plan.limits.requests == 200 and plan.limits.duration_s == bench.HARD_LIMITS["duration_s"]


@pytest.mark.parametrize("overrides, message", [
    ({"duration": 10_000.0}, "--duration"),
    ({"requests": 0}, "--requests"),
    ({"concurrency": "1,5000"}, "--concurrency 5000"),
    ({"concurrency": None, "rate": "0"}, "--rate 0"),
    ({"timeout": 0.0}, "--timeout"),
    ({"max_total_seconds": 1e9}, "--max-total-seconds"),
    ({"p99_budget_ms": -1.0}, "--p99-budget-ms"),
    ({"sweep": "batch_size=1,8", "url": "http://127.0.0.1:1"}, "--sweep restarts the local server"),
])
def test_when_a_limit_is_out_of_bounds_then_the_run_is_refused_before_it_starts(overrides, message):
    with pytest.raises(bench.BenchError, match=message):
        bench.plan_from_args(args(**overrides))


def test_when_encodings_are_chosen_then_unknown_ones_name_the_available_ones():
    available = [bench.Payload("kserve-json", b"{}", codecs.JSON), bench.Payload("binary+json", b"{}", "x")]
    assert [p.name for p in bench.choose_payloads(available, ["binary+json"])] == ["binary+json"]
    with pytest.raises(bench.BenchError, match="kserve-json, binary\\+json"):
        bench.choose_payloads(available, ["x-npy"])


# ---------------------------------------------------------------------------------------------
# Payloads
# ---------------------------------------------------------------------------------------------
TRITON_CONFIG = """
name: "resnet"
max_batch_size: 8
input [ { name: "input__0" data_type: TYPE_FP32 dims: [3, 224, 224] } ]
output [ { name: "output__0" data_type: TYPE_FP32 dims: [10] } ]
"""


def test_when_triton_payloads_are_made_then_both_encodings_carry_the_same_image():
    signature = TritonSignature.from_pbtxt(TRITON_CONFIG)
    kserve, binary = triton_payloads(signature)
    assert (kserve.name, binary.name) == ("kserve-json", "binary+json")
    a = codecs.decode_kserve_request(kserve.body, kserve.content_type)["input__0"]
    b = codecs.decode_kserve_request(binary.body, binary.content_type)["input__0"]
    assert a.shape == b.shape == (1, 3, 224, 224) and a.dtype == b.dtype == np.float32
    assert np.array_equal(a, b)
    assert len(binary.body) < len(kserve.body) / 2


def test_when_a_dimension_is_variable_then_the_payload_uses_16():
    signature = TritonSignature.from_pbtxt(TRITON_CONFIG.replace("[3, 224, 224]", "[-1, 4]"))
    (binary,) = [p for p in triton_payloads(signature) if p.name == "binary+json"]
    assert codecs.decode_kserve_request(binary.body, binary.content_type)["input__0"].shape == (1, 16, 4)


def test_when_image_payloads_are_made_then_json_and_npy_hold_the_same_values():
    x = bench.image((1, 3, 8, 8))
    body_json, body_npy = bench.image_payloads(x, json_key="instances")
    assert np.allclose(np.asarray(json.loads(body_json.body)["instances"], dtype=np.float32), x)
    assert np.array_equal(codecs.decode_npy(body_npy.body), x)
    assert body_npy.content_type == codecs.NPY


def test_when_an_example_request_exists_then_every_encoding_carries_its_tensor():
    signature = TritonSignature.from_pbtxt(TRITON_CONFIG)
    example = np.arange(3 * 224 * 224, dtype=np.float32).reshape(1, 3, 224, 224) % 10
    payloads = triton_payloads(signature, inputs={"input__0": example}, source="resnet.json")
    for payload in payloads:
        assert np.array_equal(codecs.decode_kserve_request(payload.body, payload.content_type)["input__0"], example)
        assert "from resnet.json" in payload.description
    body = json.dumps({"instances": example.tolist()}).encode()
    assert np.array_equal(bench.example_array(body, "instances"), example)
    assert bench.example_array(b'{"question": "q"}', "instances") is None
    assert bench.example_array(b"not json", None) is None


def test_when_the_tfs_endpoint_has_an_example_then_it_is_sent_as_json_and_as_npy(config):
    payloads = bench.payloads_for(endpoint_named(config, "image-classifier"), None)
    assert [p.name for p in payloads] == ["json", "x-npy"]
    assert payloads[0].body == (ROOT / "examples" / "image-classifier.json").read_bytes()
    instances = np.asarray(json.loads(payloads[0].body)["instances"], dtype=np.float32)
    assert np.array_equal(codecs.decode_npy(payloads[1].body), instances)


def test_when_the_question_answering_endpoint_is_benched_then_its_payload_is_the_example_file(config):
    (payload,) = bench.payloads_for(endpoint_named(config, "question-answering"), None)
    assert payload.name == "json" and payload.body == (ROOT / "examples" / "question-answering.json").read_bytes()


def test_when_a_torchserve_vision_endpoint_is_benched_then_json_and_npy_images_are_sent(config):
    qa = endpoint_named(config, "question-answering")
    vision = qa.model_copy(update={"model": qa.model.model_copy(update={
        "source": cfg.ExampleSource(kind="example", name="resnet"), "handler": "vision"}), "name": "vision"})
    payloads = bench.payloads_for(vision, None)
    assert [p.name for p in payloads] == ["json", "x-npy"]
    assert codecs.decode_npy(payloads[1].body).shape == (1, 3, 224, 224)


# ---------------------------------------------------------------------------------------------
# Sweeps: config modification and validation
# ---------------------------------------------------------------------------------------------
def test_when_a_torchserve_sweep_names_a_tuning_field_then_only_that_field_changes(config):
    qa = endpoint_named(config, "question-answering")
    sweep = bench.parse_sweep(qa, "batch_size=1,8")
    assert sweep.path == ("tuning", "batch_size") and sweep.values == (1, 8)
    changed = bench.with_setting(qa, sweep.path, 8)
    assert changed.tuning.batch_size == 8 and qa.tuning.batch_size == 1
    assert changed.model_dump(exclude={"tuning"}) == qa.model_dump(exclude={"tuning"})
    assert changed.tuning.to_environment("inference.py")["SAGEMAKER_TS_BATCH_SIZE"] == "8"
    assert sweep.label(1) == "batch_size=8"


def test_when_batched_forward_is_swept_then_the_handler_override_follows(config):
    qa = endpoint_named(config, "question-answering")
    sweep = bench.parse_sweep(qa, "batched_forward=false,true")
    assert sweep.values == (False, True)
    env = bench.with_setting(qa, sweep.path, True).tuning.to_environment("inference.py")
    assert env["TS_DEFAULT_SERVICE_HANDLER"] == "inference:handle"


def test_when_a_swept_value_breaks_a_rule_then_the_schemas_message_says_why(config):
    qa = endpoint_named(config, "question-answering")  # max_workers is 2
    with pytest.raises(bench.BenchError, match="min_workers 3 > max_workers 2"):
        bench.parse_sweep(qa, "min_workers=1,3")
    with pytest.raises(bench.BenchError, match="batch_size"):
        bench.parse_sweep(qa, "batch_size=0")


def test_when_triton_preferred_batch_sizes_are_swept_then_lists_parse_and_are_checked(config):
    resnet = endpoint_named(config, "resnet")
    sweep = bench.parse_sweep(resnet, "preferred_batch_size=[4],[4,8]")
    assert sweep.path == ("model", "dynamic_batching", "preferred_batch_size")
    assert sweep.values == ([4], [4, 8])
    changed = bench.with_setting(resnet, sweep.path, [4])
    assert changed.model.dynamic_batching.preferred_batch_size == [4]
    assert changed.model.dynamic_batching.max_queue_delay_microseconds == 100  # the rest of the block is kept
    with pytest.raises(bench.BenchError, match="outside 1..max_batch_size"):
        bench.parse_sweep(resnet, "preferred_batch_size=[16]")


def test_when_triton_instance_count_is_swept_then_the_alias_reaches_the_instance_group(config):
    resnet = endpoint_named(config, "resnet")
    sweep = bench.parse_sweep(resnet, "instance_count=1,2")
    assert sweep.path == ("model", "instance_group", "count")
    assert bench.with_setting(resnet, sweep.path, 2).model.instance_group.count == 2
    assert bench.parse_sweep(resnet, "model.instance_group.count=1,2").path == sweep.path


def test_when_dynamic_batching_is_absent_then_a_sweep_creates_it_with_defaults(config):
    resnet = endpoint_named(config, "resnet")
    plain = resnet.model_copy(update={"model": resnet.model.model_copy(update={"dynamic_batching": None})})
    changed = bench.with_setting(plain, ("model", "dynamic_batching", "preferred_batch_size"), [2, 4])
    assert changed.model.dynamic_batching == cfg.DynamicBatching(preferred_batch_size=[2, 4])


def test_when_tfs_batching_is_swept_then_the_environment_turns_it_on_and_off(config):
    tfs = endpoint_named(config, "image-classifier")
    sweep = bench.parse_sweep(tfs, "enable_batching=false,true")
    envs = [bench.with_setting(tfs, sweep.path, v).tuning.to_environment("m") for v in sweep.values]
    assert [e["SAGEMAKER_TFS_ENABLE_BATCHING"] for e in envs] == ["false", "true"]
    assert bench.parse_sweep(tfs, "batching=true").path == ("tuning", "enable_batching")


@pytest.mark.parametrize("text, message", [
    ("batch_size", "write key=value1,value2"),
    ("colour=1,2", "no such setting on a torchserve endpoint; tuning fields: batch_size"),
    ("tuning.nope=1", "no such field"),
    ("workers=1,2", "ambiguous"),
    ("batch_size=[1", "never closed"),
])
def test_when_a_sweep_is_malformed_then_it_says_how_to_write_it(config, text, message):
    with pytest.raises(bench.BenchError, match=message):
        bench.parse_sweep(endpoint_named(config, "question-answering"), text)


# ---------------------------------------------------------------------------------------------
# Recommendation
# ---------------------------------------------------------------------------------------------
def test_when_a_budget_is_given_then_the_highest_throughput_within_it_is_recommended():
    steps = [
        step("batch_size=1", concurrency=16, latencies=[100, 200, 300], duration=1.0),  # 3 req/s, p99 ~298
        step("batch_size=8", concurrency=16, latencies=[50, 60, 70, 80], duration=1.0),  # 4 req/s, p99 ~80
        step("batch_size=8", concurrency=32, latencies=[100, 200, 900, 950, 990], duration=1.0),  # 5 req/s, p99 ~989
    ]
    rec = bench.recommend(steps, p99_budget_ms=500)
    assert rec.variant == "batch_size=8" and rec.step.concurrency == 16
    assert "4.0 req/s" in rec.reason and "budget 500 ms" in rec.reason
    assert bench.recommend(steps, None).step.concurrency == 32  # no budget: throughput alone


def test_when_steps_have_errors_then_they_are_never_recommended():
    steps = [step("a", latencies=[1, 2, 3, 4, 5, 6], errors={"HTTP 503": 1}), step("b", latencies=[10, 20])]
    assert bench.recommend(steps, 1000).variant == "b"


def test_when_equal_throughput_then_the_lower_p99_wins():
    steps = [step("slow", latencies=[10, 90]), step("fast", latencies=[10, 20])]
    assert bench.recommend(steps, None).variant == "fast"


def test_when_nothing_fits_the_budget_then_it_says_so_and_names_the_lowest_p99():
    rec = bench.recommend([step("a", latencies=[100, 200]), step("b", latencies=[300, 400])], 50)
    assert rec.step is None and rec.variant == ""
    assert "no step keeps p99 within 50 ms" in rec.reason and "(a, json, c=1)" in rec.reason
    assert "nothing to recommend" in bench.recommend([step(latencies=[], errors={"timeout": 1})], 50).reason


# ---------------------------------------------------------------------------------------------
# Deployed endpoints: name, URL and SigV4
# ---------------------------------------------------------------------------------------------
def fake_credentials():
    from botocore.credentials import Credentials

    return Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "session-token")


def test_when_a_deployed_endpoint_is_benched_then_it_is_named_as_the_stacks_name_it(config):
    assert bench.sagemaker_endpoint_name(config, "question-answering") == "servekit-dev-question-answering"
    target = bench.deployed_target("eu-west-1", "servekit-dev-question-answering", credentials=fake_credentials())
    assert target.url == ("https://runtime.sagemaker.eu-west-1.amazonaws.com/endpoints/"
                          "servekit-dev-question-answering/invocations")


def test_when_a_request_is_signed_then_it_carries_a_sigv4_authorization_for_sagemaker():
    sign = bench.sigv4_signer("us-east-1", fake_credentials())
    url = "https://runtime.sagemaker.us-east-1.amazonaws.com/endpoints/e/invocations"
    headers = sign(url, b'{"a": 1}', {"Content-Type": "application/json", "Accept": "application/json"})
    assert headers["Authorization"].startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") and "/us-east-1/sagemaker/aws4_request" in headers["Authorization"]
    assert "content-type" in headers["Authorization"] and "x-amz-date" in headers["Authorization"]
    assert headers["X-Amz-Security-Token"] == "session-token" and headers["Content-Type"] == "application/json"
    again = sign(url, b'{"a": 2}', {"Content-Type": "application/json", "Accept": "application/json"})
    assert again["Authorization"] != headers["Authorization"]  # the body is signed


# ---------------------------------------------------------------------------------------------
# The load generator, against a small aiohttp server on 127.0.0.1
# ---------------------------------------------------------------------------------------------
class LoopbackServer:
    """Answers POST /invocations: 200 with the body's length, or 503 for every `fail_every`-th request."""

    def __init__(self, fail_every: int = 0):
        self.fail_every = fail_every
        self.seen = 0
        self.headers: list[dict[str, str]] = []
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from aiohttp import web

        async def invocations(request):
            body = await request.read()
            self.seen += 1
            self.headers.append(dict(request.headers))
            if self.fail_every and self.seen % self.fail_every == 0:
                return web.Response(status=503, text="busy")
            return web.json_response({"bytes": len(body)})

        async def main():
            app = web.Application()
            app.router.add_post("/invocations", invocations)
            self.runner = web.AppRunner(app)
            await self.runner.setup()
            site = web.TCPSite(self.runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]
            self.ready.set()

        self.loop.run_until_complete(main())
        self.loop.run_forever()

    def __enter__(self) -> LoopbackServer:
        self.thread.start()
        assert self.ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


PAYLOAD = bench.Payload("json", b'{"question": "q", "context": "c"}', codecs.JSON)


def test_when_a_closed_loop_step_has_a_request_count_then_exactly_that_many_are_measured():
    with LoopbackServer() as server:
        limits = bench.Limits(duration_s=30.0, requests=40, warmup_s=0.0, timeout_s=10.0)
        result = bench.run_step(bench.local_target(server.url), PAYLOAD, concurrency=4, limits=limits)
    assert (result.requests, result.ok, result.errors) == (40, 40, 0)
    assert server.seen == 40
    assert result.p50_ms is not None and result.p50_ms <= result.p90_ms <= result.p99_ms <= result.max_ms
    assert server.headers[0]["Content-Type"] == codecs.JSON and server.headers[0]["Accept"] == codecs.JSON


def test_when_the_server_answers_errors_then_they_are_counted_by_status_with_a_sample():
    with LoopbackServer(fail_every=4) as server:
        limits = bench.Limits(duration_s=30.0, requests=20, warmup_s=0.0, timeout_s=10.0)
        result = bench.run_step(bench.local_target(server.url + "/invocations"), PAYLOAD, concurrency=2, limits=limits)
    assert result.ok == 15 and result.error_kinds == {"HTTP 503": 5}
    assert result.error_sample == "HTTP 503: busy"


def test_when_warm_up_runs_then_its_requests_are_sent_but_not_counted():
    with LoopbackServer() as server:
        limits = bench.Limits(duration_s=30.0, requests=10, warmup_s=0.3, timeout_s=10.0)
        result = bench.run_step(bench.local_target(server.url), PAYLOAD, concurrency=1, limits=limits)
    assert result.requests == 10 and server.seen > 10


def test_when_an_open_loop_step_runs_then_it_sends_the_scheduled_requests_and_reports_progress():
    seen = []
    with LoopbackServer() as server:
        limits = bench.Limits(duration_s=30.0, requests=12, warmup_s=0.0, timeout_s=10.0)
        result = bench.run_step(bench.local_target(server.url), PAYLOAD, rate=40.0, limits=limits,
                                variant="v", progress=lambda *update: seen.append(update))
    assert (result.requests, result.ok, result.rate, result.concurrency, result.variant) == (12, 12, 40.0, None, "v")
    assert seen[-1][0] == "measure" and seen[-1][1] == 12


def test_when_nothing_listens_then_every_request_is_a_connection_error_and_the_step_still_ends():
    from servekit.local.process import free_port

    limits = bench.Limits(duration_s=0.5, warmup_s=0.0, timeout_s=5.0)
    result = bench.run_step(bench.local_target(f"http://127.0.0.1:{free_port()}"), PAYLOAD, concurrency=2,
                            limits=limits)
    assert result.ok == 0 and result.errors > 0
    assert list(result.error_kinds) == ["ClientConnectorError"]


def test_when_a_deployed_target_signs_then_every_request_carries_the_signature():
    with LoopbackServer() as server:
        target = bench.Target(url=server.url + "/invocations", label="signed",
                              sign=bench.sigv4_signer("us-east-1", fake_credentials()))
        limits = bench.Limits(duration_s=30.0, requests=3, warmup_s=0.0, timeout_s=10.0)
        bench.run_step(target, PAYLOAD, concurrency=1, limits=limits)
    assert all(h["Authorization"].startswith("AWS4-HMAC-SHA256") for h in server.headers)
    assert all("X-Amz-Date" in h for h in server.headers)


def test_when_a_component_is_benched_then_every_request_names_it_in_the_signed_header():
    from servekit.bench.target import COMPONENT_HEADER, deployed_target

    target = deployed_target("us-east-1", "servekit-dev-gpu-fleet", credentials=fake_credentials(),
                             component="servekit-dev-gpu-fleet-qa")
    with LoopbackServer() as server:
        signed = bench.Target(url=server.url + "/invocations", label=target.label, sign=target.sign)
        limits = bench.Limits(duration_s=30.0, requests=2, warmup_s=0.0, timeout_s=10.0)
        bench.run_step(signed, PAYLOAD, concurrency=1, limits=limits)
    assert [h[COMPONENT_HEADER] for h in server.headers] == ["servekit-dev-gpu-fleet-qa"] * 2
    assert all(COMPONENT_HEADER.lower() in h["Authorization"].lower() for h in server.headers)  # it is signed


def test_when_a_step_names_both_or_neither_mode_then_it_is_refused():
    with pytest.raises(bench.BenchError, match="either a concurrency or a rate"):
        bench.run_step(bench.local_target("http://127.0.0.1:1"), PAYLOAD, concurrency=1, rate=1.0)
    with pytest.raises(bench.BenchError, match="concurrency 0"):
        bench.run_step(bench.local_target("http://127.0.0.1:1"), PAYLOAD, concurrency=0)


def test_when_omp_num_threads_is_swept_then_the_local_torchserve_environment_follows(config, tmp_path):
    from servekit.servers.torchserve import local as torchserve

    qa = endpoint_named(config, "question-answering")
    sweep = bench.parse_sweep(qa, "omp_num_threads=1,2")
    assert sweep.path == ("tuning", "omp_num_threads") and sweep.values == (1, 2)
    one = bench.with_setting(qa, sweep.path, 1)
    assert torchserve.environment(one, tmp_path, port=1)["OMP_NUM_THREADS"] == "1"
    unset = bench.with_setting(qa, sweep.path, None)
    assert "OMP_NUM_THREADS" not in torchserve.environment(unset, tmp_path, port=1)


# --- the TFS emulation's own timings: the handler's time apart from the model's --------------------------------
def test_when_the_server_reports_its_timings_then_bench_gives_the_handlers_own_time_per_request():
    before = {"handler": {"count": 10, "seconds": 1.0}, "tfs": {"count": 10, "seconds": 0.6},
              "model": {"count": 10, "seconds": 0.5}}
    after = {"handler": {"count": 30, "seconds": 3.0}, "tfs": {"count": 30, "seconds": 1.4},
             "model": {"count": 30, "seconds": 1.1}}
    assert bench.per_request_ms(before, after) == {"handler_ms": 100.0, "tfs_ms": 40.0, "model_ms": 30.0,
                                                   "handler_own_ms": 60.0}
    line = bench.server_time_line(bench.per_request_ms(before, after))
    assert "handler 100.0 ms/request" in line and "the handler's own 60.0 ms" in line


def test_when_the_server_gives_no_timings_then_there_is_no_breakdown():
    assert bench.per_request_ms(None, {"handler": {"count": 1, "seconds": 1}}) is None
    assert bench.per_request_ms({}, {}) is None
    # a kind the step did not use (no new requests) is left out, not divided by zero
    assert bench.per_request_ms({"model": {"count": 3, "seconds": 1}}, {"model": {"count": 3, "seconds": 1}}) is None
