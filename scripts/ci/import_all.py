"""Import every module of a package, to catch dependencies its install set does not declare.

``python scripts/ci/import_all.py mlops_gateway --forbid torch`` imports ``mlops_gateway`` and
each of its submodules (``__main__`` modules are skipped: importing them would run the service),
then fails when a forbidden package got imported along the way. CI runs it in a venv holding
only ``requirements/<service>.txt`` (the ci workflow's service-install job).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import traceback


def import_all(package_name: str) -> tuple[list[str], dict[str, str]]:
    """Import the package and all its submodules; return (imported, failures by module)."""
    imported: list[str] = []
    failures: dict[str, str] = {}
    try:
        package = importlib.import_module(package_name)
    except Exception as exc:
        return imported, {package_name: f"{type(exc).__name__}: {exc}"}
    imported.append(package_name)
    paths = getattr(package, "__path__", None)
    if paths is None:
        return imported, failures

    def on_error(name: str) -> None:
        failures[name] = traceback.format_exc(limit=1).strip().splitlines()[-1]

    for info in pkgutil.walk_packages(paths, prefix=f"{package_name}.", onerror=on_error):
        if info.name.rsplit(".", 1)[-1] == "__main__":
            continue
        try:
            importlib.import_module(info.name)
        except Exception as exc:
            failures[info.name] = f"{type(exc).__name__}: {exc}"
        else:
            imported.append(info.name)
    return imported, failures


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: 0 when every module imports and nothing forbidden came in."""
    parser = argparse.ArgumentParser(description="Import every module of a package.")
    parser.add_argument("package")
    parser.add_argument(
        "--forbid", action="append", default=[], help="a top-level package that must not load"
    )
    args = parser.parse_args(argv)
    imported, failures = import_all(args.package)
    for name, error in sorted(failures.items()):
        print(f"FAIL {name}: {error}", file=sys.stderr)
    loaded = sorted(name for name in args.forbid if name in sys.modules)
    for name in loaded:
        print(f"FAIL {args.package} imports forbidden package {name!r}", file=sys.stderr)
    print(f"{args.package}: {len(imported)} modules imported, {len(failures)} failed")
    return 1 if failures or loaded else 0


if __name__ == "__main__":
    raise SystemExit(main())
