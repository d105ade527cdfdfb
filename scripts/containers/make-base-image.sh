#!/usr/bin/env bash
# Builds a local stand-in for the official node:24-bookworm-slim image, since no registry can be pulled
# from here: a Debian bookworm minbase root filesystem (debootstrap), slimmed the way Debian's -slim images
# are, plus the Node 24 binary the project runs on (scripts/use-node.sh: the machine's own Node 24, else
# the pinned official binary it fetched into .cache/node/) and npm at the official image's paths
# (/usr/local), the official image's `node` user (uid 1000) and an entrypoint that behaves like its
# docker-entrypoint.sh.
#
#   scripts/containers/make-base-image.sh            # prints the image name on the last line
#
# Idempotent: the image is rebuilt only when this script, the node binary or npm changed (a label holds
# their fingerprint), and the slimmed root filesystem is cached as a tarball under .cache/containers/base/.
# If debootstrap cannot reach a Debian mirror, the root filesystem is assembled offline from this
# machine's own installed bookworm packages of priority "required" and their dependencies (what minbase installs).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=env.sh
. "$here/env.sh"

# The Node major the project requires (package.json engines ">=N"): the stand-in carries that major.
node_major="$(sed -n 's/.*"node": *">=\([0-9][0-9]*\).*/\1/p' "$here/../../package.json")"
[ -n "$node_major" ] || { echo "make-base-image: cannot read the Node major from package.json engines.node (expected \">=N\")" >&2; exit 1; }
tag="${NODE_STAND_IN_IMAGE:-localhost/node-stand-in:$node_major-bookworm-slim}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
base_dir="$MD_CONTAINERS_DIR/base"
rootfs_tar="$base_dir/bookworm-minbase-slim.tar"
mkdir -p "$base_dir"

# shellcheck source=../use-node.sh
. "$here/../use-node.sh"
node_bin="$(readlink -f "$(command -v node)")"
node_version="$(node -p process.version)"
case "$node_version" in
  "v$node_major".*) ;;
  *) echo "make-base-image: the node on PATH is $node_version; the stand-in must carry Node $node_major (package.json engines)" >&2; exit 1 ;;
esac
npm_dir="$(cd "$(dirname "$(readlink -f "$(command -v npm)")")/.." && pwd)"
[ -f "$npm_dir/package.json" ] || { echo "make-base-image: cannot find npm's package next to $(command -v npm)" >&2; exit 1; }
npm_version="$(node -p "require('$npm_dir/package.json').version")"

stamp="$( { sha256sum "$here/make-base-image.sh" "$node_bin"; echo "$npm_version"; } | sha256sum | cut -c1-16)"
if podman image exists "$tag" \
  && [ "$(podman image inspect --format '{{ index .Labels "io.model-deploy.stand-in" }}' "$tag")" = "$stamp" ]; then
  echo "make-base-image: $tag is up to date (node $node_version, npm $npm_version)" >&2
  echo "$tag"
  exit 0
fi

