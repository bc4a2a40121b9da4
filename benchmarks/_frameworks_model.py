"""The serving-frameworks benchmark's model: the default digits config trained once with the
trainer's own code, exported with the pipeline's ONNX export, and saved for every target."""

from __future__ import annotations

import json
import time
from pathlib import Path

from _loadgen import INSTANCE


def prepare_model(folder: Path) -> float:
    """Train the default config into ``folder`` (``model.onnx``, ``model.pt``, ``model.json``)
    unless the files are there; the seconds it took."""
    if all((folder / name).is_file() for name in ("model.onnx", "model.pt", "model.json")):
        return 0.0
    import torch

    from mlops_trainer.config import compose_config
    from mlops_trainer.export import check_parity, export_onnx
    from mlops_trainer.train import train

    started = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    cfg = compose_config(["trainer.enable_progress_bar=false"])
    trained = train(cfg)
    export_onnx(trained.network, folder / "model.onnx", opset=int(cfg.export.opset))
    parity = check_parity(
        trained.network, folder / "model.onnx", trained.split.x_test,
        atol=float(cfg.export.parity_atol),
    )  # fmt: skip
    if not parity.ok:
        raise RuntimeError(f"ONNX and PyTorch disagree: {parity.as_dict()}")
    torch.save(trained.network.state_dict(), folder / "model.pt")
    sizes = {k: v for k, v in dict(cfg.model).items() if k != "_target_"}
    (folder / "model.json").write_text(json.dumps(sizes))
    print(f"trained: test accuracy {trained.metrics.get('test_accuracy', float('nan')):.4f}")
    return time.perf_counter() - started


def expected_class(model: Path) -> int:
    """The ONNX model's class for the row the load generators send."""
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    (probabilities,) = session.run(None, {"features": np.asarray([INSTANCE], dtype=np.float32)})
    return int(probabilities.argmax())
