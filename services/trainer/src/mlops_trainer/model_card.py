"""A short Markdown model card logged with every run."""

from __future__ import annotations

from omegaconf import DictConfig

from mlops_common.registry import MODEL_NAME, ONNX_INPUT_NAME, ONNX_OUTPUT_NAME
from mlops_trainer.data import Manifest
from mlops_trainer.export import Parity


def model_card(
    cfg: DictConfig, manifest: Manifest, metrics: dict[str, float], parity: Parity, run_id: str
) -> str:
    """Markdown describing the model, its data version, its metrics and its ONNX parity."""
    metric_rows = "\n".join(f"| {name} | {value:.4f} |" for name, value in sorted(metrics.items()))
    verdict = "pass" if parity.ok else "FAIL"
    sizes = ", ".join(f"{name} {size}" for name, size in manifest.sizes.items())
    return f"""# Model card: {MODEL_NAME}

- **Run**: `{run_id}`
- **Network**: `{cfg.model._target_}` (width {cfg.model.get("width")}, \
depth {cfg.model.get("depth")}, dropout {cfg.model.get("dropout")}); \
optimizer `{cfg.optimizer._target_}` lr {cfg.optimizer.lr}; \
{cfg.trainer.max_epochs} epochs, seed {cfg.seed}
- **Interface**: ONNX input `{ONNX_INPUT_NAME}` float32 [N, 64] on the 0..16 scale (normalisation
  is inside the graph), output `{ONNX_OUTPUT_NAME}` float32 [N, 10] class probabilities.

## Data
- Source: `{manifest.source}`; split seed {manifest.seed}; sizes: {sizes}
- Content hash (SHA-256): `{manifest.content_hash}`

## Test metrics
| metric | value |
|---|---|
{metric_rows}

## ONNX parity (whole test set)
- samples {parity.samples}, argmax mismatches {parity.argmax_mismatches},
  max |Δp| {parity.max_abs_diff:.2e} (tolerance {parity.atol:.0e}) → {verdict}

## Intended use and limits
Recognises one handwritten digit per 8×8 grey grid. Images of other sizes must go through
`mlops_common.features.image_to_features`. Not for multi-digit images or non-digit content.
"""
