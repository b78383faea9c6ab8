"""What servekit's two TorchServe handlers share; copied beside them into the artifact as code/servekit_torchserve.py.

The PyTorch DLC's toolkit puts code/ on the Python path before it imports code/inference.py
(sagemaker_pytorch_serving_container/torchserve.py `_set_python_path`; handler_service.py appends it for
multi-model endpoints), so `import servekit_torchserve` works wherever inference.py itself can be imported.
It imports only the standard library and sagemaker_inference, which the image provides.

Errors. A request error is a `RequestError(status, message)`: the toolkit passes its status through, but
its `Transformer.handle_error` (sagemaker_inference/transformer.py) answers with the message *followed by
the Python traceback*, which reaches a SageMaker client inside the ModelError message (server paths, code
lines). `install_clean_errors()` replaces that formatter with one that answers `{"error": ..., "status": N}`
as application/json and writes the traceback to the worker's log instead. It covers every failure the
toolkit catches, including the ones before the handler runs (an application/json or text/csv body that is
not UTF-8 fails in the toolkit's own decode, as 500). A 5xx names only the first line of the exception.
`handle(data, context)` entry points answer with `error_response` in the same shape.
"""

from __future__ import annotations

import inspect
import json
import logging
import os

from sagemaker_inference import errors

JSON = "application/json"
# A message of a 5xx is the exception's first line only: later lines of torch and TorchScript errors
# carry "File ..., line N" frames.
MAX_INTERNAL_MESSAGE_CHARS = 300

log = logging.getLogger("servekit.handler")


class RequestError(errors.GenericInferenceToolkitError):
    """A client error: the toolkit answers with its status code and (through install_clean_errors) JSON."""

    def __init__(self, status: int, message: str):
        super().__init__(status, message, message.splitlines()[0][:200])


def bad_request(message: str) -> RequestError:
    return RequestError(400, message)


def int_env(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def parse_json(body: bytes):
    """json.loads with every failure a 400: invalid JSON or UTF-8, and nesting deeper than the parser goes
    (Python's json stops at the interpreter's recursion limit, about 1,000 levels, with RecursionError)."""
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise bad_request(f"body is not valid JSON: {err}") from None
    except RecursionError:
        raise bad_request("body is JSON nested too deeply (over about 1,000 levels); send the documented shape") \
            from None


# ---------------------------------------------------------------------------------------------
# Error bodies
# ---------------------------------------------------------------------------------------------
def client_message(status: int, message: str) -> str:
    if status < 500:
        return message
    first = (message.strip().splitlines() or ["(no message)"])[0][:MAX_INTERNAL_MESSAGE_CHARS]
    return f"internal error in the model handler ({first}); the traceback is in the server log"


def error_body(status: int, message: str) -> str:
    return json.dumps({"error": client_message(status, message), "status": status})


def _phrase(err: BaseException) -> str:
    phrase = getattr(err, "phrase", None) or type(err).__name__
    return str(phrase).replace("\r", " ").replace("\n", " ")[:200]


def _answer(context, idx: int, err: BaseException) -> str:
    """Set request `idx`'s status and content type for `err` and return its JSON body."""
    status = getattr(err, "status_code", 500)
    context.set_response_status(code=status, phrase=_phrase(err), idx=idx)
    context.set_response_content_type(idx, JSON)
    return error_body(status, getattr(err, "message", None) or str(err))


def error_response(context, idx: int, err: BaseException) -> str:
    """Set request `idx`'s status and content type for `err`, log it, and return its JSON body."""
    status = getattr(err, "status_code", 500)
    log.warning("request %d answered %d: %s", idx, status, getattr(err, "message", None) or str(err),
                exc_info=status >= 500)
    return _answer(context, idx, err)


def _clean_handle_error(context, inference_exception, trace):
    """Transformer.handle_error's contract (one error for the batch, a list of one body), without the trace.
    The toolkit sets the status of request 0 (its `set_response_status` call passes no index)."""
    log.error("Transform failed for model %s with %d: %s\n%s", getattr(context, "model_name", "?"),
              getattr(inference_exception, "status_code", 500),
              getattr(inference_exception, "message", None) or str(inference_exception), trace)
    return [_answer(context, 0, inference_exception)]


def install_clean_errors() -> bool:
    """Make the toolkit answer errors as JSON without tracebacks (see the module docstring). Returns whether
    it did: it leaves a toolkit whose handle_error has another signature alone, and logs so."""
    try:
        from sagemaker_inference import transformer
    except ImportError:  # pragma: no cover - the toolkit is in every PyTorch DLC
        return False
    current = transformer.Transformer.__dict__.get("handle_error")
    function = getattr(current, "__func__", current)
    if function is _clean_handle_error:
        return True
    if function is None or list(inspect.signature(function).parameters) != ["context", "inference_exception", "trace"]:
        log.warning("sagemaker_inference's Transformer.handle_error is not the one servekit knows; error bodies "
                    "keep the toolkit's format (message and traceback)")
        return False
    transformer.Transformer.handle_error = staticmethod(_clean_handle_error)
    return True


# ---------------------------------------------------------------------------------------------
# TorchServe's request objects, for handle(data, context)
# ---------------------------------------------------------------------------------------------
def headers(context, idx: int) -> dict[str, str]:
    try:
        raw = context.get_all_request_header(idx) or {}
    except (AttributeError, IndexError, TypeError):
        raw = {}
    return {str(k).lower(): v.decode() if isinstance(v, bytes | bytearray) else str(v) for k, v in raw.items()}


def request_body(request):
    if not isinstance(request, dict):
        return request
    body = request.get("body")
    return request.get("data") if body is None else body
