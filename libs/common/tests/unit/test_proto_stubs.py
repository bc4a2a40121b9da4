"""The committed Open Inference Protocol stubs are what `make proto` generates, and they work."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mlops_common.proto import grpc_service_pb2 as pb
from mlops_common.proto import grpc_service_pb2_grpc as pb_grpc

ROOT = Path(__file__).resolve().parents[4]
COMMITTED = ROOT / "libs" / "common" / "src" / "mlops_common" / "proto"


def test_regenerating_changes_nothing(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_proto.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    generated = sorted(p.name for p in tmp_path.glob("*_pb2*"))
    assert generated == [
        "grpc_service_pb2.py",
        "grpc_service_pb2.pyi",
        "grpc_service_pb2_grpc.py",
        "grpc_service_pb2_grpc.pyi",
    ]
    for name in generated:
        assert (tmp_path / name).read_bytes() == (COMMITTED / name).read_bytes(), name


def test_service_and_messages_follow_the_specification() -> None:
    service = pb.DESCRIPTOR.services_by_name["GRPCInferenceService"]
    assert service.full_name == "inference.GRPCInferenceService"
    assert {"ServerLive", "ServerReady", "ModelReady", "ServerMetadata", "ModelMetadata"} <= set(
        service.methods_by_name
    )
    request = pb.ModelInferRequest(model_name="m", raw_input_contents=[b"\x00" * 4])
    request.inputs.add(name="features", datatype="FP32", shape=[1, 1])
    parsed = pb.ModelInferRequest.FromString(request.SerializeToString())
    assert parsed.raw_input_contents == [b"\x00" * 4]
    assert list(parsed.inputs[0].shape) == [1, 1]
    assert hasattr(pb_grpc, "GRPCInferenceServiceStub")
    assert hasattr(pb_grpc, "add_GRPCInferenceServiceServicer_to_server")
