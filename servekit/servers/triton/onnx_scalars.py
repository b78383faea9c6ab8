"""A 0-d (scalar) input or output of an ONNX model that does not batch, carried as a one-element tensor.

Triton cannot give a model that does not batch a scalar input: its config needs at least one dim, and `reshape: []`
on such an input is refused at load (tritonserver 2.44, seen here: "model input cannot have empty reshape for
non-batching model as scalar tensors are not supported"; triton-inference-server/core src/model_config_utils.cc,
ValidateModelInput). Streaming models take their sample rate or state size that way. servekit serves them with the
input declared `dims: [1]` and a Reshape node added in front of the graph, which turns the one-element tensor back
into the scalar the model was made for: the rest of the graph is unchanged, so the model computes what it did.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def wrap_candidates(model: Any) -> list[str]:
    """Tensors that may be 0-d in the graph, told from the config alone (no ONNX read, so a cached synth stays
    cheap): a model that does not batch, an input or output declared dims [1] without reshape."""
    if model.format != "onnx" or model.source.kind != "onnx" or model.max_batch_size != 0:
        return []
    return [t.name for t in (*model.inputs, *model.outputs) if t.dims == [1] and t.reshape is None]


def scalar_inputs(path: Path, names: list[str]) -> list[str]:
    """Those of `names` that the ONNX graph takes or gives as 0-d tensors."""
    import onnx

    graph = onnx.load(str(path), load_external_data=False).graph
    return [v.name for v in (*graph.input, *graph.output) if v.name in names
            and v.type.tensor_type.HasField("shape") and len(v.type.tensor_type.shape.dim) == 0]


def wrap(path: Path, names: list[str], out: Path) -> None:
    """Write `path` to `out` with each 0-d input or output in `names` carried as shape [1]: an input is reshaped to
    the scalar in front of the graph, an output to one element after it."""
    import numpy as np
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    for values, is_input in ((graph.input, True), (graph.output, False)):
        for value in (v for v in values if v.name in names):
            inner = f"{value.name}__servekit_scalar"  # the graph's own scalar, renamed
            for node in graph.node:  # every reader (and, for an output, its writer) now uses the inner name
                node.input[:] = [inner if i == value.name else i for i in node.input]
                node.output[:] = [inner if o == value.name else o for o in node.output]
            shape = f"{value.name}__servekit_shape"
            graph.initializer.append(numpy_helper.from_array(np.array([] if is_input else [1], dtype=np.int64), shape))
            reshape = helper.make_node("Reshape", [value.name, shape] if is_input else [inner, shape],
                                       [inner] if is_input else [value.name], name=f"{value.name}__servekit_reshape")
            if is_input:
                graph.node.insert(0, reshape)
            else:
                graph.node.append(reshape)
            value.type.tensor_type.shape.dim.add().dim_value = 1  # only the shape changes, never the type
    onnx.checker.check_model(model)
    onnx.save(model, str(out))
