#!/bin/sh
# Installs or updates vbat on a Venus OS GX device (Cerbo GX, Raspberry Pi, ...):
#
#   /data/etc/vbat/        the program (vbat.js), mappings, schemas, these scripts; your
#                          config.yaml there is kept (created from config.sample.yaml only when
#                          there is none)
#   /service/vbat          a link to /data/etc/vbat/service: daemontools starts vbat
#   /data/rc.local         gets the line "sh /data/etc/vbat/install.sh": it runs at every boot,
#                          so the link is back after a firmware update (which replaces
#                          everything outside /data)
#
# Run it from an unpacked release to install or update (its files are copied over, a running
# vbat is restarted when any changed), or from /data/etc/vbat itself (what rc.local does). Running
# it again changes nothing.
#
# Usage: install.sh [--root DIR]
#   --root DIR (or VBAT_ROOT=DIR)  install below DIR instead of / (tests, staging an image): the
#                                  paths written are the same, only prefixed; nothing is started.
set -eu

NAME=vbat
INSTALL_DIR=/data/etc/$NAME
SERVICE_LINK=/service/$NAME
RC_LOCAL=/data/rc.local
RC_LINE="sh $INSTALL_DIR/install.sh"

ROOT=${VBAT_ROOT:-}
while [ $# -gt 0 ]; do
  case "$1" in
    --root) [ $# -ge 2 ] || { echo "install.sh: --root needs a folder" >&2; exit 2; }; ROOT=$2; shift 2 ;;
    --root=*) ROOT=${1#--root=}; shift ;;
    -h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see install.sh --help)" >&2; exit 2 ;;
  esac
done
if [ -n "$ROOT" ]; then
  [ -d "$ROOT" ] || { echo "install.sh: --root $ROOT is not a folder" >&2; exit 2; }
  ROOT=$(cd "$ROOT" && pwd -P)
  [ "$ROOT" = / ] && ROOT=
fi

SRC=$(cd "$(dirname "$0")" && pwd -P)
DEST=$ROOT$INSTALL_DIR
if [ ! -f "$SRC/vbat.js" ] || [ ! -f "$SRC/service/run" ]; then
  echo "install.sh: $SRC is not an unpacked vbat release (no vbat.js or service/run)" >&2
  exit 1
fi
version=$(cat "$SRC/VERSION" 2>/dev/null || echo "?")

# ---- program files ----

changed=0
# put SOURCE TARGET MODE: copy unless the target already has the same content.
put() {
  if [ -f "$2" ] && cmp -s "$1" "$2" 2>/dev/null; then
    chmod "$3" "$2" # (leaves the file's time alone)
    return 0
  fi
  mkdir -p "$(dirname "$2")"
  cp "$1" "$2.new.$$"
  chmod "$3" "$2.new.$$"
  mv -f "$2.new.$$" "$2" # replaced in one step: a running vbat is never left with half a file
  changed=$((changed + 1))
}

mkdir -p "$DEST"
if [ "$(cd "$DEST" && pwd -P)" = "$SRC" ]; then
  echo "vbat $version: installed in $INSTALL_DIR"
  # Unpacked in place (tar -xzf vbat-X.tar.gz -C /data/etc): only make sure of the modes.
  for f in vbat.js install.sh uninstall.sh restart.sh service/run service/log/run; do
    [ ! -f "$DEST/$f" ] || [ -x "$DEST/$f" ] || chmod 755 "$DEST/$f"
  done
  [ ! -t 1 ] || echo "  (after unpacking a new release over it, run $INSTALL_DIR/restart.sh)"
else
  old=$(cat "$DEST/VERSION" 2>/dev/null || true)
  if [ -z "$old" ]; then
    echo "vbat $version: installing into $INSTALL_DIR"
  else
    echo "vbat $version: updating $INSTALL_DIR (was $old)"
  fi
  for f in vbat.js install.sh uninstall.sh restart.sh service/run service/log/run; do
    put "$SRC/$f" "$DEST/$f" 755
  done
  for f in VERSION README.md THIRD-PARTY-NOTICES.txt config.sample.yaml; do
    [ ! -f "$SRC/$f" ] || put "$SRC/$f" "$DEST/$f" 644
  done
  # (files the new release no longer has are left alone: mappings of your own may live there)
  set -f
  saved_ifs=$IFS
  IFS='
