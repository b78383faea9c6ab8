"""The SageMaker runtime API in front of a local server, so a user's own application code runs unchanged against it:
`boto3.client("sagemaker-runtime", endpoint_url="http://127.0.0.1:8080").invoke_endpoint(EndpointName=..., ...)`.

`servekit serve` puts this front on the port it announces and the model server behind it on a free one. It answers:
- `POST /endpoints/<name>/invocations`, InvokeEndpoint as botocore's service model says it (sagemaker-runtime
  2017-05-13 service-2.json: restJson; request headers Content-Type, Accept, X-Amzn-SageMaker-Custom-Attributes,
  -Target-Variant, -Inference-Id, -Inference-Component, ...; response header x-Amzn-Invoked-Production-Variant and
  X-Amzn-SageMaker-Custom-Attributes). `<name>` is the endpoint's servekit name, its SageMaker name
  (<app>-<env>-<endpoint>) or, for a component, its InferenceComponentName's endpoint; another name is a
  ValidationError (400), as SageMaker answers an unknown endpoint.
- A container error (a status other than 2xx) comes back as SageMaker sends it: ModelError, HTTP 424, with
  OriginalStatusCode, OriginalMessage and a Message in SageMaker's words ("Received client error (400) from primary
  with message ..."; the wording is what SageMaker is seen to send, unconfirmed against a page), so `except
  ClientError` code written for the cloud reads it the same way.
- `GET /ping` and `POST /invocations`, the container's own routes, passed through as they are (servekit invoke,
  bench and verify use them).
The front adds one loopback hop (well under a millisecond here); bench starts its servers without it.
"""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ACCOUNT = "000000000000"  # no account here: what error messages name
# InvokeEndpoint's payload limit (AWS: "Maximum payload size: 6 MB" for real-time endpoints, sagemaker/latest/dg/
# realtime-endpoints-test-endpoints.html and the InvokeEndpoint API reference).
MAX_BODY_BYTES = 6 * 1024 * 1024
PASSED_HEADERS = ("Content-Type", "Accept", "X-Amzn-SageMaker-Custom-Attributes")
INVOKE = re.compile(r"^/endpoints/([^/]+)/invocations$")
TIMEOUT_SECONDS = 60.0  # SageMaker's real-time invocation timeout (the container must answer within 60 s)


class RuntimeFront:
    """A ThreadingHTTPServer on 127.0.0.1:`port` in front of `backend` (http://127.0.0.1:<port>)."""

    def __init__(self, backend: str, *, names: set[str], variant: str = "AllTraffic", port: int = 0,
                 log_group: str = "/aws/sagemaker/Endpoints/local"):
        front = self

        class Handler(_Handler):
            pass

        Handler.front = front
        self.backend = backend.rstrip("/")  # may be set after the model server starts (the port is bound first)
        self.names = names
        self.variant = variant
        self.log_group = log_group
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="sagemaker-runtime-front", daemon=True)

    def __enter__(self) -> RuntimeFront:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Handler(BaseHTTPRequestHandler):
    front: RuntimeFront
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass  # the model server logs the requests

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        if self.path == "/ping":
            self._forward("GET", "/ping", None, sagemaker=False)
        else:
            self._json(404, {"message": f"no route {self.path}; the SageMaker routes are GET /ping, POST "
                                        "/invocations and POST /endpoints/<name>/invocations"})

    def do_POST(self) -> None:  # noqa: N802
        body = self._body()
        if body is None:
            return
        if self.path == "/invocations":
            self._forward("POST", "/invocations", body, sagemaker=False)
            return
        match = INVOKE.match(self.path.split("?", 1)[0])
        if match is None:
            self._json(404, {"message": f"no route {self.path}"})
            return
        name = urllib.request.unquote(match.group(1))
        if name not in self.front.names:
            self._error(400, "ValidationError", f"Endpoint {name} of account {ACCOUNT} not found.")
            return
        self._forward("POST", "/invocations", body, sagemaker=True, name=name)

    # --- helpers -------------------------------------------------------------------------------------------
    def _body(self) -> bytes | None:
        size = int(self.headers.get("Content-Length") or 0)
        if size > MAX_BODY_BYTES:
            self.rfile.read(size)
            self._error(413, "ValidationError", f"Request payload of {size} bytes is over the {MAX_BODY_BYTES}-byte "
                        "limit of real-time endpoints")
            return None
        return self.rfile.read(size)

    def _forward(self, method: str, path: str, body: bytes | None, *, sagemaker: bool, name: str = "") -> None:
        headers = {h: self.headers[h] for h in PASSED_HEADERS if self.headers.get(h)}
        request = urllib.request.Request(self.front.backend.rstrip("/") + path, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
                status, data, answer_headers = answer.status, answer.read(), answer.headers
        except urllib.error.HTTPError as err:
            status, data, answer_headers = err.code, err.read(), err.headers
        except (urllib.error.URLError, OSError) as err:
            reason = getattr(err, "reason", err)
            if sagemaker:
                self._error(500, "InternalFailure", f"the local model server did not answer ({reason})")
            else:
                self._json(502, {"error": f"the local model server did not answer ({reason})", "status": 502})
            return
        if sagemaker and not 200 <= status < 300:
            self._model_error(name, status, data)
            return
        self.send_response(status)
        for header in ("Content-Type", "X-Amzn-SageMaker-Custom-Attributes"):
            if answer_headers.get(header):
                self.send_header(header, answer_headers[header])
        if sagemaker:
            self.send_header("x-Amzn-Invoked-Production-Variant", self.front.variant)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _model_error(self, name: str, status: int, data: bytes) -> None:
        """A container's error as InvokeEndpoint returns it: ModelError, 424, the container's status and body."""
        original = data.decode("utf-8", errors="replace")
        kind = "client" if status < 500 else "server"
        self._error(424, "ModelError", f"Received {kind} error ({status}) from primary with message \"{original}\". "
                    f"See the log group {self.front.log_group}/{name} in account {ACCOUNT} for more information.",
                    OriginalStatusCode=status, OriginalMessage=original,
                    LogStreamArn=f"arn:aws:logs:local:{ACCOUNT}:log-group:{self.front.log_group}/{name}")

    def _error(self, status: int, code: str, message: str, **members: object) -> None:
        # restJson errors: botocore reads the code from x-amzn-ErrorType (the part before ':'), the members from the
        # body (botocore/parsers.py RestJSONParser)
        payload = json.dumps({"message": message, "Message": message, **members}).encode()
        self.send_response(status)
        self.send_header("x-amzn-ErrorType", f"{code}:http://internal.amazon.com/coral/com.amazon.sagemaker/")
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _json(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
