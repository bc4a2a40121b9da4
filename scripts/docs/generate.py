"""Render the generated parts of the docs without mkdocs: ``python scripts/docs/generate.py``.

Writes each docs page with its ``::docgen`` directives expanded, and each HTTP service's OpenAPI
JSON, under ``--out`` (default ``build/docs-generated``); exits 1 with the error when a
generator fails. Handy to inspect a reference page or to check the generators in CI quickly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from docgen import ROOT, DocGenError
from docgen.directives import DIRECTIVE, expand_page, openapi_json_name
from docgen.openapi_ref import HTTP_SERVICES, openapi_json


def generate(out: Path) -> list[Path]:
    """Write every page that holds a directive, and the OpenAPI documents; return the paths."""
    written = []
    docs = ROOT / "docs"
    for page in sorted(docs.rglob("*.md")):
        text = page.read_text()
        if not DIRECTIVE.search(text):
            continue
        relative = page.relative_to(docs).as_posix()
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(expand_page(text, relative))
        written.append(target)
    for service in HTTP_SERVICES:
        target = out / "services" / openapi_json_name(service)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(openapi_json(service))
        written.append(target)
    return written


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "docs-generated")
    args = parser.parse_args(argv)
    try:
        paths = generate(args.out)
    except DocGenError as exc:
        print(f"docgen: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
