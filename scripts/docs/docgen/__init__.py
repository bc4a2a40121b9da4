"""Generators of the documentation site's reference pages, from the repository's own code.

Each generator returns markdown (or JSON) built from what the repository holds: the services'
settings classes and FastAPI apps, the inference proto, the Prometheus alert rules, the benchmark
results, the checklist. A generator that cannot do its job raises :class:`DocGenError` with a
message that names the file or module at fault, so a docs build fails loudly instead of
publishing an empty page. The mkdocs hook (``scripts/docs/hooks.py``) and the command line
(``scripts/docs/generate.py``) are thin callers of :mod:`docgen.directives`.
"""

from __future__ import annotations

from pathlib import Path

#: The repository root (``scripts/docs/docgen`` → three levels up).
ROOT = Path(__file__).resolve().parents[3]


class DocGenError(RuntimeError):
    """A reference page cannot be generated; the message says which source is at fault."""
