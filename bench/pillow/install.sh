#!/bin/sh
# Installs the references of the benches, the first time a bench needs them:
#   install.sh photos    Debian's python3-pil (bench/pillow/reference.py, `npm run bench -- photos`)
#   install.sh exports   python3-pil, python3-numpy and python3-torchvision (bench/pillow/exports.py,
#                        `npm run bench -- exports`; torchvision pulls in PyTorch: ~270 packages, a few
#                        minutes the first time)
#   install.sh wrk       Debian's wrk, the C load generator of BENCH_SCORING_WRK=1 (`npm run bench -- scoring`)
# Only the benches need them, so only the benches call this. Needs root and apt-get; otherwise it says
# what to install and exits 1.
set -u
python=/usr/bin/python3
case "${1:-exports}" in
  photos) packages="python3-pil" modules="PIL" command="" ;;
  exports) packages="python3-pil python3-numpy python3-torchvision" modules="PIL, numpy, torchvision" command="" ;;
  wrk) packages="wrk" modules="" command="wrk" ;;
  *) echo "bench/pillow/install.sh: expected photos, exports or wrk, found '$1'" >&2; exit 2 ;;
esac
# A Python reference is there when its modules import; a program, when it is on PATH.
present() {
  if [ -n "$modules" ]; then "$python" -c "import $modules"; else command -v "$command" >/dev/null; fi
}
present 2>/dev/null && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "bench: the reference needs Debian's $packages (apt-get install them as root)" >&2
  exit 1
fi
echo "bench: apt-get install $packages (first time only)" >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null 2>&1 \
  || { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >/dev/null 2>&1; }
present || { echo "bench: installing $packages failed" >&2; exit 1; }
