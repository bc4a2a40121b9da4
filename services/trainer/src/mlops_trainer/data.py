"""Datasets as arrays: the bundled digits, a user's image folder, a prepared file; split + manifest.

Every source yields float32 features ``[N, 64]`` on the 0..16 scale (the serving contract) and
int64 labels. Image folders go through :func:`mlops_common.features.image_to_features`, the one
preprocessing shared with the gateway, so training and serving never disagree.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from mlops_common.errors import InputError
from mlops_common.features import N_FEATURES, image_to_features, validate_features
from mlops_common.registry import N_CLASSES

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"})

#: float32 ``[N, width]``, or for a text task an object array of ``str`` ``[N]``.
Features = NDArray[Any]
Labels = NDArray[np.int64]


class DatasetError(ValueError):
    """A dataset that cannot be used: missing folder, bad file, wrong labels."""


@dataclass(frozen=True)
class Split:
    """A deterministic, stratified train/val/test split of one dataset."""

    x_train: Features
    y_train: Labels
    x_val: Features
    y_val: Labels
    x_test: Features
    y_test: Labels

    def parts(self) -> dict[str, tuple[Features, Labels]]:
        """The three parts by name."""
        return {
            "train": (self.x_train, self.y_train),
            "val": (self.x_val, self.y_val),
            "test": (self.x_test, self.y_test),
        }


@dataclass(frozen=True)
class Manifest:
    """What a split holds: sizes, class counts per part, and a content hash of the arrays."""

    source: str
    seed: int
    sizes: dict[str, int]
    class_counts: dict[str, list[int]]
    content_hash: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        """The class names, in label order (the digits ``0``..``9`` unless the data named them)."""
        named = self.extra.get("classes")
        return list(named) if named else [str(c) for c in range(N_CLASSES)]

    def to_json(self) -> str:
        """The manifest as indented JSON."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def load_sklearn_digits() -> tuple[Features, Labels]:
    """scikit-learn's bundled digits (1,797 samples, shipped with the library, offline)."""
    bunch = load_digits()
    return bunch.data.astype(np.float32), bunch.target.astype(np.int64)


def load_image_folder(root: Path) -> tuple[Features, Labels]:
    """Load an image folder with one sub-folder per class named ``0``..``9``.

    Raises:
        DatasetError: the folder is missing or empty, a class folder is not a digit, or a file
            cannot be decoded (the message names the file and the reason).
    """
    if not root.is_dir():
        raise DatasetError(f"image folder {root} does not exist")
    features: list[Features] = []
    labels: list[int] = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        if not class_dir.name.isdigit() or not 0 <= int(class_dir.name) < N_CLASSES:
            raise DatasetError(
                f"class folder {class_dir.name!r} in {root}: name class folders 0..{N_CLASSES - 1}"
            )
        for path in sorted(class_dir.iterdir()):
            if path.name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                features.append(image_to_features(path.read_bytes()))
            except InputError as exc:
                raise DatasetError(f"{path}: {exc}") from exc
            labels.append(int(class_dir.name))
    if not labels:
        raise DatasetError(f"no images found under {root} (expected <class>/<image> files)")
    return np.stack(features).astype(np.float32), np.asarray(labels, dtype=np.int64)


def save_prepared(path: Path, split: Split, manifest: Manifest) -> None:
    """Write a split as one ``.npz`` and its manifest as ``manifest.json`` beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        f"{kind}_{name}": a
        for name, (x, y) in split.parts().items()
        for kind, a in (("x", x), ("y", y))
    }
    np.savez_compressed(path, **arrays)  # type: ignore[arg-type]
    (path.parent / "manifest.json").write_text(manifest.to_json() + "\n")


def load_prepared(path: Path) -> Split:
    """Read a split written by :func:`save_prepared`."""
    if not path.is_file():
        raise DatasetError(f"prepared data {path} does not exist: run `dvc repro prepare`")
    with np.load(path) as npz:
        return Split(**{key: npz[key] for key in npz.files})


def content_hash(*arrays: NDArray[Any]) -> str:
    """SHA-256 over the arrays' bytes, dtypes and shapes (the data version of a run); an array
    of texts hashes their UTF-8 bytes, each with its length."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(str((array.dtype.str, array.shape)).encode())
        if array.dtype == np.object_:
            for text in array.tolist():
                data = str(text).encode()
                digest.update(len(data).to_bytes(8, "little") + data)
        else:
            digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def split_dataset(
    x: Features, y: Labels, *, seed: int, val_fraction: float, test_fraction: float
) -> Split:
    """Split stratified by class, the same way every time for the same seed."""
    if not 0 < val_fraction < 1 or not 0 < test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise DatasetError(
            f"val_fraction={val_fraction} and test_fraction={test_fraction} must be in (0, 1) "
            "and sum to less than 1"
        )
    if x.dtype != np.object_:  # texts are checked by their loader
        x = validate_features(x)
    x_rest, x_test, y_rest, y_test = train_test_split(
        x, y, test_size=test_fraction, stratify=y, random_state=seed
    )
    val_share = val_fraction / (1 - test_fraction)
    x_train, x_val, y_train, y_val = train_test_split(
        x_rest, y_rest, test_size=val_share, stratify=y_rest, random_state=seed
    )
    return Split(x_train, y_train, x_val, y_val, x_test, y_test)


