"""TorchScript and ONNX helpers that run inside the build worker (they import torch).

Determinism: `torch.jit.save` writes a `.data/serialization_id` record that is partly random, so two
saves of the same module differ. `save_torchscript` patches that record in place (same length, CRCs
fixed) with digits derived from the other records' CRCs: equal content gives equal bytes. The zip
also names its records after the file's stem, so the model is always saved as `model.pt`. Traced
TorchScript keeps, in its `*.debug_pkl` records, the absolute paths of the Python files traced
through (site-packages, the model's module): bytes are identical for builds in one checkout and
environment, and differ across machines whose paths differ (the identity, computed from inputs, does
not).
"""

from __future__ import annotations

import hashlib
import struct
import zipfile
from pathlib import Path
from typing import Any

TORCH_DTYPE_TO_TRITON = {
    "torch.bool": "TYPE_BOOL", "torch.uint8": "TYPE_UINT8", "torch.int8": "TYPE_INT8", "torch.int16": "TYPE_INT16",
    "torch.int32": "TYPE_INT32", "torch.int64": "TYPE_INT64", "torch.float16": "TYPE_FP16",
    "torch.float32": "TYPE_FP32", "torch.float64": "TYPE_FP64", "torch.bfloat16": "TYPE_BF16",
}
TRITON_TO_TORCH_DTYPE = {v: k.removeprefix("torch.") for k, v in TORCH_DTYPE_TO_TRITON.items()}

# Used for a -1 (variable) dimension when a forward pass needs a concrete size.
PROBE_SIZE = 32


def normalize_serialization_id(path: Path) -> None:
    """Replace the random `.data/serialization_id` of a torch zip file with a content-derived one."""
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        target = next((i for i in infos if i.filename.endswith("/.data/serialization_id")), None)
        if target is None:
            return
        digest = hashlib.sha256()
        for info in infos:
            if info is not target:
                digest.update(info.filename.encode() + struct.pack("<I", info.CRC))
        start_dir = zf.start_dir
    new_id = str(int.from_bytes(digest.digest(), "big") % 10**target.file_size).zfill(target.file_size).encode()
    crc = zipfile.crc32(new_id) & 0xFFFFFFFF
    if target.compress_type != zipfile.ZIP_STORED:
        raise RuntimeError(f"{path}: serialization_id is compressed; cannot normalize it in place")
    with open(path, "r+b") as f:
        f.seek(target.header_offset)
        local = f.read(30)
        if local[:4] != b"PK\x03\x04":
            raise RuntimeError(f"{path}: unexpected zip local header")
        flags = struct.unpack("<H", local[6:8])[0]
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        data_at = target.header_offset + 30 + name_len + extra_len
        f.seek(data_at)
        f.write(new_id)
        f.seek(target.header_offset + 14)
        f.write(struct.pack("<I", crc))
        if flags & 0x08:  # a data descriptor follows the data: crc is there too
            f.seek(data_at + target.compress_size)
            sig = f.read(4)
            f.seek(data_at + target.compress_size + (4 if sig == b"PK\x07\x08" else 0))
            f.write(struct.pack("<I", crc))
        # Central directory entry of the same record.
        f.seek(start_dir)
        central = f.read()
        name = target.filename.encode()
        pos = 0
        while True:
            pos = central.find(b"PK\x01\x02", pos)
            if pos < 0:
                raise RuntimeError(f"{path}: central directory entry of {target.filename} not found")
            n_len = struct.unpack("<H", central[pos + 28:pos + 30])[0]
            if central[pos + 46:pos + 46 + n_len] == name:
                break
            pos += 4
        f.seek(start_dir + pos + 16)
        f.write(struct.pack("<I", crc))


def save_torchscript(module: Any, path: Path) -> None:
    import torch

    if path.name != "model.pt":
        raise ValueError("save TorchScript as model.pt: the zip's records are named after the file stem")
    torch.jit.save(module, str(path))
    normalize_serialization_id(path)


def trace_and_save(module: Any, example_shape: list[int], path: Path) -> None:
    """Trace `module` with a zero tensor of `example_shape` and save it; checks the batch dim is dynamic."""
    import torch

    module = module.eval()
    example = torch.zeros(example_shape, dtype=torch.float32)
    with torch.no_grad():
        traced = torch.jit.trace(module, example, check_trace=False, _store_inputs=False)
        # A traced batch size baked into the graph (x.view(1, -1), ...) shows up as a failure here.
        other = [example_shape[0] + 1, *example_shape[1:]]
        try:
            traced(torch.zeros(other))
        except Exception as err:  # noqa: BLE001 - any failure means the batch dimension is fixed
            raise RuntimeError(
                f"the traced model fails with batch size {other[0]} (traced with {example_shape[0]}): its batch "
                f"dimension is not dynamic ({str(err).splitlines()[0]}); avoid shapes computed from constants in forward()"
            ) from None
    save_torchscript(traced, path)


def load_class(spec: str) -> Any:
    import importlib

    module_name, cls_name = spec.split(":")
    return getattr(importlib.import_module(module_name), cls_name)


