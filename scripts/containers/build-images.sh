#!/usr/bin/env bash
# Builds both app images with podman on the local base-image stand-in, the way `npm test` does:
#   scripts/containers/build-images.sh                    # both images
#   scripts/containers/build-images.sh scoring-service    # one
#   MD_REBUILD=1 scripts/containers/build-images.sh       # rebuild even if nothing changed
#   MD_MODEL_DIR=model/fashion-rgb-keras MD_IMAGE_TAG=rgb scripts/containers/build-images.sh scoring-service
#   scripts/containers/build-images.sh scoring-service edge-module scoring-service:rgb=model/fashion-rgb-keras
# Each argument is <app>[:<tag>[=<model folder>]]; all that need building are built at once.
# Images: localhost/model-deploy/<app>:<MD_IMAGE_TAG, default dev>, from the one Dockerfile at the
# repository root with APP=<app> and MODEL_DIR=<MD_MODEL_DIR, default model>. Prints a size table, and
# writes it as JSON to $MD_IMAGE_REPORT when set. An image is rebuilt only when its inputs changed (the
# files the .dockerignore allow-list sends, the model folder's files, the Dockerfile, the base image),
# so re-runs take seconds.
# Exit status 3: podman cannot be installed here (see setup.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

bash "$here/setup.sh"
# shellcheck source=env.sh
. "$here/env.sh"
# One build at a time per checkout: a second caller waits, then finds the images up to date.
exec 9> "$MD_CONTAINERS_DIR/build.lock"
flock 9
base="$(bash "$here/make-base-image.sh" | tail -n 1)"
base_id="$(podman image inspect --format '{{.Id}}' "$base")"

default_model_dir="${MD_MODEL_DIR:-model}"
default_tag="${MD_IMAGE_TAG:-dev}"

specs=("$@")
[ "${#specs[@]}" -gt 0 ] || specs=(scoring-service edge-module)

# Splits a spec <app>[:<tag>[=<model folder>]] into app, tag, model_dir and image (globals).
parse_spec() {
  local rest
  app="${1%%:*}"
  rest="${1#"$app"}"; rest="${rest#:}"
  tag="${rest%%=*}"; [ -n "$tag" ] || tag="$default_tag"
  model_dir="$default_model_dir"
  case "$rest" in *=*) model_dir="${rest#*=}" ;; esac
  model_dir="${model_dir%/}"
  case "$app" in
    scoring-service|edge-module) ;;
    *) echo "build-images: unknown app \"$app\" in \"$1\" (scoring-service or edge-module)" >&2; exit 1 ;;
  esac
  [ -d "$repo/$model_dir" ] || { echo "build-images: the model folder $model_dir of \"$1\" is not a folder of $repo" >&2; exit 1; }
  image="localhost/model-deploy/$app:$tag"
}

# Every file the allow-list in .dockerignore lets into the context (its "!path" lines), for the input hash;
# of the model folders' patterns, only the files of the model folder this build copies (what the
# Dockerfile's model stage takes: *.onnx, *.json, *.txt at the folder's top level).
context_files() {
  local line path
  while IFS= read -r line; do
    case "$line" in
      '!'*'*'*) ;;
      '!'*) path="${line#!}"
            [ -e "$repo/$path" ] && find "$repo/$path" -type f ! -path '*/node_modules/*' ! -path '*/dist/*' ! -name '*.tsbuildinfo' ;;
    esac
  done < "$repo/.dockerignore"
  find "$repo/$model_dir" -maxdepth 1 -type f \( -name '*.onnx' -o -name '*.json' -o -name '*.txt' \)
}

# A build secret only when the builder needs a CA bundle to reach the registry (a TLS-intercepting proxy).
secrets=()
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  secrets+=(--secret "id=build-ca,src=$NODE_EXTRA_CA_CERTS")
fi

# Build what changed, both images at once: npm's network waits and the vfs copies overlap well on 2 cores.
build_one() {
  local app="$1" image="$2" inputs="$3" log="$4" model_dir="$5" start
  start=$(date +%s)
  # --layers=false: with the vfs driver every cached layer is a full copy of the file system, so
  # committing each step costs more than it saves; the runtime image then has one layer over the base.
  # The whole output goes to the log; each step's first line also goes to the screen as it starts,
  # with the seconds since this build began, so a 4-minute build does not look like a hang.
  if ! podman build --layers=false --pull=never \
    --build-arg "BASE_IMAGE=$base" --build-arg "APP=$app" --build-arg "MODEL_DIR=$model_dir" "${secrets[@]}" \
    --label "io.model-deploy.inputs=$inputs" \
    -f "$repo/Dockerfile" -t "$image" "$repo" 2>&1 | tee "$log" | progress "${image#localhost/model-deploy/}" "$start"; then
    return 1
  fi
  echo $(( $(date +%s) - start )) > "$log.seconds"
}

