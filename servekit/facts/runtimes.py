"""Which model files a runtime loads: TorchScript file-format versions per torch, ONNX IR and opset per ONNX
Runtime.

- TorchScript: pytorch `caffe2/serialize/versions.h`, kMaxSupportedFileFormatVersion = 0xA since torch 1.11
  (read in the source); a reader refuses an archive whose `<name>/version` is above it. torch.jit.save writes
  kProducedFileFormatVersion (0x3) unless an operator upgrader forces more (dynamic versioning, up to 0x8).
- ONNX Runtime: its "Versioning" page, table "ONNX Runtime release version / ONNX opset version implemented /
  Supported ONNX IR version" (github.com/microsoft/onnxruntime docs/Versioning.md and
  onnxruntime.ai/docs/reference/compatibility.html). A model with a higher IR version fails to load
  ("Unsupported model IR version"); one stamped with a higher opset than implemented fails for its new ops.
  The rows below for 1.18+ were not re-read from the page: unconfirmed.
"""

from __future__ import annotations

from dataclasses import dataclass

from servekit.facts.source import Source


@dataclass(frozen=True)
class TorchScriptReader:
    torch: str  # major.minor
    max_file_format_version: int
    source: Source = Source("pytorch caffe2/serialize/versions.h kMaxSupportedFileFormatVersion")


@dataclass(frozen=True)
class OnnxRuntimeFacts:
    onnxruntime: str  # major.minor
    max_opset: int
    max_ir_version: int
    source: Source = Source("onnxruntime docs/Versioning.md version matrix (rows 1.18+ not re-read)", False)


TORCHSCRIPT: dict[str, TorchScriptReader] = {v: TorchScriptReader(v, 0xA) for v in
                                             ("2.4", "2.5", "2.6", "2.7", "2.9")}

ONNXRUNTIME: dict[str, OnnxRuntimeFacts] = {
    "1.18": OnnxRuntimeFacts("1.18", 21, 10),
    "1.19": OnnxRuntimeFacts("1.19", 21, 10),
    "1.21": OnnxRuntimeFacts("1.21", 22, 10),
    "1.23": OnnxRuntimeFacts("1.23", 23, 11),
}
