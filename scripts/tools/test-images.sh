#!/usr/bin/env bash
# `make test-images`: build every image on a real Docker engine and run the compose platform from
# them, checked through the containers (tests/images/test_images.py says what is checked).
# On a machine without a running engine (a CI runner of this project) it installs docker.io,
# docker-compose and debootstrap with apt when missing, starts dockerd (overlay2, no bridge, no
# iptables: the containers use the host's network) and stops it at the end. Nothing is pulled:
# the Python base image is made locally from Debian 12 (scripts/tools/base-image.sh, kept between
# runs), and so is a Redis image. Prints the image sizes, the time of a no-op rebuild and the total.
#   PYTHON             the interpreter with pytest, httpx, pyyaml (default .venv/bin/python)
#   MLOPS_BASE_IMAGE   the base image to build on (default mlops-base:bookworm, made when missing;
#                      name python:3.11-slim where it can be pulled)
set -euo pipefail
cd "$(dirname "$0")/../.."
start=$(date +%s)
PYTHON=${PYTHON:-.venv/bin/python}
export MLOPS_BASE_IMAGE=${MLOPS_BASE_IMAGE:-mlops-base:bookworm}

apt_install() {
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 || {
    echo "test-images: need ${missing[*]} (no apt-get here to install them)" >&2
    exit 1
  }
  echo "test-images: installing ${missing[*]}"
  apt_install "${missing[@]}"
fi

started_engine=""
# shellcheck disable=SC2329  # run by the EXIT trap
stop_engine() {
  [ -z "${index_pid:-}" ] || kill "$index_pid" 2>/dev/null || true
  if [ -n "$started_engine" ]; then
    echo "test-images: stopping the Docker engine it started (pid $started_engine)"
    kill "$started_engine" 2>/dev/null || true
    for _ in $(seq 60); do kill -0 "$started_engine" 2>/dev/null || break; sleep 0.5; done
  fi
}
trap stop_engine EXIT

if ! docker info >/dev/null 2>&1; then
  [ "$(id -u)" -eq 0 ] || {
    echo "test-images: no Docker engine runs and starting one needs root" >&2
    exit 1
  }
  log=$(mktemp /tmp/dockerd.XXXXXX.log)
  echo "test-images: starting dockerd (log: $log)"
  dockerd --storage-driver=overlay2 --bridge=none --iptables=false >"$log" 2>&1 &
  started_engine=$!
  for _ in $(seq 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || {
    tail -20 "$log" >&2
    echo "test-images: dockerd did not start" >&2
    exit 1
  }
fi

if [ "$MLOPS_BASE_IMAGE" = "mlops-base:bookworm" ]; then
  bash scripts/tools/base-image.sh >/dev/null
fi

# torch for the trainer image comes from TORCH_INDEX_URL (PyTorch's CPU index). Where that index
# cannot be reached but this machine holds the locked version's CPU wheel (pip's find-links, e.g.
# /opt/wheels), serve that wheel as a one-package index on 127.0.0.1 for the build.
index_pid=""
torch_pin=$(grep -m1 '^torch==' requirements/trainer.txt | cut -d= -f3)
torch_index=${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}
if ! "$PYTHON" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=15)' \
  "$torch_index/torch/" >/dev/null 2>&1; then
  wheel=""
  for dir in ${TORCH_WHEEL_DIRS:-/opt/wheels $HOME/wheels}; do
    for found in "$dir"/torch-"$torch_pin"+cpu-cp311-*.whl; do
      [ -f "$found" ] && wheel=$found && break 2
    done
  done
  if [ -z "$wheel" ]; then
    echo "test-images: $torch_index is unreachable and no torch-$torch_pin+cpu wheel is here;" \
      "set TORCH_INDEX_URL to a reachable index (or TORCH_WHEEL_DIRS)" >&2
    exit 1
  fi
  served=$(mktemp -d /tmp/torch-index.XXXXXX)
  mkdir "$served/torch"
  ln -s "$wheel" "$served/torch/"
  name=$(basename "$wheel")
  printf '<a href="%s">%s</a>\n' "$name" "$name" >"$served/torch/index.html"
  # a fixed port while it is free: the build argument, hence the layer cache, stays the same
  port=38571
  "$PYTHON" -c "import socket; socket.create_server(('127.0.0.1', $port)).close()" 2>/dev/null ||
    port=$("$PYTHON" -c "import socket; s = socket.create_server(('127.0.0.1', 0)); print(s.getsockname()[1])")
  "$PYTHON" -m http.server --bind 127.0.0.1 --directory "$served" "$port" >/dev/null 2>&1 &
  index_pid=$!
  export TORCH_INDEX_URL="http://127.0.0.1:$port"
  echo "test-images: $torch_index unreachable; serving $name at $TORCH_INDEX_URL"
fi

rc=0
MLOPS_TEST_IMAGES=1 "$PYTHON" -m pytest tests/images -v -s --timeout 1800 || rc=$?
echo "test-images: total $(($(date +%s) - start)) s"
exit $rc
