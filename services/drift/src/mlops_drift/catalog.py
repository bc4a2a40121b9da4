"""The monitors of every watched model, by name; the first is the API's default."""

from __future__ import annotations

from collections.abc import Iterator

from mlops_drift.monitor import DriftMonitor


class UnknownModelError(LookupError):
    """A request named a model this service does not watch."""

    code = "unknown_model"


class Monitors:
    """The models' monitors in ``DRIFT_MODELS`` order."""

    def __init__(self, monitors: list[DriftMonitor]) -> None:
        if not monitors:
            raise ValueError("at least one model must be monitored")
        self._by_name = {monitor.name: monitor for monitor in monitors}

    def __iter__(self) -> Iterator[DriftMonitor]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    @property
    def names(self) -> list[str]:
        """The watched models' names, the default first."""
        return list(self._by_name)

    def get(self, name: str | None = None) -> DriftMonitor:
        """The monitor of ``name`` (the default model's when None).

        Raises:
            UnknownModelError: ``name`` is not watched (the message lists the watched models).
        """
        if name is None:
            return next(iter(self._by_name.values()))
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownModelError(
                f"model {name!r} is not monitored; monitored models: {', '.join(self._by_name)}"
            ) from None
