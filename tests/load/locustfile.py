"""Realistic load on the gateway: predictions (vectors and images) and feedback on them.

Run headless against a running gateway::

    locust -f tests/load/locustfile.py --headless -u 20 -r 10 -t 30s --host http://localhost:8080

Users send mostly vector predictions of one to a few instances, some base64 images and
multipart uploads, and give feedback on a share of what they got back. Any non-2xx answer is a
failure (a 429 too: size the run below the gateway's rate limit).
"""

from __future__ import annotations

import base64
import io
import random

from locust import FastHttpUser, between, task
from PIL import Image


def _digit_png(seed: int) -> bytes:
    rng = random.Random(seed)
    image = Image.new("L", (28, 28), 255)
    for _ in range(60):
        image.putpixel((rng.randrange(6, 22), rng.randrange(4, 24)), 0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


PNGS = [_digit_png(seed) for seed in range(8)]
PNGS_B64 = [base64.b64encode(png).decode() for png in PNGS]


def _instance(rng: random.Random) -> list[float]:
    return [float(rng.randint(0, 16)) for _ in range(64)]


class GatewayUser(FastHttpUser):
    """A client of the product API."""

    wait_time = between(0.01, 0.05)

    def on_start(self) -> None:
        """Each user has its own random stream."""
        self.rng = random.Random()
        self.recent: list[str] = []

    def _remember(self, body: dict) -> None:  # type: ignore[type-arg]
        self.recent = [p["id"] for p in body["predictions"]][-5:]

    @task(6)
    def predict_instances(self) -> None:
        """1–4 feature vectors."""
        payload = {"instances": [_instance(self.rng) for _ in range(self.rng.randint(1, 4))]}
        with self.client.post("/v1/predict", json=payload, catch_response=True) as response:
            if response.status_code == 200:
                self._remember(response.json())
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")

    @task(2)
    def predict_base64_image(self) -> None:
        """One base64 PNG in JSON."""
        payload = {"images": [self.rng.choice(PNGS_B64)]}
        with self.client.post("/v1/predict", json=payload, catch_response=True) as response:
            if response.status_code == 200:
                self._remember(response.json())
                response.success()
            else:
                response.failure(f"{response.status_code}: {response.text[:200]}")

    @task(1)
    def predict_upload(self) -> None:
        """One multipart upload."""
        files = {"file": ("digit.png", self.rng.choice(PNGS), "image/png")}
        self.client.post("/v1/predict/image", files=files, name="/v1/predict/image")

    @task(2)
    def feedback(self) -> None:
        """The true label of a recent prediction."""
        if not self.recent:
            return
        payload = {"id": self.rng.choice(self.recent), "label": self.rng.randint(0, 9)}
        self.client.post("/v1/feedback", json=payload)
