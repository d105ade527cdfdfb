#!/bin/sh
# Makes libjpeg-turbo's TurboJPEG library (Debian's libturbojpeg0, ~100 KB) available to the inference
# core (inference/src/turbojpeg.ts), which decodes JPEGs with it and falls back to libvips without it.
# Prints the path to put in TURBOJPEG_LIBRARY, or nothing when the system's loader already finds it.
#   - already installed: nothing to do;
#   - root with apt-get: apt-get install libturbojpeg0 (apt-get update first when the lists are empty);
#   - otherwise: apt-get download (no root needed) and unpack it under .cache/lib/.
# Never fails the caller: when nothing works it says why on stderr and prints nothing (libvips then decodes).
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
have() { ldconfig -p 2>/dev/null | grep -q 'libturbojpeg\.so\.0 '; }
have && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "turbojpeg: apt-get install libturbojpeg0" >&2
  { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libturbojpeg0 >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libturbojpeg0 >/dev/null 2>&1; }; } \
    && have && exit 0
fi
dir="$root/.cache/lib"
lib=$(find "$dir" -name 'libturbojpeg.so.0' 2>/dev/null | head -n 1)
if [ -z "$lib" ] && command -v apt-get >/dev/null 2>&1; then
  mkdir -p "$dir/deb" && cd "$dir/deb" \
    && { ls libturbojpeg0_*.deb >/dev/null 2>&1 || apt-get download libturbojpeg0 >/dev/null 2>&1; } \
    && dpkg -x libturbojpeg0_*.deb "$dir/root" 2>/dev/null
  lib=$(find "$dir/root" -name 'libturbojpeg.so.0' 2>/dev/null | head -n 1)
fi
if [ -n "$lib" ]; then
  echo "$lib"
else
  echo "turbojpeg: could not install or download Debian's libturbojpeg0; JPEGs will be decoded by libvips (slower)" >&2
fi
exit 0