'
  for f in $(cd "$SRC" && find mappings schemas -type f); do
    put "$SRC/$f" "$DEST/$f" 644
  done
  IFS=$saved_ifs
  set +f
  echo "  $changed file(s) written"
fi

# ---- config ----

if [ -f "$DEST/config.yaml" ]; then
  echo "  keeping your $INSTALL_DIR/config.yaml"
else
  cp "$DEST/config.sample.yaml" "$DEST/config.yaml"
  chmod 600 "$DEST/config.yaml"
  changed=$((changed + 1))
  echo "  created $INSTALL_DIR/config.yaml from the sample: edit it (broker, batteries);"
  echo "  vbat waits until it is no longer the sample. Check a mapping with:"
  echo "    node $INSTALL_DIR/vbat.js check $INSTALL_DIR/mappings/default.yaml PAYLOAD.json"
fi

# ---- service link ----

link=$ROOT$SERVICE_LINK
target=$INSTALL_DIR/service
linked=0
if [ -L "$link" ]; then
  if [ "$(readlink "$link")" != "$target" ]; then
    rm -f "$link"
    ln -s "$target" "$link"
    linked=1
    echo "  $SERVICE_LINK pointed elsewhere: now links to $target"
  fi
elif [ -e "$link" ]; then
  echo "install.sh: $SERVICE_LINK exists and is not a link: remove it, then run install.sh again" >&2
  exit 1
else
  if [ -z "$ROOT" ] && [ ! -d /service ]; then
    echo "install.sh: there is no /service folder: is this Venus OS?" >&2
    exit 1
  fi
  mkdir -p "$ROOT/service"
  ln -s "$target" "$link"
  linked=1
  echo "  linked $SERVICE_LINK -> $target"
fi

# ---- boot hook ----

rc=$ROOT$RC_LOCAL
mkdir -p "$(dirname "$rc")"
if [ ! -f "$rc" ]; then
  printf '#!/bin/sh\n\n%s\n' "$RC_LINE" > "$rc"
  chmod 755 "$rc"
  echo "  created $RC_LOCAL: $RC_LINE"
elif ! grep -qF "$INSTALL_DIR/install.sh" "$rc"; then
  # Keep the user's last line intact when the file does not end with a newline.
  if [ -n "$(tail -c 1 "$rc")" ]; then echo >> "$rc"; fi
  echo "$RC_LINE" >> "$rc"
  echo "  added to $RC_LOCAL: $RC_LINE"
fi
if [ ! -x "$rc" ]; then
  chmod 755 "$rc"
  echo "  made $RC_LOCAL executable, so that it runs at boot"
fi

# ---- start / restart ----

if [ -n "$ROOT" ]; then
  echo "  (--root $ROOT: nothing started)"
  exit 0
fi

NODE=
for n in /usr/bin/node /usr/local/bin/node "$(command -v node 2>/dev/null)"; do
  if [ -n "$n" ] && [ -x "$n" ]; then NODE=$n; break; fi
done
if [ -z "$NODE" ]; then
  echo "  WARNING: Node.js is not installed: vbat needs Node.js 18 or newer. Use the Venus OS Large"
  echo "  image (Settings > Firmware > Online updates > Image type: Large), or try:"
  echo "  opkg update && opkg install nodejs"
fi

if [ "$linked" = 1 ]; then
  echo "  svscan starts vbat within 5 s; log: tail -F /data/log/vbat/current | tai64nlocal"
elif [ "$changed" != 0 ]; then
  echo "  restarting vbat: svc -t $SERVICE_LINK"
  svc -t "$SERVICE_LINK" 2>/dev/null || true
fi