# podman prints "[2/2] STEP 5/9: COPY ..." as each step starts, then "[2/2] COMMIT <image>" while it
# writes the image (a minute of copying with vfs) and "Successfully tagged <image>" when done.
progress() {
  local app="$1" start="$2" line
  while IFS= read -r line; do
    case "$line" in
      *'STEP '[0-9]*|'['*'] COMMIT '*|'COMMIT '*|'Successfully tagged '*)
        line="${line%% \\}"
        [ "${#line}" -le 110 ] || line="${line:0:107}..."
        printf 'build-images: %-19s %4ss  %s\n' "$app" "$(( $(date +%s) - start ))" "$line" >&2 ;;
    esac
  done
}

declare -A pids=()
for spec in "${specs[@]}"; do
  parse_spec "$spec"
  # The scoring image does not contain the edge module, so edge edits do not rebuild it.
  skip='^$'
  [ "$app" = scoring-service ] && skip="^$repo/edge-module/"
  inputs="$( { echo "$base_id $app $model_dir"; sha256sum "$repo/Dockerfile" "$repo/.dockerignore" "$here/build-images.sh"; \
    context_files | sort | grep -v "$skip" | while IFS= read -r f; do sha256sum "$f"; done; } | sha256sum | cut -c1-16)"
  log="$MD_CONTAINERS_DIR/build-$app-$tag.log"
  rm -f "$log.seconds"
  if [ "${MD_REBUILD:-}" != 1 ] && podman image exists "$image" \
    && [ "$(podman image inspect --format '{{ index .Labels "io.model-deploy.inputs" }}' "$image")" = "$inputs" ]; then
    echo "build-images: $image is up to date (inputs $inputs)" >&2
  else
    echo "build-images: building $image (2-4 min on 2 cores; each step is shown as it starts; full log: $log)" >&2
    build_one "$app" "$image" "$inputs" "$log" "$model_dir" &
    pids[$spec]=$!
  fi
done
failed=0
for spec in "${!pids[@]}"; do
  if ! wait "${pids[$spec]}"; then
    parse_spec "$spec"
    log="$MD_CONTAINERS_DIR/build-$app-$tag.log"
    echo "build-images: building $image failed; last lines of $log:" >&2
    tail -n 40 "$log" >&2
    failed=1
  fi
done
# The images these replaced are now dangling; with vfs each is a full copy, so drop them.
[ "${#pids[@]}" -eq 0 ] || podman image prune --force > /dev/null
[ "$failed" = 0 ] || exit 1

report_entries=()
base_bytes="$(podman image inspect --format '{{.Size}}' "$base")"
for spec in "${specs[@]}"; do
  parse_spec "$spec"
  log="$MD_CONTAINERS_DIR/build-$app-$tag.log"
  build_seconds=0
  [ -f "$log.seconds" ] && build_seconds="$(cat "$log.seconds")"
  image_bytes="$(podman image inspect --format '{{.Size}}' "$image")"
  layers="$(podman image inspect --format '{{len .RootFS.Layers}}' "$image")"
  report_entries+=("$(printf '{"app":"%s","image":"%s","modelDir":"%s","imageBytes":%s,"baseImage":"%s","baseBytes":%s,"appLayerBytes":%s,"layers":%s,"buildSeconds":%s}' \
    "$app" "$image" "$model_dir" "$image_bytes" "$base" "$base_bytes" "$((image_bytes - base_bytes))" "$layers" "$build_seconds")")
done

printf '\n%-26s %12s %14s %12s %8s\n' image 'whole image' 'app layer(s)' 'base' 'build s' >&2
for entry in "${report_entries[@]}"; do
  node -e '
    const e = JSON.parse(process.argv[1]);
    const mb = (b) => (b / 1e6).toFixed(1) + " MB";
    process.stderr.write(`${e.image.replace("localhost/model-deploy/", "").padEnd(26)} ${mb(e.imageBytes).padStart(12)} ${mb(e.appLayerBytes).padStart(14)} ${mb(e.baseBytes).padStart(12)} ${String(e.buildSeconds).padStart(8)}\n`);
  ' "$entry"
done
json="[$(IFS=,; echo "${report_entries[*]}")]"
if [ -n "${MD_IMAGE_REPORT:-}" ]; then
  printf '%s\n' "$json" > "$MD_IMAGE_REPORT"
fi
