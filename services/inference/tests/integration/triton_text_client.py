"""Send texts to a server with Triton's stock Python gRPC client (BYTES, raw contents); print
the outputs as JSON.

Run in its own process (see ``triton_client.py``). Usage:
``python triton_text_client.py HOST:PORT MODEL TEXT...``.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import tritonclient.grpc as triton


def main(url: str, model: str, texts: list[str]) -> None:
    """One inference of ``texts``; print every output as a list."""
    data = np.array([text.encode("utf-8") for text in texts], dtype=np.object_)
    client = triton.InferenceServerClient(url=url)
    infer_input = triton.InferInput("text", [len(texts)], "BYTES")
    infer_input.set_data_from_numpy(data)
    result = client.infer(model, [infer_input])
    response = result.get_response(as_json=True)
    names = [output["name"] for output in response["outputs"]]
    print(json.dumps({name: result.as_numpy(name).tolist() for name in names}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
