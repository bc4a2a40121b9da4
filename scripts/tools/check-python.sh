#!/usr/bin/env bash
# Check that the interpreter `make setup` would build .venv with is one the locks support, and
# say exactly what to do when it is not. Usage: check-python.sh PYTHON "3.11 3.12 3.13"
# Exit 0 when PYTHON runs, is a supported version and can make a virtual environment.
set -uo pipefail
python=${1:-python3}
supported=${2:-3.11 3.12 3.13}
list=$(echo "$supported" | sed -E 's/ ([^ ]+)$/ or \1/; s/ ([^ ]+) or/, \1 or/g')

# Which supported interpreters this machine has, so the advice names one that works here.
found=""
for version in $supported; do
  if command -v "python$version" >/dev/null 2>&1 && "python$version" -c "" >/dev/null 2>&1; then
    found="$found python$version"
  fi
done
advise() {
  if [ -n "$found" ]; then
    echo "  Found on this machine:$found. Use one of them, for example:" >&2
    echo "    PYTHON=$(echo "$found" | awk '{print $1}') make setup    (the same for make up / make test)" >&2
  else
    echo "  None of them is on PATH. Install one (any of these), then run PYTHON=python3.11 make setup:" >&2
    echo "    Debian/Ubuntu: apt-get install python3.11 python3.11-venv (deadsnakes PPA on Ubuntu 24.04)" >&2
    echo "    Fedora:        dnf install python3.11" >&2
    echo "    anywhere:      pyenv install 3.11  or  uv python install 3.11" >&2
  fi
}

if ! version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null); then
  echo "make: cannot run '$python' (not on PATH, or not a working Python)." >&2
  echo "  The platform needs Python $list." >&2
  advise
  exit 1
fi
case " $supported " in
  *" $version "*) ;;
  *)
    echo "make: '$python' is Python $version; the platform's locked dependencies need Python $list." >&2
    advise
    exit 1
    ;;
esac
if ! "$python" -c "import ensurepip, venv" >/dev/null 2>&1; then
  echo "make: '$python' (Python $version) cannot create a virtual environment: its venv/ensurepip" >&2
  echo "  module is missing. On Debian/Ubuntu: apt-get install python$version-venv" >&2
  exit 1
fi
exit 0
