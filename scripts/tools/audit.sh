#!/usr/bin/env bash
# Security checks (`make audit`, run by .ci/run after `make test`); see docs/ci.md "Security checks".
#   bandit     over the runtime code: libs/common/src, services/*/src, scripts/ (not tests), with
#              the settings of pyproject.toml's [tool.bandit]
#   pip-audit  over the pins of every lock: requirements/constraints.txt holds each pin of every
#              requirements/*.txt (checked below), so auditing it audits them all
# Prints one summary line for each and exits non-zero on any finding. bandit and pip-audit are
# installed into .venv when missing, from PyPI, outside the lock but constrained by it (a tool's
# dependency never moves a locked package).
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${VENV:-.venv}
BIN="$VENV/bin"
BANDIT_SPEC=${BANDIT_SPEC:-bandit==1.9.4}
PIP_AUDIT_SPEC=${PIP_AUDIT_SPEC:-pip-audit==2.10.1}
# 1 = fail when pip-audit could not check every pin (no vulnerability data reached, see docs/ci.md).
AUDIT_REQUIRE_DATA=${AUDIT_REQUIRE_DATA:-0}

# Known vulnerabilities accepted on purpose: one `--ignore-vuln ID` a line, each with its reason
# (the package, why it does not reach us or why no fix exists, and when to look again).
IGNORE_VULNS=(
  # --ignore-vuln GHSA-xxxx-xxxx-xxxx  # <package> <version>: no fixed release; we never call <api>
)

if [ ! -x "$BIN/python" ]; then
  echo "audit: $BIN/python not found; run 'make setup' first" >&2
  exit 1
fi
missing=()
[ -x "$BIN/bandit" ] || missing+=("$BANDIT_SPEC")
[ -x "$BIN/pip-audit" ] || missing+=("$PIP_AUDIT_SPEC")
if [ ${#missing[@]} -gt 0 ]; then
  "$BIN/python" -m pip install --quiet --disable-pip-version-check \
    -c requirements/constraints.txt "${missing[@]}" 2>&1 | { grep -v "^WARNING: Location" || true; }
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0

# bandit: exit 0 clean, 1 findings, 2 error. Its log (warnings about the words of a `# nosec`
# reason) is shown only when it failed to run.
bandit_rc=0
"$BIN/bandit" -c pyproject.toml -q -r libs/common/src services/*/src scripts \
  -f json -o "$out/bandit.json" 2>"$out/bandit.log" || bandit_rc=$?
if [ "$bandit_rc" -gt 1 ] || [ ! -s "$out/bandit.json" ]; then
  cat "$out/bandit.log" >&2
  echo "bandit: failed to run (exit $bandit_rc)" >&2
  status=1
else
  "$BIN/python" - "$out/bandit.json" <<'EOF' || status=1
import json, sys
report = json.load(open(sys.argv[1]))
totals = report["metrics"]["_totals"]
found = report["results"]
for r in found:
    print(f"  {r['filename']}:{r['line_number']}: {r['test_id']} "
          f"({r['issue_severity'].lower()}) {r['issue_text']}")
files = len({r["filename"] for r in found})
print(f"bandit: {len(found)} finding(s) in {files} file(s); {int(totals['loc'])} lines scanned, "
      f"{int(totals['skipped_tests'])} justified by '# nosec BXXX: reason'")
sys.exit(1 if found else 0)
EOF
fi

# pip-audit: --no-deps (the locks are complete) and --disable-pip (nothing is installed or
# resolved: torch is never downloaded). Exit 1 means vulnerabilities were found.
audit_rc=0
"$BIN/pip-audit" --no-deps --disable-pip --progress-spinner off -r requirements/constraints.txt \
  ${IGNORE_VULNS[@]+"${IGNORE_VULNS[@]}"} -f json -o "$out/pip-audit.json" \
  >"$out/pip-audit.log" 2>&1 || audit_rc=$?
if [ "$audit_rc" -gt 1 ] || [ ! -s "$out/pip-audit.json" ]; then
  cat "$out/pip-audit.log" >&2
  echo "pip-audit: failed to run (exit $audit_rc)" >&2
  status=1
else
  "$BIN/python" - "$out/pip-audit.json" "$AUDIT_REQUIRE_DATA" <<'EOF' || status=1
import glob, json, re, sys
report = json.load(open(sys.argv[1]))
require_data = sys.argv[2] == "1"
deps = report["dependencies"]
pin = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)")
def pins(path):
    return {(re.sub(r"[-_.]+", "-", m[1]).lower(), m[2])
            for m in map(pin.match, open(path)) if m}
union = pins("requirements/constraints.txt")
problems = [f"  {lock}: {sorted(pins(lock) - union)} not in requirements/constraints.txt"
            for lock in sorted(glob.glob("requirements/*.txt")) if pins(lock) - union]
vulns = [(d, v) for d in deps for v in d.get("vulns", [])]
for d, v in vulns:
    fixed = ", ".join(v.get("fix_versions") or []) or "no fixed release"
    print(f"  {d['name']} {d['version']}: {v['id']} (fixed in {fixed})")
skipped = [d for d in deps if "skip_reason" in d]
for d in skipped[:1] if len(skipped) == len(deps) else skipped:
    print(f"  not checked: {d['skip_reason']}")
for line in problems:
    print(line)
checked = len(deps) - len(skipped)
note = ""
if skipped and not checked:
    note = " - NO VULNERABILITY DATA REACHED: nothing was checked"
elif skipped:
    note = f" - {len(skipped)} pin(s) could not be checked"
print(f"pip-audit: {len(vulns)} known vulnerabilit{'y' if len(vulns) == 1 else 'ies'} in "
      f"{len({d['name'] for d, _ in vulns})} package(s); {checked} of {len(deps)} pins checked"
      f" (requirements/constraints.txt){note}")
failed = bool(vulns or problems or (skipped and (checked or require_data)))
sys.exit(1 if failed else 0)
EOF
fi
exit "$status"
