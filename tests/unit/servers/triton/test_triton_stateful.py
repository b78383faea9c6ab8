"""A TorchScript model that keeps state between calls is warned about at build, naming Triton's sequence batching:
its state would be shared by every client of a model instance."""

from __future__ import annotations

import textwrap

import torch

from servekit import config
from servekit.model_build import build


class Counter(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("calls", torch.zeros(1))

    def forward(self, x):
        self.calls += 1
        return x * self.calls


def endpoint(folder, path):  # noqa: ANN001
    (folder / "servekit.yaml").write_text(textwrap.dedent(f"""
        app: {{name: st, env_name: dev, region: us-east-1}}
        endpoints:
          - name: counter
            server: triton
            instance_type: ml.m5.xlarge
            model:
              name: counter
              source: {{kind: torchscript, path: {path.name}}}
              max_batch_size: 4
              inputs: [{{name: input__0, data_type: TYPE_FP32, dims: [3]}}]
              outputs: [{{name: output__0, data_type: TYPE_FP32, dims: [3]}}]
        """))
    return config.load(folder / "servekit.yaml").endpoints[0]


def test_when_a_model_answers_the_same_input_differently_twice_then_the_triton_build_warns(tmp_path):
    torch.jit.script(Counter()).save(str(tmp_path / "counter.pt"))
    said = []
    build(endpoint(tmp_path, tmp_path / "counter.pt"), cache_dir=tmp_path / "cache", progress=said.append)
    assert any("keeps state between calls" in line and "sequence batching" in line for line in said), said


def test_when_a_model_is_a_pure_function_then_no_state_warning(tmp_path):
    torch.jit.script(torch.nn.Identity()).save(str(tmp_path / "same.pt"))
    said = []
    build(endpoint(tmp_path, tmp_path / "same.pt"), cache_dir=tmp_path / "cache", progress=said.append)
    assert not any("keeps state" in line for line in said), said
