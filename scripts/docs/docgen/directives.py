"""The ``::docgen`` directives of the docs pages, expanded into generated markdown.

A page line ``::docgen KIND [ARGS...]`` (arguments split like a shell line) is replaced by what
the generator of KIND returns; an unknown KIND or a failing generator raises DocGenError:

- ``settings SERVICE`` / ``settings-shared`` / ``settings-index``: settings tables;
- ``openapi SERVICE``: the HTTP API of a FastAPI service (JSON beside the page);
- ``proto PATH``: the RPCs and messages of a proto file;
- ``alerts``: the alert rules, linked to their runbooks;
- ``benchmarks``: the tables under benchmarks/results/;
- ``checklist``: the seeds' checklist with its status;
- ``make-targets``: the Makefile's documented targets;
- ``dashboards``: the Grafana dashboards and their panels;
- ``hydra-groups``: the trainer's Hydra config groups and their options;
- ``link PATH TEXT`` / ``image PATH ALT``: a link or picture of a docs file that another
  engineer owns, or a visible note while it does not exist yet.
"""

from __future__ import annotations

import functools
import json
import posixpath
import re
import shlex
from collections.abc import Callable

from docgen import ROOT, DocGenError
from docgen.alerts_ref import alerts_markdown
from docgen.benchmarks_ref import benchmarks_markdown
from docgen.checklist_ref import checklist_markdown
from docgen.openapi_ref import openapi_markdown
from docgen.proto_ref import proto_markdown
from docgen.settings_ref import all_services_index, service_settings, shared_settings
from docgen.text import cell, table

DIRECTIVE = re.compile(r"^::docgen[ \t]+(.+?)[ \t]*$", re.M)
_MAKE_TARGET = re.compile(r"^([a-z][a-z-]*):.*?## (.+)$", re.M)


def openapi_json_name(service: str) -> str:
    """File name of a service's OpenAPI document, written beside its page."""
    return f"{service}-openapi.json"


def make_targets() -> str:
    """The Makefile targets that carry a ``## help`` comment."""
    found = _MAKE_TARGET.findall((ROOT / "Makefile").read_text())
    rows = [[f"`make {target}`", cell(help_text)] for target, help_text in found]
    if not rows:
        raise DocGenError("the Makefile has no documented target ('target: ## help')")
    return table(["Command", "What it does"], rows)


def hydra_groups(conf_dir: str = "services/trainer/conf") -> str:
    """The Hydra config groups of the trainer and the options of each."""
    root = ROOT / conf_dir
    groups = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not groups:
        raise DocGenError(f"{conf_dir} holds no Hydra config group")
    rows = [
        [f"`{g.name}`", ", ".join(f"`{o.stem}`" for o in sorted(g.glob("*.yaml")))] for g in groups
    ]
    return f"Generated from `{conf_dir}/`.\n\n" + table(["Group", "Options"], rows)


def dashboards(folder: str = "deploy/monitoring/grafana/dashboards") -> str:
    """The Grafana dashboards: title, file and panel titles."""
    files = sorted((ROOT / folder).glob("*.json"))
    if not files:
        raise DocGenError(f"{folder} holds no dashboard")
    rows = []
    for path in files:
        try:
            board = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise DocGenError(f"{folder}/{path.name} is not valid JSON: {exc}") from exc
        panels = [p["title"] for p in board.get("panels", []) if p.get("type") != "row"]
        title = cell(board.get("title", path.stem))
        rows.append([title, f"`{path.name}`", cell(", ".join(panels))])
    return table(["Dashboard", "File", "Panels"], rows)


def _docs_file(kind: str, target: str, text: str, page: str) -> str:
    if not (ROOT / "docs" / target).is_file():
        return f'!!! note "Not written yet"\n    *{text}* will be at `docs/{target}`.\n'
    relative = posixpath.relpath(target, posixpath.dirname(page) or ".")
    return f"![{text}]({relative})\n" if kind == "image" else f"[{text}]({relative})"


@functools.cache
def _cached(kind: str, args: tuple[str, ...]) -> str:
    simple: dict[str, Callable[[], str]] = {
        "settings-shared": shared_settings,
        "settings-index": all_services_index,
        "benchmarks": benchmarks_markdown,
        "checklist": checklist_markdown,
        "make-targets": make_targets,
        "hydra-groups": hydra_groups,
        "dashboards": dashboards,
    }
    if kind in simple and not args:
        return simple[kind]()
    if kind == "settings" and len(args) == 1:
        return service_settings(args[0])
    if kind == "openapi" and len(args) == 1:
        return openapi_markdown(args[0], openapi_json_name(args[0]))
    if kind == "proto" and len(args) == 1:
        return proto_markdown(args[0])
    raise DocGenError(f"unknown directive '::docgen {kind} {' '.join(args)}'".strip())


def expand(kind: str, args: tuple[str, ...], page: str) -> str:
    """The markdown for one directive on the page ``page`` (a path relative to docs/)."""
    if kind in ("link", "image") and len(args) == 2:
        return _docs_file(kind, args[0], args[1], page)
    if kind == "alerts" and not args:
        return alerts_markdown(posixpath.dirname(page))
    return _cached(kind, args)


def expand_page(markdown: str, page: str) -> str:
    """Replace every directive of a page; errors name the page and the directive."""

    def replace(match: re.Match[str]) -> str:
        words = shlex.split(match.group(1))
        try:
            return expand(words[0], tuple(words[1:]), page)
        except DocGenError as exc:
            raise DocGenError(f"docs/{page}: '::docgen {match.group(1)}': {exc}") from exc

    return DIRECTIVE.sub(replace, markdown)


def clear_cache() -> None:
    """Forget generated content (a new build re-reads the sources)."""
    _cached.cache_clear()
