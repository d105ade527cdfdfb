#!/bin/sh
# Installs the Python references of `npm run bench -- exports` (bench/pillow/exports.py): Debian's
# python3-pil, python3-numpy and python3-torchvision (torchvision pulls in PyTorch: ~270 packages, a few
# minutes the first time). Only the bench needs them, so only the bench calls this. Needs root and apt-get;
# otherwise it says what to install and exits 1.
set -u
python=/usr/bin/python3
"$python" -c 'import PIL, numpy, torchvision' 2>/dev/null && exit 0
packages="python3-pil python3-numpy python3-torchvision"
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "bench: the exports reference needs Debian's $packages (apt-get install them as root)" >&2
  exit 1
fi
echo "bench: apt-get install $packages (first time only; a few minutes)" >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null 2>&1 \
  || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null 2>&1; }
"$python" -c 'import PIL, numpy, torchvision' || { echo "bench: installing $packages failed" >&2; exit 1; }
