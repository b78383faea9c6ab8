"""The echo model server: GET /ping, POST /invocations -> {"greeting", "echo"}; a body that is not JSON gets 400.
GET /metrics: its invocations in Prometheus text, on the port it serves (what a component's metrics_endpoint
names, since SageMaker scrapes the serving port)."""

from __future__ import annotations

import argparse
import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-root", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    model = json.loads((Path(args.model_root) / "echo.json").read_text())
    answered = {"200": 0, "400": 0}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *values: object) -> None:  # noqa: A002
            pass

        def _answer(self, status: int, payload: dict) -> None:
            self._send(status, json.dumps(payload).encode(), "application/json")

        def _send(self, status: int, data: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            if self.path == "/ping":
                self._answer(200, {"status": "healthy", "workers": int(os.environ.get("ECHO_WORKERS", "1"))})
            elif self.path == "/metrics":
                text = "# TYPE echo_invocations_total counter\n" + "".join(
                    f'echo_invocations_total{{code="{code}"}} {count}\n' for code, count in answered.items())
                self._send(200, text.encode(), "text/plain; version=0.0.4")
            else:
                self._answer(404, {"error": f"no route {self.path}"})

        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != "/invocations":
                self._answer(404, {"error": f"no route {self.path}"})
                return
            try:
                value = json.loads(body)
            except ValueError as err:
                answered["400"] += 1
                self._answer(400, {"error": f"the body is not JSON: {err}"})
                return
            answered["200"] += 1
            self._answer(200, {"greeting": model["greeting"], "echo": value})

    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
