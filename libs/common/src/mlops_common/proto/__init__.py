"""Generated Open Inference Protocol stubs (``make proto``); never edit the ``*_pb2*`` files.

Use them as ``from mlops_common.proto import grpc_service_pb2 as pb, grpc_service_pb2_grpc``.
"""
