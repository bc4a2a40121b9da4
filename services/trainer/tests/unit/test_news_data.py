"""The news data: the BBC articles by path, a user's CSV, and clear errors for bad data."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from mlops_common.news_spec import BBC_CLASSES
from mlops_trainer.data import DatasetError
from mlops_trainer.news_data import article_key, load_bbc, load_news_csv, load_text_split

pytestmark = pytest.mark.unit


def write_csv(path: Path, rows: list[dict[str, str]], fields: list[str] | None = None) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields or ["title", "text", "class"])
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_the_bbc_articles_are_read_deduplicated_and_decoded() -> None:
    texts = load_bbc()
    assert texts.classes == list(BBC_CLASSES)
    assert len(texts.texts) + texts.duplicates == 2225
    assert texts.duplicates > 90
    assert len({article_key(t) for t in texts.texts}) == len(texts.texts)
    # sports/199.txt is cp1252: its pound sign survives.
    (mutu,) = [t for t in texts.texts if t.startswith("Chelsea sack Mutu")]
    assert "a \u00a315.8m signing" in mutu
    assert np.bincount(texts.labels).min() > 300


def test_a_split_keeps_no_article_in_two_parts() -> None:
    split, manifest = load_text_split("bbc", seed=42, val_fraction=0.1, test_fraction=0.2)
    parts = [{article_key(t) for t in x.tolist()} for x, _ in split.parts().values()]
    train, val, test = parts
    assert not train & test
    assert not val & test
    assert not train & val
    assert manifest.classes == list(BBC_CLASSES)
    assert manifest.extra["duplicates_dropped"] > 90
    again, _ = load_text_split("bbc", seed=42, val_fraction=0.1, test_fraction=0.2)
    assert again.x_test.tolist() == split.x_test.tolist()


def test_a_csv_with_other_column_names_and_any_labels(tmp_path: Path) -> None:
    rows = [{"headline": f"h{i}", "body": f"story {i}", "label": "fake" if i % 2 else "real"}
            for i in range(6)]  # fmt: skip
    rows.append(dict(rows[0]))  # a duplicate
    path = write_csv(tmp_path / "n.csv", rows, ["headline", "body", "label"])
    texts = load_news_csv(path, title_column="headline", text_column="body", label_column="label")
    assert texts.classes == ["fake", "real"]
    assert texts.duplicates == 1
    assert texts.texts[0] == "h0\n\nstory 0"
    no_title = load_news_csv(path, title_column=None, text_column="body", label_column="label")
    assert no_title.texts[0] == "story 0"


@pytest.mark.parametrize(
    ("rows", "fields", "message"),
    [
        ([{"title": "a", "body": "b", "class": "x"}], ["title", "body", "class"],
         "missing column(s) 'text'"),
        ([{"title": "", "text": "  ", "class": "x"}, {"title": "t", "text": "u", "class": "y"}],
         None, "row 2: empty title and text"),
        ([{"title": "a", "text": "b", "class": "x"}, {"title": "c", "text": "d", "class": "x"}],
         None, "needs at least 2 classes, found 1"),
        ([{"title": "a", "text": "b", "class": "x"}, {"title": "c", "text": "d", "class": "NaN"}],
         None, "row 3: no label in column 'class'"),
        ([{"title": "a", "text": "b", "class": "x"}, {"title": "c", "text": "d", "class": ""}],
         None, "row 3: no label"),
        ([], None, "no articles"),
    ],
)  # fmt: skip
def test_bad_csvs_are_refused_with_the_reason(
    tmp_path: Path, rows: list[dict[str, str]], fields: list[str] | None, message: str
) -> None:
    path = write_csv(tmp_path / "bad.csv", rows, fields)
    with pytest.raises(DatasetError) as caught:
        load_news_csv(path)
    assert message in str(caught.value), str(caught.value)


def test_a_csv_that_is_not_utf8_or_missing_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("title,text,class\ncaf\u00e9,b,x\n".encode("latin-1"))
    with pytest.raises(DatasetError, match=r"is not UTF-8 .*save it as UTF-8"):
        load_news_csv(path)
    with pytest.raises(DatasetError, match="does not exist"):
        load_news_csv(tmp_path / "none.csv")


def test_a_class_too_small_to_split_is_named(tmp_path: Path) -> None:
    rows = [{"title": f"t{i}", "text": "x", "class": "big"} for i in range(40)]
    rows += [{"title": "lonely", "text": "x", "class": "rare"}]
    path = write_csv(tmp_path / "n.csv", rows)
    with pytest.raises(DatasetError, match="class 'rare' has 1 article"):
        load_text_split("csv", seed=0, val_fraction=0.1, test_fraction=0.2, path=path)
