"""Write the platform's Grafana dashboards (JSON) from one compact description.

    python deploy/monitoring/grafana/generate_dashboards.py

The JSON under dashboards/ is committed (Grafana and the Helm chart read it); a test checks it
is exactly what this script writes, so edit here and re-run. Metric names: docs/contracts.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}
OUT_DIR = Path(__file__).resolve().parent / "dashboards"

# (title, unit, [(expr, legend)], kind) per panel; kind = timeseries | stat
Panel = tuple[str, str, list[tuple[str, str]], str]
RI = "$__rate_interval"


def rate(metric: str, by: str = "", window: str = RI) -> str:
    """`sum [by (...)] (rate(metric[window]))`."""
    group = f" by ({by})" if by else ""
    return f"sum{group} (rate({metric}[{window}]))"


def quantiles(histogram: str, qs: tuple[float, ...], window: str = RI) -> list[tuple[str, str]]:
    """p-quantile queries of a Prometheus histogram (`histogram` may carry a label selector)."""
    name, _, selector = histogram.partition("{")
    bucket = f"{name}_bucket{{{selector}" if selector else f"{name}_bucket"
    return [
        (f"histogram_quantile({q}, sum by (le) (rate({bucket}[{window}])))", f"p{round(q * 100)}")
        for q in qs
    ]


def ratio(numerator: str, denominator: str) -> str:
    """`numerator / denominator`, safe when the denominator is 0."""
    return f"{numerator} / clamp_min({denominator}, 1e-9)"


PREDICT = 'gateway_request_duration_seconds{route=~"/v1/predict.*"}'
MODEL_INFER = 'inference_request_duration_seconds{method="ModelInfer"}'
RANGE = "$__range"

# fmt: off
SERVICE_ROWS: list[tuple[str, list[Panel]]] = [
    ("Traffic", [
        ("Gateway requests / s by route", "reqps",
         [(rate("gateway_requests_total", "route"), "{{route}}")], "timeseries"),
        ("Inference calls / s by method", "reqps",
         [(rate("inference_requests_total", "method"), "{{method}}")], "timeseries"),
        ("Traffic log: logged / dropped per s", "ops",
         [(rate("gateway_traffic_logged_total"), "logged"),
          (rate("gateway_traffic_dropped_total"), "dropped")], "timeseries"),
        ("Traffic buffer depth", "short",
         [("sum(gateway_traffic_buffer_depth)", "depth")], "timeseries"),
    ]),
    ("Latency", [
        ("Gateway latency (predict)", "s", quantiles(PREDICT, (0.5, 0.95, 0.99)), "timeseries"),
        ("Gateway → inference call latency", "s",
         quantiles("gateway_inference_duration_seconds", (0.5, 0.99)), "timeseries"),
        ("Inference ModelInfer latency", "s",
         quantiles(MODEL_INFER, (0.5, 0.95, 0.99)), "timeseries"),
    ]),
    ("Errors", [
        ("Gateway 5xx ratio", "percentunit",
         [(ratio(rate('gateway_requests_total{status=~"5.."}'), rate("gateway_requests_total")),
           "5xx ratio")], "timeseries"),
        ("Gateway non-2xx by status", "reqps",
         [(rate('gateway_requests_total{status!~"2.."}', "status"), "{{status}}")], "timeseries"),
        ("Inference non-OK by code", "reqps",
         [(rate('inference_requests_total{code!="OK"}', "code"), "{{code}}")], "timeseries"),
        ("Targets up", "short", [("up", "{{job}}")], "stat"),
    ]),
]

INFERENCE_ROWS: list[tuple[str, list[Panel]]] = [
    ("Batch sizes", [
        ("Batch size quantiles", "short",
         quantiles("inference_batch_size", (0.5, 0.9, 0.99)), "timeseries"),
        ("Mean batch size", "short",
         [(ratio(rate("inference_batch_size_sum"), rate("inference_batch_size_count")), "mean")],
         "timeseries"),
        ("Batches / s", "ops", [(rate("inference_batch_size_count"), "batches")], "timeseries"),
        ("Queue depth", "short", [("sum(inference_queue_depth)", "queued")], "timeseries"),
    ]),
    ("Model", [
        ("Served model version", "short",
         [("max by (name, version) (inference_model_info)", "{{name}} v{{version}}")], "stat"),
        ("Model swaps", "short",
         [(f"sum(increase(inference_model_swaps_total[{RANGE}]))", "swaps")], "stat"),
        ("Model load failures", "short",
         [(f"sum(increase(inference_model_load_failures_total[{RANGE}]))", "failures")], "stat"),
    ]),
]

LOOP_ROWS: list[tuple[str, list[Panel]]] = [
    ("Drift", [
        ("Dataset drift (0/1)", "short", [("max(drift_dataset_drift)", "drift")], "stat"),
        ("Share of drifted features", "percentunit",
         [("max(drift_drifted_feature_share)", "share")], "timeseries"),
        ("Window size", "short", [("max(drift_window_size)", "rows")], "timeseries"),
        ("Checks and retrains queued", "short",
         [(f"sum(increase(drift_checks_total[{RI}]))", "checks"),
          (f"sum(increase(drift_retrains_queued_total[{RI}]))", "retrains queued")], "timeseries"),
        ("Since last check", "s",
         [("time() - max(drift_last_check_timestamp_seconds)", "age")], "stat"),
    ]),
    ("Rollout", [
        ("Live accuracy on labelled rows", "percentunit",
         [("max by (model, role) (rollout_live_accuracy)", "{{model}} {{role}}")], "timeseries"),
        ("Estimated accuracy (CBPE)", "percentunit",
         [("max by (model) (drift_estimated_accuracy)", "{{model}} live window"),
          ("max by (model, role) (rollout_estimated_accuracy)", "{{model}} {{role}}")],
         "timeseries"),
        ("Shadow: candidate agrees with production", "percentunit",
         [("max by (model) (rollout_shadow_agreement)", "{{model}}")], "timeseries"),
        ("Shadowed requests / s by outcome", "reqps",
         [(rate("inference_shadow_requests_total", "model, outcome"), "{{model}} {{outcome}}")],
         "timeseries"),
        ("Probation (0/1)", "short",
         [("max by (model) (rollout_probation_active)", "{{model}}")], "stat"),
        ("Rollbacks and decisions", "short",
         [(f"sum by (model) (increase(rollout_rollbacks_total[{RANGE}]))", "{{model}} rollbacks"),
          (f"sum by (action) (increase(rollout_decisions_total[{RANGE}]))", "{{action}}")],
         "stat"),
    ]),
    ("Jobs", [
        ("Retraining jobs by outcome", "short",
         [(f"sum by (outcome) (increase(retrain_jobs_total[{RANGE}]))", "{{outcome}}")], "stat"),
        ("Job running", "short", [("max(retrain_job_running)", "running")], "timeseries"),
        ("Job duration", "s",
         quantiles("retrain_job_duration_seconds", (0.5, 0.95), window="1h"), "timeseries"),
    ]),
]

# fmt: on

DASHBOARDS: dict[str, tuple[str, list[tuple[str, list[Panel]]]]] = {
    "mlops-service": ("MLOps / Service: traffic, latency, errors", SERVICE_ROWS),
    "mlops-inference": ("MLOps / Inference: batching and model", INFERENCE_ROWS),
    "mlops-loop": ("MLOps / Model loop: drift, rollout and retraining jobs", LOOP_ROWS),
}


def panel(panel_id: int, spec: Panel, x: int, y: int) -> dict[str, Any]:
    """One Grafana panel querying Prometheus."""
    title, unit, targets, kind = spec
    return {
        "id": panel_id,
        "type": kind,
        "title": title,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": 12, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}}
        if kind == "timeseries"
        else {},
        "targets": [
            {
                "refId": chr(ord("A") + i),
                "datasource": DATASOURCE,
                "expr": expr,
                "legendFormat": legend,
            }
            for i, (expr, legend) in enumerate(targets)
        ],
    }


def dashboard(uid: str, title: str, rows: list[tuple[str, list[Panel]]]) -> dict[str, Any]:
    """A dashboard of rows, two panels wide."""
    panels: list[dict[str, Any]] = []
    y, next_id = 0, 1
    for row_title, specs in rows:
        panels.append(
            {
                "id": next_id,
                "type": "row",
                "title": row_title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        next_id, y = next_id + 1, y + 1
        for i, spec in enumerate(specs):
            panels.append(panel(next_id, spec, x=12 * (i % 2), y=y + 8 * (i // 2)))
            next_id += 1
        y += 8 * ((len(specs) + 1) // 2)
    return {
        "uid": uid,
        "title": title,
        "tags": ["mlops"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "10s",
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": panels,
    }


def render_all() -> dict[str, str]:
    """File name → JSON text of every dashboard."""
    return {
        f"{uid}.json": json.dumps(dashboard(uid, title, rows), indent=2) + "\n"
        for uid, (title, rows) in DASHBOARDS.items()
    }


def main() -> None:
    """Write every dashboard under dashboards/."""
    OUT_DIR.mkdir(exist_ok=True)
    for name, text in render_all().items():
        (OUT_DIR / name).write_text(text)


if __name__ == "__main__":
    main()
