"""The three models of the reference chapter, made small, offline and deterministically on the spot.

Each `make_*` function writes a model into an empty directory and imports its framework lazily, so
importing this module is free. They run in a fresh interpreter (see worker.py): TensorFlow names the
functions it traces with a process-wide counter, so a second export in the same process would differ.

The identity of an example artifact is the sha256 of this file's bytes plus the example's name
(identity.py): change anything here and every example artifact is rebuilt.

- efficientnetv2: an EfficientNetV2-style Keras CNN (fused-MBConv and MBConv blocks with
  squeeze-excitation), 224x224x3 float32 in, 10-class softmax out, exported as a SavedModel whose
  `serving_default` signature takes `input` and returns `probabilities`. For TFS.
- distilbert-qa: DistilBertForQuestionAnswering with a tiny config and random weights, plus a
  DistilBertTokenizerFast built from a vocabulary generated here, written with save_pretrained.
  For TorchServe's question-answering handler.
- resnet: a small ResNet-style CNN in plain torch (no torchvision), 3x224x224 in, 10 logits out,
  traced to TorchScript with a dynamic batch dimension. For Triton's pytorch_libtorch (input__0 /
  output__0) or TorchServe's vision handler.
"""

from __future__ import annotations

from pathlib import Path

SEED = 0
NUM_CLASSES = 10
IMAGE_SIZE = 224

# Which server each example can serve on, and the handler TorchServe uses for it.
EXAMPLE_SERVERS = {
    "efficientnetv2": ("tfs",),
    "distilbert-qa": ("torchserve",),
    "resnet": ("torchserve", "triton"),
}


