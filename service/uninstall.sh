#!/bin/sh
# Removes vbat from a Venus OS GX device: stops it, removes the /service/vbat link and the
# install.sh line from /data/rc.local. The files in /data/apps/available/vbat (your config.yaml
# too) and the log in /var/log/vbat stay, unless --purge.
#
# Usage: uninstall.sh [--purge] [--root DIR]
#   --purge                        also delete /data/apps/available/vbat (config included) and
#                                  the log, /var/log/vbat
#   --root DIR (or VBAT_ROOT=DIR)  work below DIR instead of / (tests): nothing is stopped.
set -eu

NAME=vbat
INSTALL_DIR=/data/apps/available/$NAME
LOG_DIR=/var/log/$NAME
SERVICE_LINK=/service/$NAME
RC_LOCAL=/data/rc.local

ROOT=${VBAT_ROOT:-}
PURGE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --purge) PURGE=1; shift ;;
    --root) [ $# -ge 2 ] || { echo "uninstall.sh: --root needs a folder" >&2; exit 2; }; ROOT=$2; shift 2 ;;
    --root=*) ROOT=${1#--root=}; shift ;;
    -h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "uninstall.sh: unknown option $1 (see uninstall.sh --help)" >&2; exit 2 ;;
  esac
done
if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || { echo "uninstall.sh: --root $ROOT is not a folder" >&2; exit 2; }
  ROOT=$(cd "$ROOT" && pwd -P)
  [ "$ROOT" = / ] && ROOT=
fi

echo "uninstalling vbat"

# The service: remove the link first so svscan does not start it again, then stop vbat and its
# logger and let their supervise processes exit (daemontools' way to remove a service).
link=$ROOT$SERVICE_LINK
if [ -L "$link" ]; then
  rm -f "$link"
  echo "  removed $SERVICE_LINK"
elif [ -e "$link" ]; then
  echo "  $SERVICE_LINK is not a link: left alone"
fi
if [ -z "$ROOT" ]; then
  if [ -d "$INSTALL_DIR/service/supervise" ]; then
    svc -dx "$INSTALL_DIR/service" "$INSTALL_DIR/service/log" 2>/dev/null || true
    echo "  stopped vbat: svc -dx $INSTALL_DIR/service $INSTALL_DIR/service/log"
  fi
else
  echo "  (--root $ROOT: nothing stopped)"
fi

# The boot hook: every line that runs our install.sh.
rc=$ROOT$RC_LOCAL
# (the line of the old place, /data/etc/vbat, too)
if [ -f "$rc" ] && grep -qE "(/data/etc/$NAME|$INSTALL_DIR)/install\.sh" "$rc"; then
  tmp="$rc.vbat.$$"
  grep -vE "(/data/etc/$NAME|$INSTALL_DIR)/install\.sh" "$rc" > "$tmp" || true
  cat "$tmp" > "$rc" # rewrite in place: the file keeps its owner and mode
  rm -f "$tmp"
  echo "  removed the install.sh line from $RC_LOCAL"
fi

if [ "$PURGE" = 1 ]; then
  rm -rf "$ROOT$INSTALL_DIR" "$ROOT$LOG_DIR"
  echo "  deleted $INSTALL_DIR and $LOG_DIR"
else
  [ ! -d "$ROOT$INSTALL_DIR" ] || echo "  kept $INSTALL_DIR (config.yaml included); uninstall.sh --purge deletes it"
fi
