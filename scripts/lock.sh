#!/usr/bin/env bash
# Regenerate the pinned locks under requirements/ from the packages' declared dependencies.
#   requirements/dev.txt          everything (all packages + tools), what `make setup` installs
#   requirements/constraints.txt  dev.txt without the editable lines, usable with `pip -c`
#   requirements/<service>.txt    one service's install set, pinned to the same versions
set -euo pipefail
cd "$(dirname "$0")/.."
PIP_COMPILE=${PIP_COMPILE:-.venv/bin/pip-compile}
opts=(--quiet --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links --resolver=backtracking)
"$PIP_COMPILE" "${opts[@]}" "$@" -o requirements/dev.txt requirements/dev.in
{
  echo "# Pins of requirements/dev.txt without the editable local packages (for pip -c)."
  grep -v '^-e ' requirements/dev.txt | grep -v '^#' | sed '/^$/d'
} > requirements/constraints.txt
for service in gateway inference trainer drift frontend; do
  "$PIP_COMPILE" "${opts[@]}" -o "requirements/$service.txt" "requirements/$service.in"
done
