"""Generate the Open Inference Protocol stubs (messages, gRPC, and their type stubs).

    python scripts/gen_proto.py                 # into libs/common/src/mlops_common/proto
    python scripts/gen_proto.py --out /tmp/x    # elsewhere (the freshness test does this)

protoc writes top-level imports (``import grpc_service_pb2``); they are rewritten to the package
path so the stubs import as ``mlops_common.proto.grpc_service_pb2``.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess  # nosec B404: runs only grpc_tools.protoc with an argv list, no shell
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "protos" / "inference"
DEFAULT_OUT = ROOT / "libs" / "common" / "src" / "mlops_common" / "proto"
PACKAGE = "mlops_common.proto"
_IMPORT = re.compile(r"^import (\w+_pb2)( as \w+)?$", re.MULTILINE)


def _plugin(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: install mypy-protobuf (make setup)")
    return found


def generate(out: Path) -> list[Path]:
    """Run protoc on every proto under protos/inference into ``out``; return the files written."""
    out.mkdir(parents=True, exist_ok=True)
    protos = sorted(p.name for p in PROTO_DIR.glob("*.proto"))
    cmd = [
        sys.executable, "-m", "grpc_tools.protoc", f"-I{PROTO_DIR}",
        f"--plugin=protoc-gen-mypy={_plugin('protoc-gen-mypy')}",
        f"--plugin=protoc-gen-mypy_grpc={_plugin('protoc-gen-mypy_grpc')}",
        f"--python_out={out}", f"--grpc_python_out={out}",
        f"--mypy_out={out}", f"--mypy_grpc_out={out}", *protos,
    ]  # fmt: skip
    subprocess.run(cmd, check=True)  # nosec B603: argv list (this Python -m grpc_tools.protoc, repo paths), no shell
    written = []
    for path in sorted(out.glob("*_pb2*.py*")):
        text = path.read_text()
        fixed = _IMPORT.sub(lambda m: f"from {PACKAGE} import {m.group(1)}{m.group(2) or ''}", text)
        path.write_text(fixed)
        written.append(path)
    return written


def main() -> None:
    """Command-line entry: generate into ``--out``."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    for path in generate(args.out):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()
