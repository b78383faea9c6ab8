"""A Triton model's signature, read from its config.pbtxt: the names, KServe datatypes and shapes of its
tensors, which servekit.codecs checks a request against before it leaves the machine."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2
from tritonclient.utils import triton_to_np_dtype

from servekit.codecs import CodecError


def _kserve_type(config_type: int) -> str:
    name = model_config_pb2.DataType.Name(config_type).removeprefix("TYPE_")
    return "BYTES" if name == "STRING" else name


def _config_type(datatype: str) -> str:
    return "TYPE_STRING" if datatype == "BYTES" else f"TYPE_{datatype}"


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a Triton model. `dims` excludes the batch dimension when batching."""

    name: str
    datatype: str  # KServe name: FP32, INT64, BYTES, ...
    dims: tuple[int, ...]

    @property
    def numpy_dtype(self) -> np.dtype:
        return np.dtype(triton_to_np_dtype(self.datatype))


@dataclass(frozen=True)
class TritonSignature:
    model_name: str
    max_batch_size: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    @classmethod
    def from_config(cls, config: model_config_pb2.ModelConfig) -> TritonSignature:
        def specs(tensors: Any) -> tuple[TensorSpec, ...]:
            return tuple(TensorSpec(t.name, _kserve_type(t.data_type), tuple(t.dims)) for t in tensors)

        return cls(config.name, config.max_batch_size, specs(config.input), specs(config.output))

    @classmethod
    def from_pbtxt(cls, text: str, source: str = "config.pbtxt") -> TritonSignature:
        try:
            config = text_format.Parse(text, model_config_pb2.ModelConfig())
        except text_format.ParseError as err:
            raise CodecError(f"{source}: not a valid Triton model config: {err}") from None
        return cls.from_config(config)

    @classmethod
    def from_file(cls, path: str | Path) -> TritonSignature:
        path = Path(path)
        return cls.from_pbtxt(path.read_text(), str(path))

    @classmethod
    def from_artifact(cls, artifact_path: str | Path, model_name: str | None = None) -> TritonSignature:
        """Read `<model>/config.pbtxt` from a Triton model.tar.gz or uncompressed layout (the one the endpoint serves)."""
        from servekit.model_build.archive import artifact_files

        configs = {name.split("/")[-2]: read() for name, read in artifact_files(Path(artifact_path))
                   if re.fullmatch(r"[^/]+/config\.pbtxt", name)}
        if not configs:
            raise CodecError(f"{artifact_path}: no <model>/config.pbtxt in the archive")
        if model_name is None:
            if len(configs) > 1:
                raise CodecError(f"{artifact_path}: several models {sorted(configs)}; name the one to call")
            model_name = next(iter(configs))
        if model_name not in configs:
            raise CodecError(f"{artifact_path}: no {model_name}/config.pbtxt (found {sorted(configs)})")
        return cls.from_pbtxt(configs[model_name].decode(), f"{artifact_path}:{model_name}/config.pbtxt")

    def input(self, name: str) -> TensorSpec:
        for spec in self.inputs:
            if spec.name == name:
                return spec
        raise CodecError(
            f"input {name!r} is not in {self.model_name}'s config.pbtxt; its inputs are "
            f"{[s.name for s in self.inputs]} (names are case-sensitive)"
        )

    def full_shape(self, spec: TensorSpec, batch: int | None) -> tuple[int, ...]:
        return ((batch,) if self.max_batch_size > 0 else ()) + spec.dims

    def check(self, tensors: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Check names, dtypes and shapes against config.pbtxt; returns the arrays (dtype kept: no silent cast)."""
        missing = [s.name for s in self.inputs if s.name not in tensors]
        if missing:
            raise CodecError(f"missing input(s) {missing} for {self.model_name}; config.pbtxt lists "
                             f"{[s.name for s in self.inputs]}")
        out = {}
        for name, value in tensors.items():
            spec = self.input(name)
            array = np.asarray(value)
            if spec.datatype == "BYTES":
                if array.dtype.kind not in "OSU":
                    raise CodecError(f"input {name!r}: config.pbtxt says TYPE_STRING, got {array.dtype}")
            elif array.dtype != spec.numpy_dtype:
                raise CodecError(
                    f"input {name!r}: dtype {array.dtype} but config.pbtxt says {_config_type(spec.datatype)} "
                    f"({spec.numpy_dtype}); convert with .astype(np.{spec.numpy_dtype})"
                )
            _check_shape(self, spec, array.shape)
            out[name] = array
        return out


def _check_shape(sig: TritonSignature, spec: TensorSpec, shape: tuple[int, ...]) -> None:
    expected = ("batch",) + spec.dims if sig.max_batch_size > 0 else spec.dims
    body = shape[1:] if sig.max_batch_size > 0 else shape
    ok = len(shape) == len(expected) and all(d == -1 or d == s for d, s in zip(spec.dims, body, strict=False))
    if ok and sig.max_batch_size > 0 and not 1 <= shape[0] <= sig.max_batch_size:
        raise CodecError(
            f"input {spec.name!r}: batch of {shape[0]} but config.pbtxt allows 1..{sig.max_batch_size} "
            "(max_batch_size); split the request"
        )
    if not ok:
        shown = "[" + ", ".join(str(d) for d in expected) + "]"
        raise CodecError(
            f"input {spec.name!r}: shape {list(shape)} but config.pbtxt expects {shown} (-1 = any size)"
        )


def _kserve_type(config_type: int) -> str:
    name = model_config_pb2.DataType.Name(config_type).removeprefix("TYPE_")
    return "BYTES" if name == "STRING" else name


def _config_type(datatype: str) -> str:
    return "TYPE_STRING" if datatype == "BYTES" else f"TYPE_{datatype}"


