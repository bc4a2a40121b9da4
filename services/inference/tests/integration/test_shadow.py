"""Shadow evaluation end to end: a real server, real registry versions, a real Redis.

Production is the linear model (version 1); the staged candidate always answers class
:data:`CANDIDATE_CLASS`, so every record shows whose answer is whose.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import onnx
import pytest
import redis.asyncio as aioredis
from onnx import TensorProto, helper, numpy_helper

from mlops_common.proto import grpc_service_pb2_grpc as pb_grpc
from mlops_common.registry import MODEL_NAME, PRODUCTION_URI
from mlops_common.rollout import rollout_key
from mlops_common.shadow import ShadowRecord, decode_batch, shadow_stream
from mlops_common.testing.onnx_models import build_model, register_onnx_model
from mlops_common.testing.pytest_plugin import MlflowStore
from mlops_common.testing.servers import RedisServer
from mlops_inference.model import load_session
from mlops_inference.server import InferenceServer

from .conftest import infer_request, probabilities, settings_for

pytestmark = pytest.mark.slow

CANDIDATE_CLASS = 3
RNG = np.random.default_rng(11)


def write_constant_model(path: Path, label: int) -> Path:
    """The contract's graph with zero weights and a bias that always picks ``label``."""
    model = build_model((), seed=0)
    for init in model.graph.initializer:
        array = numpy_helper.to_array(init)
        if init.name == "w0":
            array = np.zeros_like(array)
        elif init.name == "b0":
            array = np.where(np.arange(array.size) == label, 4.0, 0.0).astype(np.float32)
        init.CopyFrom(numpy_helper.from_array(array, init.name))
    onnx.save_model(model, str(path))
    return path


