#!/bin/sh
# Installs or updates vbat on a Venus OS GX device (Cerbo GX, Ekrano GX, Raspberry Pi, ...) with
# the Large image (the one with Node.js):
#
#   /data/apps/available/vbat/
#       the program (vbat.js), mappings, schemas, these scripts; your config.yaml there is kept
#       (created from config.sample.yaml only when there is none). /data survives firmware
#       updates; /data/apps/available is where Victron's gui-v2 looks for apps on a GX device.
#   /service/vbat
#       a link to /data/apps/available/vbat/service: daemontools starts vbat. Venus OS rebuilds
#       /service at every boot, so the next line makes the link again at every boot.
#   /data/rc.local
#       gets "sh /data/apps/available/vbat/install.sh || true" before its first exit (a line
#       after "exit 0" never runs). When you disabled custom startup scripts (rc.local renamed
#       to rc.local.disabled), none is created: install.sh says how to enable them and stops.
#   /var/log/vbat/
#       the log (multilog; on Venus OS /var/log is a link to /data/log)
#
# Run it from an unpacked release to install or update (its files are copied over, a running
# vbat is restarted when any changed), or from /data/apps/available/vbat itself (what rc.local
# does). Running it again changes nothing. An installation in the old place, /data/etc/vbat, is
# moved. It finds mr-manuel's dbus-mqtt-battery (the Python driver), offers to import its
# config.ini and says how to disable it: two drivers for one battery fight over DVCC.
#
# Usage: install.sh [--import-seed] [--root DIR]
#   --import-seed                  write config.yaml from dbus-mqtt-battery's config.ini (when
#                                  config.yaml is missing or still the sample); asked when run
#                                  in a terminal
#   --root DIR (or VBAT_ROOT=DIR)  install below DIR instead of / (tests, staging an image): the
#                                  paths written are the same, only prefixed; nothing is started.
set -eu

NAME=vbat
INSTALL_DIR=/data/apps/available/$NAME
OLD_INSTALL_DIR=/data/etc/$NAME
SERVICE_LINK=/service/$NAME
LOG_DIR=/var/log/$NAME
RC_LOCAL=/data/rc.local
RC_LINE="sh $INSTALL_DIR/install.sh || true"
NODE_MIN=18

ROOT=${VBAT_ROOT:-}
IMPORT_SEED=0
while [ $# -gt 0 ]; do
  case "$1" in
    --import-seed) IMPORT_SEED=1; shift ;;
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
# Run from the installation itself: the boot hook (or an update unpacked in place).
in_place=0
if [ -d "$DEST" ] && [ "$(cd "$DEST" && pwd -P)" = "$SRC" ]; then in_place=1; fi

# ---- what the device needs: checked before anything is written ----

rc=$ROOT$RC_LOCAL
if [ ! -e "$rc" ] && [ -e "$rc.disabled" ]; then
  # venus-platform renamed it when the owner disabled custom startup scripts; re-enabling
  # refuses while a new rc.local exists, so creating one would block the owner's way back.
  echo "install.sh: custom startup scripts are disabled on this device ($RC_LOCAL.disabled): vbat could" >&2
  echo "  not start at boot, so nothing was installed. To enable them: Settings > General > Support" >&2
  echo "  status > Re-enable custom startup scripts (that renames it back to $RC_LOCAL), then run" >&2
  echo "  this install.sh again." >&2
  exit 1
fi

image=$(cat "$ROOT/etc/venus/image-type" 2>/dev/null || true)
if [ -z "$image" ] && [ ! -d "$ROOT/etc/venus" ]; then
  echo "install.sh: there is no /etc/venus: vbat installs on Venus OS (a GX device) only" >&2
  exit 1
fi
NODE=
for n in "$ROOT/usr/bin/node" $([ -n "$ROOT" ] || echo "/usr/local/bin/node $(command -v node 2>/dev/null || true)"); do
  if [ -x "$n" ]; then NODE=$n; break; fi
done
node_version=
[ -z "$NODE" ] || node_version=$("$NODE" --version 2>/dev/null || true)
node_major=$(echo "$node_version" | sed -n 's/^v\([0-9][0-9]*\)\..*/\1/p')
if [ -z "$node_major" ] || [ "$node_major" -lt "$NODE_MIN" ]; then
  if [ -z "$NODE" ]; then have="there is no Node.js (no /usr/bin/node)"; else have="${NODE#"$ROOT"} is Node.js ${node_version:-of unknown version}"; fi
  msg="vbat needs Node.js $NODE_MIN or newer and $have; this device runs the ${image:-unknown} image (/etc/venus/image-type). Venus OS ships Node.js only on its Large image: Node 18 on v3.10 to v3.5x, Node 20 on v3.60 and later; there is none for the CCGX. The way out: Settings > General > Firmware > Online updates > Image type: Large, update, then run this install.sh again. (opkg install nodejs works on some devices after /opt/victronenergy/swupdate-scripts/remount-rw.sh, but is gone after every firmware update.)"
  if [ "$in_place" = 0 ]; then
    echo "install.sh: nothing was installed: $msg" >&2
    exit 1
  fi
  # The boot hook of an installation: keep the service, whose run script waits for Node.js.
  echo "  WARNING: $msg"
