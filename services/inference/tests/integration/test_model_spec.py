"""A registry version's ``model-spec.json`` loads with its model; a mismatching one is refused."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from mlflow import MlflowClient

from mlops_common.model_spec import MODEL_SPEC_ARTIFACT, parse_spec
from mlops_common.proto import grpc_service_pb2 as pb
from mlops_common.proto import grpc_service_pb2_grpc as pb_grpc
from mlops_common.testing.iris import INPUT, OUTPUT, write_iris_model
from mlops_common.testing.onnx_models import register_onnx_model
from mlops_common.testing.pytest_plugin import MlflowStore
from mlops_inference.server import InferenceServer

from .conftest import settings_for

IRIS, GHOST = "iris", "ghost"
CLASSES = ["setosa", "versicolor", "virginica"]


def iris_spec(**changes: Any) -> dict[str, Any]:
    """The iris model's spec, with ``changes`` applied to its ``input``."""
    return {
        "name": IRIS,
        "task": "iris",
        "input": {"kind": "features", "tensor": INPUT, "datatype": "FP32", "shape": [-1, 4]}
        | changes,
        "output": {"tensor": OUTPUT, "classes": CLASSES},
        "monitored": [{"name": "sepal_length", "source": "input:0"}],
        "preprocessing": "identity@1",
        "trainable": False,
    }


def register_with_spec(uri: str, path: Path, spec: dict[str, Any]) -> str:
    """Register ``path`` as a production version of iris, with ``spec`` in its run."""
    version = register_onnx_model(uri, path, name=IRIS)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    run_id = client.get_model_version(IRIS, version).run_id
    assert run_id is not None
    client.log_text(run_id, json.dumps(spec), MODEL_SPEC_ARTIFACT)
    return version


async def _until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(300):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting until {what}")


@pytest.mark.slow
async def test_spec_loads_with_the_version_and_a_mismatching_one_is_refused(
    mlflow_store: MlflowStore, tmp_path: Path
) -> None:
    uri = mlflow_store.tracking_uri
    path = write_iris_model(tmp_path / "iris.onnx")
    await asyncio.to_thread(register_with_spec, uri, path, iris_spec())
    settings = settings_for(
        "", models=f"{IRIS},{GHOST}", mlflow_tracking_uri=uri, watch_redis=False,
        poll_interval_s=0.2,
    )  # fmt: skip
    async with (
        InferenceServer.running(settings) as server,
        grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel,
    ):
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        iris = server.dataplane.endpoints[IRIS]
        assert iris.model is not None
        assert iris.model.spec is not None
        assert iris.model.spec.classes == CLASSES
        assert (await stub.ModelReady(pb.ModelReadyRequest(name=IRIS))).ready
        # ModelMetadata carries the served version's spec.
        served = await stub.ModelMetadata(pb.ModelMetadataRequest(name=IRIS))
        spec = parse_spec(json.loads(served.parameters["model_spec"].string_param))
        assert spec == iris.model.spec
        # A model with no registered version stays not ready, with the registry's answer.
        assert not (await stub.ModelReady(pb.ModelReadyRequest(name=GHOST))).ready
        assert not (await stub.ServerReady(pb.ServerReadyRequest())).ready
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ModelMetadata(pb.ModelMetadataRequest(name=GHOST))
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "cannot resolve models:/ghost@production" in (caught.value.details() or "")

        # Version 2's spec names an input the graph does not have: refused, version 1 stays.
        bad = iris_spec(tensor="features", shape=[-1, 5])
        await asyncio.to_thread(register_with_spec, uri, path, bad)
        await _until(lambda: iris.error is not None, "version 2 was refused")
        assert "input.tensor 'features' is not an input of the graph" in (iris.error or "")
        meta = await stub.ModelMetadata(pb.ModelMetadataRequest(name=IRIS))
        assert meta.versions == ["1"]
        assert (await stub.ModelReady(pb.ModelReadyRequest(name=IRIS))).ready
