"""model.tar.gz or uncompressed: where the time goes for a large weights file, each way.

    .venv/bin/python bench/bench_model_data.py [--size-mb 2000]

Writes a Triton layout (config.pbtxt and a weights-like 1/model.pt of --size-mb MB: float32 from a normal
distribution, which deflate shrinks only a little, as real weights), then times, for model_data: archive and
model_data: uncompressed:
- build: servekit's packaging of the layout (write_archive, parallel gzip on every core; write_directory, a copy);
- synth: `python -O` of a one-endpoint CDK app (TritonEndpoint with ModelData.from_asset or from_directory), as the
  CDK CLI runs app.py: CDK stages the asset into cdk.out (it copies the file or the folder);
- publish: what the CDK CLI does before the upload. A file asset is uploaded as it is; a folder asset is zipped
  (yazl, zlib's default level 6, one stream). Stand-in here: Python's zipfile at level 6, the same zlib;
- instance start: what SageMaker does on every new instance before the server starts, stand-in here: extracting
  the tar.gz (gunzip, untar) against copying the files (SageMaker copies an uncompressed prefix as it is).
Prints a table. Figures, not a timed test; S3 transfer times are not measured (no AWS here).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_packaging import make_weights  # noqa: E402

from servekit.bench import markdown_table  # noqa: E402
from servekit.model_build.archive import unpack, write_archive, write_directory  # noqa: E402
from servekit.model_build.layout import record_start_installs  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PY = REPO / ".venv" / "bin" / "python"
CONFIG_PBTXT = b'platform: "pytorch_libtorch"\nmax_batch_size: 8\n'

APP = """
import sys
import aws_cdk as cdk
from aws_cdk import aws_kms as kms, aws_s3 as s3
from servekit.cdk import ModelData, TritonEndpoint

kind, path, out = sys.argv[1:4]
app = cdk.App(outdir=out)
stack = cdk.Stack(app, "Bench", env=cdk.Environment(account="111122223333", region="us-east-1"))
if kind == "archive":
    data, extra = ModelData.from_asset(path, identity="a" * 64), {}
else:
    key = kms.Key(stack, "Key")
    bucket = s3.Bucket(stack, "Data", encryption=s3.BucketEncryption.KMS, encryption_key=key)
    data, extra = ModelData.from_directory(path, identity="a" * 64), {"data_bucket": bucket, "kms_key": key}
TritonEndpoint(stack, "Rn", model_data=data, model_name="resnet", instance_type="ml.g5.xlarge", **extra)
app.synth()
"""


def timed(fn, *args) -> float:  # noqa: ANN001
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def synth(kind: str, path: Path, work: Path) -> float:
    script = work / "bench_app.py"
    script.write_text(APP)
    out = work / f"cdk.out.{kind}"
    shutil.rmtree(out, ignore_errors=True)
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20", "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    subprocess.run([str(PY), "-O", str(script), kind, str(path), str(out)], check=True, env=env, cwd=work,
                   capture_output=True)
    took = time.perf_counter() - start
    shutil.rmtree(out)
    return took


def zip_folder(folder: Path, dest: Path) -> None:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(folder).as_posix(), date_time=(1980, 1, 1, 0, 0, 0))  # as CDK's
            info.compress_type = zipfile.ZIP_DEFLATED
            with path.open("rb") as src, z.open(info, "w", force_zip64=True) as dst:
                shutil.copyfileobj(src, dst, 1 << 20)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mb", type=int, default=2000)
    args = ap.parse_args()
    before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="servekit-model-data-") as tmp:
        work = Path(tmp)
        weights = work / "model.pt"
        print(f"writing {args.size_mb} MB of weights ...", flush=True)
        make_weights(weights, args.size_mb)
        size_mb = weights.stat().st_size / 1e6
        entries = {"resnet/config.pbtxt": CONFIG_PBTXT, "resnet/1/model.pt": weights}
        archive, folder = work / "model.tar.gz", work / "model"
        steps: dict[str, tuple[float, float]] = {}
        print("build ...", flush=True)
        steps["build (servekit packaging)"] = (timed(write_archive, entries, archive),
                                               timed(write_directory, entries, folder))
        record_start_installs(archive, entries)  # as model_build.build does: synth need not decompress the archive
        print("synth ...", flush=True)
        synth("archive", archive, work)  # warm: imports, compiled bytecode, the disk cache
        steps["synth (python -O app.py, CDK stages the asset)"] = (synth("archive", archive, work),
                                                                   synth("uncompressed", folder, work))
        print("publish ...", flush=True)
        steps["publish (CDK CLI: upload as is / zip the folder)"] = (0.0, timed(zip_folder, folder, work / "f.zip"))
        zipped_mb = (work / "f.zip").stat().st_size / 1e6
        (work / "f.zip").unlink()
        print("instance start ...", flush=True)
        steps["instance start (untar + gunzip / copy)"] = (timed(unpack, archive, work / "start-a"),
                                                           timed(shutil.copytree, folder, work / "start-u"))
        rows = [["step", "model.tar.gz s", "uncompressed s", "uncompressed / archive"]]
        for step, (a, u) in steps.items():
            rows.append([step, f"{a:.1f}", f"{u:.1f}", f"{u / a:.2f}" if a else "-"])
        total_a = sum(a for a, _ in steps.values())
        total_u = sum(u for _, u in steps.values())
        rows.append(["total on this machine", f"{total_a:.1f}", f"{total_u:.1f}", f"{total_u / total_a:.2f}"])
        print(f"\n{size_mb:.0f} MB of weights; model.tar.gz {archive.stat().st_size / 1e6:.0f} MB, the folder's "
              f"zip {zipped_mb:.0f} MB")
        print(markdown_table(rows))
    print(f"machine: {os.cpu_count()} cores, load average {before:.2f} before, {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
