#!/bin/sh
# Restarts vbat (after editing /data/apps/available/vbat/config.yaml, for instance): svc -t sends it
# SIGTERM, it releases its D-Bus names within a second, and supervise starts it again.
#
# Usage: restart.sh [--root DIR]
#   --root DIR (or VBAT_ROOT=DIR)  only check the installation below DIR and say what it would run
set -eu

SERVICE_LINK=/service/vbat

ROOT=${VBAT_ROOT:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || { echo "restart.sh: --root needs a folder" >&2; exit 2; }; ROOT=$2; shift 2 ;;
    --root=*) ROOT=${1#--root=}; shift ;;
    -h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "restart.sh: unknown option $1 (see restart.sh --help)" >&2; exit 2 ;;
  esac
done
if [ "$ROOT" = / ]; then ROOT=; fi

if [ ! -L "$ROOT$SERVICE_LINK" ]; then
  echo "restart.sh: vbat is not installed ($SERVICE_LINK is missing): run /data/apps/available/vbat/install.sh" >&2
  exit 1
fi
if [ -n "$ROOT" ]; then
  echo "restart.sh: --root $ROOT: would run: svc -t $SERVICE_LINK"
  exit 0
fi
svc -t "$SERVICE_LINK"
sleep 1
svstat "$SERVICE_LINK" || true
echo "log: tail -F /var/log/vbat/current | tai64nlocal"
