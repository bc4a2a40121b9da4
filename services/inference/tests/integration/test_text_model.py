"""A text model (``BYTES`` input) served beside the digits model: both contents layouts, every
output or the named ones, refusals that say what to fix, and batching of concurrent texts."""

from __future__ import annotations

import asyncio
import json
import struct
import sys
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import numpy as np
import pytest

from mlops_common.proto import grpc_service_pb2 as pb
from mlops_common.proto import grpc_service_pb2_grpc as pb_grpc
from mlops_common.testing.news import CLASSES, write_news_model
from mlops_inference.model import load_session
from mlops_inference.server import InferenceServer

from .conftest import infer_request, probabilities, settings_for

NEWS, DIGITS = "news-classifier", "digits-classifier"
OUTPUTS = ["probabilities", "embedding", "n_tokens", "oov_share"]
TEXTS = ["the football match", "shares and profit at the bank", "zzz unknown words", ""]
SCRIPT = Path(__file__).with_name("triton_text_client.py")


@pytest.fixture(scope="module")
def news_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small ONNX news classifier (a ``tensor(string)`` input)."""
    return write_news_model(tmp_path_factory.mktemp("news") / "news.onnx")


@pytest.fixture
async def served(linear_model: Path, news_model: Path) -> AsyncIterator[InferenceServer]:
    """Digits and news in one server; batches may wait 20 ms to fill, and run in a worker thread
    (not inline on the event loop), so requests queue up while a batch runs."""
    settings = settings_for(
        "",
        models=f"{DIGITS}={linear_model},{NEWS}={news_model}",
        max_batch_wait_ms=20.0,
        inline_max_ms=0.0,
    )
    async with InferenceServer.running(settings) as server:
        yield server


@pytest.fixture
async def stub(served: InferenceServer) -> AsyncIterator[pb_grpc.GRPCInferenceServiceStub]:
    """A stub on the served models."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{served.port}") as channel:
        yield pb_grpc.GRPCInferenceServiceStub(channel)


def expected(model: Path, texts: list[str]) -> dict[str, np.ndarray]:
    """Every output of the model for ``texts``, from onnxruntime directly."""
    session = load_session(model, "news", "v", threads=1)
    return session.predict({"text": np.array(texts, dtype=object)})


def raw_texts(texts: list[bytes]) -> bytes:
    """Triton's layout: a 4-byte little-endian length, then the bytes, per element."""
    return b"".join(struct.pack("<I", len(t)) + t for t in texts)


def text_request(
    texts: list[str], *, raw: bool = False, outputs: tuple[str, ...] = (), datatype: str = "BYTES"
) -> pb.ModelInferRequest:
    """A ``ModelInfer`` of ``texts`` for the news model."""
    tensor = pb.ModelInferRequest.InferInputTensor(
        name="text", datatype=datatype, shape=[len(texts)]
    )
    encoded = [t.encode("utf-8") for t in texts]
    request = pb.ModelInferRequest(
        model_name=NEWS,
        inputs=[tensor],
        outputs=[pb.ModelInferRequest.InferRequestedOutputTensor(name=n) for n in outputs],
    )
    if raw:
        request.raw_input_contents.append(raw_texts(encoded))
    else:
        request.inputs[0].contents.bytes_contents.extend(encoded)
    return request


def answer(response: pb.ModelInferResponse) -> dict[str, np.ndarray]:
    """The response's outputs as float32 arrays of their shapes."""
    return {
        out.name: np.frombuffer(raw, "<f4").reshape(list(out.shape))
        for out, raw in zip(response.outputs, response.raw_output_contents, strict=True)
    }


