"""Model sources: where the bytes of a model come from (the `source:` of every server's models). Loading
never touches a model hub."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field

from servekit.options import Strict


class ExampleSource(Strict):
    """One of the reference chapter's models, made small and offline on the spot."""

    kind: Literal["example"]
    name: Literal["efficientnetv2", "distilbert-qa", "resnet"] = Field(
        description="efficientnetv2 (TFS), distilbert-qa (TorchServe) or resnet (Triton)."
    )


class SavedModelSource(Strict):
    """A TensorFlow SavedModel directory (the one that holds saved_model.pb)."""

    kind: Literal["saved_model"]
    path: Path


class KerasSource(Strict):
    """A Keras model file (.keras or .h5), exported to a SavedModel at build time: serving_default answers with every
    output by name (one input and one output: `input` -> `probabilities`). The modules of its custom classes, which a
    .keras file names, are imported first from import_root."""

    kind: Literal["keras"]
    path: Path
    import_root: Path | None = Field(
        None, description="The folder put first on the Python path to import the model's custom classes (relative "
        "to servekit.yaml). Default: the folder of servekit.yaml.")


class TorchScriptSource(Strict):
    """A TorchScript file made with torch.jit.trace or torch.jit.script."""

    kind: Literal["torchscript"]
    path: Path


class StateDictSource(Strict):
    """A state_dict plus the importable class it belongs to; traced to TorchScript at build time."""

    kind: Literal["state_dict"]
    path: Path
    model_class: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$", description="`module:Class`, importable.")
    init_kwargs: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments of the class.")
    example_input_shape: list[int] = Field(min_length=1, description="Shape of one traced input, batch first.")
    import_root: Path | None = Field(
        None, description="The folder put first on the Python path to import model_class (relative to "
        "servekit.yaml). Default: the folder of servekit.yaml, so a model class in a file beside it is found "
        "whatever the current folder.")


class HuggingFaceSource(Strict):
    """A local directory written by `save_pretrained` (model and tokenizer). Never downloaded."""

    kind: Literal["huggingface"]
    path: Path


class OnnxSource(Strict):
    """An ONNX file, served by Triton's onnxruntime backend."""

    kind: Literal["onnx"]
    path: Path


class ArchiveSource(Strict):
    """An existing model.tar.gz: checked against the server's layout, then uploaded as it is."""

    kind: Literal["archive"]
    path: Path


class S3Source(Strict):
    """A model already in S3, used as it is (nothing is built or uploaded): a model.tar.gz, or, with
    model_data: uncompressed, the prefix (ending in '/') its files were unpacked under."""

    kind: Literal["s3"]
    uri: str = Field(pattern=r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]/(.+\.tar\.gz|.+/)$")


ModelSource = Annotated[
    ExampleSource | SavedModelSource | KerasSource | TorchScriptSource | StateDictSource | HuggingFaceSource | OnnxSource | ArchiveSource | S3Source,
    Field(discriminator="kind"),
]

# The `kind` values of a source that is a folder (the others are files).
FOLDER_SOURCES = {"saved_model", "huggingface"}
