# syntax=docker/dockerfile:1
# Both app images from one build definition. The build context is the repository root (npm workspaces
# need the root lock file). APP picks the app; MODEL_DIR the model folder the image carries (relative to
# the context: `model` or a folder under `model/`, the only model files .dockerignore sends):
#   docker build --build-arg APP=scoring-service -t model-deploy/scoring-service .
#   docker build --build-arg APP=edge-module -t model-deploy/edge-module .
#   docker build --build-arg APP=scoring-service --build-arg MODEL_DIR=model/fashion-rgb-keras -t model-deploy/scoring-service:rgb .
#   docker buildx build --platform linux/arm64 --build-arg APP=edge-module -t model-deploy/edge-module:arm64 .
# (IoT Edge devices are often arm64: the build stages run natively and the runtime stages run nothing,
# so no emulation is needed.)
# The model is the last layer: an image that only swaps the model reuses every other layer from the cache.
# BASE_IMAGE: any Debian-based Node 24 image (with sh and npm); the official one by default.
# Optional build secrets, never stored in a layer: `npmrc` (registry auth, e.g. a private mirror) and
# `build-ca` (a PEM bundle for a TLS-intercepting proxy between the builder and the registry):
#   docker build --secret id=npmrc,src=$HOME/.npmrc --secret id=build-ca,src=/etc/ssl/certs/ca-certificates.crt ...
ARG BASE_IMAGE=node:24-bookworm-slim
ARG APP=scoring-service

# ---- build: production dependencies for the target platform, the compiled TypeScript, then trimming.
# Runs on the build machine's own platform even when building for another one (no emulation): nothing
# here executes target-platform code; npm picks the target's native packages (sharp's libvips) from
# --cpu, and the prune script keeps only the target's onnxruntime binaries.
FROM --platform=$BUILDPLATFORM ${BASE_IMAGE} AS build
# Set by BuildKit/buildah; the classic builder leaves it empty and builds for its own architecture.
ARG TARGETARCH
ARG APP
WORKDIR /build/app
COPY package.json package-lock.json ./
COPY inference/package.json inference/
COPY codecs/package.json codecs/
COPY scoring-service/package.json scoring-service/
COPY edge-module/package.json edge-module/
COPY scripts/containers/compiler-packages.mjs scripts/containers/prune-node-modules.mjs /build/
# Only this app's workspaces stay (the edge module reuses the scoring service's Fastify app): npm then
# installs their production dependencies and nothing of the root package (the Pulumi SDKs) or of the other app.
# --ignore-scripts: no install script is needed at run time (onnxruntime-node's only downloads CUDA
# libraries, sharp ships prebuilt libvips), and none runs with build credentials in reach.
# The compiler and the workspaces' @types packages go to /build/node_modules, outside the app tree
# (tsc finds them by walking up), at the lock file's versions; they never reach the runtime image.
RUN --mount=type=cache,target=/root/.npm \
    --mount=type=secret,id=npmrc,target=/root/.npmrc \
    --mount=type=secret,id=build-ca \
    if [ -f /run/secrets/build-ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/build-ca; fi \
 && case "$APP" in \
      scoring-service) workspaces="inference codecs scoring-service" ;; \
      edge-module) workspaces="inference codecs scoring-service edge-module" ;; \
      *) echo "APP is \"$APP\"; expected scoring-service or edge-module" >&2; exit 1 ;; \
    esac \
 && echo "$workspaces" > /build/workspaces \
 && for ws in inference codecs scoring-service edge-module; do \
      case " $workspaces " in *" $ws "*) ;; *) rm -rf "$ws" ;; esac; \
    done \
 && case "${TARGETARCH:-}" in \
      amd64) cpu=x64 ;; \
      arm64) cpu=arm64 ;; \
      '') cpu="$(node -p process.arch)" ;; \
      *) echo "unsupported TARGETARCH $TARGETARCH (amd64 or arm64)" >&2; exit 1 ;; \
    esac \
 && echo "$cpu" > /build/target-cpu \
 && npm ci --omit=dev --workspace "@model-deploy/$APP" --cpu "$cpu" --os linux \
      --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error \
 && npm ls --all --omit=dev --workspace "@model-deploy/$APP" > /dev/null \
 && npm install --prefix /build --no-save --no-package-lock --ignore-scripts --prefer-offline --no-audit --no-fund --loglevel=error \
      $(node /build/compiler-packages.mjs $workspaces)
