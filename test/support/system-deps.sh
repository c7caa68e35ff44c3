#!/usr/bin/env bash
# Makes sure the real parts the tests run are installed: dbus-daemon and dbus-send (Debian
# package dbus), gdbus (libglib2.0-bin), mosquitto, openssl (the TLS test's certificates), busybox
# (install.sh run with a busybox userland, as on Venus OS). Installs what is missing with apt-get when
# it can (root + apt-get). Exits non-zero when something is still missing and CI=true, so CI
# never skips the D-Bus and MQTT tests silently; elsewhere it warns and those tests skip.
set -u
missing=()
command -v dbus-daemon >/dev/null 2>&1 || missing+=(dbus)
command -v dbus-send >/dev/null 2>&1 || missing+=(dbus)
command -v dbus-monitor >/dev/null 2>&1 || missing+=(dbus)
command -v gdbus >/dev/null 2>&1 || missing+=(libglib2.0-bin)
command -v mosquitto >/dev/null 2>&1 || missing+=(mosquitto)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v busybox >/dev/null 2>&1 || missing+=(busybox)
[ ${#missing[@]} -eq 0 ] && exit 0

packages=$(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "test setup: installing $packages with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends $packages >/dev/null
fi
still=()
for tool in dbus-daemon dbus-send gdbus mosquitto openssl busybox; do command -v "$tool" >/dev/null 2>&1 || still+=("$tool"); done
# The Debian mosquitto package starts a system broker on port 1883; tests use their own.
if command -v mosquitto >/dev/null 2>&1 && command -v service >/dev/null 2>&1; then service mosquitto stop >/dev/null 2>&1 || true; fi
[ ${#still[@]} -eq 0 ] && exit 0
if [ "${CI:-}" = "true" ]; then
  echo "test setup: missing ${still[*]} and CI=true: the D-Bus/MQTT tests must run in CI" >&2
  exit 1
fi
echo "test setup: missing ${still[*]}; install with: sudo apt-get install $packages — tests that need them will be skipped" >&2
exit 0
