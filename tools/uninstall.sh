#!/bin/bash
# uninstall.sh - make uninstall: tools/uninstall.sh DESTDIR PREFIX
#
# Reverses what tools/install.sh wrote to PREFIX/share/mailroom/install-manifest:
#   file PATH / link PATH   removed (a link only while it still points at ours)
#   divert PATH             our file removed, then `dpkg-divert --rename --remove`
#                           gives the other package its file back
#   moved PATH              PATH.pre-mailroom moved back to PATH
#   conf PATH SHA256        removed if unchanged since install, else kept (said)
#   dir PATH                removed if empty; with PURGE=yes removed with its
#                           contents (the queue: queued mail is lost)
#   enabled UNIT            systemctl disable
#   user NAME / group NAME  removed with PURGE=yes (files may still be owned)
# Stop Mailroom first (mailroom stop): uninstall refuses while it runs.
set -e
DESTDIR=$1
PREFIX=${2:-/usr}
PURGE=${PURGE:-no}
MANIFEST="$DESTDIR$PREFIX/share/mailroom/install-manifest"

say() { echo "uninstall: $*"; }

[ -f "$MANIFEST" ] || { echo "uninstall: no $MANIFEST: nothing was installed here" >&2; exit 1; }
if [ -z "$DESTDIR" ] && [ -x "$PREFIX/sbin/mailroom" ] && "$PREFIX/sbin/mailroom" status >/dev/null 2>&1; then
    echo "uninstall: Mailroom is running: stop it first (mailroom stop)" >&2
    exit 1
fi

# entries - manifest lines of one kind, newest first
entries() { tac "$MANIFEST" | awk -v k="$1" '$1 == k { print $2, $3 }'; }

undo_units() {
    local unit
    entries enabled | while read -r unit _; do
        systemctl disable "$unit" >/dev/null 2>&1 && say "disabled $unit" || true
    done
}

undo_files() {
    local path
    entries file | while read -r path _; do
        rm -f "$DESTDIR$path"
    done
    entries link | while read -r path _; do
        [ -L "$DESTDIR$path" ] && rm -f "$DESTDIR$path"
    done
    return 0
}

undo_diversions() {
    local path
    entries divert | while read -r path _; do
        dpkg-divert --local --rename --remove "$path" >/dev/null
        say "gave $path back to $(dpkg-query -S "$path" 2>/dev/null | cut -d: -f1)"
    done
    entries moved | while read -r path _; do
        mv "$DESTDIR$path.pre-mailroom" "$DESTDIR$path"
        say "restored $path"
    done
}

undo_conf() {
    local path sum
    entries conf | while read -r path sum; do
        [ -f "$DESTDIR$path" ] || continue
        if [ "$(sha256sum < "$DESTDIR$path" | cut -c1-64)" = "$sum" ] || [ "$PURGE" = yes ]; then
            rm -f "$DESTDIR$path"
        else
            say "kept $path: changed since install"
        fi
    done
}

undo_dirs() {
    local path
    entries dir | while read -r path _; do
        if [ "$PURGE" = yes ]; then
            case "$path" in /?*) rm -rf "$DESTDIR$path";; esac
        elif ! rmdir "$DESTDIR$path" 2>/dev/null; then
            say "kept $path (not empty; PURGE=yes removes it)"
        fi
    done
    return 0
}

undo_accounts() {
    local name
    entries user | while read -r name _; do
        if [ "$PURGE" = yes ]; then userdel "$name" && say "removed user $name"
        else say "kept user $name (PURGE=yes removes it)"; fi
    done
    entries group | while read -r name _; do
        if [ "$PURGE" = yes ]; then groupdel "$name" && say "removed group $name"
        else say "kept group $name (PURGE=yes removes it)"; fi
    done
}

undo_units
undo_files
undo_diversions
undo_conf
undo_dirs
undo_accounts
rm -f "$MANIFEST"
for d in "$DESTDIR$PREFIX/share/mailroom" "$DESTDIR$PREFIX/lib/mailroom" "$DESTDIR/etc/mailroom"; do
    rmdir "$d" 2>/dev/null || true
done
[ -z "$DESTDIR" ] && [ -d /run/systemd/system ] && systemctl daemon-reload || true
say "done"