# The core's two native decoders for the target platform, Debian's libturbojpeg0 (libjpeg-turbo's
# TurboJPEG: JPEGs, inference/src/turbojpeg.ts; without it libvips, several times slower) and libspng0
# (small PNGs, inference/src/spng.ts; without it pngjs, 2-5x slower). Downloaded and unpacked here
# rather than installed in the runtime stage, which runs nothing (so an arm64 image still builds on x64
# without emulation); they need only libc and zlib (libz.so.1, in every Debian base). Licence files go with them.
RUN case "$(cat /build/target-cpu)" in x64) debarch=amd64 ;; arm64) debarch=arm64 ;; esac \
 && { [ "$debarch" = "$(dpkg --print-architecture)" ] || dpkg --add-architecture "$debarch"; } \
 && apt-get update -qq \
 && mkdir -p /build/deb /out/lib/turbojpeg /out/lib/spng && cd /build/deb \
 && apt-get download "libturbojpeg0:$debarch" "libspng0:$debarch" \
 && dpkg -x libturbojpeg0_*.deb /build/deb/root \
 && dpkg -x libspng0_*.deb /build/deb/root \
 && cp -L /build/deb/root/usr/lib/*/libturbojpeg.so.0 /out/lib/turbojpeg/ \
 && cp /build/deb/root/usr/share/doc/libturbojpeg0/copyright /out/lib/turbojpeg/ \
 && cp -L /build/deb/root/usr/lib/*/libspng.so.0 /out/lib/spng/ \
 && cp /build/deb/root/usr/share/doc/libspng0/copyright /out/lib/spng/ \
 && rm -rf /build/deb /var/lib/apt/lists/*
COPY tsconfig.base.json ./
COPY inference/tsconfig.json inference/
COPY inference/src inference/src
COPY inference/assembly inference/assembly
COPY inference/scripts/build-wasm.mjs inference/scripts/
COPY codecs/tsconfig.json codecs/
COPY codecs/src codecs/src
COPY scoring-service/tsconfig.json scoring-service/
COPY scoring-service/src scoring-service/src
COPY edge-module/tsconfig.json edge-module/
COPY edge-module/src edge-module/src
# Assemble exactly what the runtime image gets: /out/deps (node_modules) and /out/app (compiled workspaces).
# The resample's WebAssembly (inference/dist/resample.wasm) is compiled first, by AssemblyScript from
# /build/node_modules; it is the same on every platform, so a cross-platform build needs nothing more.
RUN workspaces="$(cat /build/workspaces)" \
 && node inference/scripts/build-wasm.mjs \
 && /build/node_modules/.bin/tsc -b $workspaces \
 && node /build/prune-node-modules.mjs node_modules --platform linux --arch "$(cat /build/target-cpu)" \
 && mkdir -p /out/deps /out/app \
 && mv node_modules /out/deps/ \
 && for ws in $workspaces; do \
      mkdir -p "/out/app/$ws" && cp -a "$ws/package.json" "$ws/dist" "/out/app/$ws/"; \
    done \
 && find /out/app -name '*.tsbuildinfo' -delete \
 && find /out/app -name '*.d.ts' -delete \
 && mkdir -p /out/etc \
 && cp /etc/passwd /etc/group /out/etc/ \
 && echo 'app:x:10001:10001:model-deploy:/nonexistent:/usr/sbin/nologin' >> /out/etc/passwd \
 && echo 'app:x:10001:' >> /out/etc/group \
 && mkdir -p /out/journal

# ---- model: the model folder's files (*.onnx, *.json, *.txt at its top level, as infra/model-folder.ts
# counts them), checked by the core itself (`model describe`: every refusal of the service at start-up)
# so a bad folder fails the build with the core's message instead of a pod that never gets ready.
# The check needs native code of the build machine, so a cross-platform build skips it; the same folder
# is checked by the native build of the other image (the stack builds both from one folder).
FROM build AS model
ARG MODEL_DIR=model
COPY ${MODEL_DIR}/*.onnx ${MODEL_DIR}/*.json ${MODEL_DIR}/*.txt /model/
RUN ln -s /out/deps/node_modules /out/app/node_modules \
 && export ORT_DISABLE_TELEMETRY=1 \
 && if [ "$(cat /build/target-cpu)" = "$(node -p process.arch)" ]; then \
      node /out/app/inference/dist/model-cli.js describe /model; \
    else \
      echo "model: not checked here (a $(cat /build/target-cpu) image built on $(node -p process.arch))"; \
    fi

# ---- runtime, common to both apps: users, dependencies and code, no model yet.
FROM ${BASE_IMAGE} AS runtime
LABEL org.opencontainers.image.licenses="MIT"
# A numeric, non-root user (the Kubernetes manifests run as 10001); it owns nothing in /app. Its
# passwd/group entries come from the build stage (the same base image): no RUN in the runtime stages,
# so an arm64 image builds on an x64 machine without emulation.
COPY --from=build /out/etc/passwd /out/etc/group /etc/
WORKDIR /app
# ORT_DISABLE_TELEMETRY: onnxruntime 1.29+ uploads usage telemetry from Linux too unless told not to.
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=5001 \
    MODEL_DIR=/app/model \
    ORT_DISABLE_TELEMETRY=1 \
    TURBOJPEG_LIBRARY=/app/lib/turbojpeg/libturbojpeg.so.0 \
    SPNG_LIBRARY=/app/lib/spng/libspng.so.0
# Least to most frequently changed: dependencies, then code (the model comes last, in the final stage).
COPY --from=build /out/lib/ ./lib/
COPY --from=build /out/deps/ ./
COPY --from=build /out/app/ ./
# node runs as PID 1 with no shell or init in between: SIGTERM reaches it directly, and the app's own
# SIGTERM/SIGINT handlers drain work and exit (PID 1 gets no default signal actions, so the handlers
# are what make it stop). The empty ENTRYPOINT drops the base image's docker-entrypoint.sh; it is set
# before CMD because setting an ENTRYPOINT clears an inherited CMD.
ENTRYPOINT []

FROM runtime AS app-scoring-service
LABEL org.opencontainers.image.title="model-deploy scoring service" \
      org.opencontainers.image.description="Image classifier over HTTP: seed /score contract and Open Inference Protocol V2"
CMD ["node", "scoring-service/dist/server.js"]

FROM runtime AS app-edge-module
LABEL org.opencontainers.image.title="model-deploy edge module" \
      org.opencontainers.image.description="Image classifier as an Azure IoT Edge module: images in, predictions out, the seed /score contract on the device"
# The journal directory is where the deployment mounts a volume (messages survive restarts); owned by
# the app user so a fresh named volume, initialised from the image, is writable.
COPY --from=build --chown=10001:10001 /out/journal/ /var/lib/edge-module/journal/
ENV JOURNAL_DIR=/var/lib/edge-module/journal
# The flags are edge-module/src/node-flags.ts (test/node-flags.test.ts keeps them the same).
CMD ["node", "--max-semi-space-size=2", "edge-module/dist/main.js"]

# ---- the image: the app, then its checked model, read-only (owned by root, like the code).
FROM app-${APP}
COPY --from=model /model/ ./model/
USER 10001:10001
EXPOSE 5001
