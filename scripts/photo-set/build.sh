#!/bin/sh
# Builds the real-photo set used by the fidelity test and `npm run bench -- photos` under .cache/photos:
# photographs that Debian ships (scikit-image's and matplotlib's sample data), upscaled with Pillow to
# camera sizes, and tiled frames at the photographs' own detail (build.py). Needs apt-get (for
# `apt-get download`, no root needed) and Debian's python3-pil, which it installs when run as root.
# Idempotent: an existing set is kept (one without tiled.json, from before the tiled frames, is rebuilt).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cache="$root/.cache"
out="$cache/photos"
[ -f "$out/manifest.json" ] && [ -f "$out/tiled.json" ] && exit 0
if ! /usr/bin/python3 -c 'import PIL' 2>/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-pil >/dev/null
  else
    echo "photo-set: Debian's python3-pil is missing (apt-get install python3-pil)" >&2
    exit 1
  fi
fi
mkdir -p "$cache/debs/x"
cd "$cache/debs"
for pkg in python3-skimage python-matplotlib-data; do
  ls "$pkg"_*.deb >/dev/null 2>&1 || apt-get download "$pkg" >/dev/null
  dpkg -x "$pkg"_*.deb x
done
/usr/bin/python3 "$root/scripts/photo-set/build.py" "$cache/debs/x" "$out"
