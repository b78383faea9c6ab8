"""The SageMaker TFS container's front, emulated: `GET /ping` and `POST /invocations` through the archive's
code/inference.py as python_service.py runs it, or the nginx script's conversions without one; and the
entry point of the emulation's process (`python -m servekit.servers.tfs.front`)."""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import logging
import os
import re
import sys
import threading
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from servekit.servers.tfs.emulation import (
    TIMINGS,
    BaseHandler,
    Models,
    RestHandler,
    TfsError,
    grpc_server,
    rest_predict,
)
from servekit.servers.tfs.local import CUSTOM_ATTRIBUTES, LABEL, MAX_BODY_BYTES, Context, find_models, log

# GET on it: the Timings of the process (an emulation-only route; the real container answers 404).
TIMINGS_PATH = "/servekit/timings"


# --- the container's nginx script (tensorflowServing.js), ported line for line -------------------------
def parse_custom_attributes(header: str | None) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for kv in re.findall(r"tfs-[a-z\-]+=[^,]+", header or ""):
        parts = kv.split("=")
        if len(parts) == 2:
            attributes[parts[0]] = parts[1]
    return attributes


def is_tfs_json(data: str) -> bool:
    return re.search(r"\"(instances|inputs|examples)\"\s*:", data) is not None


def is_json_lines(data: str) -> bool:
    return re.search(r"[}\]]\s*[\[{]", data) is not None


def json_to_tfs(data: str) -> str:
    if is_tfs_json(data):
        return data
    if is_json_lines(data):
        lines = data.strip().splitlines()
        parts = ["{\"instances\":", "[" if len(lines) != 1 else ""]
        for i, line in enumerate(lines):
            line = line.strip()
            if line:
                parts.append(("" if i == 0 else ",") + line)
        parts.append("}" if len(lines) == 1 else "]}")
        return "".join(parts)
    if not re.match(r"^\s*\[\s*\[", data):
        data = "[" + data + "]"
    return "{\"instances\":" + data + "}"


def csv_to_tfs(data: str) -> str:
    needs_quotes = re.match(r"^\s*(\"|[\d.Ee+\-]+.*)", data) is None
    lines = data.strip().splitlines()
    parts = ["{\"instances\":["]
    for i, line in enumerate(lines):
        line = line.strip()
        if line:
            multi = "," in line
            item = line
            if needs_quotes:  # JS String.replace with a string pattern replaces the first match only
                item = "\"" + line.replace("\"", "\\\"", 1).replace(",", "\",\"", 1) + "\""
            parts.append(("[" + item + "]") if multi else item)
            if i != len(lines) - 1:
                parts.append(",")
    parts.append("]}")
    return "".join(parts)


class FrontHandler(BaseHandler):
    """The SageMaker side: /ping and /invocations, as nginx + python_service.py answer them."""

    models: Models
    handler: Callable[[Any, Context], Any] | None
    default_model: str
    rest_port: int
    grpc_port: int
    channel: Any

    def do_GET(self) -> None:  # noqa: N802
        if self.path.split("?")[0] == TIMINGS_PATH:  # the emulation's own: where the time went (Timings)
            return self.reply(200, TIMINGS.snapshot())
        if self.path.split("?")[0] != "/ping":
            return self.reply(404, {"error": "Not Found"})
        if self.handler is not None:
            return self.reply(200, b"")  # python_service's PingResource: always 200
        try:
            status = self.models.status(self.default_model, None)
        except TfsError as err:
            return self.reply(502, {"error": f"failed ping: {err}"})
        ok = any(s["state"] == "AVAILABLE" for s in status["model_version_status"])
        return self.reply(200 if ok else 502, b"")

    def do_POST(self) -> None:  # noqa: N802
        if self.path.split("?")[0] != "/invocations":
            self.body()
            return self.reply(404, {"error": "Not Found"})
        body = self.body(MAX_BODY_BYTES)
        if body is None:
            return self.reply(413, {"error": f"request body over {MAX_BODY_BYTES} bytes; SageMaker's InvokeEndpoint "
                                             "accepts at most 6 MB (use batch transform or async inference)"})
        header = self.headers.get(CUSTOM_ATTRIBUTES)
        attributes = parse_custom_attributes(header)
        name = attributes.get("tfs-model-name", self.default_model)
        version = attributes.get("tfs-model-version")
        method = attributes.get("tfs-method", "predict")
        if self.handler is not None:
            return self._python_service(body, header, attributes, name, version, method)
        ctype = self.headers.get("Content-Type")
        if ctype in ("application/json", "application/jsonlines", "application/jsons"):
            data = json_to_tfs(body.decode(errors="replace"))
        elif ctype == "text/csv":
            data = csv_to_tfs(body.decode(errors="replace"))
        else:
            return self.reply(415, f"{{\"error\": \"Unsupported Media Type: {ctype or 'Unknown'}\"}}")
        try:
            with TIMINGS.measure("tfs"):
                status, answer = 200, json.dumps(rest_predict(self.models, name, version, method, data.encode()))
        except TfsError as err:
            status, answer = err.status, json.dumps({"error": str(err)})
        except Exception as err:  # noqa: BLE001
            log.exception("predict failed")
            status, answer = 500, json.dumps({"error": f"{type(err).__name__}: {err}"})
        content_type = "application/json"  # nginx default_type
        accept = self.headers.get("Accept")
        if accept is not None:
            types = accept.strip().replace(" ", "", 1).split(",")
            if "application/jsonlines" in types or "application/json" in types:
                answer = answer.replace("\n", "")
                content_type = types[0]
        return self.reply(status, answer, content_type)

    def _python_service(self, body: bytes, header: str | None, attributes: dict[str, str], name: str,
                        version: str | None, method: str) -> None:
        rest_uri = f"http://localhost:{self.rest_port}/v1/models/{name}"
        if version:
            rest_uri += "/versions/" + version
        rest_uri += ":" + method
        context = Context(
            attributes.get("tfs-model-name"), version, attributes.get("tfs-method"), rest_uri, str(self.grpc_port),
            self.channel, header, self.headers.get("Content-Type") or "application/json",
            self.headers.get("Accept") or "application/json", int(self.headers.get("Content-Length") or 0),
        )
        try:
            with TIMINGS.measure("handler"):
                result, content_type = self.handler(io.BytesIO(body), context)
        except Exception as err:  # noqa: BLE001 - python_service.py answers every handler error as 500
            log.exception("exception handling request: %s", err)
            return self.reply(500, {"error": str(err)})
        return self.reply(200, result if isinstance(result, bytes | str) else json.dumps(result), content_type)


