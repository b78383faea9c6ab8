"""servekit's wrapper around your own TorchServe handler (copied into the artifact as code/inference.py; your file is
code/user_inference.py beside it).

Your handler keeps the toolkit's contract (sagemaker_inference's default_inference_handler and transformer):
`model_fn(model_dir[, context])`, `input_fn(data, content_type[, context])`, `predict_fn(data, model[, context])`,
`output_fn(prediction, accept[, context])`, or `transform_fn(model, data, content_type, accept[, context])` alone
(and `handle(data, context)` with tuning.batched_forward). This wrapper adds two things around it:
- every error answers as JSON, `{"error": "...", "status": N}`, with no traceback in the body (the traceback goes
  to the log): the toolkit's own error formatter appends it (code/servekit_torchserve.py, install_clean_errors);
- an exception from input_fn, which decodes the request, answers 400 with its message: a request the handler cannot
  read is the client's error, not the server's. Raise `servekit_torchserve.RequestError(status, message)` (or the
  toolkit's own errors) anywhere for another status; any other exception elsewhere is a 500 whose body names only
  its first line.
The wrappers keep your functions' signatures (functools.wraps), which the toolkit reads to decide whether to pass
the context.
"""

from __future__ import annotations

import functools

import user_inference  # code/user_inference.py: your handler
from sagemaker_inference import errors as toolkit_errors
from servekit_torchserve import RequestError, install_clean_errors

install_clean_errors()
ENTRY_POINTS = ("model_fn", "input_fn", "predict_fn", "output_fn", "transform_fn", "handle")


def _request_errors(function):
    """input_fn's failures as 400s with their message; errors that carry their own status pass as they are."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except toolkit_errors.BaseInferenceToolkitError:
            raise
        except Exception as err:  # noqa: BLE001 - the request could not be decoded: the client's error
            message = " ".join(str(err).split()) or type(err).__name__
            raise RequestError(400, f"the request could not be read: {message[:500]}") from err

    return wrapper


for _name in ENTRY_POINTS:
    if hasattr(user_inference, _name):
        _function = getattr(user_inference, _name)
        globals()[_name] = _request_errors(_function) if _name == "input_fn" else _function
