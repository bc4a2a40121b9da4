"""A text model is monitored on what its graph answers: the logged output columns of its spec."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_common.model_spec import parse_spec
from mlops_common.testing.news import EMBEDDING_DIM, news_test_spec
from mlops_drift.columns import MonitoredColumns
from mlops_drift.detector import check_drift
from mlops_drift.reference import read_reference_csv
from mlops_drift.window import SlidingWindow

EMBEDDING = tuple(f"embedding_{i}" for i in range(EMBEDDING_DIM))


def test_the_features_of_a_text_spec_are_its_logged_outputs() -> None:
    columns = MonitoredColumns.from_spec(news_test_spec())
    assert columns.features == (*EMBEDDING, "n_tokens", "oov_share")
    assert columns.positions == tuple(range(EMBEDDING_DIM + 2))
    assert (columns.prediction, columns.confidence) == ("prediction", "confidence")
    assert columns.min_width == news_test_spec().logged_width


def test_positions_follow_the_monitored_order_of_output_columns() -> None:
    """Label and confidence columns between them take no logged position."""
    spec = news_test_spec().model_dump()
    spec["monitored"] = [
        {"name": "oov", "source": "output:oov_share:0"},
        {"name": "prediction", "source": "output:label"},
        {"name": "e3", "source": "output:embedding:3"},
    ]
    columns = MonitoredColumns.from_spec(parse_spec(spec))
    assert columns.features == ("oov", "e3")
    assert columns.positions == (0, 1)
    assert columns.confidence is None


def test_a_window_of_text_traffic_is_a_frame_of_its_logged_values(news) -> None:  # type: ignore[no-untyped-def]
    texts, _ = news.texts(30, seed=5)
    window = SlidingWindow(100, 3600)
    window.add(news.entries(texts))
    columns = MonitoredColumns.from_spec(news.scorer.spec)
    table = window.snapshot(columns)
    expected = news.scorer.frame(texts)
    assert list(table.columns) == list(expected.columns)
    pd.testing.assert_frame_equal(table, expected, check_dtype=False, rtol=1e-6)
    assert table["oov_share"].between(0, 1).all()
    assert (table["n_tokens"] >= 3).all()


def test_a_text_reference_csv_reads_with_the_spec_columns(tmp_path: Path, news) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "features.csv"
    news.reference.to_csv(path, index=False)
    columns = MonitoredColumns.from_spec(news.scorer.spec)
    table = read_reference_csv(path, columns)
    assert list(table.columns) == [*columns.names, "label"]
    assert MonitoredColumns.infer(table) == columns


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_clean_texts_do_not_drift(news, seed: int) -> None:  # type: ignore[no-untyped-def]
    texts, _ = news.texts(200, seed=100 + seed)
    columns = MonitoredColumns.from_spec(news.scorer.spec)
    verdict = check_drift(news.reference, news.scorer.frame(texts), columns=columns)
    assert verdict.drift_detected is False, verdict.reasons
    assert list(verdict.features.scores) == list(columns.features)


def test_unknown_words_drift_on_the_out_of_vocabulary_share(news) -> None:  # type: ignore[no-untyped-def]
    columns = MonitoredColumns.from_spec(news.scorer.spec)
    window = news.scorer.frame(news.unknown(200, seed=7))
    verdict = check_drift(news.reference, window, columns=columns)
    assert verdict.drift_detected is True
    assert "oov_share" in verdict.features.drifted
    assert window["oov_share"].eq(1.0).all()


def test_one_class_only_drifts_on_the_predicted_labels(news) -> None:  # type: ignore[no-untyped-def]
    texts, _ = news.texts(200, seed=8, classes=("sports",))
    columns = MonitoredColumns.from_spec(news.scorer.spec)
    verdict = check_drift(news.reference, news.scorer.frame(texts), columns=columns)
    assert verdict.label_drift is True
    assert verdict.drift_detected is True


def test_a_text_entry_too_short_for_the_spec_is_left_out(news) -> None:  # type: ignore[no-untyped-def]
    texts, _ = news.texts(3, seed=9)
    entries = news.entries(texts)
    short = dataclasses.replace(entries[0], features=entries[0].features[:2])
    window = SlidingWindow(10, 3600)
    window.add([short, *entries[1:]])
    table = window.snapshot(MonitoredColumns.from_spec(news.scorer.spec))
    assert len(table) == 2
    np.testing.assert_allclose(table["oov_share"], news.scorer.frame(texts[1:])["oov_share"])