work="$(mktemp -d "$TMPDIR/base.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# The same trimming Debian's official -slim images do: no docs, man pages, locales or apt caches.
slim_rootfs() {
  local root="$1"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/log/*.log \
    "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} + 2>/dev/null || true
}

# Offline fallback: copy the files of this machine's installed required-priority packages and their dependencies.
rootfs_from_host_packages() {
  local root="$1" required pkgs
  required="$(dpkg-query -W -f '${Package} ${Priority} ${db:Status-Abbrev}\n' | awk '$2 == "required" && $3 ~ /^ii/ { print $1 }')"
  # Plus what they depend on (libc6 and the other libraries are priority "optional"), as installed here.
  # shellcheck disable=SC2086
  pkgs="$( { echo "$required"; apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
      --no-replaces --no-enhances $required 2>/dev/null | grep -E '^[a-z0-9]'; } | sort -u \
    | xargs dpkg-query -W -f '${Package}:${Architecture} ${db:Status-Abbrev}\n' 2>/dev/null | awk '$2 ~ /^ii/ { print $1 }')" \
    || true  # dpkg-query fails on the virtual package names apt-cache lists; the installed ones are printed
  mkdir -p "$root"
  # dpkg lists files under their pre-usrmerge names too (/sbin/x is /usr/sbin/x): copy each file once, at
  # its real location, then recreate the top-level symlinks (/bin -> usr/bin, ...).
  # shellcheck disable=SC2086
  dpkg -L $pkgs 2>/dev/null | while read -r f; do
    if [ -L "$f" ] || [ -f "$f" ]; then echo "$(readlink -f "$(dirname "$f")")/$(basename "$f")"; fi
  done | sort -u | tar --no-recursion -C / -T - -cf - | tar -C "$root" -xf -
  for link in bin sbin lib lib32 lib64 libx32; do
    if [ -L "/$link" ]; then ln -sfn "$(readlink "/$link")" "$root/$link"; fi
  done
  # Links maintainer scripts make rather than ship: /bin/sh (dash) and the alternatives (awk, ...).
  cp -a /usr/bin/sh "$root/usr/bin/sh"
  cp -a /etc/alternatives "$root/etc/"
  find /usr/bin /usr/sbin -maxdepth 1 -type l -lname '/etc/alternatives/*' -exec cp -a {} "$root{}" \; 2>/dev/null || true
  # Minimal user database and the pieces debootstrap's postinst scripts would have made.
  cp /usr/share/base-passwd/passwd.master "$root/etc/passwd"
  cp /usr/share/base-passwd/group.master "$root/etc/group"
  awk -F: '{ print $1 ":*:19000:0:99999:7:::" }' "$root/etc/passwd" > "$root/etc/shadow"
  chmod 640 "$root/etc/shadow"
  mkdir -p "$root/tmp" "$root/root" "$root/proc" "$root/sys" "$root/dev" "$root/run" "$root/var/tmp"
  chmod 1777 "$root/tmp" "$root/var/tmp"
}

if [ ! -s "$rootfs_tar" ]; then
  echo "make-base-image: building a bookworm minbase root filesystem (debootstrap from $mirror, ~1 min)" >&2
  if [ "${MD_BASE_FROM_HOST:-}" != 1 ] \
    && debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" > "$work/debootstrap.log" 2>&1; then
    :
  else
    if [ "${MD_BASE_FROM_HOST:-}" != 1 ]; then
      echo "make-base-image: debootstrap failed (last lines below); assembling the root filesystem from this machine's packages" >&2
      tail -n 5 "$work/debootstrap.log" >&2
    fi
    rm -rf "$work/rootfs"
    rootfs_from_host_packages "$work/rootfs"
  fi
  slim_rootfs "$work/rootfs"
  tar --numeric-owner -C "$work/rootfs" -cf "$rootfs_tar.tmp" .
  mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$work/rootfs"
fi

echo "make-base-image: adding node $node_version and npm $npm_version, importing as $tag" >&2
mkdir -p "$work/rootfs"
tar -C "$work/rootfs" -xf "$rootfs_tar"
r="$work/rootfs"
install -D -m 0755 "$node_bin" "$r/usr/local/bin/node"
mkdir -p "$r/usr/local/lib/node_modules"
cp -a "$npm_dir" "$r/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$r/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$r/usr/local/bin/npx"
# The official image's unprivileged user.
grep -q '^node:' "$r/etc/group" || echo 'node:x:1000:' >> "$r/etc/group"
grep -q '^node:' "$r/etc/passwd" || echo 'node:x:1000:1000::/home/node:/bin/bash' >> "$r/etc/passwd"
grep -q '^node:' "$r/etc/shadow" || echo 'node:!:19000:0:99999:7:::' >> "$r/etc/shadow"
install -d -o 1000 -g 1000 "$r/home/node"
# Same behaviour as the official docker-entrypoint.sh: run node with flags or a script, else exec the command.
cat > "$r/usr/local/bin/docker-entrypoint.sh" <<'SH'
#!/bin/sh
set -e
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ] || { [ -f "${1}" ] && ! [ -x "${1}" ]; }; then
  set -- node "$@"
fi
exec "$@"
SH
chmod 0755 "$r/usr/local/bin/docker-entrypoint.sh"

podman rmi --force "$tag" > /dev/null 2>&1 || true
tar --numeric-owner -C "$r" -cf - . | podman import --quiet \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change "ENV NODE_VERSION=${node_version#v}" \
  --change 'ENTRYPOINT ["docker-entrypoint.sh"]' \
  --change 'CMD ["node"]' \
  --change "LABEL io.model-deploy.stand-in=$stamp" \
  --message "stand-in for node:$node_major-bookworm-slim (node $node_version, npm $npm_version)" \
  - "$tag" > /dev/null
# The stand-in this one replaces (Node 20, before the move to 24) is a full copy of a root file system with vfs.
if [ -z "${NODE_STAND_IN_IMAGE:-}" ] && podman image exists localhost/node-stand-in:20-bookworm-slim; then
  podman rmi --force localhost/node-stand-in:20-bookworm-slim > /dev/null 2>&1 || true
fi
echo "$tag"
