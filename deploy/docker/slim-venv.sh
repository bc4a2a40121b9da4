#!/bin/sh
# Drop from a built virtualenv what a running service never reads. Run once in the build stage,
# after `pip check` (pip goes), before the runtime stage copies the venv:
#   slim-venv.sh VENV LOCK
# - pip, and the setuptools that `python3 -m venv` seeds unless LOCK pins it;
# - type stubs (*.pyi);
# - onnxruntime's C API library, which its Python binding does not use;
# - the debug info of uvloop's extension.
# Bytecode and the test suites packages ship are precompile.py's job (it knows what is imported).
# Not done: `strip` of the shared libraries (~20% of their size): auditwheel's patchelf-edited
# libraries (numpy.libs' OpenBLAS) no longer load once stripped.
set -eu
venv=$1
lock=$2
site=$(echo "$venv"/lib/python3*/site-packages)
rm -rf "$site"/pip "$site"/pip-*.dist-info "$venv"/bin/pip "$venv"/bin/pip3*
if ! grep -q '^setuptools==' "$lock"; then
  rm -rf "$site"/setuptools "$site"/setuptools-*.dist-info "$site"/pkg_resources \
    "$site"/_distutils_hack "$site"/distutils-precedence.pth
fi
find "$site" -type f -name '*.pyi' -delete
# uvloop's wheel ships its extension with debug info (13 of its 14 MB); --strip-debug keeps
# everything that loads and runs (the Dockerfile installs binutils in the build stage).
if command -v strip >/dev/null 2>&1; then
  find "$site"/uvloop -name '*.so' -exec strip --strip-debug {} + 2>/dev/null || true
fi
# onnxruntime's wheel also ships its C API library (libonnxruntime.so, ~35 MB) for programs that
# link it; the Python binding holds the runtime itself and never loads it (readelf: not NEEDED).
rm -f "$site"/onnxruntime/capi/libonnxruntime.so.*
