"""The bad requests every local server is tried with, and what a clean error answer is.

Servers whose answers servekit's handlers control share their case tables here, so the unit tests (the
handler behind the toolkit's own Transformer) and the integration tests (the real TorchServe) assert the
same documented statuses (docs/torchserve.md). Triton's and the TFS emulation's tables, whose statuses the
servers choose, sit in their test files.
"""

from __future__ import annotations

import io
import json
import pickle
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

# What a leaked Python traceback looks like in a body: the header line, frame lines, installed paths.
TRACE_MARKERS = ("Traceback (most recent call last)", 'File "', "site-packages", ".py\", line ")
FIVE_MB = 5 * 1024 * 1024


def assert_no_traceback(body: bytes) -> None:
    text = body.decode("utf-8", errors="replace")
    leaked = [marker for marker in TRACE_MARKERS if marker in text]
    assert not leaked, f"the body leaks {leaked}: {text[:600]}"


def assert_clean_json_error(body: bytes, status: int, *, status_field: bool = True) -> dict:
    """A JSON object with a non-empty "error" (and "status" equal to the HTTP status), and no traceback."""
    assert_no_traceback(body)
    payload = json.loads(body)
    assert isinstance(payload, dict) and isinstance(payload.get("error"), str) and payload["error"], payload
    if status_field:
        assert payload.get("status") == status, payload
    return payload


def deep_json(levels: int = 100_000) -> bytes:
    """A JSON array nested `levels` deep: past Python's parser (RecursionError) and any recursive parser's stack."""
    return b"[" * levels + b"]" * levels


def five_mb_json_of_the_wrong_shape() -> bytes:
    """About 5 MB of valid JSON numbers in a shape no model here takes: rows of 1,000 zeros."""
    row = "[" + ",".join(["0.0"] * 1000) + "]"
    rows = FIVE_MB // (len(row) + 1)
    return ("[" + ",".join([row] * rows) + "]").encode()


def garbage_npy() -> bytes:
    """The .npy magic followed by bytes that are no header."""
    return b"\x93NUMPY\x01\x00" + bytes(range(256)) * 8


def npy_header_claiming_terabytes() -> bytes:
    """A well-formed .npy header for a 36 TiB float32 array, with 100 bytes of data."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f4", "fortran_order": False,
                                                   "shape": (100000, 100000, 1000)})
    return buffer.getvalue() + b"\0" * 100


class _Tripwire:
    """Unpickling this creates `path`: a body that carries it proves, by the file's absence, that nothing
    unpickled it."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def pickled_npy(tripwire: Path) -> bytes:
    """An .npy of dtype object (numpy pickles its items) whose item, once unpickled, creates `tripwire`."""
    buffer = io.BytesIO()
    array = np.empty(1, dtype=object)
    array[0] = _Tripwire(tripwire)
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def raw_pickle(tripwire: Path) -> bytes:
    """A bare pickle (what np.load would unpickle with allow_pickle=True) that creates `tripwire`."""
    return pickle.dumps(_Tripwire(tripwire))


def burst(send, requests: list, concurrency: int = 64) -> list:
    """Send every request at once from `concurrency` threads; returns send's results in order."""
    with ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(send, requests))


JSON_TYPE = {"Content-Type": "application/json"}
NPY_TYPE = {"Content-Type": "application/x-npy"}


def npy(array) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def torchserve_qa_cases(good_body: bytes) -> dict[str, tuple[bytes, dict[str, str], int, str]]:
    """case: (body, headers, status, words of the error) for servekit/servers/torchserve/handlers/torchserve_question_answering.py."""
    return {
        "malformed JSON": (b'{"question": ', JSON_TYPE, 400, "not valid JSON"),
        "empty body": (b"", JSON_TYPE, 400, "empty body"),
        "wrong content type": (b"question,context", {"Content-Type": "text/csv"}, 415, "not supported"),
        "x-npy": (garbage_npy(), NPY_TYPE, 415, "not supported"),
        "wrong structure": (json.dumps([1, 2]).encode(), JSON_TYPE, 400, "item 0"),
        "wrong keys": (json.dumps({"q": "what?", "text": "x"}).encode(), JSON_TYPE, 400, "missing key"),
        "numbers where strings belong": (b'{"question": 1, "context": NaN}', JSON_TYPE, 400, "non-empty string"),
        "deep nesting": (deep_json(), JSON_TYPE, 400, "nested too deeply"),
        "5 MB body": (five_mb_json_of_the_wrong_shape(), JSON_TYPE, 413, "over the limit"),
        "Accept it cannot produce": (good_body, {**JSON_TYPE, "Accept": "text/csv"}, 406, "not supported"),
        # The toolkit decodes application/json bodies as UTF-8 before any handler code runs.
        "JSON that is not UTF-8": (b"\xff\xfe{}", JSON_TYPE, 500, "internal error"),
    }


def torchserve_vision_cases(good_npy: bytes, tripwire: Path) -> dict[str, tuple[bytes, dict[str, str], int, str]]:
    """case: (body, headers, status, words of the error) for servekit/servers/torchserve/handlers/torchserve_vision.py (3-channel models)."""
    return {
        "malformed JSON": (b"[[[1.0,", JSON_TYPE, 400, "not valid JSON"),
        "empty body": (b"", NPY_TYPE, 400, "empty body"),
        "wrong content type": (b"1,2,3", {"Content-Type": "text/csv"}, 415, "not supported"),
        "wrong structure": (json.dumps({"pixels": [1]}).encode(), JSON_TYPE, 400, "no \"inputs\" key"),
        "strings where numbers belong": (json.dumps([[["a", "b"]]]).encode(), JSON_TYPE, 400,
                                         "rectangular nested list of numbers"),
        "NaN where numbers belong": (b"[[[[NaN, 1.0]]]]", JSON_TYPE, 400, "NaN"),
        "deep nesting": (deep_json(), JSON_TYPE, 400, "nested too deeply"),
        "5 MB of the wrong shape": (five_mb_json_of_the_wrong_shape(), JSON_TYPE, 400, "expected one image"),
        "x-npy garbage": (garbage_npy(), NPY_TYPE, 400, "not a valid .npy"),
        "x-npy header claiming terabytes": (npy_header_claiming_terabytes(), NPY_TYPE, 400, "the header declares"),
        "x-npy of pickled objects": (pickled_npy(tripwire), NPY_TYPE, 400, "would need unpickling"),
        "bare pickle as x-npy": (raw_pickle(tripwire), NPY_TYPE, 400, "not a valid .npy"),
        "wrong tensor shape": (npy(np.zeros((1, 2, 8, 8), np.float32)), NPY_TYPE, 400, "rejected an input of shape"),
        "Accept it cannot produce": (good_npy, {**NPY_TYPE, "Accept": "text/html"}, 406, "not supported"),
        # The toolkit decodes application/json and text/csv bodies as UTF-8 before any handler code runs.
        "JSON that is not UTF-8": (b"\xff\xfe[1]", JSON_TYPE, 500, "internal error"),
    }
