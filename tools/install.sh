#!/bin/bash
# install.sh - make install: tools/install.sh BUILD DESTDIR PREFIX CONFDIR
#
#   PREFIX/sbin            commands: mailroom, mailroom-scan, mailroom-queue (setgid),
#                          mailroom-map, mailroom-postdrop (setgid), sendmail
#   PREFIX/lib/mailroom    daemons (daemon_directory)
#   PREFIX/share/man       manual pages (made from docs/ by the build)
#   CONFDIR                mailroom.conf, master.conf, aliases (an existing
#                          file is never replaced: the new one goes to FILE.new)
#   /lib/systemd/system    mailroom.service (enabled where systemctl exists)
#   /etc/logrotate.d, /etc/rsyslog.d   the log file's rotation; facility mail
#                          to /var/log/mail.log only where rsyslog lacks that rule
#   /var/spool/mailroom    queue_directory (master creates what is inside)
#   /var/lib/mailroom      data_directory
#
# The commands other programs expect of an MTA (/usr/sbin/sendmail,
# /usr/bin/mailq, /usr/bin/newaliases, /usr/lib/sendmail and their manual
# pages) are installed as Debian's MTAs share them: where such a file
# belongs to another package (Postfix, Exim), it is set aside with
# `dpkg-divert --local --rename` (to NAME.pre-mailroom) before ours takes
# its place, so dpkg knows and `make uninstall` puts it back exactly. A
# file no package owns is moved to NAME.pre-mailroom. MTA_COMMANDS=no
# leaves all of them alone. Nothing that a package owns is ever overwritten.
#
# Everything done is said on the way and written to the manifest
# PREFIX/share/mailroom/install-manifest, which tools/uninstall.sh reads.
#
# Run as root without DESTDIR, it also creates the mailroom user and the
# mailroom-drop group and makes mailroom-postdrop and mailroom-queue setgid
# mailroom-drop (mode 2755). With DESTDIR (packaging) nothing outside
# DESTDIR is touched: ownership, diversions and the unit's enabling are the
# package's maintainer scripts' work.
set -e
BUILD=${1:-build}
DESTDIR=$2
PREFIX=${3:-/usr}
CONFDIR=${4:-/etc/mailroom}
MTA_COMMANDS=${MTA_COMMANDS:-yes}
TOP=$(cd "$(dirname "$0")/.." && pwd)
case "$BUILD" in /*) ;; *) BUILD="$TOP/$BUILD";; esac
BIN="$BUILD/bin"
MAN="$BUILD/man"

COMMANDS="mailroom mailroom-queue mailroom-map mailroom-postdrop mailroom-scan"
# built programs that are not part of an installation (tests, benchmarks)
NOT_INSTALLED="mailq newaliases sendmail smtp-load bench-tables"

SBIN="$DESTDIR$PREFIX/sbin"
LIBEXEC="$DESTDIR$PREFIX/lib/mailroom"
SHARE="$DESTDIR$PREFIX/share/mailroom"
MANDIR="$DESTDIR$PREFIX/share/man"
ETC="$DESTDIR$CONFDIR"
SPOOL="$DESTDIR/var/spool/mailroom"
DATA="$DESTDIR/var/lib/mailroom"
UNITDIR="$DESTDIR/lib/systemd/system"
MANIFEST="$SHARE/install-manifest"
AS_ROOT=0
[ "$(id -u)" = 0 ] && [ -z "$DESTDIR" ] && AS_ROOT=1

say() { echo "install: $*"; }

# record - one manifest line: WHAT PATH (paths without DESTDIR)
record() {
    grep -qxF "$*" "$MANIFEST" 2>/dev/null || echo "$*" >> "$MANIFEST"
}

is_command() { case " $COMMANDS " in *" $1 "*) return 0;; esac; return 1; }
skipped() {
    case " $NOT_INSTALLED " in *" $1 "*) return 0;; esac
    case "$1" in test*) return 0;; esac
    return 1
}

# package_of - the package that owns PATH on this system, "" if none
package_of() {
    [ -z "$DESTDIR" ] && command -v dpkg-query >/dev/null || return 0
    dpkg-query -S "$1" 2>/dev/null | grep -v '^diversion ' | head -1 | cut -d: -f1
}

# ours - is PATH something an earlier install of ours put there?
ours() {
    grep -qxF "file $1" "$MANIFEST" 2>/dev/null || grep -qxF "link $1" "$MANIFEST" 2>/dev/null
}

# set_aside - make room at PATH (no DESTDIR prefix) for a file of ours:
# divert another package's file, move an unpackaged foreign one
set_aside() {
    local path=$1 pkg
    [ -e "$DESTDIR$path" ] || [ -L "$DESTDIR$path" ] || return 0
    ours "$path" && return 0
    pkg=$(package_of "$path")
    if [ -n "$pkg" ]; then
        dpkg-divert --local --rename --divert "$path.pre-mailroom" --add "$path" >/dev/null
        record "divert $path"
        say "$path belongs to $pkg: diverted to $path.pre-mailroom (dpkg-divert)"
    else
        if [ -e "$DESTDIR$path.pre-mailroom" ] || [ -L "$DESTDIR$path.pre-mailroom" ]; then
            echo "install: $path and $path.pre-mailroom both exist; not replacing $path" >&2
            return 1
        fi
        mv "$DESTDIR$path" "$DESTDIR$path.pre-mailroom"
        record "moved $path"
        say "kept the previous $path as $path.pre-mailroom"
    fi
}

# put_file - install SRC at PATH (no DESTDIR prefix) with MODE
put_file() {
    local src=$1 path=$2 mode=$3
    install -d -m 755 "$(dirname "$DESTDIR$path")"
    set_aside "$path" || return 0
    install -m "$mode" "$src" "$DESTDIR$path"
    record "file $path"
}

# put_link - make PATH (no DESTDIR prefix) a symbolic link to TARGET
put_link() {
    local target=$1 path=$2
    install -d -m 755 "$(dirname "$DESTDIR$path")"
    if [ -L "$DESTDIR$path" ] && [ "$(readlink "$DESTDIR$path")" = "$target" ]; then
        record "link $path"
        return 0
    fi
    set_aside "$path" || return 0
    rm -f "$DESTDIR$path"
    ln -s "$target" "$DESTDIR$path"
    record "link $path"
}

# install_programs - commands to sbin, daemons (and sendmail) to lib/mailroom
install_programs() {
    local p name
    for p in "$BIN"/*; do
        name=$(basename "$p")
        [ -f "$p" ] && [ -x "$p" ] && [ ! -L "$p" ] || continue
        skipped "$name" && continue
        if is_command "$name"; then
            put_file "$p" "$PREFIX/sbin/$name" 755
        else
            put_file "$p" "$PREFIX/lib/mailroom/$name" 755
        fi
    done
    put_file "$BIN/sendmail" "$PREFIX/lib/mailroom/sendmail" 755
}

# install_mta_commands - sendmail, mailq, newaliases where programs look
install_mta_commands() {
    local sm="$PREFIX/lib/mailroom/sendmail" page
    if [ "$MTA_COMMANDS" = no ]; then
        say "MTA_COMMANDS=no: $sm is not linked as /usr/sbin/sendmail, mailq, newaliases"
        return
    fi
    put_link "$sm" "$PREFIX/sbin/sendmail"
    [ "$PREFIX" = /usr ] || put_link "$sm" /usr/sbin/sendmail
    put_link "$sm" /usr/bin/mailq
    put_link "$sm" /usr/bin/newaliases
    put_link "$sm" /usr/lib/sendmail
    for page in sendmail mailq newaliases; do
        [ -f "$MAN/$page.1.gz" ] && put_file "$MAN/$page.1.gz" "$PREFIX/share/man/man1/$page.1.gz" 644
    done
    return 0
}

# install_docs - the parameter reference made by the build
install_docs() {
    put_file "$BUILD/doc/parameters.md" "$PREFIX/share/doc/mailroom/parameters.md" 644
}

# install_man - the manual pages made by the build (build/man/NAME.S.gz)
install_man() {
    local page name section
    for page in "$MAN"/*.gz; do
        [ -f "$page" ] || continue
        name=$(basename "$page" .gz)
        section=${name##*.}
        case "$name" in sendmail.1|mailq.1|newaliases.1) continue;; esac
        put_file "$page" "$PREFIX/share/man/man$section/$name.gz" 644
    done
}

# install_conf_file - never overwrite what the administrator has
install_conf_file() {
    local src=$1 dst=$2
    if [ -e "$DESTDIR$dst" ]; then
        if ! cmp -s "$src" "$DESTDIR$dst"; then
            install -m 644 "$src" "$DESTDIR$dst.new"
            say "$dst exists; the shipped version is in $dst.new"
        fi
        return
    fi
    install -m 644 "$src" "$DESTDIR$dst"
    record "conf $dst $(sha256sum < "$src" | cut -c1-64)"
}

install_conf() {
    local tmp f name
    install -d -m 755 "$ETC"
    tmp=$(mktemp)
    # the shipped file names /usr paths: point them at this PREFIX
    sed -e "s|^daemon_directory *=.*|daemon_directory = $PREFIX/lib/mailroom|" \
        -e "s|^command_directory *=.*|command_directory = $PREFIX/sbin|" \
        "$TOP/conf/mailroom.conf" > "$tmp"
    grep -q '^command_directory' "$tmp" || echo "command_directory = $PREFIX/sbin" >> "$tmp"
    grep -q '^daemon_directory' "$tmp" || echo "daemon_directory = $PREFIX/lib/mailroom" >> "$tmp"
    [ "$CONFDIR" = /etc/mailroom ] || \
        grep -q '^config_directory' "$tmp" || echo "config_directory = $CONFDIR" >> "$tmp"
    install_conf_file "$tmp" "$CONFDIR/mailroom.conf"
    rm -f "$tmp"
    for f in "$TOP"/conf/*; do
        name=$(basename "$f")
        [ "$name" = mailroom.conf ] && continue
        [ -f "$f" ] && install_conf_file "$f" "$CONFDIR/$name"
    done
    return 0
}

# install_logging - logrotate always; rsyslog only where mail.* goes nowhere
install_logging() {
    put_file "$TOP/dist/logrotate-mailroom" /etc/logrotate.d/mailroom 644
    if [ -f "$DESTDIR/etc/rsyslog.conf" ] && ! grep -qsE '^[^#]*mail\.\*' \
        "$DESTDIR/etc/rsyslog.conf" "$DESTDIR"/etc/rsyslog.d/*.conf; then
        put_file "$TOP/dist/rsyslog-mailroom.conf" /etc/rsyslog.d/mailroom.conf 644
        say "rsyslog had no rule for facility mail: added /etc/rsyslog.d/mailroom.conf"
    fi
    return 0
}

install_dirs() {
    local d
    for d in /var/spool/mailroom /var/lib/mailroom; do
        if [ ! -d "$DESTDIR$d" ]; then
            install -d -m 755 "$DESTDIR$d"
            record "dir $d"
        fi
    done
    chmod 700 "$DATA"
}

# install_unit - the systemd unit; enabled where systemctl can do it
install_unit() {
    local unit=/lib/systemd/system/mailroom.service tmp
    tmp=$(mktemp)
    sed "s|/usr/sbin/mailroom|$PREFIX/sbin/mailroom|" "$TOP/dist/mailroom.service" > "$tmp"
    put_file "$tmp" "$unit" 644
    rm -f "$tmp"
    [ "$AS_ROOT" = 1 ] && command -v systemctl >/dev/null || return 0
    if systemctl enable mailroom.service >/dev/null 2>&1; then
        record "enabled mailroom.service"
        say "enabled mailroom.service (systemctl start mailroom, or mailroom start)"
    else
        say "systemctl could not enable mailroom.service here; start it with: mailroom start"
    fi
    [ -d /run/systemd/system ] && systemctl daemon-reload || true
}

# the commands that run setgid mailroom-drop
SETGID_COMMANDS="mailroom-postdrop mailroom-queue"

# install_owners - users, groups and the setgid bits (root, no DESTDIR)
install_owners() {
    local p
    if [ "$AS_ROOT" != 1 ]; then
        say "not root or DESTDIR set: make $PREFIX/sbin/mailroom-postdrop and" \
            "$PREFIX/sbin/mailroom-queue group mailroom-drop, mode 2755," \
            "and /var/lib/mailroom owned by mailroom at install time"
        return
    fi
    if ! getent group mailroom-drop >/dev/null; then
        groupadd --system mailroom-drop
        record "group mailroom-drop"
        say "created group mailroom-drop"
    fi
    if ! getent passwd mailroom >/dev/null; then
        useradd --system --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin mailroom
        record "user mailroom"
        say "created user mailroom"
    fi
    if ! getent passwd mailroom-login >/dev/null; then
        useradd --system --no-create-home --home-dir /nonexistent \
            --shell /usr/sbin/nologin mailroom-login
        record "user mailroom-login"
        say "created user mailroom-login (pop3d's login processes)"
    fi
    chown mailroom: "$DATA"
    for p in $SETGID_COMMANDS; do
        chgrp mailroom-drop "$SBIN/$p"
        chmod 2755 "$SBIN/$p"
    done
}

# install_aliases - alias_maps defaults to hash:/etc/aliases (as Postfix on
# Debian): make sure the source exists and build the table, as the MTA
# packages do at installation; an existing /etc/aliases is kept as it is
install_aliases() {
    if [ ! -e "$DESTDIR/etc/aliases" ]; then
        put_file "$TOP/conf/aliases" /etc/aliases 644
        say "installed /etc/aliases (there was none)"
    fi
    [ -z "$DESTDIR" ] && [ "$AS_ROOT" = 1 ] || return 0
    if [ ! -e /etc/aliases.db ] && "$PREFIX/lib/mailroom/sendmail" -bi; then
        record "file /etc/aliases.db"
        say "built /etc/aliases.db from /etc/aliases (newaliases)"
    fi
    return 0
}

[ -d "$BIN" ] || { echo "install: $BIN does not exist: run make first" >&2; exit 1; }
install -d -m 755 "$SHARE"
touch "$MANIFEST"
install_programs
install_mta_commands
install_man
install_docs
install_conf
install_logging
install_dirs
install_unit
install_owners
install_aliases
say "done: commands in $PREFIX/sbin, daemons in $PREFIX/lib/mailroom," \
    "configuration in $CONFDIR; what was done is listed in" \
    "$PREFIX/share/mailroom/install-manifest (make uninstall reverses it)"
