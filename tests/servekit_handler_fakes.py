"""Load the container-side handlers (servekit/servers/<server>/handlers/*.py, package data, not modules) the way the
containers import them."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SERVERS = Path(__file__).resolve().parents[1] / "servekit" / "servers"


def load_handler(name: str):
    """Import <server>/handlers/<name>.py (the server is the name's first word); its support modules
    (servekit_torchserve) come from the same folder, as the toolkit finds them in code/ on the Python path."""
    folder = SERVERS / name.split("_", 1)[0] / "handlers"
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(f"servekit_test_handler_{name}", folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class FakeRequestProcessor:
    """TorchServe's per-request header holder (ts.context.RequestProcessor), as the worker fills it."""

    def __init__(self, headers: dict[str, str]):
        self._headers = headers
        self.status: tuple[int, str] | None = None

    def get_request_property(self, key: str):
        return self._headers.get(key)

    def get_request_properties(self) -> dict[str, str]:
        return self._headers

    def report_status(self, code, reason_phrase=None):
        self.status = (code, reason_phrase)


class FakeTorchServeContext:
    """The parts of ts.context.Context that the handlers use."""

    def __init__(self, model_dir: Path, headers: list[dict[str, str]] | None = None):
        self.system_properties = {"model_dir": str(model_dir), "gpu_id": None}
        self.model_name = "model"
        self.request_processor = [FakeRequestProcessor(h) for h in (headers or [])]
        self.content_types: dict[int, str] = {}

    def get_all_request_header(self, idx: int) -> dict[str, str]:
        return self.request_processor[idx].get_request_properties()

    def set_response_content_type(self, idx: int, value: str) -> None:
        self.content_types[idx] = value

    def set_response_status(self, code: int = 200, phrase: str = "", idx: int = 0) -> None:
        self.request_processor[idx].report_status(code, phrase)

    def status(self, idx: int) -> int:
        reported = self.request_processor[idx].status
        return reported[0] if reported else 200


def toolkit_transform(handler_module, model_dir: Path, body: bytes, headers: dict[str, str], monkeypatch):
    """One request through the SageMaker inference toolkit's own Transformer (the handler's default path in
    the PyTorch DLC), with `handler_module` as the user module `inference`. Returns (status, content type,
    body) as TorchServe would send them."""
    from sagemaker_inference.transformer import Transformer
    from sagemaker_pytorch_serving_container.default_pytorch_inference_handler import DefaultPytorchInferenceHandler

    monkeypatch.setitem(sys.modules, "inference", handler_module)
    monkeypatch.setenv("SAGEMAKER_PROGRAM", "inference.py")
    context = FakeTorchServeContext(model_dir, [headers])
    transformer = Transformer(default_inference_handler=DefaultPytorchInferenceHandler())
    transformer.validate_and_initialize(model_dir=str(model_dir), context=context)
    (answer,) = transformer.transform([{"body": bytearray(body)}], context)
    return context.status(0), context.content_types.get(0), answer
