"""Write the bytecode a service loads, and no other: the image build's last step.

Usage: python precompile.py PACKAGE... (with the image's venv python; PACKAGE: import names)

A read-only root filesystem means a module without a .pyc is compiled again, in memory, by every
process that imports it; a .pyc for every module of every dependency doubles what the venv weighs
(the drift set alone holds ~190 MB of bytecode, mostly modules nothing imports: plotly's
validators, databricks-sdk's services). So: drop every __pycache__ of site-packages, compile the
named first-party packages completely, and import each third-party module their source imports,
with bytecode writing on, so that exactly what those imports load gets its .pyc. The first-party
modules are read (ast), never executed: a Streamlit script runs its page on import. A module the
code names that is not installed (optional, type-checking only) is passed over; one that is
installed but fails with an ImportError fails the build (a dependency missing from the set); any
other failure (a Streamlit component outside a running app) is reported and skipped. The image
test (make test-images) runs the services for real.

Then the test suites packages ship (numpy's, scipy's, pandas'...: tens of MB) go: every folder
named ``tests`` that holds no module imported above. A package may name a runtime subpackage
``tests`` (evidently.legacy.tests is Evidently's test-suite API, imported by ``evidently``): that
one now holds bytecode, so it stays.
"""

from __future__ import annotations

import ast
import compileall
import importlib
import importlib.util
import shutil
import sys
import sysconfig
import warnings
from pathlib import Path


def imported_modules(package_dir: Path) -> set[str]:
    """Absolute module names imported anywhere under `package_dir` (``from a.b import c`` gives
    ``a.b`` and ``a.b.c``: c may be a submodule)."""
    names: set[str] = set()
    for source in package_dir.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_bytes(), filename=str(source))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def is_module(name: str) -> bool:
    """True when `name` names an importable module (not an attribute of one)."""
    try:
        return importlib.util.find_spec(name) is not None
    except Exception:  # finding a submodule imports its parent, which may fail in any way
        return False


def main(argv: list[str]) -> int:
    """Recompile the venv's site-packages as described above; return the exit status."""
    site, packages = Path(sysconfig.get_paths()["purelib"]), argv
    for cache in list(site.rglob("__pycache__")):
        shutil.rmtree(cache)
    own = {p.split(".")[0] for p in packages}
    wanted: set[str] = set()
    for package in packages:
        package_dir = site / package
        if not compileall.compile_dir(package_dir, quiet=1):
            return 1
        wanted |= imported_modules(package_dir)
    sys.dont_write_bytecode = False
    warnings.simplefilter("ignore")
    skipped, broken = [], []
    for name in sorted(wanted):
        if name.split(".")[0] in own or name.split(".")[0] in sys.stdlib_module_names:
            continue
        if not is_module(name):
            continue
        try:
            importlib.import_module(name)
        except ImportError as exc:  # installed, yet something it imports is not: a broken set
            broken.append(f"{name} ({type(exc).__name__}: {exc})")
        except Exception as exc:  # e.g. needs a running app (Streamlit components): not precompiled
            skipped.append(f"{name} ({type(exc).__name__}: {exc})")
    for line in skipped:
        print(f"precompile: not imported: {line}", file=sys.stderr)
    if broken:
        print("precompile: the installed set is broken:", *broken, sep="\n  ", file=sys.stderr)
        return 1
    drop_unused_test_suites(site, own)
    return 0


def drop_unused_test_suites(site: Path, own: set[str]) -> None:
    """Delete each ``tests`` folder under `site` that holds no imported module (no bytecode)."""
    dropped = 0
    for folder in sorted(site.rglob("tests"), key=lambda p: len(p.parts)):
        if not folder.is_dir() or folder.relative_to(site).parts[0] in own:
            continue
        if any(folder.rglob("__pycache__")):
            print(f"precompile: kept {folder.relative_to(site)} (imported)", file=sys.stderr)
            continue
        dropped += sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        shutil.rmtree(folder)
    print(f"precompile: test suites dropped: {dropped / 1e6:.1f} MB", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
