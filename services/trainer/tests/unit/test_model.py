"""Model: output shape, normalisation in the network, overfitting one batch, behavioural checks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from mlops_trainer.data import Manifest, Split
from mlops_trainer.models import DigitsCNN, ProbabilityModel, count_parameters
from mlops_trainer.module import random_shift
from mlops_trainer.train import predict_proba


@pytest.fixture(scope="module")
def trained(digits_split: tuple[Split, Manifest]) -> nn.Module:
    """A small CNN trained for a few epochs with a plain loop (seconds on a CPU)."""
    split, _ = digits_split
    torch.manual_seed(0)
    network = DigitsCNN(width=16, depth=2, hidden=64, dropout=0.0)
    network.set_normalisation(float(split.x_train.mean()), float(split.x_train.std()))
    optimizer = torch.optim.AdamW(network.parameters(), lr=3e-3)
    x, y = torch.from_numpy(split.x_train), torch.from_numpy(split.y_train)
    network.train()
    for _ in range(5):
        for index in torch.randperm(len(x)).split(64):
            loss = nn.functional.cross_entropy(network(x[index]), y[index])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return network.eval()


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_output_shape(depth: int) -> None:
    network = DigitsCNN(width=4, depth=depth, hidden=8).eval()
    assert network(torch.zeros(5, 64)).shape == (5, 10)
    probabilities = ProbabilityModel(network)(torch.rand(3, 64) * 16)
    assert probabilities.shape == (3, 10)
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(3))


@pytest.mark.parametrize("kwargs", [{"depth": 0}, {"depth": 4}, {"width": 0}, {"dropout": 1.0}])
def test_bad_sizes_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=r"depth|sizes"):
        DigitsCNN(**kwargs)  # type: ignore[arg-type]


def test_normalisation_is_part_of_the_network() -> None:
    network = DigitsCNN(width=4, depth=1, hidden=8).eval()
    x = torch.rand(4, 64) * 16
    before = network(x)
    network.set_normalisation(5.0, 6.0)
    assert not torch.allclose(before, network(x))
    assert {"feature_mean", "feature_std"} <= set(network.state_dict())


def test_larger_config_is_larger() -> None:
    assert count_parameters(DigitsCNN(width=96, depth=3, hidden=512)) > 10 * count_parameters(
        DigitsCNN()
    )


def test_overfits_one_batch(digits_split: tuple[Split, Manifest]) -> None:
    split, _ = digits_split
    torch.manual_seed(0)
    x, y = torch.from_numpy(split.x_train[:32]), torch.from_numpy(split.y_train[:32])
    network = DigitsCNN(width=8, depth=1, hidden=32, dropout=0.0)
    network.set_normalisation(float(x.mean()), float(x.std()))
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-2)
    for _ in range(100):
        loss = nn.functional.cross_entropy(network(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.1
    assert (network.eval()(x).argmax(1) == y).all()


def test_learns_the_task(trained: nn.Module, digits_split: tuple[Split, Manifest]) -> None:
    split, _ = digits_split
    accuracy = (predict_proba(trained, split.x_test).argmax(1).numpy() == split.y_test).mean()
    assert accuracy > 0.95


def test_one_pixel_change_does_not_flip_a_confident_prediction(
    trained: nn.Module, digits_split: tuple[Split, Manifest]
) -> None:
    split, _ = digits_split
    probabilities = predict_proba(trained, split.x_test).numpy()
    confident = probabilities.max(axis=1) > 0.99
    assert confident.sum() > 200
    x = split.x_test[confident]
    labels = probabilities[confident].argmax(axis=1)
    rng = np.random.default_rng(0)
    flips = 0
    for _ in range(3):
        changed = x.copy()
        pixel = rng.integers(0, 64, size=len(x))
        rows = np.arange(len(x))
        # A quarter of the scale on one pixel: more ink where it is faint, less where it is dark.
        changed[rows, pixel] = np.where(
            changed[rows, pixel] > 8, changed[rows, pixel] - 4, changed[rows, pixel] + 4
        )
        flips += int((predict_proba(trained, changed).numpy().argmax(axis=1) != labels).sum())
    assert flips == 0


def test_random_shift_moves_ink_without_changing_shape() -> None:
    grid = torch.zeros(2, 64)
    grid[:, 27] = 16.0  # one pixel in the middle, row 3 column 3
    torch.manual_seed(0)
    shifted = random_shift(grid, 1)
    assert shifted.shape == grid.shape
    assert torch.equal(shifted.sum(dim=1), grid.sum(dim=1))  # nothing falls off the edge
    assert torch.equal(random_shift(grid, 0), grid)
