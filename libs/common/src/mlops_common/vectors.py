"""Checks of feature vectors that arrive as numbers, for any width and value range.

A ``features`` model's spec gives the width of one instance and, optionally, the range its values
must lie in; :func:`validate_vectors` checks a request's instances against them and raises the
typed errors of :mod:`mlops_common.errors` with a message that names the instance and position.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from mlops_common.errors import EmptyInputError, InvalidFeaturesError


def validate_vectors(
    instances: Sequence[Sequence[float]] | NDArray[np.generic],
    *,
    width: int,
    value_range: tuple[float, float] | None = None,
    max_instances: int | None = None,
    hint: str = "",
) -> NDArray[np.float32]:
    """Check raw vectors of ``width`` numbers; return them as float32 ``(n, width)``.

    ``hint`` says what a vector is (``"an 8×8 grid"``) in the message about a wrong length.

    Raises:
        EmptyInputError: no instances.
        InvalidFeaturesError: wrong length, not numbers, NaN/inf, outside ``value_range``, or
            more than ``max_instances`` instances.
    """
    what = f" ({hint})" if hint else ""
    if len(instances) == 0:
        raise EmptyInputError(f"no instances: send at least one vector of {width} numbers")
    if max_instances is not None and len(instances) > max_instances:
        raise InvalidFeaturesError(
            f"{len(instances)} instances in one request; the limit is {max_instances}"
        )
    if not isinstance(instances, np.ndarray):
        for index, instance in enumerate(instances):
            if isinstance(instance, str | bytes) or not hasattr(instance, "__len__"):
                raise InvalidFeaturesError(f"instance {index} is not a list of numbers")
            if len(instance) != width:
                raise InvalidFeaturesError(
                    f"instance {index} has {len(instance)} values; expected {width}{what}"
                )
    try:
        array = np.asarray(instances, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidFeaturesError(f"instances must hold only numbers: {exc}") from exc
    if array.ndim != 2 or array.shape[1] != width:
        raise InvalidFeaturesError(
            f"instances have shape {list(array.shape)}; expected [n, {width}]"
        )
    finite = np.isfinite(array)
    if not finite.all():
        bad_row, bad_col = (int(i) for i in np.argwhere(~finite)[0])
        raise InvalidFeaturesError(
            f"instance {bad_row} has a missing or non-finite value (null, NaN or infinity) "
            f"at position {bad_col}"
        )
    if value_range is not None:
        low, high = value_range
        outside = (array < low) | (array > high)
        if outside.any():
            bad_row, bad_col = (int(i) for i in np.argwhere(outside)[0])
            raise InvalidFeaturesError(
                f"instance {bad_row} has {float(array[bad_row, bad_col]):g} at position "
                f"{bad_col}; values must lie in {low:g}..{high:g}"
            )
    return array
