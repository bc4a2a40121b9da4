"""The documentation site builds strictly, and its generators fail loudly instead of going empty."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from docgen import DocGenError
from docgen.alerts_ref import Alert, check_runbooks, load_alerts
from docgen.directives import expand_page
from docgen.openapi_ref import type_of
from docgen.proto_ref import parse_rpcs
from docgen.text import slug

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``mkdocs build --strict`` into a temp folder (once for this module)."""
    out = tmp_path_factory.mktemp("site")
    mkdocs = Path(sys.executable).parent / "mkdocs"
    result = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return out


def test_strict_build_has_every_page(site: Path) -> None:
    for page in (
        "index.html",
        "getting-started/index.html",
        "loop/index.html",
        "services/gateway/index.html",
        "services/inference/index.html",
        "operations/runbooks/index.html",
        "performance/index.html",
        "checklist/index.html",
    ):
        assert (site / page).is_file(), page


def test_mermaid_diagram_is_rendered_as_a_diagram(site: Path) -> None:
    html = (site / "index.html").read_text()
    assert 'class="mermaid"' in html
    assert "flowchart LR" in html


def test_gateway_api_comes_from_its_openapi(site: Path) -> None:
    document = json.loads((site / "services" / "gateway-openapi.json").read_text())
    assert "/v1/predict" in document["paths"]
    html = (site / "services" / "gateway" / "index.html").read_text()
    assert "/v1/predict" in html
    assert "GATEWAY_INFERENCE_TARGET" in html  # the settings table


def test_inference_page_renders_the_proto(site: Path) -> None:
    html = (site / "services" / "inference" / "index.html").read_text()
    assert "ModelInfer" in html
    assert "GRPCInferenceService" in html
    assert "INFERENCE_MODEL_URI" in html


def test_every_alert_has_a_runbook_linked_from_monitoring(site: Path) -> None:
    runbooks = (site / "operations" / "runbooks" / "index.html").read_text()
    monitoring = (site / "operations" / "monitoring" / "index.html").read_text()
    alerts = load_alerts()
    assert alerts
    for alert in alerts:
        assert f'id="{slug(alert.name)}"' in runbooks, alert.name
        assert f"runbooks/#{slug(alert.name)}" in monitoring, alert.name


def test_missing_runbook_fails_with_the_alert_name() -> None:
    ghost = Alert("GhostAlert", "g", "warning", "5m", "", "up == 0", "rules.yml")
    with pytest.raises(DocGenError, match="GhostAlert"):
        check_runbooks([*load_alerts(), ghost])


def test_unknown_directive_fails_naming_the_page() -> None:
    with pytest.raises(DocGenError, match=r"docs/x\.md: '::docgen nonsense 1'"):
        expand_page("# X\n\n::docgen nonsense 1\n", "x.md")


def test_missing_service_fails_instead_of_rendering_nothing() -> None:
    with pytest.raises(DocGenError, match=r"mlops_nosuch\.settings"):
        expand_page("::docgen settings nosuch\n", "x.md")


def test_optional_page_of_another_owner_is_a_visible_note() -> None:
    text = expand_page('::docgen link no-such-page.md "A guide"\n', "deployment.md")
    assert "Not written yet" in text
    assert "docs/no-such-page.md" in text


def test_proto_parser_and_schema_types() -> None:
    rpcs = parse_rpcs("service S {\n  // Says hi.\n  rpc Hi(A) returns (stream B) {}\n}\n")
    assert [(r.service, r.name, r.request, r.response, r.comment) for r in rpcs] == [
        ("S", "Hi", "A", "stream B", "Says hi.")
    ]
    assert type_of({"type": "array", "items": {"$ref": "#/c/PredictRequest"}}) == (
        "array of [PredictRequest](#predictrequest)"
    )
    assert type_of({"anyOf": [{"type": "string"}, {"type": "null"}]}) == "string or null"
