#!/usr/bin/env bash
# Installs the ONNX Runtime shared library into .ort/lib/ of this checkout,
# taken from the `onnxruntime` wheel on PyPI (the only place it is fetched
# from) and checked against a pinned SHA-256. Idempotent.
#
#   scripts/install-ort.sh            # into ./.ort/lib
#   ORT_INSTALL_DIR=/usr/local/lib scripts/install-ort.sh   # elsewhere (Docker)
#   scripts/install-ort.sh --gpu      # CUDA build into ./.ort/gpu/lib (see below)
#
# --gpu installs the `onnxruntime-gpu` wheel's libraries (ONNX Runtime with
# the CUDA and TensorRT providers, built for CUDA 13 and cuDNN 9) and the
# CUDA/cuDNN libraries the CUDA provider needs, from NVIDIA's wheels on PyPI
# (nvidia-cuda-runtime, nvidia-cublas, nvidia-cuda-nvrtc, nvidia-curand,
# nvidia-cufft, nvidia-nvjitlink, nvidia-cudnn-cu13: the `cuda` and `cudnn`
# extras of onnxruntime-gpu 1.31.1 and their dependencies), every wheel
# pinned by SHA-256, into ./.ort/gpu/lib (ORT_INSTALL_DIR overrides). Serve
# with `--ort-lib .ort/gpu/lib/libonnxruntime.so`; Switchyard loads the
# CUDA libraries next to it before the CUDA provider needs them.
# Not installed: the NVIDIA driver (libcuda.so.1, from the host: a driver
# for CUDA 13, release 580 or newer, and a GPU of compute capability 7.5 or
# newer) and TensorRT (libnvinfer.so.10: install TensorRT 10 for CUDA 13 and
# put it on LD_LIBRARY_PATH to use the tensorrt provider). About 2.5 GB.
set -euo pipefail

ORT_VERSION="1.31.1"
# sha256 of onnxruntime/capi/libonnxruntime.so.1.31.1 in the manylinux x86_64 wheel.
ORT_SHA256_X86_64="fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3"

# --gpu: the wheels, each pinned by its SHA-256 (pip checks them), and the
# sha256 of libonnxruntime.so.1.31.1 inside onnxruntime-gpu's wheel.
GPU_WHEELS="
onnxruntime-gpu==1.31.1 e26c475fe361b2015f45b4b824bd13f0bb20204e59b62814e6f0acd5f3d491a6
nvidia-cuda-runtime==13.5.37 df2b79a8852f10d1fef8c848489c49eebb5754051bf870202a862831412b179d
nvidia-cublas==13.10.0.20 dcc6d63884c53d07e267ce7e6feac17b2538cebaafec5db865736c3e28e4dc84
nvidia-cuda-nvrtc==13.5.37 86b4d68058807988b7d9af5b44917a0601e9c337f35ccd657bfb3c759ff8d8bc
nvidia-curand==10.4.5.25 22bb226a857e5888fe6b54ae465fc4371296bcff13a35f79e19691bcf454f529
nvidia-cufft==12.5.0.14 b8be26837a5abad2b5b74f3e92dd29f622a42934b355be0961a48712cbba23ad
nvidia-nvjitlink==13.5.37 280d7cb9649704145f074b8dbde500de04ce02d0872e066e20a83c17bcaa93eb
nvidia-cudnn-cu13==9.28.1.4 a54f205b1db1f2895d99f398754db1369816f0569dd459731f925635cf7b65ec
"
ORT_GPU_SHA256_X86_64="5104254339ecadae808da771bd0b63b240f0dbd466514234905e54372435c303"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

install_gpu() {
  [ "$(uname -m)" = x86_64 ] || { echo "install-ort: --gpu wheels are pinned for x86_64 only" >&2; exit 1; }
  local dest="${ORT_INSTALL_DIR:-$root/.ort/gpu/lib}" lib="libonnxruntime.so.$ORT_VERSION"
  local manifest="$dest/.switchyard-gpu-wheels" python="${PYTHON:-python3}"
  if [ -f "$dest/$lib" ] && [ "$(cat "$manifest" 2>/dev/null)" = "$(echo "$GPU_WHEELS")" ] \
    && echo "$ORT_GPU_SHA256_X86_64  $dest/$lib" | sha256sum --check --status; then
    ln -sf "$lib" "$dest/libonnxruntime.so"
    echo "install-ort: ONNX Runtime $ORT_VERSION (CUDA) already in $dest"
    return 0
  fi
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' EXIT
  echo "$GPU_WHEELS" | awk 'NF == 2 { print $1 " --hash=sha256:" $2 }' > "$work/requirements.txt"
  # The platform tags the NVIDIA wheels are published under; cp311 for
  # onnxruntime-gpu (the libraries inside do not depend on the tag).
  "$python" -m pip download --quiet --no-deps --require-hashes --only-binary=:all: \
    --python-version 3.11 --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -r "$work/requirements.txt" -d "$work/wheels"
  mkdir -p "$work/lib"
  # ONNX Runtime's libraries from its wheel; every shared library of the
  # NVIDIA wheels (nvidia/cu13/lib/, nvidia/cudnn/lib/, ...) flattened beside them.
  "$python" - "$work/wheels" "$work/lib" "$lib" <<'PY'
import os, sys, zipfile
wheels, out, lib = sys.argv[1:]
ort = {f"onnxruntime/capi/{name}" for name in (
    lib, "libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so",
    "libonnxruntime_providers_tensorrt.so")}
for wheel in sorted(os.listdir(wheels)):
    with zipfile.ZipFile(os.path.join(wheels, wheel)) as z:
        for member in z.namelist():
            base = os.path.basename(member)
            nvidia = member.startswith("nvidia/") and "/lib/" in member and ".so" in base
            if member in ort or nvidia:
                with z.open(member) as src, open(os.path.join(out, base), "wb") as dst:
                    dst.write(src.read())
missing = [m for m in ort if not os.path.exists(os.path.join(out, os.path.basename(m)))]
if missing:
    sys.exit(f"install-ort: not in the onnxruntime-gpu wheel: {', '.join(missing)}")
PY
  if ! echo "$ORT_GPU_SHA256_X86_64  $work/lib/$lib" | sha256sum --check --status; then
    echo "install-ort: checksum mismatch for $lib from onnxruntime-gpu; refusing to install" >&2
    exit 1
  fi
  mkdir -p "$dest"
  install -m 0644 "$work"/lib/* "$dest/"
  ln -sf "$lib" "$dest/libonnxruntime.so"
  echo "$GPU_WHEELS" > "$manifest"
  echo "install-ort: installed ONNX Runtime $ORT_VERSION (CUDA 13, cuDNN 9) into $dest"
  echo "install-ort: serve with --ort-lib $dest/libonnxruntime.so; needs an NVIDIA driver for CUDA 13 (580 or newer)"
}

case "${1:-}" in
  "") ;;
  --gpu) install_gpu; exit 0 ;;
  *) echo "usage: scripts/install-ort.sh [--gpu]" >&2; exit 2 ;;
esac

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