def make_manifest(
    split: Split, *, source: str, seed: int, classes: list[str] | None = None
) -> Manifest:
    """Describe ``split`` (sizes, class counts, content hash); ``classes``: the class names
    (default: the digits ``0``..``9``)."""
    parts = split.parts()
    n_classes = N_CLASSES if classes is None else len(classes)
    texts = split.x_train.dtype == np.object_
    return Manifest(
        source=source,
        seed=seed,
        sizes={name: len(y) for name, (_, y) in parts.items()},
        class_counts={
            name: np.bincount(y, minlength=n_classes).tolist() for name, (_, y) in parts.items()
        },
        content_hash=content_hash(*(a for pair in parts.values() for a in pair)),
        extra={"classes": classes} if texts else {"n_features": N_FEATURES},
    )


def load_split(
    source: str,
    *,
    seed: int,
    val_fraction: float,
    test_fraction: float,
    path: str | Path | None = None,
) -> tuple[Split, Manifest]:
    """Load the configured source (``digits``, ``folder`` or ``prepared``) and split it."""
    if source == "prepared":
        if path is None:
            raise DatasetError("data.source=prepared needs data.path (a .npz file)")
        split = load_prepared(Path(path))
        return split, make_manifest(split, source=f"prepared:{path}", seed=seed)
    if source == "digits":
        x, y = load_sklearn_digits()
    elif source == "folder":
        if path is None:
            raise DatasetError("data.source=folder needs data.path (an image folder)")
        x, y = load_image_folder(Path(path))
    else:
        raise DatasetError(f"unknown data.source {source!r}: use digits, folder or prepared")
    split = split_dataset(x, y, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)
    return split, make_manifest(
        split, source=source if path is None else f"{source}:{path}", seed=seed
    )


@dataclass(frozen=True)
class ExtraRows:
    """Labelled rows from outside the dataset (feedback on live traffic), by split part."""

    train: tuple[Features, Labels]
    val: tuple[Features, Labels]
    test: tuple[Features, Labels]
    source: str = "feedback"

    @property
    def sizes(self) -> dict[str, int]:
        """Rows per part."""
        return {"train": len(self.train[1]), "val": len(self.val[1]), "test": len(self.test[1])}

    def __len__(self) -> int:
        return sum(self.sizes.values())


def add_rows(split: Split, manifest: Manifest, extra: ExtraRows) -> tuple[Split, Manifest]:
    """Append ``extra``'s parts to the split's; the manifest counts them and hashes the result."""

    def join(part: tuple[Features, Labels], more: tuple[Features, Labels]) -> tuple[Any, Any]:
        if part[0].dtype == np.object_:
            rows: NDArray[Any] = np.asarray(list(more[0]), dtype=object).reshape(-1)
        else:
            rows = np.asarray(more[0], np.float32).reshape(-1, part[0].shape[1])
        x = np.concatenate([part[0], rows])
        return x, np.concatenate([part[1], np.asarray(more[1], np.int64)])

    x_train, y_train = join((split.x_train, split.y_train), extra.train)
    x_val, y_val = join((split.x_val, split.y_val), extra.val)
    x_test, y_test = join((split.x_test, split.y_test), extra.test)
    merged = Split(x_train, y_train, x_val, y_val, x_test, y_test)
    classes = manifest.extra.get("classes")
    described = make_manifest(
        merged, source=f"{manifest.source}+{extra.source}", seed=manifest.seed, classes=classes
    )
    described.extra.update({**manifest.extra, extra.source: extra.sizes})
    return merged, described
