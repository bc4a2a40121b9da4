"""One promotion path: the gateway promotes, ``mlops-train rollback`` returns to what served before.

Both go through :mod:`mlops_common.promotion`, so a promotion made by the gateway is in the
production history that the trainer's rollback reads, and both announce on ``model-events``.
A real gateway (uvicorn), a real Redis and a throwaway MLflow store.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
import redis
from mlflow import MlflowClient

from mlops_common.redis_keys import MODEL_EVENTS_CHANNEL, ModelEvent
from mlops_common.registry import ALIAS_PRODUCTION, MODEL_NAME
from mlops_common.testing.asgi import serve_asgi
from mlops_common.testing.onnx_models import register_onnx_model, write_linear_model
from mlops_common.testing.pytest_plugin import MlflowStore
from mlops_common.testing.servers import free_port
from mlops_trainer.cli import main

ADMIN_KEY = "test-admin-key-0123456789abcdef"


def _production(uri: str) -> str:
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    return str(client.get_model_version_by_alias(MODEL_NAME, ALIAS_PRODUCTION).version)


async def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert await asyncio.to_thread(main, list(args)) == 0, capsys.readouterr().err
    printed: dict[str, object] = json.loads(capsys.readouterr().out)
    return printed


async def test_promote_through_the_gateway_then_roll_back_with_the_cli(
    mlflow_store: MlflowStore,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mlops_gateway.app import create_app
    from mlops_gateway.settings import GatewaySettings

    uri = mlflow_store.tracking_uri
    model = write_linear_model(tmp_path / "linear.onnx")
    for _ in range(3):
        register_onnx_model(uri, model, alias=None)
    monkeypatch.setenv("REDIS_URL", redis_url)
    events = redis.Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
    events.subscribe(MODEL_EVENTS_CHANNEL)
    try:
        await _cli(capsys, "promote", "1")
        assert (await _cli(capsys, "promote", "2"))["previous"] == "1"

        settings = GatewaySettings(
            redis_url=redis_url,
            inference_target=f"127.0.0.1:{free_port()}",  # not needed to promote
            drift_url=f"http://127.0.0.1:{free_port()}",
            mlflow_tracking_uri=uri,
            admin_api_keys=[ADMIN_KEY],
            model_name=MODEL_NAME,
            traffic_logging=False,
        )
        async with (
            serve_asgi(create_app(settings), free_port()) as url,
            httpx.AsyncClient(base_url=url, timeout=30) as http,
        ):
            response = await http.post(
                "/v1/model/promote", json={"version": "3"}, headers={"X-API-Key": ADMIN_KEY}
            )
        assert response.status_code == 200, response.text
        assert response.json()["previous_version"] == "2"
        assert response.json()["event_published"] is True
        assert _production(uri) == "3"

        # Version 2 served before the gateway's promotion: the rollback lands there, not on 1.
        back = await _cli(capsys, "rollback")
        assert back == {"production": "2", "previous": "3", "event_published": True}
        assert _production(uri) == "2"
        assert (await _cli(capsys, "rollback"))["production"] == "1"

        announced: list[str] = []
        for _ in range(20):  # the subscribe confirmation reads as None
            if len(announced) == 5:
                break
            if message := events.get_message(timeout=0.5):
                announced.append(ModelEvent.decode(message["data"]).version)
        assert announced == ["1", "2", "3", "2", "1"]
    finally:
        events.close()