def write_narrow_model(path: Path) -> Path:
    """A valid classifier taking 32 features instead of 64 (inputs differ from production's)."""
    weight = numpy_helper.from_array(np.ones((32, 10), np.float32), "w")
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["features", "w"], ["z"]),
            helper.make_node("Softmax", ["z"], ["probabilities"], axis=-1),
        ],
        "narrow",
        inputs=[helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 32])],
        outputs=[helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10])],
        initializer=[weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save_model(model, str(path))
    return path


async def until(condition: Callable[[], bool], what: str, within_s: float = 20.0) -> None:
    """Return as soon as ``condition()`` holds; fail after ``within_s`` seconds."""
    for _ in range(int(within_s / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"timed out waiting until {what}")


def outcome(server: InferenceServer, name: str) -> float:
    """``inference_shadow_requests_total{outcome=name}`` of the default model."""
    value = server.metrics.registry.get_sample_value(
        "inference_shadow_requests_total", {"model": MODEL_NAME, "outcome": name}
    )
    return value or 0.0


def sample(server: InferenceServer, metric: str, **labels: str) -> float | None:
    return server.metrics.registry.get_sample_value(metric, {"model": MODEL_NAME} | labels)


@pytest.fixture
def registry(mlflow_store: MlflowStore, models_dir: Path) -> dict[str, Any]:
    """Production = linear (version 1); paths of a constant and a narrow candidate."""
    uri = mlflow_store.tracking_uri
    assert register_onnx_model(uri, models_dir / "linear.onnx") == "1"
    return {
        "uri": uri,
        "constant": write_constant_model(models_dir.parent / "constant.onnx", CANDIDATE_CLASS),
        "narrow": write_narrow_model(models_dir.parent / "narrow.onnx"),
        "expected": load_session(models_dir / "linear.onnx", "m", "1", 1),
    }


@pytest.fixture
async def store(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(redis_server.url)
    yield client
    await client.aclose()


def shadow_settings(registry: dict[str, Any], redis_url: str, **overrides: Any) -> Any:
    return settings_for(
        PRODUCTION_URI,
        mlflow_tracking_uri=registry["uri"],
        redis_url=redis_url,
        poll_interval_s=60.0,  # the tests call sync() (what the poll calls) themselves
        **overrides,
    )


async def send(
    server: InferenceServer, batches: list[np.ndarray], concurrency: int = 8
) -> list[tuple[str, np.ndarray]]:
    """Send each batch as one request ``req-<i>``; return (version, probabilities) in order."""
    gate = asyncio.Semaphore(concurrency)
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)

        async def one(i: int, x: np.ndarray) -> tuple[str, np.ndarray]:
            async with gate:
                response = await stub.ModelInfer(infer_request(x, id=f"req-{i}"))
            return response.model_version, probabilities(response)

        return list(await asyncio.gather(*(one(i, x) for i, x in enumerate(batches))))


async def records(store: aioredis.Redis) -> list[ShadowRecord]:
    entries = await store.xrange(shadow_stream(MODEL_NAME)) or []
    return [record for _, fields in entries for record in decode_batch(fields or {})]


def shadowing(server: InferenceServer) -> bool:
    """True while the default model's answers are offered to a candidate."""
    return server.dataplane.endpoints[MODEL_NAME].shadow is not None


def features(rows: int) -> np.ndarray:
    return RNG.uniform(0, 16, (rows, 64)).astype(np.float32)


@pytest.mark.parametrize("inline_max_ms", [0.5, 0.0], ids=["inline", "worker-thread"])
async def test_records_hold_both_answers_per_request(
    registry: dict[str, Any], redis_server: RedisServer, store: aioredis.Redis, inline_max_ms: float
) -> None:
    """The candidate runs on the event loop (a fast model) or in its worker thread."""
    register_onnx_model(registry["uri"], registry["constant"], alias="staging")
    batches = [features(1 + i % 4) for i in range(24)]
    settings = shadow_settings(registry, redis_server.url, inline_max_ms=inline_max_ms)
    async with InferenceServer.running(settings) as server:
        endpoint = server.dataplane.endpoints[MODEL_NAME]
        await until(lambda: endpoint.shadow is not None, "the candidate is shadowed")
        assert sample(server, "inference_shadow_candidate", version="2") == 1.0
        answers = await send(server, batches)
        await until(lambda: outcome(server, "run") == len(batches), "every request ran")
        await asyncio.sleep(0.8)  # one flush interval
        written = {record.request_id: record for record in await records(store)}
        entries = await store.xlen(shadow_stream(MODEL_NAME))
        runs = sample(server, "inference_shadow_batch_duration_seconds_count")
        rows = sample(server, "inference_shadow_rows_total")
        agreed = sample(server, "inference_shadow_agreed_rows_total")
        confidence = {
            role: sample(server, "inference_shadow_confidence_sum", role=role)
            for role in ("production", "candidate")
        }

    assert sorted(written) == sorted(f"req-{i}" for i in range(len(batches)))
    assert runs is not None
    assert entries == runs < len(batches)  # one stream entry per candidate batch
    expected_agreed = 0
    for i, (x, (version, probs)) in enumerate(zip(batches, answers, strict=True)):
        assert version == "1"
        truth = registry["expected"].predict({"features": x})["probabilities"]
        np.testing.assert_allclose(probs, truth, rtol=1e-5, atol=1e-6)  # production answered
        record = written[f"req-{i}"]
        assert (record.production_version, record.candidate_version) == ("1", "2")
        assert list(record.production_labels) == truth.argmax(axis=1).tolist()
        np.testing.assert_allclose(record.production_confidences, truth.max(axis=1), rtol=1e-4)
        assert list(record.candidate_labels) == [CANDIDATE_CLASS] * len(x)
        assert record.production_ms > 0
        assert record.candidate_ms > 0
        expected_agreed += int((truth.argmax(axis=1) == CANDIDATE_CLASS).sum())
    assert rows == sum(len(x) for x in batches)
    assert agreed == expected_agreed
    production = sum(sum(r.production_confidences) for r in written.values())
    candidate = sum(sum(r.candidate_confidences) for r in written.values())
    assert confidence["production"] == pytest.approx(production, rel=1e-4)
    assert confidence["candidate"] == pytest.approx(candidate, rel=1e-4)


async def test_a_merged_call_is_shadowed_as_the_requests_it_holds(
    registry: dict[str, Any], redis_server: RedisServer, store: aioredis.Redis
) -> None:
    """The gateway merges concurrent requests into one call naming each (its id, its rows):
    each gets its own record, so its prediction ids join feedback as if sent alone."""
    register_onnx_model(registry["uri"], registry["constant"], alias="staging")
    sizes = {"m-0": 1, "m-1": 3, "m-2": 2}
    x = features(sum(sizes.values()))
    merged = infer_request(x, id="m-0")
    merged.parameters["segment_ids"].string_param = ",".join(sizes)
    merged.parameters["segment_rows"].string_param = ",".join(map(str, sizes.values()))
    async with InferenceServer.running(shadow_settings(registry, redis_server.url)) as server:
        endpoint = server.dataplane.endpoints[MODEL_NAME]
        await until(lambda: endpoint.shadow is not None, "the candidate is shadowed")
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            response = await pb_grpc.GRPCInferenceServiceStub(channel).ModelInfer(merged)
        await until(lambda: outcome(server, "run") == len(sizes), "each request ran")
        await asyncio.sleep(0.8)  # one flush interval
        written = {record.request_id: record for record in await records(store)}
    truth = registry["expected"].predict({"features": x})["probabilities"]
    np.testing.assert_allclose(probabilities(response), truth, rtol=1e-5, atol=1e-6)
    assert sorted(written) == sorted(sizes)
    start = 0
    for request_id, n in sizes.items():
        own = truth[start : start + n]
        assert list(written[request_id].production_labels) == own.argmax(axis=1).tolist()
        assert list(written[request_id].candidate_labels) == [CANDIDATE_CLASS] * n
        start += n


async def test_no_candidate_without_a_distinct_staging_version(
    registry: dict[str, Any], redis_server: RedisServer, store: aioredis.Redis
) -> None:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=registry["uri"], registry_uri=registry["uri"])
    async with InferenceServer.running(shadow_settings(registry, redis_server.url)) as server:
        endpoint, controller = server.dataplane.endpoints[MODEL_NAME], server.shadows[MODEL_NAME]
        await controller.sync()  # no staging alias
        assert endpoint.shadow is None
        assert controller.shadow.model is None
        client.set_registered_model_alias(MODEL_NAME, "staging", "1")
        await controller.sync()  # staging == production
        assert endpoint.shadow is None
        assert controller.shadow.model is None
        await send(server, [features(2) for _ in range(10)])

        register_onnx_model(registry["uri"], registry["constant"], alias="staging")
        await controller.sync()
        assert shadowing(server)
        assert sample(server, "inference_shadow_candidate", version="2") == 1.0
        client.delete_registered_model_alias(MODEL_NAME, "staging")
        await controller.sync()  # staging gone: unloaded
        assert endpoint.shadow is None
        assert controller.shadow.model is None
        assert sample(server, "inference_shadow_candidate", version="2") is None
        await send(server, [features(2) for _ in range(10)])
        await asyncio.sleep(0.8)
        assert outcome(server, "run") == 0
    assert await records(store) == []


async def test_the_rollout_hash_turns_shadowing_off_or_samples_a_share(
    registry: dict[str, Any], redis_server: RedisServer, store: aioredis.Redis
) -> None:
    register_onnx_model(registry["uri"], registry["constant"], alias="staging")
    await store.hset(rollout_key(MODEL_NAME), mapping={"shadow": "off"})
    async with InferenceServer.running(shadow_settings(registry, redis_server.url)) as server:
        endpoint, controller = server.dataplane.endpoints[MODEL_NAME], server.shadows[MODEL_NAME]
        await controller.sync()
        assert controller.shadow.model is not None
        assert endpoint.shadow is None
        await send(server, [features(1) for _ in range(20)])
        await asyncio.sleep(0.8)
        assert outcome(server, "run") == 0
        assert await records(store) == []

        await store.hset(rollout_key(MODEL_NAME), mapping={"shadow": "on", "shadow_share": "0.5"})
        await controller.sync()
        assert shadowing(server)
        total = 600
        await send(server, [features(1) for _ in range(total)], concurrency=16)
        await until(lambda: outcome(server, "run") > 0, "some requests ran")
        await asyncio.sleep(0.8)
        shadowed = outcome(server, "run") + outcome(server, "dropped")
    assert abs(shadowed - total / 2) < 4 * (total * 0.25) ** 0.5, shadowed  # 4 sigma


async def test_a_full_shadow_queue_drops_shadow_work_not_answers(
    registry: dict[str, Any], redis_server: RedisServer
) -> None:
    register_onnx_model(registry["uri"], registry["constant"], alias="staging")
    settings = shadow_settings(registry, redis_server.url, shadow_queue_size=1)
    batches = [features(2) for _ in range(300)]
    async with InferenceServer.running(settings) as server:
        endpoint = server.dataplane.endpoints[MODEL_NAME]
        await until(lambda: endpoint.shadow is not None, "the candidate is shadowed")
        answers = await send(server, batches, concurrency=32)
        await until(
            lambda: outcome(server, "run") + outcome(server, "dropped") == len(batches),
            "every request was shadowed or dropped",
        )
    assert outcome(server, "dropped") > 0
    truth = registry["expected"].predict({"features": np.concatenate(batches)})["probabilities"]
    np.testing.assert_allclose(
        np.concatenate([probs for _, probs in answers]), truth, rtol=1e-5, atol=1e-6
    )


async def test_redis_down_costs_records_not_answers(
    registry: dict[str, Any], redis_server: RedisServer
) -> None:
    register_onnx_model(registry["uri"], registry["constant"], alias="staging")
    async with InferenceServer.running(shadow_settings(registry, redis_server.url)) as server:
        endpoint, controller = server.dataplane.endpoints[MODEL_NAME], server.shadows[MODEL_NAME]
        await until(lambda: endpoint.shadow is not None, "the candidate is shadowed")
        redis_server.stop()
        answers = await send(server, [features(3) for _ in range(40)])
        await controller.sync()  # the rollout hash is unreadable: the last state holds
        assert endpoint.shadow is not None
        await until(lambda: outcome(server, "unwritten") == 40, "the records were dropped")
        redis_server.start()
        await send(server, [features(3) for _ in range(5)])
        client = aioredis.from_url(redis_server.url)
        try:
            await until(lambda: outcome(server, "run") == 45, "every request ran")
            await asyncio.sleep(0.8)
            assert len(await records(client)) == 5
        finally:
            await client.aclose()
    assert [version for version, _ in answers] == ["1"] * 40


async def test_a_candidate_with_other_inputs_is_not_shadowed(
    registry: dict[str, Any], redis_server: RedisServer
) -> None:
    register_onnx_model(registry["uri"], registry["narrow"], alias="staging")
    async with InferenceServer.running(shadow_settings(registry, redis_server.url)) as server:
        endpoint, controller = server.dataplane.endpoints[MODEL_NAME], server.shadows[MODEL_NAME]
        await controller.sync()
        await controller.sync()  # counted once
        assert controller.shadow.model is not None
        assert endpoint.shadow is None
        assert sample(server, "inference_shadow_incompatible_total") == 1.0
        answers = await send(server, [features(1) for _ in range(5)])
    assert [version for version, _ in answers] == ["1"] * 5
