"""The real tritonserver (the [local] extra's, 2.44) judges every Triton artifact before build returns: stand-ins
for the model files, the served model loaded in explicit mode as the container's serve script loads it, cached by the
artifact's identity. A repository Triton refuses fails the build with Triton's words, against the servekit.yaml field
it comes from."""

from __future__ import annotations

import textwrap
import time

import pytest
from archives import write_archive

from servekit import config
from servekit.model_build import BuildError, build
from servekit.model_build.builder import LOAD_MARKER

pytestmark = pytest.mark.integration

MEMBER = """name: "a"
backend: "onnxruntime"
max_batch_size: 4
input {{ name: "x" data_type: TYPE_FP32 dims: [ 2 ] }}
output {{ name: "y" data_type: TYPE_FP32 dims: [ 2 ] }}
"""
ENSEMBLE = """name: "pipe"
platform: "ensemble"
max_batch_size: {batch}
input {{ name: "IN" data_type: TYPE_FP32 dims: [ 2 ] }}
output {{ name: "OUT" data_type: TYPE_FP32 dims: [ 2 ] }}
ensemble_scheduling {{ step {{ model_name: "a" model_version: -1 input_map {{ key: "x" value: "IN" }}
  output_map {{ key: "y" value: "OUT" }} }} }}
"""


def archive(path, ensemble_batch: int):  # noqa: ANN001
    """A hand-made repository: an ensemble over one member (its model file a stand-in: Triton is judging the
    configs here, not the weights)."""
    return write_archive(path, {"a/config.pbtxt": MEMBER.format().encode(), "a/1/model.onnx": b"onnx",
                                "pipe/config.pbtxt": ENSEMBLE.format(batch=ensemble_batch).encode(),
                                "pipe/1/.keep": b""})


def endpoint(folder, name: str):  # noqa: ANN001
    (folder / "servekit.yaml").write_text(textwrap.dedent(f"""
        app: {{name: lc, env_name: dev, region: us-east-1}}
        endpoints:
          - name: pipe
            server: triton
            instance_type: ml.m5.xlarge
            model:
              name: pipe
              source: {{kind: archive, path: {name}}}
              format: onnx
              inputs: [{{name: IN, data_type: TYPE_FP32, dims: [2]}}]
              outputs: [{{name: OUT, data_type: TYPE_FP32, dims: [2]}}]
        """))
    return config.load(folder / "servekit.yaml").endpoints[0]


def test_when_an_ensemble_allows_a_bigger_batch_than_its_member_then_the_real_triton_refuses_the_build(tmp_path):
    archive(tmp_path / "pipe.tar.gz", ensemble_batch=8)
    with pytest.raises(BuildError) as refused:
        build(endpoint(tmp_path, "pipe.tar.gz"), cache_dir=tmp_path / "cache")
    assert "the real triton refuses to load the artifact" in str(refused.value)
    (problem,) = refused.value.problems
    assert problem.startswith("model.source (pipe.tar.gz, model 'pipe'): tritonserver 2.44")
    assert ("ensemble pipe allows maximum batch size 8, but it contains model a which only allows maximum batch size "
            "to be 4") in problem


def test_when_the_artifact_loads_then_it_is_marked_and_never_checked_again(tmp_path):
    archive(tmp_path / "pipe.tar.gz", ensemble_batch=4)
    ep = endpoint(tmp_path, "pipe.tar.gz")
    said: list[str] = []
    began = time.monotonic()
    artifact = build(ep, cache_dir=tmp_path / "cache", progress=said.append)
    cold = time.monotonic() - began
    assert any("loaded by the real triton" in line for line in said), said
    assert (tmp_path / "cache" / artifact.identity / LOAD_MARKER).is_file()
    said.clear()
    began = time.monotonic()
    build(ep, cache_dir=tmp_path / "cache", progress=said.append)
    print(f"load check: {cold:.1f} s cold, {time.monotonic() - began:.2f} s cached")  # figures, not assertions
    assert not any("loaded by the real triton" in line for line in said), said
