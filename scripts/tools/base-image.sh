#!/usr/bin/env bash
# Make the local Python base image the image tests build on when no registry can be pulled from:
# Debian 12 (bookworm) minbase + python3 (3.11.2) + python3-venv + ca-certificates, imported into
# the Docker engine as ${MLOPS_BASE_IMAGE:-mlops-base:bookworm}. Kept between runs: does nothing
# when the image exists. The host's CA bundle is copied in, so builds behind a TLS-inspecting
# proxy reach PyPI as the host does.
#   scripts/tools/base-image.sh            build it when missing, print its name
set -euo pipefail
image=${MLOPS_BASE_IMAGE:-mlops-base:bookworm}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image"
  exit 0
fi
command -v debootstrap >/dev/null 2>&1 || {
  echo "base-image: debootstrap is missing (apt-get install debootstrap)" >&2
  exit 1
}
root=$(mktemp -d /tmp/mlops-base.XXXXXX)
trap 'rm -rf "$root"' EXIT
echo "base-image: debootstrap bookworm into $root (a few minutes, once)" >&2
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
  bookworm "$root" "$mirror" >/dev/null
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
fi
# What an image needs, not what an installer does: apt lists, caches, docs, man pages, locales.
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'CMD ["python3"]' - "$image" >/dev/null
echo "$image"
