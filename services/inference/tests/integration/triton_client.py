"""Run Triton's stock Python gRPC client against a server; print what it saw as JSON.

Run in its own process: tritonclient's stubs register the proto package ``inference`` in
protobuf's default pool, as ours do, so the two cannot be imported in one process.
Usage: ``python triton_client.py HOST:PORT INPUT.npy``.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import tritonclient.grpc as triton


def main(url: str, input_path: str) -> None:
    """Query readiness, metadata and one inference; print a JSON summary."""
    x = np.load(input_path)
    client = triton.InferenceServerClient(url=url)
    infer_input = triton.InferInput("features", list(x.shape), "FP32")
    infer_input.set_data_from_numpy(x)
    result = client.infer(
        "digits-classifier",
        [infer_input],
        outputs=[triton.InferRequestedOutput("probabilities")],
        request_id="triton-1",
    )
    meta = client.get_model_metadata("digits-classifier", as_json=True)
    response = result.get_response(as_json=True)
    summary = {
        "live": client.is_server_live(),
        "ready": client.is_server_ready(),
        "model_ready": client.is_model_ready("digits-classifier"),
        "unknown_ready": client.is_model_ready("nope"),
        "server_name": client.get_server_metadata(as_json=True)["name"],
        "metadata": meta,
        "version": response["model_version"],
        "id": response["id"],
        "probabilities": result.as_numpy("probabilities").tolist(),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
