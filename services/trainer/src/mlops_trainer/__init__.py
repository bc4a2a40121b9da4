"""mlops_trainer: training, MLflow tracking and registry, ONNX export, retraining worker."""

__version__ = "0.1.0"
