"""Payload codecs for one 1x3x224x224 float32 image: encode + decode time and bytes, against a memory copy.

    .venv/bin/python bench/bench_codecs.py [--rounds 15] [--profile]

Each codec encodes the image as a client would and decodes the body as the server (or the client, for an
answer) would, with servekit.codecs:
- JSON nested lists, `{"instances": image.tolist()}`, as the reference chapter sends images
  (decode: json.loads + np.asarray float32);
- KServe v2 JSON (Triton's JSON form);
- x-npy (numpy .npy bytes: TorchServe's vision handler, TFS handler);
- Triton binary+json (a JSON header, then the raw little-endian tensor bytes);
- for reference, binary+json as servekit wrote it before (tobytes + concatenation + slicing: four copies).
The floor is `image.copy()`: a plain memory copy of the same 602,112 bytes. Every case is timed in the same
run, interleaved round by round (so machine noise hits all of them alike), and the median per call is shown.
Target: binary+json encode+decode within 3x the copy. Figures, not assertions.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from servekit import bench, codecs  # noqa: E402
from servekit.servers.triton.signature import TritonSignature  # noqa: E402

TARGET_RATIO = 3.0
SIGNATURE = TritonSignature.from_pbtxt("""
name: "resnet" max_batch_size: 8
input [ { name: "input__0" data_type: TYPE_FP32 dims: [3, 224, 224] } ]
output [ { name: "output__0" data_type: TYPE_FP32 dims: [10] } ]
""")


def legacy_binary(x: np.ndarray) -> tuple[bytes, str]:
    """binary+json as codecs.py wrote it before: tobytes, then head + blob (two copies)."""
    raw = np.ascontiguousarray(x, dtype="<f4").tobytes()
    head = json.dumps({"inputs": [{"name": "input__0", "shape": list(x.shape), "datatype": "FP32",
                                   "parameters": {"binary_data_size": len(raw)}}]}).encode()
    return head + b"".join([raw]), f"{codecs.BINARY_PREFIX}{len(head)}"


def legacy_binary_decode(body: bytes, content_type: str) -> np.ndarray:
    size = codecs.header_size(content_type)
    header, rest = json.loads(body[:size]), body[size:]  # a copy of the tensor bytes
    entry = header["inputs"][0]
    chunk = rest[0:entry["parameters"]["binary_data_size"]]  # and another
    return np.frombuffer(chunk, dtype="<f4").reshape(entry["shape"])


def cases(x: np.ndarray) -> dict[str, tuple[Callable[[], tuple[bytes, str]], Callable[[bytes, str], object]]]:
    return {
        "memory copy (floor)": (lambda: (x.copy(), ""), lambda body, ctype: body),
        "JSON nested lists (reference chapter)": (
            lambda: codecs.encode_json({"instances": x}),
            lambda body, ctype: np.asarray(codecs.decode_json(body)["instances"], dtype=np.float32)),
        "KServe v2 JSON": (
            lambda: codecs.encode_kserve_json({"input__0": x}, signature=SIGNATURE),
            lambda body, ctype: codecs.decode_kserve_request(body, ctype)["input__0"]),
        "x-npy": (lambda: codecs.encode_npy(x), lambda body, ctype: codecs.decode_npy(body)),
        "Triton binary+json": (
            lambda: codecs.encode_kserve_binary({"input__0": x}, signature=SIGNATURE),
            lambda body, ctype: codecs.decode_kserve_request(body, ctype)["input__0"]),
        "binary+json, copying (servekit before)": (lambda: legacy_binary(x), legacy_binary_decode),
    }


def per_call(fn: Callable[[], object], budget_s: float) -> float:
    """Median seconds per call of `fn` over a few batches that together take about `budget_s`."""
    started = time.perf_counter()
    fn()
    once = max(time.perf_counter() - started, 1e-7)
    number = max(1, int(budget_s / 5 / once))
    samples = []
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - started) / number)
    return statistics.median(samples)


def measure(rounds: int) -> list[dict]:
    x = bench.image((1, 3, 224, 224))
    table = cases(x)
    enc: dict[str, list[float]] = {k: [] for k in table}
    dec: dict[str, list[float]] = {k: [] for k in table}
    sizes = {}
    for name, (encode, decode) in table.items():  # check every codec round-trips the image exactly
        body, ctype = encode()
        back = decode(body, ctype)
        assert np.array_equal(np.asarray(back, dtype=np.float32).reshape(x.shape), x), name
        sizes[name] = len(body) if isinstance(body, bytes) else body.nbytes
    for _ in range(rounds):
        for name, (encode, decode) in table.items():
            body, ctype = encode()
            budget = 0.05 if "JSON" not in name or "binary" in name else 0.6
            enc[name].append(per_call(encode, budget))
            dec[name].append(per_call(lambda body=body, ctype=ctype, decode=decode: decode(body, ctype), budget))
    floor = statistics.median(enc["memory copy (floor)"])
    rows = []
    for name in table:
        e, d = statistics.median(enc[name]), statistics.median(dec[name])
        total = e + (d if name != "memory copy (floor)" else 0.0)
        rows.append({"codec": name, "bytes": sizes[name], "encode_us": e * 1e6,
                     "decode_us": d * 1e6 if name != "memory copy (floor)" else 0.0,
                     "total_us": total * 1e6, "x_copy": total / floor})
    return rows


def report(rows: list[dict]) -> tuple[str, float, float]:
    table = [["codec", "bytes", "encode µs", "decode µs", "encode+decode µs", "× memory copy"]]
    for r in rows:
        table.append([r["codec"], f"{r['bytes']:,}", f"{r['encode_us']:.1f}", f"{r['decode_us']:.1f}",
                      f"{r['total_us']:.1f}", f"{r['x_copy']:.1f}"])
    by = {r["codec"]: r for r in rows}
    ratio = by["Triton binary+json"]["x_copy"]
    json_ratio = by["JSON nested lists (reference chapter)"]["x_copy"]
    return bench.markdown_table(table), ratio, json_ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--profile", action="store_true", help="cProfile the binary+json round trip")
    args = parser.parse_args()
    load = os.getloadavg()
    rows = measure(args.rounds)
    text, ratio, json_ratio = report(rows)
    print(text)
    verdict = "met" if ratio <= TARGET_RATIO else "MISSED"
    print(f"\ntarget: binary+json encode+decode within {TARGET_RATIO:g}x a memory copy: {ratio:.2f}x ({verdict}); "
          f"JSON nested lists: {json_ratio:.0f}x")
    print(f"machine: {os.cpu_count()} cores, load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after")
    if args.profile:
        import cProfile
        import pstats

        x = bench.image((1, 3, 224, 224))
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(2000):
            body, ctype = codecs.encode_kserve_binary({"input__0": x}, signature=SIGNATURE)
            codecs.decode_kserve_request(body, ctype)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)


if __name__ == "__main__":
    main()
