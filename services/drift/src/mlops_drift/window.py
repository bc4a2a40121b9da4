"""The sliding window of recent traffic, bounded by row count and by age."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from mlops_common.redis_keys import TrafficEntry
from mlops_drift.columns import MonitoredColumns


class SlidingWindow:
    """The newest ``max_size`` traffic entries that are at most ``max_age_s`` old.

    Not thread-safe by design: the event loop owns it; a check takes a :meth:`snapshot` (a
    copy) to the worker. ``clock`` is injectable for tests.
    """

    def __init__(
        self,
        max_size: int,
        max_age_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_size < 1:
            raise ValueError(f"max_size must be at least 1, got {max_size}")
        if max_age_s <= 0:
            raise ValueError(f"max_age_s must be positive, got {max_age_s}")
        self.max_size = max_size
        self.max_age_s = max_age_s
        self._clock = clock
        self._entries: deque[TrafficEntry] = deque(maxlen=max_size)
        self.added_total = 0

    def __len__(self) -> int:
        self.evict()
        return len(self._entries)

    def add(self, entries: Iterable[TrafficEntry]) -> int:
        """Append entries (oldest first); return how many were added."""
        added = 0
        for entry in entries:
            self._entries.append(entry)
            added += 1
        self.added_total += added
        self.evict()
        return added

    def evict(self) -> None:
        """Drop entries older than ``max_age_s`` (by their own timestamp)."""
        cutoff = self._clock() - self.max_age_s
        while self._entries and self._entries[0].timestamp < cutoff:
            self._entries.popleft()

    def clear(self) -> None:
        """Forget every entry (after the reference changed, for instance)."""
        self._entries.clear()

    def snapshot(self, columns: MonitoredColumns) -> pd.DataFrame:
        """The window as a frame of the monitored ``columns`` (the reference CSV's layout).

        Each feature column takes its logged position of every entry's features (an input
        value, or a text model's output value); the prediction and confidence columns take the
        entry's label and confidence. Entries too short for the feature columns (another
        model's) are left out.
        """
        self.evict()
        width = columns.min_width
        entries = [entry for entry in self._entries if entry.features.size >= width]
        positions = list(columns.positions)
        features = (
            np.stack([entry.features[positions] for entry in entries])
            if entries
            else np.empty((0, len(positions)), dtype=np.float32)
        )
        table = pd.DataFrame(features.astype(np.float64), columns=list(columns.features))
        if columns.prediction is not None:
            table[columns.prediction] = np.array([e.label for e in entries], dtype=np.int64)
        if columns.confidence is not None:
            table[columns.confidence] = np.array([e.confidence for e in entries], dtype=np.float64)
        return table
