"""Shared fixtures of the drift tests: a digits model, its reference, a held-out pool, traffic;
a second, 4-feature 3-class model (``flowers``) with its own; the specs of both; a text model
(``news``: :mod:`mlops_common.testing.news` under onnxruntime) with texts built from its words.

The synthetic shifts live with the benchmarks (``benchmarks/_drift_simulation.py``), outside the
service's package; the tests import them as ``_drift_simulation`` through the path added here.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))

from _drift_simulation import frame
from news_drift_detection import NewsScorer

from mlops_common.features import FEATURE_NAMES, N_FEATURES
from mlops_common.redis_keys import TrafficEntry
from mlops_common.registry import MODEL_NAME, N_CLASSES
from mlops_common.testing import iris
from mlops_common.testing.news import CLASSES, WORDS, news_test_spec, write_news_model

Predict = Callable[[NDArray[np.float64]], NDArray[np.float64]]

FLOWERS = "flowers-classifier"
FLOWER_COLUMNS = ("sepal_length", "sepal_width", "petal_length", "petal_width")
FLOWER_CLASSES = ("setosa", "versicolor", "virginica")


def features_spec(
    name: str,
    columns: tuple[str, ...],
    classes: tuple[str, ...],
    *,
    trainable: bool,
    tensor: str = "features",
    output: str = "probabilities",
    task: str | None = None,
) -> dict[str, Any]:
    """A ``features`` model's spec (JSON-ready) monitoring ``columns``, prediction, confidence."""
    monitored = [{"name": c, "source": f"input:{i}"} for i, c in enumerate(columns)]
    monitored += [
        {"name": "prediction", "source": "output:label"},
        {"name": "confidence", "source": "output:confidence"},
    ]
    return {
        "name": name,
        "task": task or name,
        "input": {"kind": "features", "tensor": tensor, "datatype": "FP32",
                  "shape": [-1, len(columns)]},
        "output": {"tensor": output, "classes": list(classes)},
        "monitored": monitored,
        "preprocessing": "identity@1",
        "trainable": trainable,
    }  # fmt: skip


def digits_spec() -> dict[str, Any]:
    """The digits spec as the trainer registers it (64 pixels, 10 classes, trainable)."""
    spec = features_spec(
        MODEL_NAME,
        tuple(FEATURE_NAMES),
        tuple(str(c) for c in range(N_CLASSES)),
        trainable=True,
        task="digits",
    )
    spec["input"]["range"] = [0.0, 16.0]
    spec["preprocessing"] = "digits-8x8@1"
    assert len(spec["monitored"]) == N_FEATURES + 2
    return spec


def traffic_entries(
    predict: Predict,
    x: NDArray[np.float64],
    model_version: str = "1",
    timestamp: float | None = None,
) -> list[TrafficEntry]:
    """Traffic entries as the gateway logs them for rows ``x`` answered by ``predict``."""
    probabilities = predict(x)
    entries = []
    for features, probs in zip(x, probabilities, strict=True):
        kwargs = {} if timestamp is None else {"timestamp": timestamp}
        entries.append(
            TrafficEntry(
                id=uuid.uuid4().hex,
                request_id=uuid.uuid4().hex,
                model_version=model_version,
                features=features.astype(np.float32),
                label=int(probs.argmax()),
                confidence=float(probs.max()),
                latency_ms=1.0,
                **kwargs,
            )
        )
    return entries


@dataclass(frozen=True)
class Digits:
    """A logistic-regression model, its reference frame and a held-out pool (no overlap)."""

    reference: pd.DataFrame
    pool_x: NDArray[np.float64]
    pool_y: NDArray[np.int64]
    predict: Callable[[NDArray[np.float64]], NDArray[np.float64]]

    def window(self, x: NDArray[np.float64], y: NDArray[np.int64]) -> pd.DataFrame:
        """Rows ``x`` with the model's predictions, in the reference layout."""
        return frame(x, y, self.predict(x))

    def entries(
        self, x: NDArray[np.float64], model_version: str = "1", timestamp: float | None = None
    ) -> list[TrafficEntry]:
        """Traffic entries as the gateway logs them for rows ``x``."""
        return traffic_entries(self.predict, x, model_version, timestamp)


