#!/usr/bin/env bash
# podman with the project's configuration and storage (see env.sh), for humans and tests:
#   scripts/containers/podman.sh images
#   scripts/containers/podman.sh run --rm --read-only -e SCORING_API_KEYS=dev-key -p 127.0.0.1:5001:5001 \
#     localhost/model-deploy/scoring-service:dev
set -euo pipefail
# shellcheck source=env.sh
. "$(dirname "${BASH_SOURCE[0]}")/env.sh"
exec podman "$@"
