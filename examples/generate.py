"""Writes the smoke-request bodies of the embedded default's image endpoints (deterministic, no randomness):

    .venv/bin/python examples/generate.py

- image-classifier.json (TFS): `{"instances": [image]}`, one 224x224 RGB image as the SavedModel takes it
  (height, width, channel; values 0-255, which the model rescales itself);
- resnet.json (Triton): a KServe v2 JSON request for `input__0`, FP32 [1, 3, 224, 224] (batch, channel, height,
  width).

The picture is a small repeating gradient written with one-digit values, so each file stays a few hundred
kilobytes (the model's input size is fixed at 224x224; SageMaker accepts up to 6 MB). question-answering.json
is written by hand. `servekit verify ENDPOINT` sends examples/ENDPOINT.json; a unit test checks that the files
are what this script writes.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SIZE = 224


def pixel(y: int, x: int, c: int) -> int:
    return (y // 16 + x // 16 + 3 * c) % 10


def image_classifier() -> str:
    image = [[[pixel(y, x, c) for c in range(3)] for x in range(SIZE)] for y in range(SIZE)]
    return json.dumps({"instances": [image]}, separators=(",", ":")) + "\n"


def resnet() -> str:
    data = [pixel(y, x, c) for c in range(3) for y in range(SIZE) for x in range(SIZE)]
    request = {"inputs": [{"name": "input__0", "shape": [1, 3, SIZE, SIZE], "datatype": "FP32", "data": data}]}
    return json.dumps(request, separators=(",", ":")) + "\n"


PAYLOADS = {"image-classifier.json": image_classifier, "resnet.json": resnet}


def main() -> None:
    for name, make in PAYLOADS.items():
        (HERE / name).write_text(make())
        print(f"wrote {HERE / name} ({(HERE / name).stat().st_size} bytes)")


if __name__ == "__main__":
    main()
