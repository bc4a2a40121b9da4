"""Tests about the repository itself: workflows, the docs site, and the CI scripts.

``scripts/ci`` and ``scripts/docs`` are folders of scripts, not packages: their modules are
imported from here by putting the folders on ``sys.path``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
for folder in ("scripts/ci", "scripts/docs"):
    path = str(ROOT / folder)
    if path not in sys.path:
        sys.path.insert(0, path)