elif [ "$image" != large ]; then
  echo "  WARNING: ${NODE#"$ROOT"} ($node_version) is not part of the ${image:-unknown} image: a firmware update removes it and vbat"
  echo "  then waits for Node.js. Settings > General > Firmware > Online updates > Image type: Large keeps it."
fi

# ---- the old place (/data/etc/vbat): moved, config and mappings of your own included ----

old=$ROOT$OLD_INSTALL_DIR
if [ ! -e "$DEST" ] && [ -f "$old/vbat.js" ] && [ -f "$old/service/run" ]; then
  mkdir -p "$(dirname "$DEST")"
  mv "$old" "$DEST"
  # (unpacked over the old place and run from there: the files to install moved too)
  if [ ! -d "$SRC" ]; then SRC=$(cd "$DEST" && pwd -P) in_place=1; fi
  echo "  moved the installation from $OLD_INSTALL_DIR to $INSTALL_DIR (config.yaml included)"
fi

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
if [ "$in_place" = 1 ]; then
  echo "vbat $version: installed in $INSTALL_DIR"
  # Unpacked in place (tar -xzf vbat-X.tar.gz -C /data/apps/available): only make sure of the modes.
  for f in vbat.js install.sh uninstall.sh restart.sh service/run service/log/run; do
    [ ! -f "$DEST/$f" ] || [ -x "$DEST/$f" ] || chmod 755 "$DEST/$f"
  done
  [ ! -t 1 ] || echo "  (after unpacking a new release over it, run $INSTALL_DIR/restart.sh)"
else
  was=$(cat "$DEST/VERSION" 2>/dev/null || true)
  if [ -z "$was" ]; then
    echo "vbat $version: installing into $INSTALL_DIR"
  else
    echo "vbat $version: updating $INSTALL_DIR (was $was)"
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

config_is_sample=0
if [ -f "$DEST/config.yaml" ]; then
  if cmp -s "$DEST/config.yaml" "$DEST/config.sample.yaml"; then config_is_sample=1; fi
  [ "$in_place" = 1 ] || echo "  keeping your $INSTALL_DIR/config.yaml"
else
  cp "$DEST/config.sample.yaml" "$DEST/config.yaml"
  chmod 600 "$DEST/config.yaml"
  changed=$((changed + 1))
  config_is_sample=1
  echo "  created $INSTALL_DIR/config.yaml from the sample: edit it (broker, batteries);"
  echo "  vbat waits until it is no longer the sample. Check a mapping with:"
  echo "    node $INSTALL_DIR/vbat.js check $INSTALL_DIR/mappings/default.yaml PAYLOAD.json"
fi

# ---- mr-manuel's dbus-mqtt-battery (the Python driver vbat replaces) ----
# Its download.sh installs /data/etc/dbus-mqtt-battery (a second one as dbus-mqtt-battery-2, ...),
# links /service/dbus-mqtt-battery and adds "bash /data/etc/dbus-mqtt-battery/install.sh" to rc.local.

