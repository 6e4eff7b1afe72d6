# Switchyard container image.
#
#   docker build -t switchyard:dev .
#   docker build --build-arg ORT_FLAVOR=gpu -t switchyard:dev-gpu .   # CUDA build (onnxruntime-gpu)
#   docker run --rm -p 8000:8000 -p 8001:8001 -p 8002:8002 -v "$PWD/model_repo:/models:ro" switchyard:dev
#
# The GPU image needs the NVIDIA driver (580 or newer) on the node and the
# NVIDIA container runtime (`--gpus all`, or the device plugin in Kubernetes);
# ask for the provider in a model's config.yaml (`execution_providers`) or
# with `instance_group { kind: KIND_GPU }` in its config.pbtxt.
#
# Stages:
#   chef     Rust toolchain + cargo-chef (dependency caching)
#   planner  computes the dependency "recipe" from Cargo.toml / Cargo.lock
#   ort      ONNX Runtime shared library, from the `onnxruntime` wheel on PyPI,
#            checksum-checked by scripts/install-ort.sh (the script the README uses)
#   build    compiles the dependencies (cached layer: only Cargo.toml/Cargo.lock
#            changes rebuild it), then the switchyard binary
#   runtime  distroless cc (glibc + libstdc++ + libgcc, nothing else), non-root
#
# Linted by scripts/check-deploy.sh (hadolint); it cannot be built where the
# tests run (no Docker engine), so the check also verifies that the build
# context left by .dockerignore holds everything the COPY lines and Cargo need.

# The Rust image's release (bookworm) matches the runtime image's (Debian 12):
# the binary and libonnxruntime.so need its glibc and libstdc++.
FROM rust:1.95-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM rust:1.95-bookworm AS ort
# pip only downloads the wheel; the script unpacks the library and checks its
# SHA-256 before installing it. Same Debian release as the runtime image (glibc).
# The pin is bookworm's python3-pip (hadolint DL3008); bump it if Debian does.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-pip=23.0.1+dfsg-1 \
 && rm -rf /var/lib/apt/lists/*
COPY scripts/install-ort.sh /tmp/install-ort.sh
# cpu: the onnxruntime wheel; gpu: onnxruntime-gpu with the CUDA and cuDNN
# libraries from their PyPI wheels, all beside libonnxruntime.so.
ARG ORT_FLAVOR=cpu
RUN if [ "$ORT_FLAVOR" = gpu ]; then \
      ORT_INSTALL_DIR=/opt/onnxruntime/lib /tmp/install-ort.sh --gpu; \
    else \
      ORT_INSTALL_DIR=/opt/onnxruntime/lib /tmp/install-ort.sh; \
    fi

FROM chef AS build
COPY --from=planner /src/recipe.json recipe.json
# Dependencies only: this layer is reused until Cargo.toml or Cargo.lock change.
RUN cargo chef cook --release --locked --recipe-path recipe.json
COPY . .
RUN cargo build --release --locked --bin switchyard \
 && install -D -m 0755 target/release/switchyard /out/switchyard

FROM gcr.io/distroless/cc-debian12:nonroot AS runtime
LABEL org.opencontainers.image.title="switchyard" \
      org.opencontainers.image.description="ONNX model-serving gateway (KServe v2 / Open Inference Protocol over gRPC and HTTP/REST)" \
      org.opencontainers.image.licenses="Apache-2.0"
# libonnxruntime.so.<version> and its libonnxruntime.so symlink (a directory
# copy keeps the symlink).
COPY --from=ort /opt/onnxruntime/lib/ /usr/local/lib/
COPY --from=build /out/switchyard /usr/local/bin/switchyard
ENV ORT_DYLIB_PATH=/usr/local/lib/libonnxruntime.so \
    SWITCHYARD_MODEL_REPO=/models
# distroless "nonroot"; numeric so Kubernetes' runAsNonRoot can verify it.
USER 65532:65532
# 8000 HTTP/REST (KServe v2 + Triton's extensions), 8001 gRPC (KServe v2,
# grpc.health.v1, reflection), 8002 GET /metrics. For KServe / Knative (one
# inbound port), --http-addr equal to --grpc-addr serves both on that one port
# (k8s/kserve uses 8080): see docs/OPERATIONS.md, "Ports".
EXPOSE 8000 8001 8002
ENTRYPOINT ["switchyard", "serve"]
