"""Alert reference: every Prometheus alert rule, with a link to its runbook (which must exist)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from docgen import ROOT, DocGenError
from docgen.text import cell, slug, table

RULES_GLOB = "deploy/monitoring/prometheus/rules/*.y*ml"
RUNBOOKS = "docs/operations/runbooks.md"
_HEADING = re.compile(r"^##\s+(\w+)\s*$", re.M)


@dataclass(frozen=True)
class Alert:
    """One alerting rule as written in the rules file."""

    name: str
    group: str
    severity: str
    duration: str
    summary: str
    expr: str
    source: str


def load_alerts(root: Path = ROOT) -> list[Alert]:
    """Every alerting rule of every rules file (recording rules are skipped)."""
    files = sorted(root.glob(RULES_GLOB))
    if not files:
        raise DocGenError(f"no Prometheus rules found at {RULES_GLOB}")
    alerts = []
    for path in files:
        try:
            document: dict[str, Any] = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as exc:
            raise DocGenError(f"{path.relative_to(root)} is not valid YAML: {exc}") from exc
        for group in document.get("groups", []):
            for rule in group.get("rules", []):
                if "alert" not in rule:
                    continue
                annotations = rule.get("annotations", {})
                alerts.append(
                    Alert(
                        name=rule["alert"],
                        group=group.get("name", ""),
                        severity=rule.get("labels", {}).get("severity", ""),
                        duration=str(rule.get("for", "0s")),
                        summary=annotations.get("description") or annotations.get("summary", ""),
                        expr=" ".join(str(rule.get("expr", "")).split()),
                        source=str(path.relative_to(root)),
                    )
                )
    return alerts


def runbook_names(root: Path = ROOT) -> set[str]:
    """The alert names that have a ``## <AlertName>`` section in the runbooks page."""
    path = root / RUNBOOKS
    return set(_HEADING.findall(path.read_text())) if path.is_file() else set()


def check_runbooks(alerts: list[Alert], root: Path = ROOT) -> None:
    """Raise when an alert has no runbook section."""
    missing = sorted({a.name for a in alerts} - runbook_names(root))
    if missing:
        raise DocGenError(
            f"alerts without a runbook in {RUNBOOKS}: {', '.join(missing)} "
            "(add a '## <AlertName>' section for each)"
        )


def alerts_markdown(page_dir: str) -> str:
    """The table of alerts, each linking to its runbook; fails when a runbook is missing."""
    alerts = load_alerts()
    check_runbooks(alerts)
    runbooks = Path("operations/runbooks.md")
    link = Path(*[".."] * len(Path(page_dir).parts), runbooks) if page_dir else runbooks
    rows = [
        [
            f"[{a.name}]({link.as_posix()}#{slug(a.name)})",
            a.severity,
            a.duration,
            cell(a.summary),
            f"`{cell(a.expr)}`",
        ]
        for a in alerts
    ]
    sources = sorted({a.source for a in alerts})
    return f"Generated from {', '.join(f'`{s}`' for s in sources)}.\n\n" + table(
        ["Alert", "Severity", "For", "Meaning", "Expression"], rows
    )
