#!/bin/sh
# Runs a command with the core's native decoders available: libjpeg-turbo's TurboJPEG and libspng
# (scripts/debian-lib.sh installs or unpacks each; TURBOJPEG_LIBRARY / SPNG_LIBRARY are set only when
# the system's loader would not find the library, and a value already set is kept).
#   sh scripts/with-native-libs.sh node scoring-service/dist/server.js --local
set -u
here=$(cd "$(dirname "$0")" && pwd)
if [ -z "${TURBOJPEG_LIBRARY:-}" ]; then
  TURBOJPEG_LIBRARY=$(sh "$here/debian-lib.sh" libturbojpeg0 libturbojpeg.so.0)
  [ -n "$TURBOJPEG_LIBRARY" ] && export TURBOJPEG_LIBRARY
fi
if [ -z "${SPNG_LIBRARY:-}" ]; then
  SPNG_LIBRARY=$(sh "$here/debian-lib.sh" libspng0 libspng.so.0)
  [ -n "$SPNG_LIBRARY" ] && export SPNG_LIBRARY
fi
exec "$@"
