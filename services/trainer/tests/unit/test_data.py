"""Data: shapes, ranges, a disjoint stratified deterministic split, image folders, bad files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mlops_trainer.data import (
    DatasetError,
    Manifest,
    Split,
    load_image_folder,
    load_prepared,
    load_sklearn_digits,
    load_split,
    make_manifest,
    save_prepared,
    split_dataset,
)


def _png(grid: np.ndarray) -> bytes:
    """An 8×8 digit grid (0..16) as a 32×32 grey PNG, ink light on dark."""
    image = Image.fromarray((grid.reshape(8, 8) * 255 / 16).astype(np.uint8)).resize((32, 32))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def test_digits_have_the_serving_shape_and_scale() -> None:
    x, y = load_sklearn_digits()
    assert x.shape == (1797, 64)
    assert x.dtype == np.float32
    assert y.dtype == np.int64
    assert x.min() == 0.0
    assert x.max() == 16.0
    assert set(np.unique(y)) == set(range(10))


def test_split_is_disjoint_complete_and_stratified() -> None:
    n = 1000
    ids = np.arange(n)
    # Each row encodes its own id, so a row in two parts would show up as a shared id.
    x = np.zeros((n, 64), dtype=np.float32)
    x[:, 0], x[:, 1], x[:, 2] = ids % 16, (ids // 16) % 16, ids // 256
    y = (ids % 10).astype(np.int64)
    split = split_dataset(x, y, seed=0, val_fraction=0.1, test_fraction=0.2)
    keys = {
        name: set((xs[:, 0] + 16 * xs[:, 1] + 256 * xs[:, 2]).astype(int).tolist())
        for name, (xs, _) in split.parts().items()
    }
    assert keys["train"].isdisjoint(keys["val"])
    assert keys["train"].isdisjoint(keys["test"])
    assert keys["val"].isdisjoint(keys["test"])
    assert set().union(*keys.values()) == set(ids.tolist())
    assert len(split.y_test) == 200
    assert len(split.y_val) == 100
    for _, labels in split.parts().values():
        counts = np.bincount(labels, minlength=10)
        assert counts.max() - counts.min() <= 1, counts


def test_same_seed_same_split_other_seed_other_split(
    digits_split: tuple[Split, Manifest],
) -> None:
    _, manifest = digits_split
    _, again = load_split("digits", seed=42, val_fraction=0.1, test_fraction=0.2)
    _, other = load_split("digits", seed=7, val_fraction=0.1, test_fraction=0.2)
    assert again.content_hash == manifest.content_hash
    assert other.content_hash != manifest.content_hash
    assert manifest.sizes == {"train": 1257, "val": 180, "test": 360}
    assert sum(manifest.class_counts["test"]) == 360


@pytest.mark.parametrize(("val", "test"), [(0.0, 0.2), (0.5, 0.5), (0.1, 1.2)])
def test_bad_fractions_are_refused(val: float, test: float) -> None:
    x, y = load_sklearn_digits()
    with pytest.raises(DatasetError, match="fraction"):
        split_dataset(x, y, seed=0, val_fraction=val, test_fraction=test)


def test_image_folder_goes_through_the_shared_preprocessing(tmp_path: Path) -> None:
    x, y = load_sklearn_digits()
    for index in range(20):
        folder = tmp_path / str(y[index])
        folder.mkdir(exist_ok=True)
        (folder / f"{index}.png").write_bytes(_png(x[index]))
    (tmp_path / "0" / ".DS_Store").write_bytes(b"junk")  # hidden files are skipped
    features, labels = load_image_folder(tmp_path)
    assert features.shape == (20, 64)
    assert features.dtype == np.float32
    assert features.min() >= 0.0
    assert features.max() <= 16.0
    assert sorted(labels.tolist()) == sorted(y[:20].tolist())
    # Downscaled back to 8×8, each image stays close to its source grid.
    order = np.argsort(
        [int(p.stem) for d in sorted(tmp_path.iterdir()) for p in sorted(d.glob("*.png"))]
    )
    assert np.abs(features[order] - x[:20]).mean() < 1.0


def test_a_corrupt_image_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "3").mkdir()
    (tmp_path / "3" / "ok.png").write_bytes(_png(np.full(64, 8.0)))
    (tmp_path / "3" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DatasetError, match=r"broken\.png.*decode"):
        load_image_folder(tmp_path)


def test_bad_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(DatasetError, match="no images"):
        load_image_folder(tmp_path)
    (tmp_path / "cats").mkdir()
    with pytest.raises(DatasetError, match="class folder 'cats'"):
        load_image_folder(tmp_path)


def test_unknown_source_and_missing_path_are_refused() -> None:
    with pytest.raises(DatasetError, match=r"unknown data\.source"):
        load_split("parquet", seed=0, val_fraction=0.1, test_fraction=0.2)
    with pytest.raises(DatasetError, match=r"needs data\.path"):
        load_split("folder", seed=0, val_fraction=0.1, test_fraction=0.2)


def test_prepared_round_trip(tmp_path: Path, digits_split: tuple[Split, Manifest]) -> None:
    split, manifest = digits_split
    save_prepared(tmp_path / "digits.npz", split, manifest)
    loaded = load_prepared(tmp_path / "digits.npz")
    assert make_manifest(loaded, source="x", seed=42).content_hash == manifest.content_hash
    assert (tmp_path / "manifest.json").read_text().strip() == manifest.to_json()
    with pytest.raises(DatasetError, match="dvc repro"):
        load_prepared(tmp_path / "nope.npz")
