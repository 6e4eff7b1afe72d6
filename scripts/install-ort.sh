#!/usr/bin/env bash
# Installs the ONNX Runtime shared library into .ort/lib/ of this checkout,
# taken from the `onnxruntime` wheel on PyPI (the only place it is fetched
# from) and checked against a pinned SHA-256. Idempotent.
#
#   scripts/install-ort.sh            # into ./.ort/lib
#   ORT_INSTALL_DIR=/usr/local/lib scripts/install-ort.sh   # elsewhere (Docker)
set -euo pipefail

ORT_VERSION="1.31.1"
# sha256 of onnxruntime/capi/libonnxruntime.so.1.31.1 in the manylinux x86_64 wheel.
ORT_SHA256_X86_64="fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${ORT_INSTALL_DIR:-$root/.ort/lib}"
lib="libonnxruntime.so.$ORT_VERSION"

case "$(uname -m)" in
  x86_64) platform="manylinux_2_28_x86_64"; expected="$ORT_SHA256_X86_64" ;;
  aarch64) platform="manylinux_2_28_aarch64"; expected="${ORT_SHA256_AARCH64:-}" ;;
  *) echo "install-ort: unsupported machine $(uname -m)" >&2; exit 1 ;;
esac

verify() {
  [ -z "$expected" ] && { echo "install-ort: no pinned checksum for $(uname -m); set ORT_SHA256_AARCH64" >&2; return 1; }
  echo "$expected  $1" | sha256sum --check --status
}

if [ -f "$dest/$lib" ] && verify "$dest/$lib"; then
  ln -sf "$lib" "$dest/libonnxruntime.so"
  echo "install-ort: ONNX Runtime $ORT_VERSION already in $dest"
  exit 0
fi

python="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# Any CPython tag works: the shared library inside is the same; pin one so the
# download does not depend on the local interpreter.
"$python" -m pip download --quiet --no-deps --only-binary=:all: \
  --python-version 3.11 --platform "$platform" \
  "onnxruntime==$ORT_VERSION" -d "$work"
wheel="$(ls "$work"/onnxruntime-*.whl)"
"$python" - "$wheel" "$work" "onnxruntime/capi/$lib" <<'PY'
import sys, zipfile
wheel, out, member = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    with z.open(member) as src, open(f"{out}/lib.so", "wb") as dst:
        dst.write(src.read())
PY
if ! verify "$work/lib.so"; then
  echo "install-ort: checksum mismatch for $lib from $(basename "$wheel"); refusing to install" >&2
  exit 1
fi
mkdir -p "$dest"
install -m 0644 "$work/lib.so" "$dest/$lib"
ln -sf "$lib" "$dest/libonnxruntime.so"
echo "install-ort: installed ONNX Runtime $ORT_VERSION into $dest"
