"""Performance results: every table saved under ``benchmarks/results/``, included as it is."""

from __future__ import annotations

from docgen import ROOT, DocGenError
from docgen.text import demote_headings

RESULTS = "benchmarks/results"


def benchmarks_markdown() -> str:
    """One section per results file (newest content, headings demoted under the section)."""
    files = sorted((ROOT / RESULTS).glob("*.md"))
    if not files:
        return (
            '!!! info "No results committed yet"\n'
            f"    `{RESULTS}/` holds no `.md` file: run `make bench` and commit the tables.\n"
        )
    out = []
    for path in files:
        text = path.read_text().strip()
        if not text:
            raise DocGenError(f"{RESULTS}/{path.name} is empty: rerun its benchmark")
        script = ROOT / "benchmarks" / f"{path.stem}.py"
        source = f"`benchmarks/{script.name}`" if script.is_file() else "its benchmark"
        out.append(f"## {path.stem.replace('_', ' ').capitalize()}\n")
        out.append(f"*From `{RESULTS}/{path.name}`, written by {source}.*\n")
        out.append(demote_headings(text, 2))
    return "\n".join(out)
