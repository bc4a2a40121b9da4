"""Schemathesis over the gateway's own OpenAPI, over loopback: no 5xx, no schema violations.

Every dependency is up (real inference, Redis, MLflow store, a drift stand-in), so a 5xx would
be the gateway's own fault. Admin routes get the key so their bodies are exercised too.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import ADMIN_KEY, GatewayFactory

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.mark.slow
def test_api_conforms_to_its_schema(gateway_factory: GatewayFactory) -> None:
    url = gateway_factory(rate_limit_per_s=0)
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    schema.config.update(base_url=url)
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 28

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(
                base_url=url, headers={"X-API-Key": ADMIN_KEY}, checks=CHECKS, timeout=30
            )

        try:
            check()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
    exposition = httpx.get(f"{url}/metrics").text
    sent = sum(
        float(line.rsplit(" ", 1)[1])
        for line in exposition.splitlines()
        if line.startswith("gateway_requests_total{")
    )
    assert sent >= 10 * len(operations), f"schemathesis sent only {sent:.0f} requests"