def assert_matches(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    """Same outputs, same values."""
    assert list(got) == list(want)
    for name, array in want.items():
        np.testing.assert_allclose(got[name], array, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("raw", [False, True], ids=["bytes_contents", "raw_contents"])
async def test_texts_answer_every_output_in_both_layouts(
    stub: pb_grpc.GRPCInferenceServiceStub, news_model: Path, raw: bool
) -> None:
    response = await stub.ModelInfer(text_request(TEXTS, raw=raw))
    assert response.model_name == NEWS
    assert [(o.name, o.datatype) for o in response.outputs] == [(n, "FP32") for n in OUTPUTS]
    got = answer(response)
    assert_matches(got, expected(news_model, TEXTS))
    assert CLASSES[int(got["probabilities"][0].argmax())] == "sports"
    assert CLASSES[int(got["probabilities"][1].argmax())] == "business"
    assert got["n_tokens"].tolist() == [3.0, 6.0, 3.0, 0.0]
    # The digits model answers beside it.
    digits = await stub.ModelInfer(infer_request(np.full((2, 64), 8.0, np.float32)))
    assert probabilities(digits).shape == (2, 10)


async def test_only_the_named_outputs_come_back(
    stub: pb_grpc.GRPCInferenceServiceStub, news_model: Path
) -> None:
    response = await stub.ModelInfer(text_request(TEXTS, outputs=("oov_share", "probabilities")))
    want = expected(news_model, TEXTS)
    assert_matches(answer(response), {n: want[n] for n in ("oov_share", "probabilities")})


async def test_metadata_shows_the_string_input(stub: pb_grpc.GRPCInferenceServiceStub) -> None:
    meta = await stub.ModelMetadata(pb.ModelMetadataRequest(name=NEWS))
    assert [(t.name, t.datatype, list(t.shape)) for t in meta.inputs] == [("text", "BYTES", [-1])]
    assert [t.name for t in meta.outputs] == OUTPUTS


async def _refused(stub: pb_grpc.GRPCInferenceServiceStub, request: pb.ModelInferRequest) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.ModelInfer(request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    return caught.value.details() or ""


async def test_bad_text_requests_are_invalid_argument_with_a_reason(
    stub: pb_grpc.GRPCInferenceServiceStub,
) -> None:
    bad = text_request(["fine"])
    bad.inputs[0].contents.bytes_contents[0] = b"caf\xe9"  # Latin-1, not UTF-8
    assert "element 0 is not valid UTF-8" in await _refused(stub, bad)
    raw = pb.ModelInferRequest(
        model_name=NEWS,
        inputs=[pb.ModelInferRequest.InferInputTensor(name="text", datatype="BYTES", shape=[2])],
        raw_input_contents=[raw_texts([b"ok", b"\xff"])],
    )
    assert "element 1 is not valid UTF-8" in await _refused(stub, raw)
    truncated = text_request(["a", "b"], raw=True)
    truncated.raw_input_contents[0] = truncated.raw_input_contents[0][:-1]
    assert "element 1 declares 1 bytes but only 0 remain" in await _refused(stub, truncated)
    # Numbers for the text model, text for the numeric model.
    numbers = pb.ModelInferRequest(
        model_name=NEWS,
        inputs=[pb.ModelInferRequest.InferInputTensor(name="text", datatype="FP32", shape=[1])],
        raw_input_contents=[np.zeros(1, "<f4").tobytes()],
    )
    assert "has datatype FP32; the model takes BYTES" in await _refused(stub, numbers)
    words = pb.ModelInferRequest(
        model_name=DIGITS,
        inputs=[
            pb.ModelInferRequest.InferInputTensor(name="features", datatype="BYTES", shape=[1, 64])
        ],
    )
    words.inputs[0].contents.bytes_contents.extend([b"x"] * 64)
    assert "has datatype BYTES; the model takes FP32" in await _refused(stub, words)
    short = text_request(["one", "two"])
    short.inputs[0].shape[:] = [3]
    assert "holds 2 strings; shape [3] BYTES needs 3" in await _refused(stub, short)
    wide = text_request(["one"])
    wide.inputs[0].shape[:] = [1, 1]
    assert "has shape [1, 1]; the model takes [-1]" in await _refused(stub, wide)
    unknown = text_request(["one"], outputs=("logits",))
    assert "unknown output(s) ['logits']" in await _refused(stub, unknown)


async def test_concurrent_text_requests_share_batches_and_get_their_own_answers(
    served: InferenceServer, stub: pb_grpc.GRPCInferenceServiceStub, news_model: Path
) -> None:
    rng = np.random.default_rng(7)
    words = ["football", "film", "election", "software", "bank", "zzz", "the", "ü"]
    url = f"http://127.0.0.1:{served.metrics_port}/metrics"

    def counted(text: str, name: str) -> float:
        line = next(
            line for line in text.splitlines() if line.startswith(f'{name}{{model="{NEWS}"}}')
        )
        return float(line.rpartition(" ")[2])

    sent = rows = 0
    shared = False
    # On a busy host requests may reach the batcher one by one (a lone request never waits):
    # up to 5 rounds of 40 concurrent requests, until some of them shared a batch.
    for _ in range(5):
        requests = [
            [" ".join(rng.choice(words, size=int(rng.integers(0, 6)))) for _ in range(1 + i % 3)]
            for i in range(40)
        ]
        responses = await asyncio.gather(
            *(stub.ModelInfer(text_request(t, raw=bool(i % 2))) for i, t in enumerate(requests))
        )
        for texts, response in zip(requests, responses, strict=True):
            assert_matches(answer(response), expected(news_model, texts))
        sent += len(requests)
        rows += sum(len(t) for t in requests)
        text = await asyncio.to_thread(
            lambda: urllib.request.urlopen(url, timeout=5).read().decode()
        )
        assert counted(text, "inference_batch_size_sum") == float(rows)
        if counted(text, "inference_batch_size_count") < sent:
            shared = True
            break
    assert shared, "no two of 200 concurrent text requests shared a batch"


async def test_tritonclient_sends_texts_as_raw_bytes(
    served: InferenceServer, news_model: Path
) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(SCRIPT), f"127.0.0.1:{served.port}", NEWS, *TEXTS[:3],
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, err.decode()
    seen = {name: np.asarray(values, np.float32) for name, values in json.loads(out).items()}
    assert_matches(seen, expected(news_model, TEXTS[:3]))
