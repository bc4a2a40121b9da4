"""The prediction pipeline: inputs → the model's tensor → inference → answer, and its traffic.

Routes only translate HTTP; this is where a request's instances are checked against the served
version's spec (:class:`~mlops_gateway.catalog.ServedModel`), become a ``ModelInfer`` call, each
predicted instance gets its own id, and its traffic entry is offered to the logger (the model's
own stream).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import orjson
from numpy.typing import NDArray

from mlops_common.errors import InputError, InvalidFeaturesError, InvalidImageError
from mlops_common.features import image_to_features
from mlops_common.vectors import validate_vectors
from mlops_gateway.catalog import ModelCatalog, ServedModel
from mlops_gateway.inference import InferenceClient
from mlops_gateway.metrics import GatewayMetrics
from mlops_gateway.schemas import PredictResponse
from mlops_gateway.traffic import TrafficLogger, TrafficRecord

#: Preprocessing of the digits task: images become its 8×8 grid on 0..16.
DIGITS_PREPROCESSING = "digits-8x8@"


class Predictor:
    """Runs predictions through the inference client and logs their traffic."""

    def __init__(
        self,
        inference: InferenceClient,
        catalog: ModelCatalog,
        traffic: TrafficLogger | None,
        metrics: GatewayMetrics,
        *,
        max_instances: int,
        max_image_bytes: int,
        max_image_pixels: int,
    ) -> None:
        self._inference = inference
        self.catalog = catalog
        self._traffic = traffic
        self._metrics = metrics
        self.max_instances = max_instances
        self.max_image_bytes = max_image_bytes
        self.max_image_pixels = max_image_pixels

    def check_instances(
        self, model: ServedModel, instances: Sequence[Sequence[float]] | NDArray[np.float32]
    ) -> NDArray[np.float32]:
        """``instances`` as float32 ``[n, width]``, checked against the model's spec."""
        spec = model.spec
        assert spec is not None  # the catalog hands out only models with a spec
        width = spec.input.width
        if spec.input.kind == "text" or width is None:
            raise InvalidFeaturesError(
                f"model {model.name!r} takes {spec.input.kind} input, not 'instances' of numbers"
            )
        hint = "an 8×8 grid" if spec.preprocessing.startswith(DIGITS_PREPROCESSING) else ""
        return validate_vectors(
            instances,
            width=width,
            value_range=spec.input.range,
            max_instances=self.max_instances,
            hint=hint,
        )

    async def predict_instances(
        self,
        model: ServedModel,
        instances: Sequence[Sequence[float]] | NDArray[np.float32],
        request_id: str,
        *,
        request_id_unique: bool = False,
    ) -> PredictionResult:
        """Predict feature vectors (their width and range as the model's spec says)."""
        features = self.check_instances(model, instances)
        return await self.predict_checked(
            model, features, request_id, request_id_unique=request_id_unique
        )

    async def predict_images(
        self,
        model: ServedModel,
        images: Sequence[bytes],
        request_id: str,
        *,
        request_id_unique: bool = False,
    ) -> PredictionResult:
        """Predict encoded images (decoded in a worker thread: decoding is CPU work)."""
        assert model.spec is not None
        if not model.spec.preprocessing.startswith(DIGITS_PREPROCESSING):
            raise InputError(
                f"model {model.name!r} takes no images (its preprocessing is "
                f"{model.spec.preprocessing!r}); send 'instances'"
            )
        if len(images) > self.max_instances:
            raise InvalidFeaturesError(
                f"{len(images)} images in one request; the limit is {self.max_instances}"
            )
        features = await asyncio.to_thread(self._decode_all, images)
        return await self.predict_checked(
            model, features, request_id, request_id_unique=request_id_unique
        )

    async def predict_base64(
        self,
        model: ServedModel,
        images: Sequence[str],
        request_id: str,
        *,
        request_id_unique: bool = False,
    ) -> PredictionResult:
        """Predict base64-encoded images."""
        return await self.predict_images(
            model,
            [decode_base64(i, n) for n, i in enumerate(images)],
            request_id,
            request_id_unique=request_id_unique,
        )

    def _decode_all(self, images: Sequence[bytes]) -> NDArray[np.float32]:
        rows = [
            image_to_features(
                data, max_bytes=self.max_image_bytes, max_pixels=self.max_image_pixels
            )
            for data in images
        ]
        return np.stack(rows)

    async def predict_checked(
        self,
        model: ServedModel,
        features: NDArray[np.float32],
        request_id: str,
        *,
        request_id_unique: bool = False,
    ) -> PredictionResult:
        """Call inference on checked ``[n, width]`` inputs; offer the traffic to the logger.

        A one-instance request whose id is unique (the gateway made it) uses that id as its
        prediction id: feedback may name either, and the id index holds one field for it, not two.
        """
        assert model.spec is not None
        start = time.perf_counter()
        result = await self._inference.predict(model.name, model.spec, features, request_id)
        elapsed = time.perf_counter() - start
        self._metrics.inference_duration.observe(elapsed)
        if result.model_version != model.version:
            self.catalog.stale(model.name, result.model_version)
        probabilities = result.probabilities
        labels = probabilities.argmax(axis=1)
        confidences = probabilities.max(axis=1)
        n = len(labels)
        ids = [request_id] if request_id_unique and n == 1 else new_ids(n)
        if self._traffic is not None:
            self._traffic.offer(
                TrafficRecord(
                    model=model.name,
                    request_id=request_id,
                    model_version=result.model_version,
                    ids=ids,
                    features=features.reshape(n, -1),
                    labels=labels,
                    confidences=confidences,
                    latency_ms=elapsed * 1000.0,
                    timestamp=time.time(),
                )
            )
        return PredictionResult(
            request_id, result.model_name, result.model_version, ids, labels, confidences,
            probabilities, model.classes,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class PredictionResult:
    """The answer of a prediction request, rendered straight to JSON (no model validation)."""

    request_id: str
    model_name: str
    model_version: str
    ids: list[str]
    labels: NDArray[np.int64]
    confidences: NDArray[np.float32]
    probabilities: NDArray[np.float32]
    classes: Sequence[str] = ()

    def to_json(self, *, class_names: bool = False) -> bytes:
        """The :class:`PredictResponse` document as JSON bytes (orjson).

        ``class_names``: each ``label`` is the class's name and ``class_index`` its index (the
        per-model routes); otherwise ``label`` is the index (the first wave's ``/v1/predict``).
        """
        labels, confidences = self.labels.tolist(), self.confidences.tolist()
        rows = self.probabilities.tolist()
        if class_names:
            names = self.classes
            predictions = [
                {
                    "id": self.ids[i],
                    "label": names[labels[i]],
                    "class_index": labels[i],
                    "confidence": confidences[i],
                    "probabilities": rows[i],
                }
                for i in range(len(self.ids))
            ]
        else:
            predictions = [
                {
                    "id": self.ids[i],
                    "label": labels[i],
                    "confidence": confidences[i],
                    "probabilities": rows[i],
                }
                for i in range(len(self.ids))
            ]
        return orjson.dumps(
            {
                "request_id": self.request_id,
                "model": {"name": self.model_name, "version": self.model_version},
                "predictions": predictions,
            }
        )

    def to_model(self) -> PredictResponse:
        """The same answer as a pydantic model."""
        return PredictResponse.model_validate_json(self.to_json())


def new_ids(n: int) -> list[str]:
    """``n`` random 128-bit ids as 32 hex digits (one ``urandom`` call, not one per id)."""
    raw = os.urandom(16 * n).hex()
    return [raw[32 * i : 32 * (i + 1)] for i in range(n)]


def decode_base64(text: str, index: int = 0) -> bytes:
    """Bytes of a base64 image (a ``data:image/...;base64,`` prefix is accepted)."""
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidImageError(f"image {index} is not valid base64: {exc}") from exc
