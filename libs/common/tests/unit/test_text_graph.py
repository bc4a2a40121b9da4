"""The tokenization nodes and the test news model run under onnxruntime."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from mlops_common.testing.news import CLASSES, write_news_model
from mlops_common.text_graph import OOV_ID, PAD_ID, tokenizer_model


def _run(model: bytes, texts: list[str]) -> list[np.ndarray]:
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    return session.run(None, {"text": np.array(texts, dtype=object)})  # type: ignore[no-any-return]


def test_tokens_are_lowercase_runs_of_letters_and_digits_of_any_script() -> None:
    (tokens,) = _run(tokenizer_model(None).SerializeToString(), ["Café's £15.8m ÉCOLE, naïve!"])
    assert tokens.tolist() == [["café", "s", "15", "8m", "école", "naïve"]]


def test_ids_pad_short_rows_and_mark_unknown_words() -> None:
    model = tokenizer_model(["the", "cat"]).SerializeToString()
    (ids,) = _run(model, ["The CAT, the dog", ""])
    assert ids.tolist() == [[2, 3, 2, OOV_ID], [PAD_ID] * 4]


def test_the_test_news_model_reads_class_words(tmp_path: Path) -> None:
    path = write_news_model(tmp_path / "news.onnx")
    probabilities, embedding, n_tokens, oov_share = _run(
        path.read_bytes(), ["The football MATCH", "zzz qqq shares", ""]
    )
    assert [CLASSES[i] for i in probabilities.argmax(1)[:2]] == ["sports", "business"]
    assert probabilities[2] == pytest.approx([0.2] * 5)
    assert n_tokens.tolist() == [3, 3, 0]
    assert oov_share == pytest.approx([1 / 3, 2 / 3, 0])
    assert embedding.shape == (3, 5)
