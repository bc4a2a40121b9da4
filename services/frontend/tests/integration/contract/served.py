"""The models the contract stand-in serves: their specs and the answers kept for each.

- ``digits-classifier`` (default): the digits task (``digits-8x8@1``, 64 features in 0..16),
  versions 2 (production) and 1, trainable, no drift check yet;
- ``iris-classifier``: 4 features in 0..10 named by its monitored columns, 3 classes, imported
  (``trainable: false``), a drift verdict per feature;
- ``news-classifier``: a text model (``{"texts": [...]}``), 4 classes.
"""

from __future__ import annotations

from typing import Any

from mlops_common.model_spec import ModelSpec

ADMIN_KEY = "contract-admin-key-0123456789"
DEFAULT = "digits-classifier"
IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
IRIS_CLASSES = ["setosa", "versicolor", "virginica"]
NEWS_CLASSES = ["world", "sports", "business", "science"]


def _spec(
    name: str, task: str, kind: str, shape: list[int], classes: list[str], **extra: Any
) -> dict[str, Any]:
    tensor = {"features": "features", "text": "text"}[kind]
    body = {
        "name": name,
        "task": task,
        "input": {
            "kind": kind,
            "tensor": tensor,
            "datatype": "BYTES" if kind == "text" else "FP32",
            "shape": shape,
            **({"range": extra.pop("range")} if "range" in extra else {}),
        },
        "output": {"tensor": "probabilities", "classes": classes},
        **extra,
    }
    return ModelSpec.model_validate(body).model_dump(mode="json")


def served_models() -> dict[str, dict[str, Any]]:
    digits_monitored = [
        {"name": f"pixel_{i // 8}_{i % 8}", "source": f"input:{i}"} for i in range(64)
    ]
    iris_monitored = [
        {"name": name, "source": f"input:{i}"} for i, name in enumerate(IRIS_COLUMNS)
    ] + [{"name": "prediction", "source": "output:label"}]
    return {
        DEFAULT: {
            "spec": _spec(
                DEFAULT,
                "digits",
                "features",
                [-1, 64],
                [str(d) for d in range(10)],
                range=[0.0, 16.0],
                monitored=digits_monitored,
                preprocessing="digits-8x8@1",
                trainable=True,
            ),
            "ready": True,
            "reason": None,
            "versions": [
                {
                    "version": "2",
                    "aliases": ["production"],
                    "metrics": {"test_accuracy": 0.91, "test_f1": 0.905},
                    "created_at": "2026-12-06T21:15:42.123000+00:00",
                    "run_id": "run-2",
                },
                {
                    "version": "1",
                    "aliases": [],
                    "metrics": {"test_accuracy": 0.88},
                    "created_at": "2026-12-01T08:00:00+00:00",
                    "run_id": "run-1",
                },
            ],
            "drift": None,  # no check yet: 404 no_verdict
        },
        "iris-classifier": {
            "spec": _spec(
                "iris-classifier",
                "iris",
                "features",
                [-1, 4],
                IRIS_CLASSES,
                range=[0.0, 10.0],
                monitored=iris_monitored,
                preprocessing="identity@1",
                trainable=False,
            ),
            "ready": True,
            "reason": None,
            "versions": [
                {
                    "version": "1",
                    "aliases": ["production"],
                    "metrics": {"test_accuracy": 0.97},
                    "created_at": "2026-12-05T10:20:30+00:00",
                    "run_id": "imported",
                },
            ],
            "drift": {
                "drift_detected": True,
                "drifted_share": 0.5,
                "window_size": 500,
                "estimated_accuracy": 0.91,
                "reference_estimated_accuracy": 0.95,
                "calibrated": False,
                "checked_at": "2026-12-06T22:01:02+00:00",
                "next_check_at": "2026-12-06T22:06:02+00:00",
                "reasons": ["2 of 4 features drifted"],
                "feature_scores": dict(zip(IRIS_COLUMNS, [0.5, 0.2, 1e-6, 1e-9], strict=True)),
                "drifted_features": ["petal_length", "petal_width"],
                "feature_test": {
                    "method": "ks",
                    "name": "K-S p_value",
                    "threshold": 0.001,
                    "score_is_p_value": True,
                },
            },
        },
        "news-classifier": {
            "spec": _spec(
                "news-classifier",
                "news",
                "text",
                [-1],
                NEWS_CLASSES,
                preprocessing="raw-text@1",
                trainable=True,
            ),
            "ready": True,
            "reason": None,
            "versions": [
                {
                    "version": "1",
                    "aliases": ["production"],
                    "metrics": {"test_accuracy": 0.9},
                    "created_at": "2026-12-06T20:00:00+00:00",
                    "run_id": "news-1",
                },
            ],
            "drift": None,
        },
    }


def text_too_long(texts: list[str], limit: int) -> str | None:
    """The gateway's 413 message for the first text longer than ``limit`` characters."""
    for number, text in enumerate(texts):
        if len(text) > limit:
            return (
                f"text {number} has {len(text):,} characters; the limit is {limit:,} "
                "(GATEWAY_MAX_TEXT_CHARS)"
            )
    return None
