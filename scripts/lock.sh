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
# pip-compile resolves for the Python it runs on and leaves out a requirement whose marker is
# false there. The locks must also hold on the oldest 3.11 (Debian 12's python3 is 3.11.2, which
# `make test-images` builds on, and the images install with --no-deps): each entry "parent|pin"
# is added, in order, to every lock that pins parent. tests/deploy/test_image_locks.py fails when
# a lock misses one (it follows every pin's requirements as Python 3.11.0 would).
MARKED_PINS=(
  'redis|async-timeout==5.0.1 ; python_full_version < "3.11.3"'
)
add_marked_pins() {
  local lock=$1 entry parent pin name
  for entry in "${MARKED_PINS[@]}"; do
    parent=${entry%%|*} pin=${entry#*|} name=${pin%%==*}
    grep -q "^$parent==" "$lock" || continue
    grep -q "^$name==" "$lock" && continue
    awk -v name="$name" -v pin="$pin" -v parent="$parent" '
      !done && /^[A-Za-z0-9]/ && tolower($0) > tolower(name) {
        print pin; print "    # via " parent " (only where the marker holds)"; done = 1
      }
      { print }
      END { if (!done) print pin }' "$lock" > "$lock.tmp"
    mv "$lock.tmp" "$lock"
  done
}
"$PIP_COMPILE" "${opts[@]}" "$@" -o requirements/dev.txt requirements/dev.in
strip_local_labels requirements/dev.txt
add_marked_pins requirements/dev.txt
{
  echo "# Pins of requirements/dev.txt without the editable local packages (for pip -c)."
  grep -v '^-e ' requirements/dev.txt | grep -v '^#' | sed '/^$/d'
} > requirements/constraints.txt
for service in gateway inference trainer drift frontend; do
  "$PIP_COMPILE" "${opts[@]}" -o "requirements/$service.txt" "requirements/$service.in"
  strip_local_labels "requirements/$service.txt"
  add_marked_pins "requirements/$service.txt"
done
