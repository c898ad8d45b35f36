#!/usr/bin/env bash
# Print the path of the portable llama-cpp-python wheel, building it first if it is not in our cache.
# Used by install.sh (the developer install) and build.sh (the desktop build).
#
# A native build (the default) uses every instruction the build machine's CPU advertises; where a VM forbids
# one (AMX) it dies with SIGILL, and an installed app must run on other CPUs anyway. pip's wheel cache
# ignores CMAKE_ARGS, so the portable wheel is built without it and kept in our own cache, keyed by version.
set -euo pipefail
PY=${PYTHON:-python3}
LLAMA_VERSION=${LLAMA_VERSION:-0.3.36}
CACHE=${GUM_BUILD_CACHE:-$HOME/.cache/gum-build}
wheel_dir="$CACHE/llama-portable-$LLAMA_VERSION"
if ! ls "$wheel_dir"/llama_cpp_python-"$LLAMA_VERSION"-*.whl >/dev/null 2>&1; then
  printf '\n== %s\n' "Building llama-cpp-python $LLAMA_VERSION (portable, -DGGML_NATIVE=OFF; about 5-10 minutes)" >&2
  mkdir -p "$wheel_dir"
  CMAKE_ARGS="${LLAMA_CMAKE_ARGS:--DGGML_NATIVE=OFF}" CMAKE_BUILD_PARALLEL_LEVEL=$(nproc 2>/dev/null || echo 2) \
    $PY -m pip wheel --no-cache-dir --no-deps "llama-cpp-python==$LLAMA_VERSION" -w "$wheel_dir" >&2
fi
ls "$wheel_dir"/llama_cpp_python-"$LLAMA_VERSION"-*.whl | head -n1
