"""GC tuning for serving: startup objects frozen, higher thresholds, and an off switch.

Each case runs in a fresh interpreter: the collector's state is process-wide.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import gc, json
from mlops_common.gc_tuning import SERVING_THRESHOLDS, tune_gc_for_serving
from mlops_common.settings import ServiceSettings
before = gc.get_threshold()
frozen = tune_gc_for_serving(enabled=ServiceSettings().gc_tuning)
print(json.dumps({"before": before, "after": gc.get_threshold(), "frozen": frozen,
                  "freeze_count": gc.get_freeze_count(), "serving": SERVING_THRESHOLDS}))
"""


def _probe(**env: str) -> dict[str, list[int] | int]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return dict(json.loads(out))


def test_startup_objects_are_frozen_and_thresholds_raised() -> None:
    result = _probe()
    assert result["after"] == result["serving"]
    assert result["before"] != result["serving"]
    assert result["frozen"] == result["freeze_count"]
    assert isinstance(result["frozen"], int)
    assert result["frozen"] > 1_000


@pytest.mark.parametrize("value", ["false", "0", "off"])
def test_the_switch_keeps_the_defaults(value: str) -> None:
    result = _probe(MLOPS_GC_TUNING=value)
    assert result["after"] == result["before"]
    assert result["frozen"] == 0 == result["freeze_count"]
