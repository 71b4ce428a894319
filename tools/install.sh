#!/bin/bash
# install.sh - make install: tools/install.sh BUILD DESTDIR PREFIX CONFDIR
#
#   PREFIX/sbin            commands: sendmail, mailroom, mailroom-queue (setgid),
#                          mailroom-map, mailroom-postdrop (setgid)
#   PREFIX/lib/mailroom    daemons (daemon_directory)
#   CONFDIR                mailroom.conf, master.conf, aliases (an existing
#                          file is never replaced: the new one goes to FILE.new)
#   /var/spool/mailroom    queue_directory (master creates what is inside)
#   /var/lib/mailroom      data_directory
#   links                  PREFIX/sbin/{mailq,newaliases}, PREFIX/bin/{mailq,newaliases}
#                          and, where distributions expect them, /usr/sbin/sendmail,
#                          /usr/bin/{mailq,newaliases}, /usr/lib/sendmail. A file
#                          there that is not ours is kept as NAME.pre-mailroom.
#
# Run as root without DESTDIR, it also creates the mailroom user and the
# mailroom-drop group and makes mailroom-postdrop and mailroom-queue setgid
# mailroom-drop (mode 2755): postdrop to write into maildrop/, the queue
# tool to reach public/showq so that any user's mailq works. With DESTDIR
# (packaging), ownership is left to the package's post-install step, which
# must do the same; both are installed 0755.
set -e
BUILD=${1:-build}
DESTDIR=$2
PREFIX=${3:-/usr}
CONFDIR=${4:-/etc/mailroom}
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN="$TOP/$BUILD/bin"

COMMANDS="sendmail mailroom mailroom-queue mailroom-map mailroom-postdrop"
# built programs that are not part of an installation (tests, benchmarks)
NOT_INSTALLED="mailq newaliases smtp-load bench-tables testechod testtrigd testeventd testagent"

SBIN="$DESTDIR$PREFIX/sbin"
LIBEXEC="$DESTDIR$PREFIX/lib/mailroom"
ETC="$DESTDIR$CONFDIR"
SPOOL="$DESTDIR/var/spool/mailroom"
DATA="$DESTDIR/var/lib/mailroom"
AS_ROOT=0
[ "$(id -u)" = 0 ] && [ -z "$DESTDIR" ] && AS_ROOT=1

say() { echo "install: $*"; }

is_command() { case " $COMMANDS " in *" $1 "*) return 0;; esac; return 1; }
skipped() {
    case " $NOT_INSTALLED " in *" $1 "*) return 0;; esac
    case "$1" in test*) return 0;; esac
    return 1
}

# install_programs - commands to sbin, daemons to lib/mailroom
install_programs() {
    install -d -m 755 "$SBIN" "$LIBEXEC"
    for p in "$BIN"/*; do
        name=$(basename "$p")
        [ -f "$p" ] && [ -x "$p" ] && [ ! -L "$p" ] || continue
        skipped "$name" && continue
        if is_command "$name"; then
            install -m 755 "$p" "$SBIN/$name"
        else
            install -m 755 "$p" "$LIBEXEC/$name"
        fi
    done
}

# link_to - make LINK point at TARGET; keep a foreign file as .pre-mailroom
link_to() {
    local target=$1 link=$2
    install -d -m 755 "$(dirname "$link")"
    if [ -L "$link" ] && [ "$(readlink "$link")" = "$target" ]; then
        return
    fi
    if [ -e "$link" ] || [ -L "$link" ]; then
        if [ ! -e "$link.pre-mailroom" ] && [ ! -L "$link.pre-mailroom" ]; then
            mv "$link" "$link.pre-mailroom"
            say "kept the previous $link as $link.pre-mailroom"
        else
            rm -f "$link"
        fi
    fi
    ln -s "$target" "$link"
}

install_links() {
    local sm="$PREFIX/sbin/sendmail"
    link_to sendmail "$SBIN/mailq"
    link_to sendmail "$SBIN/newaliases"
    link_to "$sm" "$DESTDIR$PREFIX/bin/mailq"
    link_to "$sm" "$DESTDIR$PREFIX/bin/newaliases"
    [ "$PREFIX" = /usr ] || link_to "$sm" "$DESTDIR/usr/sbin/sendmail"
    link_to "$sm" "$DESTDIR/usr/bin/mailq"
    link_to "$sm" "$DESTDIR/usr/bin/newaliases"
    link_to "$sm" "$DESTDIR/usr/lib/sendmail"
}

# install_conf_file - never overwrite what the administrator has
install_conf_file() {
    local src=$1 dst=$2
    if [ -e "$dst" ]; then
        if ! cmp -s "$src" "$dst"; then
            install -m 644 "$src" "$dst.new"
            say "$dst exists; the shipped version is in $dst.new"
        fi
    else
        install -m 644 "$src" "$dst"
    fi
}

install_conf() {
    local tmp
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
    install_conf_file "$tmp" "$ETC/mailroom.conf"
    rm -f "$tmp"
    for f in "$TOP"/conf/*; do
        name=$(basename "$f")
        [ "$name" = mailroom.conf ] && continue
        [ -f "$f" ] && install_conf_file "$f" "$ETC/$name"
    done
}

install_dirs() {
    install -d -m 755 "$SPOOL"
    install -d -m 700 "$DATA"
}

# the commands that run setgid mailroom-drop
SETGID_COMMANDS="mailroom-postdrop mailroom-queue"

# install_owners - users, groups and the setgid bits (root, no DESTDIR)
install_owners() {
    local p
    if [ "$AS_ROOT" != 1 ]; then
        for p in $SETGID_COMMANDS; do chmod 755 "$SBIN/$p"; done
        say "not root or DESTDIR set: make $PREFIX/sbin/mailroom-postdrop and" \
            "$PREFIX/sbin/mailroom-queue group mailroom-drop, mode 2755," \
            "and /var/lib/mailroom owned by mailroom at install time"
        return
    fi
    getent group mailroom-drop >/dev/null || groupadd --system mailroom-drop
    getent passwd mailroom >/dev/null || useradd --system --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin mailroom
    chown mailroom: "$DATA"
    for p in $SETGID_COMMANDS; do
        chgrp mailroom-drop "$SBIN/$p"
        chmod 2755 "$SBIN/$p"
    done
}

[ -d "$BIN" ] || { echo "install: $BIN does not exist: run make first" >&2; exit 1; }
install_programs
install_links
install_conf
install_dirs
install_owners
say "done: commands in $PREFIX/sbin, daemons in $PREFIX/lib/mailroom, configuration in $CONFDIR"
