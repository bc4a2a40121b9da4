#!/usr/bin/env bash
# Regenerate the pinned locks under requirements/ from the packages' declared dependencies.
#   requirements/dev.txt          everything (all packages + tools), what `make setup` installs
#   requirements/constraints.txt  dev.txt without the editable lines, usable with `pip -c`
#   requirements/<service>.txt    one service's install set, pinned to the same versions
set -euo pipefail
cd "$(dirname "$0")/.."
PIP_COMPILE=${PIP_COMPILE:-.venv/bin/pip-compile}
opts=(--quiet --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links --resolver=backtracking)
# A pin with a local version label (torch==2.13.0+cpu) exists only on the index that built it:
# write the public version (torch==2.13.0 still matches the +cpu wheel where one is offered).
strip_local_labels() { sed -i -E 's/^([A-Za-z0-9_.-]+==[^ +;]+)\+[A-Za-z0-9.]+/\1/' "$1"; }
"$PIP_COMPILE" "${opts[@]}" "$@" -o requirements/dev.txt requirements/dev.in
strip_local_labels requirements/dev.txt
{
  echo "# Pins of requirements/dev.txt without the editable local packages (for pip -c)."
  grep -v '^-e ' requirements/dev.txt | grep -v '^#' | sed '/^$/d'
} > requirements/constraints.txt
for service in gateway inference trainer drift frontend; do
  "$PIP_COMPILE" "${opts[@]}" -o "requirements/$service.txt" "requirements/$service.in"
  strip_local_labels "requirements/$service.txt"
done