def state_dict_to_torchscript(state_dict_path: Path, model_class: str, init_kwargs: dict, example_shape: list[int],
                              out: Path) -> None:
    import torch

    cls = load_class(model_class)
    module = cls(**init_kwargs)
    state = torch.load(str(state_dict_path), map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    module.load_state_dict(state)
    trace_and_save(module, example_shape, out)


def inspect_torchscript(path: Path, inputs: list[dict], max_batch_size: int) -> dict:
    """Facts read from the TorchScript file: forward's argument names, and outputs of zero-tensor passes.

    `inputs` are the configured tensors ({name, data_type, dims}). Runs forward at batch 1 and (when
    batching) batch 2, so a batch dimension baked into the traced graph is found here, not in Triton.
    """
    import torch

    module = torch.jit.load(str(path), map_location="cpu").eval()
    args = [a.name for a in module.forward.schema.arguments[1:]]
    facts: dict[str, Any] = {"arg_names": args, "runs": []}
    if len(args) != len(inputs):
        return facts
    batches = [None] if max_batch_size == 0 else sorted({1, min(2, max_batch_size)})
    for batch in batches:
        tensors = []
        for spec in inputs:
            dims = [PROBE_SIZE if d == -1 else d for d in spec["dims"]]
            shape = dims if batch is None else [batch, *dims]
            dtype = getattr(torch, TRITON_TO_TORCH_DTYPE.get(spec["data_type"], "float32"))
            tensors.append(torch.zeros(shape, dtype=dtype))
        try:
            with torch.no_grad():
                out = module(*tensors)
        except Exception as err:  # noqa: BLE001 - reported as a build problem
            facts["runs"].append({"batch": batch, "error": str(err).strip().splitlines()[-1][:300],
                                  "shapes": [list(t.shape) for t in tensors]})
            continue
        outs = list(out) if isinstance(out, tuple | list) else [out]
        facts["runs"].append({
            "batch": batch,
            "outputs": [{"dtype": TORCH_DTYPE_TO_TRITON.get(str(o.dtype), str(o.dtype)), "shape": list(o.shape)}
                        for o in outs if isinstance(o, torch.Tensor)],
            "non_tensor_outputs": sum(1 for o in outs if not isinstance(o, torch.Tensor)),
        })
    return facts


def export_onnx(torchscript_path: Path, inputs: list[dict], outputs: list[dict], max_batch_size: int, out: Path,
                opset: int = 17) -> None:
    """Export TorchScript to ONNX with the configured tensor names and a dynamic batch axis.

    torch 2.13's default (dynamo) exporter needs onnxscript, which is not installed, and cannot take a
    ScriptModule; the TorchScript-based exporter (dynamo=False) can, and is what this uses.
    """
    import torch

    module = torch.jit.load(str(torchscript_path), map_location="cpu").eval()
    args = []
    for spec in inputs:
        dims = [PROBE_SIZE if d == -1 else d for d in spec["dims"]]
        shape = dims if max_batch_size == 0 else [1, *dims]
        args.append(torch.zeros(shape, dtype=getattr(torch, TRITON_TO_TORCH_DTYPE[spec["data_type"]])))
    dynamic_axes = None
    if max_batch_size > 0:
        dynamic_axes = {t["name"]: {0: "batch"} for t in [*inputs, *outputs]}
    for spec in inputs:  # variable dims stay variable in the ONNX graph
        for i, d in enumerate(spec["dims"]):
            if d == -1:
                dynamic_axes = dynamic_axes or {}
                dynamic_axes.setdefault(spec["name"], {})[i + (1 if max_batch_size > 0 else 0)] = f"{spec['name']}_{i}"
    import warnings

    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, tuple(args), str(out), dynamo=False, opset_version=opset,
            input_names=[t["name"] for t in inputs], output_names=[t["name"] for t in outputs],
            dynamic_axes=dynamic_axes,
        )


def compile_tensorrt(torchscript_path: Path, inputs: list[dict], max_batch_size: int, min_batch: int,
                     opt_batch: int, precisions: list[str], out: Path) -> None:
    """A serialized TensorRT engine (model.plan) with a dynamic batch profile, via torch_tensorrt."""
    import torch

    try:
        import torch_tensorrt
    except ImportError as err:
        raise RuntimeError(f"torch_tensorrt is not importable ({err})") from None
    if not torch.cuda.is_available():
        raise RuntimeError("CUDA is not available")
    module = torch.jit.load(str(torchscript_path), map_location="cuda").eval()
    dtype_of = {"fp32": torch.float32, "fp16": torch.half, "int8": torch.int8}
    trt_inputs = []
    for spec in inputs:
        dims = [PROBE_SIZE if d == -1 else d for d in spec["dims"]]
        batch_max = max(max_batch_size, 1)
        trt_inputs.append(torch_tensorrt.Input(
            min_shape=[min_batch, *dims], opt_shape=[opt_batch, *dims], max_shape=[batch_max, *dims],
            dtype=getattr(torch, TRITON_TO_TORCH_DTYPE[spec["data_type"]]),
        ))
    engine = torch_tensorrt.convert_method_to_trt_engine(
        module, "forward", inputs=trt_inputs, ir="ts", enabled_precisions={dtype_of[p] for p in precisions},
    )
    out.write_bytes(engine)
