"""The OpenAPI document lists every route with its documented errors in the one shape."""

from __future__ import annotations

from mlops_gateway.app import create_app
from mlops_gateway.settings import GatewaySettings

ROUTES = {
    ("post", "/v1/predict"),
    ("post", "/v1/predict/image"),
    ("post", "/v1/feedback"),
    ("post", "/v1/retrain"),
    ("get", "/v1/jobs/{job_id}"),
    ("get", "/v1/model"),
    ("get", "/v1/models"),
    ("get", "/v1/models/{name}"),
    ("post", "/v1/models/{name}/predict"),
    ("post", "/v1/models/{name}/promote"),
    ("post", "/v1/models/{name}/retrain"),
    ("get", "/v1/models/{name}/drift"),
    ("post", "/v1/models/{name}/drift/check"),
    ("get", "/v1/models/{name}/drift/report"),
    ("get", "/v1/models/{name}/rollout"),
    ("post", "/v1/models/{name}/rollout"),
    ("post", "/v1/model/promote"),
    ("get", "/v1/drift"),
    ("get", "/v1/drift/report"),
    ("post", "/v1/drift/check"),
    ("get", "/v2/health/live"),
    ("get", "/v2/health/ready"),
    ("get", "/v2/models/{name}"),
    ("get", "/v2/models/{name}/ready"),
    ("post", "/v2/models/{name}/infer"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
}


def test_every_route_is_documented() -> None:
    spec = create_app(GatewaySettings()).openapi()
    found = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    assert found == ROUTES


def test_errors_are_documented_in_the_one_shape() -> None:
    spec = create_app(GatewaySettings()).openapi()
    predict = spec["paths"]["/v1/predict"]["post"]["responses"]
    for status in ("400", "413", "422", "429", "503", "504"):
        ref = predict[status]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/ErrorResponse")
    retrain = spec["paths"]["/v1/retrain"]["post"]
    assert {"401", "403"} <= set(retrain["responses"])
    assert retrain["security"] == [{"APIKeyHeader": []}]


def test_drift_routes_document_the_per_feature_scores_and_the_admin_key() -> None:
    spec = create_app(GatewaySettings()).openapi()
    status = spec["components"]["schemas"]["DriftStatus"]["properties"]
    assert {"feature_scores", "drifted_features", "feature_test"} <= set(status)
    assert status["feature_scores"]["additionalProperties"] == {"type": "number"}
    check = spec["paths"]["/v1/drift/check"]["post"]
    assert check["security"] == [{"APIKeyHeader": []}]
    assert {"401", "403", "409", "503", "504"} <= set(check["responses"])
    report = spec["paths"]["/v1/drift/report"]["get"]["responses"]
    assert list(report["200"]["content"]) == ["text/html"]
    assert list(report["404"]["content"]) == ["application/json"]
