#!/bin/bash
# test-deb.sh - part of make test-install (root, scratch machine): the
# package replaces the machine's MTA (Debian's postfix here) the way
# Debian's MTAs replace each other, works, purges cleanly, and the MTA can
# come back - and the machine is left as it was found, so the test can run
# again.
#
#  1. make deb (lintian clean); apt installs it over the MTA, which apt
#     removes (Conflicts/Provides/Replaces mail-transport-agent);
#  2. the user, group and set-gid overrides exist; mailroom start; mail
#     from root through /usr/sbin/sendmail is delivered or queued; stop;
#  3. the MTA comes back in the same apt run that removes mailroom
#     ("apt-get install postfix mailroom-"), so packages that need an MTA
#     (bsd-mailx: default-mta | mail-transport-agent) are never left
#     without one: purging the only MTA would make apt remove them too;
#     then purge: no file of the package, no queue, no override left;
#  4. the MTA is installed again and `dpkg -V` of it is clean.
#
# Restoring: every package an apt run of this script removed is installed
# again at the end (with its automatic/manual mark), every package it
# installed that was not there before is purged, and a postfix that was
# running is started again - also when a step fails (trap on EXIT). Only
# packages named in this script's own apt output are touched, never a
# difference of the whole package list, so a package someone else
# installs meanwhile is left alone. Without an MTA at the start, step 3
# and 4 use postfix and purge it again at the end.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "test-deb: must run as root" >&2; exit 1; }
say() { echo "test-deb: $*"; }
fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive

state=$(mktemp -d /tmp/test-deb.XXXXXX)
runs=0

# is_installed - is package $1 installed (not just its configuration)?
is_installed() {
    dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^.i'
}

# apt_run - apt-get "$@", its output kept for restore (and shown on failure)
apt_run() {
    runs=$((runs + 1))
    local log="$state/apt.$runs"
    if ! apt-get -y -q -o Dpkg::Use-Pty=0 "$@" >"$log" 2>&1; then
        cat "$log" >&2
        return 1
    fi
}

# apt_names - packages the apt runs so far reported doing $1 to
# ("Removing", "Unpacking"), without their architecture
apt_names() {
    cat "$state"/apt.* 2>/dev/null | sed -n "s/^$1 \([^ :]*\)[: ].*/\1/p" | sort -u
}

# restore - put back what this script's apt runs changed
restore() {
    local rc=$? p back=() gone=()
    trap - EXIT
    set +e
    if is_installed mailroom; then
        mailroom stop >/dev/null 2>&1
        apt_run purge mailroom || true
    fi
    for p in $(apt_names Removing); do
        [ "$p" = mailroom ] && continue
        grep -qx "$p" "$state/before" && ! is_installed "$p" && back+=("$p")
    done
    if [ ${#back[@]} -gt 0 ]; then
        say "restore: installing again what apt removed: ${back[*]}"
        apt_run install "${back[@]}" || say "restore: could not install ${back[*]}"
        for p in "${back[@]}"; do
            grep -qx "$p" "$state/auto" && apt-mark auto "$p" >/dev/null
        done
    fi
    for p in $(apt_names Unpacking); do
        [ "$p" = mailroom ] && continue
        grep -qx "$p" "$state/before" || ! is_installed "$p" || gone+=("$p")
    done
    if [ ${#gone[@]} -gt 0 ]; then
        say "restore: purging what this test installed: ${gone[*]}"
        apt_run purge "${gone[@]}" || say "restore: could not purge ${gone[*]}"
    fi
    if [ "$postfix_was_running" = yes ] && ! postfix status >/dev/null 2>&1; then
        postfix start >/dev/null 2>&1 || say "restore: postfix did not start again"
    fi
    rm -rf "$state"
    exit $rc
}

dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 ~ /^.i/ {print $2}' |
    sort >"$state/before"
apt-mark showauto | sort >"$state/auto"
postfix_was_running=no
postfix status >/dev/null 2>&1 && postfix_was_running=yes
trap restore EXIT

say "1. make deb, install over the MTA"
make -s deb >/dev/null
deb=$(ls build/deb/mailroom_*_*.deb | head -1)
[ "$postfix_was_running" = yes ] && postfix stop >/dev/null 2>&1
apt_run install "./$deb" || fail "apt install"
is_installed postfix && fail "postfix still installed"
mta=$(apt_names Removing | tr '\n' ' ')
say "   replaced: ${mta:-no MTA was installed}"

say "2. use it"
getent passwd mailroom >/dev/null || fail "no mailroom user"
dpkg-statoverride --list /usr/sbin/mailroom-postdrop | grep -q "root mailroom-drop 2755" \
    || fail "postdrop not set-gid"
mailroom start
tag="deb-test-$$-$(date +%s)"
printf 'Subject: %s\n\nhello\n' "$tag" | /usr/sbin/sendmail -f root root
found=""
for _ in $(seq 1 20); do
    if grep -rqs "Subject: $tag" /root/Maildir/new /var/mail/root; then found=delivered; break; fi
    mailroom-queue -p | grep -q root && found=queued
    sleep 0.5
done
[ -n "$found" ] || fail "mail from root neither queued nor delivered"
say "   mail from root: $found"
mailroom stop

say "3. the MTA back in place of mailroom, then purge"
mtas=${mta:-postfix}
echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
# shellcheck disable=SC2086
apt_run install $mtas mailroom- || fail "apt install $mtas mailroom-"
others=$(sed -n 's/^Removing \([^ :]*\)[: ].*/\1/p' "$state/apt.$runs" | grep -vx mailroom || true)
[ -z "$others" ] || fail "apt removed $others with mailroom"
apt_run purge mailroom || fail "apt purge mailroom"
is_installed mailroom && fail "still installed"
dpkg-query -W -f='${db:Status-Abbrev}' mailroom 2>/dev/null | grep -q '^.c' \
    && fail "configuration files left"
for p in /usr/lib/mailroom /usr/sbin/mailroom /var/spool/mailroom /var/lib/mailroom /etc/mailroom \
    /lib/systemd/system/mailroom.service; do
    [ ! -e "$p" ] || fail "$p left after purge"
done
dpkg-statoverride --list | grep -q mailroom && fail "a stat override is left"

say "4. $mtas back"
for p in $mtas; do
    is_installed "$p" || fail "$p not installed again"
    [ -z "$(dpkg -V "$p")" ] || fail "dpkg -V $p: $(dpkg -V "$p")"
done
say "PASS"