def load_handler(root: Path) -> Callable[[Any, Context], Any] | None:
    """Import code/inference.py as python_service.py does; None when the archive has none."""
    script = root / "code" / "inference.py"
    if not script.exists():
        return None
    lib = root / "code" / "lib"
    if lib.exists():
        sys.path.insert(0, str(lib))
    spec = importlib.util.spec_from_file_location("inference", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if hasattr(module, "handler"):
        return module.handler
    if hasattr(module, "input_handler") and hasattr(module, "output_handler"):
        import requests

        def handler(data: Any, context: Context) -> Any:
            processed = module.input_handler(data, context)
            response = requests.post(context.rest_uri, data=processed)
            return module.output_handler(response, context)

        return handler
    raise NotImplementedError("Handlers are not implemented correctly in user script.")




class _Server(ThreadingHTTPServer):
    # socketserver's default listen backlog is 5: with 16 clients connecting at once the kernel's accept queue
    # overflows and some connections are reset (seen: 11 of 160). nginx in the container listens with 511.
    request_queue_size = 511


def serve(model_root: Path, port: int, rest_port: int, grpc_port: int) -> None:
    logging.basicConfig(format=f"%(asctime)s [{LABEL}] %(levelname)s %(message)s", level=logging.INFO,
                        stream=sys.stdout, force=True)
    log.info("this is an emulation of the SageMaker TensorFlow Serving container")
    import tensorflow as tf

    inter = int(os.environ.get("SAGEMAKER_TFS_INTER_OP_PARALLELISM", 0))
    intra = int(os.environ.get("SAGEMAKER_TFS_INTRA_OP_PARALLELISM", 0))
    if inter:
        tf.config.threading.set_inter_op_parallelism_threads(inter)
    if intra:
        tf.config.threading.set_intra_op_parallelism_threads(intra)
    found = find_models(model_root)
    default = os.environ.get("SAGEMAKER_TFS_DEFAULT_MODEL_NAME") or next(iter(found))
    log.info("loading %s (default model %s)", {k: sorted(v) for k, v in found.items()}, default)
    models = Models(found)
    handler = load_handler(model_root)
    log.info("handler: %s", "code/inference.py" if handler else "none (nginx JSON/CSV conversion)")
    grpc_srv = grpc_server(models, grpc_port)
    channel = None
    if grpc_srv is not None:
        import grpc

        channel = grpc.insecure_channel(f"localhost:{grpc_port}")  # one per process, as python_service.py

    rest = _Server(("127.0.0.1", rest_port), type("Rest", (RestHandler,), {"models": models}))
    front_cls = type("Front", (FrontHandler,), {
        "models": models, "handler": staticmethod(handler) if handler else None, "default_model": default,
        "rest_port": rest_port, "grpc_port": grpc_port, "channel": channel,
    })
    front = _Server(("127.0.0.1", port), front_cls)
    for srv in (rest, front):
        srv.daemon_threads = True
    threading.Thread(target=rest.serve_forever, daemon=True).start()
    log.info("TFS REST API on 127.0.0.1:%d, gRPC on 127.0.0.1:%s, SageMaker /ping and /invocations on 127.0.0.1:%d",
             rest_port, grpc_port if grpc_srv else "(off)", port)
    front.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=f"servekit {LABEL}")
    parser.add_argument("--model-root", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rest-port", type=int, required=True)
    parser.add_argument("--grpc-port", type=int, required=True)
    args = parser.parse_args(argv)
    serve(args.model_root, args.port, args.rest_port, args.grpc_port)


if __name__ == "__main__":
    main()
