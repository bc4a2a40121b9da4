"""mlops_inference: Open Inference Protocol gRPC server: ONNX, dynamic batching, hot swap."""

__version__ = "0.1.0"
