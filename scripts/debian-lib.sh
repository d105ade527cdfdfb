#!/bin/sh
# Makes one of the small Debian libraries the inference core calls through koffi available:
#   sh scripts/debian-lib.sh libturbojpeg0 libturbojpeg.so.0   libjpeg-turbo's TurboJPEG (turbojpeg.ts), ~100 KB
#   sh scripts/debian-lib.sh libspng0 libspng.so.0             libspng, the PNG decoder (spng.ts), ~100 KB
# Prints the path to put in TURBOJPEG_LIBRARY / SPNG_LIBRARY, or nothing when the system's loader already
# finds the library:
#   - already installed: nothing to do;
#   - root with apt-get: apt-get install <package> (apt-get update first when the lists are empty);
#   - otherwise: apt-get download (no root needed) and unpack it under .cache/lib/<package>/.
# Never fails the caller: when nothing works it says why on stderr and prints nothing (the core then
# falls back: JPEGs to libvips, small PNGs to pngjs; slower, same answers).
set -u
package=${1:?usage: debian-lib.sh <debian package> <soname>}
soname=${2:?usage: debian-lib.sh <debian package> <soname>}
root=$(cd "$(dirname "$0")/.." && pwd)
have() { ldconfig -p 2>/dev/null | awk -v s="$soname" '$1 == s { found = 1 } END { exit !found }'; }
have && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "$package: apt-get install $package" >&2
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null 2>&1; }; } \
    && have && exit 0
fi
dir="$root/.cache/lib/$package"
lib=$(find "$dir" -name "$soname" 2>/dev/null | head -n 1)
if [ -z "$lib" ] && command -v apt-get >/dev/null 2>&1; then
  mkdir -p "$dir/deb" && cd "$dir/deb" \
    && { ls "${package}"_*.deb >/dev/null 2>&1 || apt-get download "$package" >/dev/null 2>&1; } \
    && dpkg -x "${package}"_*.deb "$dir/root" 2>/dev/null
  lib=$(find "$dir/root" -name "$soname" 2>/dev/null | head -n 1)
fi
if [ -n "$lib" ]; then
  echo "$lib"
else
  echo "$package: could not install or download Debian's $package; the core falls back to a slower decoder" >&2
fi
exit 0