@pytest.fixture(scope="session")
def digits() -> Digits:
    """Digits split 40% model / 25% reference / 35% pool, as the benchmark splits them."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    features, labels = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(features))
    features, labels = features[order].astype(np.float64), labels[order].astype(np.int64)
    n_train, n_ref = int(0.40 * len(features)), int(0.25 * len(features))
    model = LogisticRegression(max_iter=3000).fit(features[:n_train] / 16.0, labels[:n_train])

    def predict(x: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.asarray(model.predict_proba(np.asarray(x) / 16.0), dtype=np.float64)

    ref_x, ref_y = features[n_train : n_train + n_ref], labels[n_train : n_train + n_ref]
    return Digits(
        reference=frame(ref_x, ref_y, predict(ref_x)),
        pool_x=features[n_train + n_ref :],
        pool_y=labels[n_train + n_ref :],
        predict=predict,
    )


@pytest.fixture
def reference_csv(tmp_path: Path, digits: Digits) -> Path:
    """The digits reference written as the trainer registers it."""
    path = tmp_path / "reference" / "features.csv"
    path.parent.mkdir(parents=True)
    digits.reference.to_csv(path, index=False)
    return path


@dataclass(frozen=True)
class Flowers:
    """The 4-feature, 3-class outside classifier of :mod:`mlops_common.testing.iris` on
    Gaussian features, its reference and a pool."""

    reference: pd.DataFrame
    pool: NDArray[np.float64]

    @staticmethod
    def predict(x: NDArray[np.float64]) -> NDArray[np.float64]:
        """What the registered ONNX model answers: softmax(x @ W + b)."""
        return np.asarray(iris.expected(np.asarray(x)), dtype=np.float64)

    def frame(self, x: NDArray[np.float64]) -> pd.DataFrame:
        """Rows ``x`` with the model's answers, in the reference layout (no true label)."""
        probabilities = self.predict(x)
        table = pd.DataFrame(x, columns=list(FLOWER_COLUMNS))
        table["prediction"] = probabilities.argmax(axis=1)
        table["confidence"] = probabilities.max(axis=1)
        return table

    def entries(self, x: NDArray[np.float64], model_version: str = "1") -> list[TrafficEntry]:
        """Traffic entries as the gateway logs them for rows ``x``."""
        return traffic_entries(self.predict, x, model_version)

    def shifted(self, size: int, seed: int = 0) -> NDArray[np.float64]:
        """Rows whose petals grew: ``petal_length`` and ``petal_width`` moved by +2 σ."""
        x = np.random.default_rng(seed).normal(size=(size, 4))
        x[:, 2:] += 2.0
        return x


@pytest.fixture(scope="session")
def flowers() -> Flowers:
    """The flowers model with a 300-row reference and a 500-row pool from the same law."""
    rng = np.random.default_rng(11)
    model = Flowers(pd.DataFrame(), rng.normal(size=(500, 4)))
    return Flowers(model.frame(rng.normal(size=(300, 4))), model.pool)


#: Words outside the news test model's vocabulary that clean texts mix in.
NEWS_FILLER = ("the", "a", "new", "of", "and", "in", "report", "today", "says", "after")


def news_texts(
    size: int, seed: int, classes: tuple[str, ...] = tuple(CLASSES)
) -> tuple[list[str], NDArray[np.int64]]:
    """``size`` texts of the news test model's world: each of one of ``classes``, 3-10 words,
    about 70% of them that class's :data:`WORDS`, the rest filler; and their class indices."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(size):
        klass = str(rng.choice(classes))
        words = [
            str(rng.choice(WORDS[klass])) if rng.random() < 0.7 else str(rng.choice(NEWS_FILLER))
            for _ in range(int(rng.integers(3, 11)))
        ]
        texts.append(" ".join(words).capitalize())
        labels.append(CLASSES.index(klass))
    return texts, np.asarray(labels, dtype=np.int64)


def unknown_texts(size: int, seed: int) -> list[str]:
    """``size`` texts of made-up words, none of them in the news test model's vocabulary."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("bcdfghjklmnpqrstvwxz"))
    return [
        " ".join("".join(rng.choice(letters, int(rng.integers(4, 9)))) + "o" for _ in range(n))
        for n in rng.integers(3, 11, size)
    ]


@dataclass(frozen=True)
class News:
    """The news test model (its ONNX file and scorer), a reference of 400 clean texts, and the
    text generators."""

    model: Path
    scorer: NewsScorer
    reference: pd.DataFrame

    texts = staticmethod(news_texts)
    unknown = staticmethod(unknown_texts)

    def entries(self, texts: list[str], model_version: str = "1") -> list[TrafficEntry]:
        """Traffic entries as the gateway logs them for ``texts``: the logged output values
        (``spec.output_values``) as features, and the text."""
        logged, probabilities = self.scorer.run(texts)
        return [
            TrafficEntry(
                id=uuid.uuid4().hex,
                request_id=uuid.uuid4().hex,
                model_version=model_version,
                features=values.astype(np.float32),
                label=int(probs.argmax()),
                confidence=float(probs.max()),
                latency_ms=1.0,
                text=text,
            )
            for text, values, probs in zip(texts, logged, probabilities, strict=True)
        ]


@pytest.fixture(scope="session")
def news(tmp_path_factory: pytest.TempPathFactory) -> News:
    """The news test model with the reference the trainer would log: 400 clean texts."""
    model = write_news_model(tmp_path_factory.mktemp("news") / "news.onnx")
    scorer = NewsScorer(model, news_test_spec())
    texts, labels = news_texts(400, seed=0)
    return News(model, scorer, scorer.frame(texts, labels))


@pytest.fixture
def specs() -> Any:
    """The spec builders, for tests (importlib mode cannot import conftest by name)."""

    class Specs:
        digits = staticmethod(digits_spec)
        features = staticmethod(features_spec)
        flowers_name = FLOWERS
        flower_columns = FLOWER_COLUMNS
        flower_classes = FLOWER_CLASSES

        @staticmethod
        def flowers(trainable: bool = False) -> dict[str, Any]:
            return features_spec(
                FLOWERS,
                FLOWER_COLUMNS,
                FLOWER_CLASSES,
                trainable=trainable,
                tensor=iris.INPUT,
                output=iris.OUTPUT,
            )

    return Specs
