"""The prediction pipeline: inputs → the model's tensor → inference → answer, and its traffic.

Routes only translate HTTP; this is where a request's instances are checked against the served
version's spec (:class:`~mlops_gateway.catalog.ServedModel`), become a ``ModelInfer`` call, each
predicted instance gets its own id, and its traffic entry is offered to the logger (the model's
own stream). A text model's texts go to inference as one ``BYTES`` tensor; its traffic entries
log the values of its spec's ``output:<tensor>:<i>`` columns and, unless turned off, the text.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from mlops_common.errors import InputError, InvalidFeaturesError, InvalidImageError
from mlops_common.features import image_to_features
from mlops_common.shadow import prediction_ids
from mlops_common.vectors import validate_vectors
from mlops_gateway.answers import PredictionResult, new_ids
from mlops_gateway.catalog import ModelCatalog, ServedModel
from mlops_gateway.coalesce import Coalescer
from mlops_gateway.inference import InferenceClient, Prediction
from mlops_gateway.metrics import GatewayMetrics
from mlops_gateway.texts import check_texts
from mlops_gateway.traffic import TrafficLogger, TrafficRecord

__all__ = ["PredictionResult", "Predictor", "decode_base64", "new_ids"]

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
        max_text_chars: int = 20_000,
        store_text: bool = True,
        traffic_text_max_chars: int = 20_000,
        coalescer: Coalescer | None = None,
    ) -> None:
        self._inference = inference
        self.catalog = catalog
        self._traffic = traffic
        self._metrics = metrics
        self.max_instances = max_instances
        self.max_image_bytes = max_image_bytes
        self.max_image_pixels = max_image_pixels
        self.max_text_chars = max_text_chars
        self.store_text = store_text
        self.traffic_text_max_chars = traffic_text_max_chars
        #: How predictions of numbers go to inference (without one: each its own call).
        self._coalescer = coalescer or Coalescer(inference, max_inflight=0, max_rows=1)

    def check_instances(
        self, model: ServedModel, instances: Sequence[Sequence[float]] | NDArray[np.float32]
    ) -> NDArray[np.float32]:
        """``instances`` as float32 ``[n, width]``, checked against the model's spec."""
        spec = model.spec
        assert spec is not None  # nosec B101: the catalog hands out only models with a spec
        width = spec.input.width
        if spec.input.kind == "text":
            raise InputError(
                f"model {model.name!r} takes text, not 'instances' of numbers: send "
                '{"texts": ["..."]}, one string per instance'
            )
        if width is None:
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
        assert model.spec is not None  # nosec B101: the catalog returns only models with a spec; narrows the type for mypy
        if not model.spec.preprocessing.startswith(DIGITS_PREPROCESSING):
            send = "texts" if model.spec.input.kind == "text" else "instances"
            raise InputError(
                f"model {model.name!r} takes no images (its preprocessing is "
                f"{model.spec.preprocessing!r}); send {send!r}"
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
        assert model.spec is not None  # nosec B101: the catalog returns only models with a spec; narrows the type for mypy
        infer_id = inference_id(request_id, request_id_unique)
        start = time.perf_counter()
        result = await self._coalescer.predict(
            model.name, model.spec, features, request_id, infer_id
        )
        elapsed = time.perf_counter() - start
        n = len(features)
        return self._answer(model, result, features.reshape(n, -1), request_id, infer_id, elapsed)

    async def predict_texts(
        self,
        model: ServedModel,
        texts: Sequence[object],
        request_id: str,
        *,
        request_id_unique: bool = False,
    ) -> PredictionResult:
        """Predict texts (one string per instance) with a text model; its traffic logs the
        values of the spec's ``output:<tensor>:<i>`` columns and the (cut) text."""
        spec = model.spec
        assert spec is not None  # nosec B101: the catalog returns only models with a spec; narrows the type for mypy
        checked = check_texts(
            model.name,
            spec,
            texts,
            max_texts=self.max_instances,
            max_chars=self.max_text_chars,
        )
        start = time.perf_counter()
        infer_id = inference_id(request_id, request_id_unique)
        result = await self._inference.predict_texts(
            model.name, spec, checked, request_id, infer_id=infer_id
        )
        elapsed = time.perf_counter() - start
        assert result.logged is not None  # nosec B101: predict_texts() always sets logged; narrows the type for mypy
        limit = self.traffic_text_max_chars
        stored = [text[:limit] for text in checked] if self.store_text else None
        return self._answer(model, result, result.logged, request_id, infer_id, elapsed, stored)

    def _answer(
        self,
        model: ServedModel,
        result: Prediction,
        logged: NDArray[np.float32],
        request_id: str,
        infer_id: str,
        elapsed: float,
        texts: Sequence[str] | None = None,
    ) -> PredictionResult:
        """Observe the call, give each instance its id, offer the traffic (``logged``: the
        ``[n, k]`` values each entry logs), build the answer.

        The prediction ids derive from the inference id (``infer_id``,
        :func:`mlops_common.shadow.prediction_ids`), so inference's shadow records join feedback.
        """
        self._metrics.inference_duration.observe(elapsed)
        if result.model_version != model.version:
            self.catalog.stale(model.name, result.model_version)
        probabilities = result.probabilities
        labels = probabilities.argmax(axis=1)
        confidences = probabilities.max(axis=1)
        n = len(labels)
        ids = prediction_ids(infer_id, n)
        # An entry needs values or a text: a text spec that logs no values, with texts not
        # stored, leaves nothing to log.
        if self._traffic is not None and (logged.shape[1] or texts is not None):
            self._traffic.offer(
                TrafficRecord(
                    model=model.name,
                    request_id=request_id,
                    model_version=result.model_version,
                    ids=ids,
                    features=logged,
                    labels=labels,
                    confidences=confidences,
                    latency_ms=elapsed * 1000.0,
                    timestamp=time.time(),
                    texts=texts,
                )
            )
        return PredictionResult(
            request_id, result.model_name, result.model_version, ids, labels, confidences,
            probabilities, model.classes,
        )  # fmt: skip


def inference_id(request_id: str, request_id_unique: bool) -> str:
    """The id a request carries to inference: the request's own id when the gateway made it
    (unique), else a fresh random one (a client's ``X-Request-ID`` may repeat). Its instances'
    prediction ids derive from it (:func:`mlops_common.shadow.prediction_ids`)."""
    return request_id if request_id_unique else new_ids(1)[0]


def decode_base64(text: str, index: int = 0) -> bytes:
    """Bytes of a base64 image (a ``data:image/...;base64,`` prefix is accepted)."""
    if text.startswith("data:") and "," in text:
        text = text.split(",", 1)[1]
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidImageError(f"image {index} is not valid base64: {exc}") from exc
