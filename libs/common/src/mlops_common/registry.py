"""Names every part agrees on for models in the MLflow registry and the ONNX graph.

A registered version of :data:`MODEL_NAME` is produced by the trainer and carries:
- the ONNX model logged with the ``mlflow.onnx`` flavour at :data:`ONNX_ARTIFACT_PATH` of its run
  (input :data:`ONNX_INPUT_NAME` ``float32[N, 64]`` on the 0..16 scale, output
  :data:`ONNX_OUTPUT_NAME` ``float32[N, 10]`` class probabilities);
- test metrics as run metrics (``test_accuracy``, ``test_f1``);
- a reference sample for drift at :data:`REFERENCE_ARTIFACT` of its run: a CSV with the 64
  :data:`~mlops_common.features.FEATURE_NAMES` columns plus ``label`` (true class),
  ``prediction`` and ``confidence`` (the model's own answer on that row).
"""

from __future__ import annotations

from typing import Final

MODEL_NAME: Final = "digits-classifier"
ALIAS_STAGING: Final = "staging"
ALIAS_PRODUCTION: Final = "production"
PRODUCTION_URI: Final = f"models:/{MODEL_NAME}@{ALIAS_PRODUCTION}"

ONNX_ARTIFACT_PATH: Final = "model"
ONNX_INPUT_NAME: Final = "features"
ONNX_OUTPUT_NAME: Final = "probabilities"
N_CLASSES: Final = 10

REFERENCE_ARTIFACT: Final = "reference/features.csv"
REFERENCE_LABEL_COLUMN: Final = "label"
REFERENCE_PREDICTION_COLUMN: Final = "prediction"
REFERENCE_CONFIDENCE_COLUMN: Final = "confidence"
