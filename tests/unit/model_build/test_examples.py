"""The three example models work as their servers will use them (loaded from the built archives)."""

from __future__ import annotations

import subprocess
import sys

from servekit.model_build import examples


def test_resnet_example_takes_any_batch_and_returns_ten_logits(extracted):
    import torch

    module = torch.jit.load(str(extracted["triton"] / "resnet" / "1" / "model.pt"))
    with torch.no_grad():
        assert module(torch.zeros(1, 3, 224, 224)).shape == (1, 10)
        assert module(torch.rand(5, 3, 224, 224)).shape == (5, 10)


def test_distilbert_example_answers_with_the_question_answering_pipeline_offline(extracted):
    from transformers import pipeline

    qa = pipeline("question-answering", model=str(extracted["torchserve"]), tokenizer=str(extracted["torchserve"]),
                  model_kwargs={"local_files_only": True}, framework="pt")
    answer = qa(question="what is the capital of france ?", context="paris is the capital of france .")
    assert set(answer) == {"score", "start", "end", "answer"}
    assert answer["answer"] in "paris is the capital of france ."


def test_distilbert_example_tokenizer_uses_the_generated_vocabulary(extracted):
    vocab = (extracted["torchserve"] / "vocab.txt").read_text().split("\n")[:-1]
    assert vocab == examples.make_vocab()
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] and 300 <= len(vocab) <= 1000


def test_efficientnetv2_example_serves_probabilities_from_serving_default(extracted):
    # TensorFlow in its own process: this test process already holds torch.
    code = (
        "import numpy as np, tensorflow as tf, sys\n"
        "m = tf.saved_model.load(sys.argv[1])\n"
        "f = m.signatures['serving_default']\n"
        "out = f(input=tf.zeros([2, 224, 224, 3]))['probabilities'].numpy()\n"
        "print(out.shape, round(float(out.sum()), 3))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(extracted["tfs"] / "efficientnetv2" / "1")],
                         capture_output=True, text=True, check=True, env={"TF_CPP_MIN_LOG_LEVEL": "3",
                                                                          "CUDA_VISIBLE_DEVICES": ""})
    assert out.stdout.split("\n")[-2] == "(2, 10) 2.0"
