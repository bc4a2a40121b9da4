"""The seeds' checklist: each item, what answers it, and where it lives (checked to exist)."""

from __future__ import annotations

from typing import Any

import yaml

from docgen import ROOT, DocGenError
from docgen.text import cell, table

CHECKLIST = "docs/_data/checklist.yml"


def load_checklist() -> list[dict[str, Any]]:
    """The checklist's sections, each with ``title`` and ``items`` (id, topic, what, where)."""
    path = ROOT / CHECKLIST
    try:
        sections: list[dict[str, Any]] = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise DocGenError(f"cannot read {CHECKLIST}: {exc}") from exc
    for section in sections:
        for item in section.get("items", []):
            if not {"id", "topic", "what", "where"} <= set(item):
                raise DocGenError(f"{CHECKLIST}: item {item} needs id, topic, what and where")
    return sections


def _where(paths: list[str]) -> tuple[str, list[str]]:
    missing = [p for p in paths if not any(ROOT.glob(p))]
    return "<br>".join(f"`{p}`" for p in paths), missing


def checklist_markdown() -> str:
    """One table per section; the status column says which paths are not in the tree yet."""
    out, total, done = [], 0, 0
    for section in load_checklist():
        rows = []
        for item in section["items"]:
            where, missing = _where(list(item["where"]))
            total += 1
            done += not missing
            status = "✅" if not missing else "⏳ missing: " + ", ".join(f"`{m}`" for m in missing)
            rows.append([item["id"], cell(item["topic"]), cell(item["what"]), where, status])
        out.append(f"## {section['title']}\n")
        out.append(table(["Item", "Topic", "How the platform answers it", "Where", "Status"], rows))
    summary = f"*{done} of {total} items have every path they name in the repository.*\n"
    return summary + "\n" + "\n".join(out)
