"""The one promotion path against a throwaway MLflow store: history, rollback, undo, announcing."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from mlops_common import promotion
from mlops_common.promotion import HISTORY_TAG, PromotionError
from mlops_common.redis_keys import MODEL_EVENTS_CHANNEL, ModelEvent
from mlops_common.registry import ALIAS_PRODUCTION, ALIAS_STAGING, MODEL_NAME
from mlops_common.testing.onnx_models import register_onnx_model, write_linear_model
from mlops_common.testing.pytest_plugin import MlflowStore


@pytest.fixture
def client(mlflow_store: MlflowStore, tmp_path: Path) -> MlflowClient:
    """A store holding versions 1..4 of the model, no alias set."""
    model = write_linear_model(tmp_path / "linear.onnx")
    for _ in range(4):
        register_onnx_model(mlflow_store.tracking_uri, model, alias=None)
    uri = mlflow_store.tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _production(client: MlflowClient) -> str:
    return str(client.get_model_version_by_alias(MODEL_NAME, ALIAS_PRODUCTION).version)


def test_promote_records_history_and_rollback_walks_it_back(client: MlflowClient) -> None:
    assert promotion.promote(client, "1") == promotion.Promotion("1", None)
    promotion.promote(client, "2")
    promotion.promote(client, "2")  # again: recorded once
    assert promotion.promote(client, "3").previous == "2"
    assert promotion.history(client) == ["1", "2", "3"]
    assert client.get_registered_model(MODEL_NAME).tags[HISTORY_TAG] == "1,2,3"

    assert promotion.rollback(client) == promotion.Promotion("2", "3")
    assert promotion.rollback(client).version == "1"
    with pytest.raises(PromotionError, match="no earlier"):
        promotion.rollback(client)
    assert promotion.rollback(client, "3").previous == "1"  # a named version is a promotion
    assert promotion.history(client) == ["1", "3"]
    with pytest.raises(PromotionError, match="no version 99"):
        promotion.promote(client, "99")
    assert _production(client) == "3"


def test_a_production_alias_set_outside_is_recorded_before_the_next_promotion(
    client: MlflowClient,
) -> None:
    promotion.promote(client, "1")
    client.set_registered_model_alias(MODEL_NAME, ALIAS_PRODUCTION, "2")  # e.g. by hand in MLflow
    promotion.promote(client, "3")
    assert promotion.history(client) == ["1", "2", "3"]
    assert promotion.rollback(client).version == "2"


def test_undo_takes_promotions_back_instead_of_adding_one(client: MlflowClient) -> None:
    for version in ("1", "2", "1", "3", "4"):
        promotion.promote(client, version)
    assert promotion.undo(client, "1") == promotion.Promotion("1", "4")
    assert promotion.history(client) == ["1", "2", "1"]
    assert promotion.rollback(client).version == "2"
    promotion.undo(client, "4")  # not in the history: recorded
    assert promotion.history(client) == ["1", "2", "4"]


def test_promotions_are_announced_and_a_failed_announcement_is_reported(
    client: MlflowClient,
) -> None:
    sent: list[tuple[str, ModelEvent]] = []

    def publish(channel: str, message: str) -> int:
        sent.append((channel, ModelEvent.decode(message)))
        return 1

    def broken(channel: str, message: str) -> int:
        raise ConnectionError("redis is away")

    assert promotion.promote(client, "1", publish=publish).published
    assert promotion.rollback(client, "2", publish=publish).published
    assert [(c, e.name, e.version, e.alias) for c, e in sent] == [
        (MODEL_EVENTS_CHANNEL, MODEL_NAME, "1", ALIAS_PRODUCTION),
        (MODEL_EVENTS_CHANNEL, MODEL_NAME, "2", ALIAS_PRODUCTION),
    ]
    moved = promotion.rollback(client, publish=broken)
    assert (moved.version, moved.published) == ("1", False)
    assert _production(client) == "1"  # the move stands


def test_other_aliases_move_freely_production_only_through_promote(client: MlflowClient) -> None:
    promotion.set_alias(client, ALIAS_STAGING, "2")
    staged = promotion.alias_version(client, ALIAS_STAGING)
    assert staged is not None
    assert str(staged.version) == "2"
    assert promotion.alias_version(client, ALIAS_PRODUCTION) is None
    with pytest.raises(ValueError, match="promote"):
        promotion.set_alias(client, ALIAS_PRODUCTION, "2")


def test_a_registry_that_is_down_is_not_a_missing_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refused connection is the registry failing (the gateway answers 503), not "no such
    model" (which it answers 404)."""
    from mlflow.exceptions import MlflowException

    from mlops_common.testing.servers import free_port

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    uri = f"http://127.0.0.1:{free_port()}"
    down = MlflowClient(tracking_uri=uri, registry_uri=uri)
    with pytest.raises(MlflowException) as caught:
        promotion.promote(down, "1")
    assert not isinstance(caught.value, PromotionError)
    with pytest.raises(MlflowException) as caught:
        promotion.history(down)
    assert not isinstance(caught.value, PromotionError)
