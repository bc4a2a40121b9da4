"""mkdocs hooks (``hooks:`` in mkdocs.yml): expand ``::docgen`` directives at build time.

Pages hold prose plus directive lines; this hook replaces each with markdown generated from the
repository (settings classes, FastAPI apps, the proto, alert rules, benchmark results, the
checklist) and adds each HTTP service's OpenAPI JSON beside its page. A generator that fails
stops the build with a message naming the page, the directive and the source at fault.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from pymdownx.superfences import fence_code_format  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).resolve().parent))

from docgen import DocGenError
from docgen.directives import clear_cache, expand_page, openapi_json_name
from docgen.openapi_ref import HTTP_SERVICES, openapi_json

MERMAID_FENCE = {"name": "mermaid", "class": "mermaid", "format": fence_code_format}


def on_config(config: Any) -> Any:
    """Render ```mermaid fences as diagrams; take site_url from SITE_URL when it is set."""
    superfences = config.mdx_configs.setdefault("pymdownx.superfences", {})
    fences = superfences.setdefault("custom_fences", [])
    if not any(fence.get("name") == "mermaid" for fence in fences):
        fences.append(MERMAID_FENCE)
    if os.environ.get("SITE_URL"):
        config.site_url = os.environ["SITE_URL"].rstrip("/") + "/"
    return config


def on_pre_build(config: Any) -> None:
    """Start every build (``mkdocs serve`` rebuilds too) from fresh sources."""
    clear_cache()


def on_files(files: Files, config: Any) -> Files:
    """Add ``services/<service>-openapi.json`` for every HTTP service."""
    for service in HTTP_SERVICES:
        try:
            content = openapi_json(service)
        except DocGenError as exc:
            raise PluginError(f"docgen: {exc}") from exc
        uri = f"services/{openapi_json_name(service)}"
        files.append(File.generated(config, uri, content=content))
    return files


def on_page_markdown(markdown: str, page: Any, config: Any, files: Files) -> str:
    """Expand the page's ``::docgen`` directives."""
    try:
        return expand_page(markdown, page.file.src_uri)
    except DocGenError as exc:
        raise PluginError(f"docgen: {exc}") from exc
