"""Synthetic shifts of text windows, for the text drift suite (and tests of drift on text models).

Test and benchmark code, kept out of the services: a *shift* takes clean labelled articles (a pool
of texts and their class indices) and returns the window of ``size`` texts traffic would bring
after the world changed, with the labels the texts still have (``-1``: a text of no known class).
Every shift draws from the ``rng`` it is given and from nothing else, so a seeded generator gives
the same window every time.

- :func:`clean`: texts drawn as they are (no shift; the false-alarm windows);
- :func:`headline_only`: only each article's first line (its title), as a feed of headlines sends;
- :func:`typos`: character noise: each letter is, with probability ``rate``, replaced, dropped,
  doubled or swapped with the next character (OCR, fat fingers, a broken encoder);
- :func:`class_prior`: the window holds one or two classes only (a news desk's topic of the day);
- :func:`out_of_domain`: articles from other outlets and years (labels ``-1``), drawn from a pool
  the caller gives (:func:`news_data.read_outside_news`).

:func:`text_shifts` names the suite's shifts.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Final

import numpy as np
from numpy.typing import NDArray

Labels = NDArray[np.int64]
#: (texts, labels, window size, rng) → shifted (texts, labels) of that size
TextShift = Callable[[Sequence[str], Labels, int, np.random.Generator], tuple[list[str], Labels]]

#: Probability that a letter is garbled by :func:`typos` in the suite.
TYPO_RATE: Final = 0.1
#: Label of a text that belongs to no known class (out-of-domain news).
NO_CLASS: Final = -1
_LETTERS: Final = string.ascii_lowercase


def _sample(
    texts: Sequence[str], labels: Labels, size: int, rng: np.random.Generator
) -> tuple[list[str], Labels]:
    if len(texts) != len(labels):
        raise ValueError(f"{len(texts)} texts but {len(labels)} labels")
    if not len(texts):
        raise ValueError("cannot draw a window from an empty pool")
    index = rng.choice(len(texts), size=size, replace=len(texts) < size)
    return [texts[i] for i in index], np.asarray(labels, dtype=np.int64)[index]


def clean(
    texts: Sequence[str], labels: Labels, size: int, rng: np.random.Generator
) -> tuple[list[str], Labels]:
    """Texts drawn as they are (no shift)."""
    return _sample(texts, labels, size, rng)


def headline(text: str) -> str:
    """The first non-blank line of ``text`` (an article's title)."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def headline_only(
    texts: Sequence[str], labels: Labels, size: int, rng: np.random.Generator
) -> tuple[list[str], Labels]:
    """Only each article's title (its first line): far fewer tokens, the same classes."""
    drawn, y = _sample(texts, labels, size, rng)
    return [headline(text) for text in drawn], y


def garble(text: str, rate: float, rng: np.random.Generator) -> str:
    """``text`` with each ASCII letter, with probability ``rate``, replaced by a random letter,
    dropped, doubled or swapped with the character after it (one of the four, evenly)."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must be in [0, 1], got {rate}")
    chars = list(text)
    hits = rng.random(len(chars)) < rate
    kinds = rng.integers(0, 4, len(chars))
    letters = rng.integers(0, len(_LETTERS), len(chars))
    out: list[str] = []
    i = 0
    while i < len(chars):
        char = chars[i]
        if not (hits[i] and char.isascii() and char.isalpha()):
            out.append(char)
        elif kinds[i] == 0:
            new = _LETTERS[letters[i]]
            out.append(new.upper() if char.isupper() else new)
        elif kinds[i] == 2:
            out.append(char + char)
        elif kinds[i] == 3 and i + 1 < len(chars):
            out.append(chars[i + 1] + char)
            i += 1
        # kinds 1 (and a swap at the end): the letter is dropped
        i += 1
    return "".join(out)


def typos(
    texts: Sequence[str],
    labels: Labels,
    size: int,
    rng: np.random.Generator,
    *,
    rate: float = TYPO_RATE,
) -> tuple[list[str], Labels]:
    """Character noise: every letter garbled with probability ``rate`` (:func:`garble`)."""
    drawn, y = _sample(texts, labels, size, rng)
    return [garble(text, rate, rng) for text in drawn], y


def class_prior(
    texts: Sequence[str],
    labels: Labels,
    size: int,
    rng: np.random.Generator,
    *,
    n_classes: int = 2,
) -> tuple[list[str], Labels]:
    """A class-prior change: the window holds ``n_classes`` random classes of the pool only,
    each as often as in the pool relative to the other."""
    y_all = np.asarray(labels, dtype=np.int64)
    present = np.unique(y_all)
    if not 1 <= n_classes < len(present):
        raise ValueError(f"n_classes must be in 1..{len(present) - 1}, got {n_classes}")
    kept = rng.choice(present, size=n_classes, replace=False)
    index = np.flatnonzero(np.isin(y_all, kept))
    return _sample([texts[int(i)] for i in index], y_all[index], size, rng)


def out_of_domain(
    texts: Sequence[str],
    labels: Labels,
    size: int,
    rng: np.random.Generator,
    *,
    outside: Sequence[str],
) -> tuple[list[str], Labels]:
    """Articles of ``outside`` (other outlets, other years) instead of the pool's; their labels
    are :data:`NO_CLASS`. The pool is not drawn from."""
    drawn, _ = _sample(outside, np.zeros(len(outside), dtype=np.int64), size, rng)
    return drawn, np.full(size, NO_CLASS, dtype=np.int64)


def text_shifts(outside: Sequence[str] | None = None) -> Mapping[str, TextShift]:
    """The suite's shifts by name; ``out_of_domain`` only when an ``outside`` pool is given."""
    shifts: dict[str, TextShift] = {
        "headline_only": headline_only,
        "typos": typos,
        "class_prior_1": partial(class_prior, n_classes=1),
        "class_prior_2": partial(class_prior, n_classes=2),
    }
    if outside is not None:
        shifts["out_of_domain"] = partial(out_of_domain, outside=outside)
    return shifts