# ---------------------------------------------------------------------------------------------
# efficientnetv2 (TensorFlow / Keras)
# ---------------------------------------------------------------------------------------------
def _efficientnetv2_model():  # noqa: ANN202 - keras is imported lazily
    import keras
    from keras import layers

    keras.utils.set_random_seed(SEED)

    def conv_bn(x, filters, kernel, stride=1, activation=True, name=""):
        x = layers.Conv2D(filters, kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_conv")(x)
        x = layers.BatchNormalization(name=f"{name}_bn")(x)
        return layers.Activation("swish", name=f"{name}_act")(x) if activation else x

    def fused_mbconv(x, filters, stride, expand, name):
        inp = x
        c_in = x.shape[-1]
        x = conv_bn(x, c_in * expand, 3, stride, name=f"{name}_expand")
        x = conv_bn(x, filters, 1, activation=False, name=f"{name}_project")
        if stride == 1 and c_in == filters:
            x = layers.Add(name=f"{name}_add")([inp, x])
        return x

    def mbconv(x, filters, stride, expand, name):
        inp = x
        c_in = x.shape[-1]
        hidden = c_in * expand
        x = conv_bn(x, hidden, 1, name=f"{name}_expand")
        x = layers.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False, name=f"{name}_dw")(x)
        x = layers.BatchNormalization(name=f"{name}_dw_bn")(x)
        x = layers.Activation("swish", name=f"{name}_dw_act")(x)
        se = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_se_pool")(x)
        se = layers.Conv2D(max(1, c_in // 4), 1, activation="swish", name=f"{name}_se_reduce")(se)
        se = layers.Conv2D(hidden, 1, activation="sigmoid", name=f"{name}_se_expand")(se)
        x = layers.Multiply(name=f"{name}_se_scale")([x, se])
        x = conv_bn(x, filters, 1, activation=False, name=f"{name}_project")
        if stride == 1 and c_in == filters:
            x = layers.Add(name=f"{name}_add")([inp, x])
        return x

    inputs = keras.Input((IMAGE_SIZE, IMAGE_SIZE, 3), dtype="float32", name="input")
    x = layers.Rescaling(1.0 / 255.0, name="rescale")(inputs)
    x = conv_bn(x, 16, 3, 2, name="stem")
    x = fused_mbconv(x, 16, 1, 1, "block1a")
    x = fused_mbconv(x, 24, 2, 4, "block2a")
    x = mbconv(x, 32, 2, 4, "block3a")
    x = mbconv(x, 32, 1, 4, "block3b")
    x = conv_bn(x, 64, 1, name="head")
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(NUM_CLASSES, activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="efficientnetv2_tiny")


def export_keras_saved_model(model, out_dir: Path) -> None:  # noqa: ANN001
    """Export a Keras model as a SavedModel whose `serving_default` takes `input`, returns `probabilities`.

    Used for the example and for `kind: keras` sources, so both share one code path. The signature
    keeps the batch dimension variable; the other dimensions are the model's own.
    """
    import tensorflow as tf

    spec = [tf.TensorSpec([None, *model.inputs[0].shape[1:]], model.inputs[0].dtype, name="input")]

    class Serving(tf.Module):
        def __init__(self, m):  # noqa: ANN001
            super().__init__()
            self.model = m

        @tf.function(input_signature=spec)
        def serve(self, x):  # noqa: ANN001, ANN202
            return {"probabilities": self.model(x, training=False)}

    module = Serving(model)
    # The fingerprint file carries a random uuid on some TF versions; options keep it out of the
    # graph itself. See _normalize_saved_model for what is rewritten after the save.
    tf.saved_model.save(module, str(out_dir), signatures={"serving_default": module.serve})


def make_efficientnetv2(out_dir: Path) -> None:
    export_keras_saved_model(_efficientnetv2_model(), out_dir)


# ---------------------------------------------------------------------------------------------
# distilbert-qa (transformers)
# ---------------------------------------------------------------------------------------------
_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_WORDS = """
the of and to in is was for on that with as by at from his her it an are were be this which or had
not but have he she they their one all been who has its more also after first new two would other
what when there can where how many time year people city world model server endpoint serve request
answer question context deep learning network image text token batch latency throughput instance
cloud amazon sagemaker tensor flow torch triton python paris france london england berlin germany
rome italy madrid spain capital river mountain sea ocean north south east west large small big old
young king queen war peace book music film game team player school university science history art
water fire earth air light dark day night week month red green blue black white house car road
train ship plane bird fish dog cat horse tree flower food bread milk coffee tea wine born died lived
works made found called known named built wrote played won lost began ended located population
million thousand hundred percent number name part place state country government company family
""".split()


def make_vocab() -> list[str]:
    """A WordPiece vocabulary: specials, characters, ##characters, digits, punctuation and common words."""
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    digits = [str(d) for d in range(10)]
    punct = list(".,;:!?'\"()-[]{}/&%$#@*+=<>")
    pieces = letters + digits + punct
    vocab = _SPECIAL + pieces + [f"##{p}" for p in letters + digits]
    seen = set(vocab)
    for w in _WORDS:
        if w not in seen:
            vocab.append(w)
            seen.add(w)
    for w in _WORDS:  # some suffix pieces, as a real WordPiece vocabulary has
        for suffix in (w[-3:], w[-2:]):
            piece = f"##{suffix}"
            if len(w) > 3 and piece not in seen:
                vocab.append(piece)
                seen.add(piece)
    return vocab


def make_distilbert_qa(out_dir: Path) -> None:
    import torch
    from transformers import DistilBertConfig, DistilBertForQuestionAnswering, DistilBertTokenizerFast

    torch.manual_seed(SEED)
    out_dir.mkdir(parents=True, exist_ok=True)
    vocab = make_vocab()
    vocab_file = out_dir / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n")
    tokenizer = DistilBertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True, model_max_length=512)
    config = DistilBertConfig(
        vocab_size=len(vocab), dim=32, hidden_dim=64, n_layers=2, n_heads=2, max_position_embeddings=512,
        pad_token_id=0,
    )
    model = DistilBertForQuestionAnswering(config).eval()
    model.save_pretrained(str(out_dir), safe_serialization=True)
    tokenizer.save_pretrained(str(out_dir))


# ---------------------------------------------------------------------------------------------
# resnet (torch, no torchvision)
# ---------------------------------------------------------------------------------------------
def _resnet_module():  # noqa: ANN202 - torch is imported lazily
    import torch
    from torch import nn

    class BasicBlock(nn.Module):
        def __init__(self, c_in: int, c_out: int, stride: int):
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c_out)
            self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(c_out)
            self.down = None
            if stride != 1 or c_in != c_out:
                self.down = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            identity = x if self.down is None else self.down(x)
            out = torch.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return torch.relu(out + identity)

    class TinyResNet(nn.Module):
        def __init__(self, num_classes: int = NUM_CLASSES, widths: tuple[int, ...] = (16, 32, 64)):
            super().__init__()
            self.stem = nn.Sequential(
                nn.Conv2d(3, widths[0], 7, 2, 3, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(),
                nn.MaxPool2d(3, 2, 1),
            )
            blocks = []
            c_in = widths[0]
            for i, w in enumerate(widths):
                blocks.append(BasicBlock(c_in, w, 1 if i == 0 else 2))
                c_in = w
            self.layers = nn.Sequential(*blocks)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(c_in, num_classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.pool(self.layers(self.stem(x)))
            return self.fc(torch.flatten(x, 1))

    torch.manual_seed(SEED)
    return TinyResNet().eval()


def make_resnet(out_dir: Path) -> None:
    from servekit.model_build import torch_io

    out_dir.mkdir(parents=True, exist_ok=True)
    torch_io.trace_and_save(_resnet_module(), [1, 3, IMAGE_SIZE, IMAGE_SIZE], out_dir / "model.pt")


MAKERS = {
    "efficientnetv2": make_efficientnetv2,
    "distilbert-qa": make_distilbert_qa,
    "resnet": make_resnet,
}
