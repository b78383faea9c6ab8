"""handlers.py: which handler goes into a TorchServe archive, and the pins of code/requirements.txt."""

from __future__ import annotations

from pathlib import Path

import pytest

from servekit import config
from servekit.model_build import handlers

REPO = Path(__file__).resolve().parents[3]


def _model(source: dict, **kw) -> config.TorchServeModel:  # noqa: ANN003
    return config.TorchServeModel.model_validate({"source": source, **kw})


@pytest.mark.parametrize(("source", "expected"), [
    ({"kind": "example", "name": "distilbert-qa"}, "question-answering"),
    ({"kind": "huggingface", "path": "/m"}, "question-answering"),
    ({"kind": "example", "name": "resnet"}, "vision"),
    # A TorchScript model's handler cannot be told from the source: the build runs it (test_torchserve_handler_choice)
    ({"kind": "torchscript", "path": "/m.pt"}, "auto"),
    ({"kind": "state_dict", "path": "/w.pt", "model_class": "a:B", "example_input_shape": [1]}, "auto"),
])
def test_auto_handler_is_chosen_from_the_source(source, expected):
    assert handlers.torchserve_handler(_model(source)) == expected


def test_auto_cannot_choose_for_an_archive():
    with pytest.raises(handlers.HandlerError, match="auto cannot choose for source kind 'archive'"):
        handlers.torchserve_handler(_model({"kind": "archive", "path": "/a.tar.gz"}))


def test_handler_that_is_not_a_python_path_fails():
    with pytest.raises(handlers.HandlerError, match="neither auto, vision, tensor, question-answering nor a path"):
        handlers.torchserve_handler(_model({"kind": "torchscript", "path": "/m.pt"}, handler="sentiment"))


def test_requirements_are_the_handler_pins_then_the_endpoint_lines_without_repeats():
    lines = handlers.requirements_lines("question-answering", ["pillow==11.0.0", "transformers==4.57.6"])
    assert lines == ["transformers==4.57.6", "pillow==11.0.0"]
    assert handlers.requirements_text(lines) == b"transformers==4.57.6\npillow==11.0.0\n"


def test_missing_handler_file_fails_naming_it(tmp_path, monkeypatch):
    monkeypatch.setattr(handlers, "HANDLERS_DIR", tmp_path)
    with pytest.raises(handlers.HandlerError, match="handler file .*tfs_inference.py is missing"):
        handlers.handler_path("tfs")