seed_config=
for d in "$ROOT"/data/etc/dbus-mqtt-battery "$ROOT"/data/etc/dbus-mqtt-battery-*; do
  [ -d "$d" ] && [ -f "$d/service/run" ] || continue
  s=${d#"$ROOT"}
  n=${s##*/}
  active=
  [ ! -L "$ROOT/service/$n" ] || active="/service/$n is linked (it runs now)"
  if [ -f "$rc" ] && grep -q "^[^#]*$s/install.sh" "$rc"; then active="${active:+$active; }$RC_LOCAL starts it at boot"; fi
  if [ -n "$active" ]; then
    echo "  FOUND the Python driver $n in $s: $active."
    echo "    Two drivers for one battery fight over DVCC's charge limits: disable it before vbat takes"
    echo "    over: bash $s/uninstall.sh (it stops it and removes its link and rc.local line; answer N"
    echo "    when it asks to delete its files: that keeps its config.ini for the import)."
  else
    echo "  found the files of the Python driver $n in $s (not started: neither linked nor in $RC_LOCAL)"
  fi
  [ -f "$d/config.ini" ] || continue
  import="node $INSTALL_DIR/vbat.js import-seed-config $s/config.ini -o $INSTALL_DIR/config.yaml --force"
  if [ "$config_is_sample" = 0 ]; then
    echo "    (your config.yaml is your own: not importing its config.ini; to replace it: $import)"
  elif [ -n "$active" ]; then
    echo "    once it is disabled, import its settings: $INSTALL_DIR/install.sh --import-seed"
  elif [ -z "$seed_config" ]; then
    seed_config=$s/config.ini
  else
    echo "    (one config.ini is imported; add this battery to config.yaml's batteries by hand:"
    echo "    node $INSTALL_DIR/vbat.js import-seed-config $s/config.ini prints it)"
  fi
done
if [ -n "$seed_config" ] && [ "$IMPORT_SEED" = 0 ]; then
  if [ -t 0 ] && [ -t 1 ]; then
    printf '    import its %s into %s/config.yaml now? [Y/n] ' "$seed_config" "$INSTALL_DIR"
    read -r answer || answer=n
    case "$answer" in '' | [yY]*) IMPORT_SEED=1 ;; esac
  else
    echo "    import its settings: $INSTALL_DIR/install.sh --import-seed"
  fi
fi
# (a refused import still completes the installation, vbat waiting on the sample; the exit
# status says it)
status=0
if [ "$IMPORT_SEED" = 1 ]; then
  if [ -z "$seed_config" ]; then
    echo "install.sh: --import-seed: nothing imported: no config.ini of a disabled dbus-mqtt-battery, or config.yaml is no longer the sample (see above)" >&2
    status=1
  elif [ -z "$NODE" ]; then
    echo "install.sh: --import-seed: nothing imported: it needs Node.js" >&2
    status=1
  else
    echo "  importing $seed_config:"
    "$NODE" "$DEST/vbat.js" import-seed-config "$ROOT$seed_config" -o "$DEST/config.yaml" --force 2>&1 | sed 's/^/    /'
    if cmp -s "$DEST/config.yaml" "$DEST/config.sample.yaml"; then
      echo "install.sh: the import failed (see above): config.yaml is still the sample" >&2
      status=1
    else
      changed=$((changed + 1))
    fi
  fi
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

# rewrite_rc AWK-PROGRAM: rc.local through awk, rewritten in place (it keeps its owner and mode).
rewrite_rc() {
  awk -v line="$RC_LINE" -v old="$OLD_INSTALL_DIR/install.sh" "$1" "$rc" > "$rc.vbat.$$"
  cat "$rc.vbat.$$" > "$rc"
  rm -f "$rc.vbat.$$"
}
mkdir -p "$(dirname "$rc")"
if [ ! -f "$rc" ]; then
  printf '#!/bin/sh\n\n%s\n' "$RC_LINE" > "$rc"
  chmod 755 "$rc"
  echo "  created $RC_LOCAL: $RC_LINE"
elif ! grep -qF "$INSTALL_DIR/install.sh" "$rc"; then
  if grep -qF "$OLD_INSTALL_DIR/install.sh" "$rc"; then
    rewrite_rc 'index($0, old) { next } { print }'
    echo "  removed the line of $OLD_INSTALL_DIR from $RC_LOCAL"
  fi
  # Where the line goes: before the first "exit" at the top level (a line after it never runs).
  # An exit in a condition or block before that one may end the script early: then right after
  # the #! line and the comments that open the file. No exit at all: at the end.
  rewrite_rc '
    { lines[++n] = $0; code = $0; sub(/#.*/, "", code) }
    !at && !early && code ~ /(^|[^A-Za-z0-9_])exit([^A-Za-z0-9_]|$)/ { if (code ~ /^exit([^A-Za-z0-9_]|$)/) at = n; else early = 1 }
    END {
      if (early) {
        for (i = 1; i <= n && ((i == 1 && lines[i] ~ /^#!/) || lines[i] ~ /^[ \t]*(#|$)/); i++) print lines[i]
        print line
        for (; i <= n; i++) print lines[i]
      } else {
        for (i = 1; i <= n; i++) { if (i == at) print line; print lines[i] }
        if (!at) print line
      }
    }'
  echo "  added to $RC_LOCAL: $RC_LINE"
fi
if [ ! -x "$rc" ]; then
  chmod 755 "$rc"
  echo "  made $RC_LOCAL executable, so that it runs at boot"
fi

# ---- start / restart ----

[ "$linked" = 0 ] || [ "$in_place" = 1 ] || echo "  log: tail -F $LOG_DIR/current | tai64nlocal"
if [ -n "$ROOT" ]; then
  echo "  (--root $ROOT: nothing started)"
  exit "$status"
fi
if [ "$linked" = 1 ]; then
  echo "  svscan starts vbat within 5 s"
elif [ "$changed" != 0 ]; then
  echo "  restarting vbat: svc -t $SERVICE_LINK"
  svc -t "$SERVICE_LINK" 2>/dev/null || true
fi
exit "$status"
