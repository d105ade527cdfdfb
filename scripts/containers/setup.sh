#!/usr/bin/env bash
# Makes podman/buildah usable here: installs them from Debian if missing, writes the project's
# configuration (see env.sh) and checks that podman starts. Idempotent; safe without a terminal (CI).
#
# Exit status: 0 ready; 3 podman is missing and cannot be installed here (not root, or no apt-get) —
# callers skip container work with that message; anything else is a real failure.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

packages=(podman buildah runc debootstrap)
missing=()
for tool in podman buildah runc debootstrap; do
  command -v "$tool" > /dev/null 2>&1 || missing+=("$tool")
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: ${missing[*]} not installed and not running as root, so they cannot be installed (apt-get install ${packages[*]})" >&2
    exit 3
  fi
  if ! command -v apt-get > /dev/null 2>&1; then
    echo "setup: ${missing[*]} not installed and there is no apt-get to install them with" >&2
    exit 3
  fi
  echo "setup: installing ${packages[*]} from Debian with apt-get (needs root; once per machine, ~1-2 min)" >&2
  apt_start=$(date +%s)
  export DEBIAN_FRONTEND=noninteractive
  # --no-install-recommends: fuse-overlayfs, slirp4netns and friends are not needed with vfs and root.
  if ! apt-get install -y -q --no-install-recommends "${packages[@]}" > /dev/null 2>&1; then
    apt-get update -q > /dev/null 2>&1 || true
    if ! apt-get install -y -q --no-install-recommends "${packages[@]}" >&2; then
      echo "setup: apt-get could not install ${packages[*]}" >&2
      exit 3
    fi
  fi
  echo "setup: installed in $(( $(date +%s) - apt_start ))s" >&2
fi

if [ "$(id -u)" != 0 ]; then
  # Rootless podman needs subuid ranges, fuse-overlayfs and slirp4netns; the project's scripts assume root.
  echo "setup: podman is installed, but the container scripts need root (rootless podman is not configured here)" >&2
  exit 3
fi

# shellcheck source=env.sh
. "$here/env.sh"
if ! podman info > "$TMPDIR/podman-info.txt" 2>&1; then
  echo "setup: podman does not start with $CONTAINERS_CONF:" >&2
  tail -n 20 "$TMPDIR/podman-info.txt" >&2
  exit 1
fi
echo "setup: $(podman --version), $(buildah --version | cut -d' ' -f1-3), $(runc --version | head -n1); storage $MD_CONTAINERS_DIR/storage (vfs)" >&2
