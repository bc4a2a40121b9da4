"""The network: a small CNN over the 8×8 grid that takes the raw 0..16 features.

Normalisation lives inside the network (buffers set from the training data), so the exported
ONNX graph takes exactly what clients send and no client has to know the statistics.
"""

from __future__ import annotations

import itertools

import torch
from torch import nn

from mlops_common.features import IMAGE_SIDE, N_FEATURES
from mlops_common.registry import N_CLASSES


def _conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    )


class DigitsCNN(nn.Module):
    """Conv blocks (width doubles per block, each halves the grid) → MLP head → logits.

    Args:
        width: channels of the first block.
        depth: number of conv blocks, 1..3 (8×8 → 4×4 → 2×2 → 1×1).
        hidden: units of the hidden layer of the head.
        dropout: dropout before each linear layer of the head.
    """

    def __init__(
        self, width: int = 32, depth: int = 2, hidden: int = 128, dropout: float = 0.2
    ) -> None:
        super().__init__()
        if not 1 <= depth <= 3:
            raise ValueError(f"depth must be 1..3 for an 8×8 grid, got {depth}")
        if width < 1 or hidden < 1 or not 0 <= dropout < 1:
            raise ValueError(f"bad sizes: width={width}, hidden={hidden}, dropout={dropout}")
        self.feature_mean: torch.Tensor
        self.feature_std: torch.Tensor
        self.register_buffer("feature_mean", torch.tensor(0.0))
        self.register_buffer("feature_std", torch.tensor(1.0))
        channels = [1] + [width * 2**i for i in range(depth)]
        self.features = nn.Sequential(
            *(_conv_block(c_in, c_out) for c_in, c_out in itertools.pairwise(channels))
        )
        side = IMAGE_SIDE // 2**depth
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(channels[-1] * side * side, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, N_CLASSES),
        )

    def set_normalisation(self, mean: float, std: float) -> None:
        """Store the training data's mean and std, applied to every input."""
        self.feature_mean.fill_(mean)
        self.feature_std.fill_(max(std, 1e-6))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Raw features ``[N, 64]`` on 0..16 → logits ``[N, 10]``."""
        x = (features - self.feature_mean) / self.feature_std
        x = x.reshape(-1, 1, IMAGE_SIDE, IMAGE_SIDE)
        return self.head(self.features(x))  # type: ignore[no-any-return]


class ProbabilityModel(nn.Module):
    """What is exported: raw features ``[N, 64]`` → class probabilities ``[N, 10]``."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Softmax over the network's logits."""
        return torch.softmax(self.network(features), dim=-1)


def count_parameters(module: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


__all__ = ["N_FEATURES", "DigitsCNN", "ProbabilityModel", "count_parameters"]
