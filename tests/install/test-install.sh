#!/bin/bash
# test-install.sh - make test-install: install Mailroom into / over Debian's
# postfix package, use it, uninstall it, and check that the machine is as
# before. Root only, on a scratch machine: it changes /usr, /etc and /var.
#
#  1. postfix's own files (sendmail, mailq, newaliases, their manual pages)
#     are hashed, and `dpkg -V postfix` must be clean;
#  2. make install: each of those is diverted (dpkg-divert --list), ours is in
#     place, `dpkg -V postfix` still clean, `man -w sendmail` finds ours;
#  3. start (systemctl where systemd runs, else mailroom start), mail from
#     root through /usr/sbin/sendmail is queued and mailq shows it, status
#     says running, stop;
#  4. make uninstall PURGE=yes: no diversion left, postfix's files byte for
#     byte as in 1, `dpkg -V postfix` clean, nothing of ours left behind.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "test-install: must run as root" >&2; exit 1; }

FILES="/usr/sbin/sendmail /usr/bin/mailq /usr/bin/newaliases /usr/lib/sendmail
 /usr/share/man/man1/sendmail.1.gz /usr/share/man/man1/mailq.1.gz
 /usr/share/man/man1/newaliases.1.gz"
say() { echo "test-install: $*"; }
fail() { echo "test-install: FAIL: $*" >&2; exit 1; }

# fingerprint - type, target or hash of each file, one line each
fingerprint() {
    local f
    for f in $FILES; do
        if [ -L "$f" ]; then echo "$f link $(readlink "$f")"
        elif [ -f "$f" ]; then echo "$f file $(sha256sum < "$f" | cut -c1-64)"
        else echo "$f absent"; fi
    done
}

if ! dpkg-query -W -f='${Status}' postfix 2>/dev/null | grep -q "ok installed"; then
    say "installing Debian's postfix (local only) to install over"
    echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q postfix >/dev/null
fi
postfix_was_running=0
if postfix status >/dev/null 2>&1; then
    postfix_was_running=1
    say "stopping postfix (it holds port 25); restarted at the end"
    postfix stop >/dev/null 2>&1
fi
[ -z "$(dpkg -V postfix)" ] || fail "dpkg -V postfix is not clean before the test"
fingerprint > /tmp/test-install.before
[ ! -e /usr/share/mailroom/install-manifest ] || fail "Mailroom is already installed here"

say "1. make install"
make -s install PREFIX=/usr
for f in /usr/sbin/sendmail /usr/bin/mailq /usr/bin/newaliases /usr/lib/sendmail; do
    dpkg-divert --list "$f" | grep -q "local diversion of $f to $f.pre-mailroom" || fail "$f not diverted"
    [ "$(readlink "$f")" = /usr/lib/mailroom/sendmail ] || fail "$f is not ours"
done
[ -z "$(dpkg -V postfix)" ] || fail "dpkg -V postfix reports changes: $(dpkg -V postfix)"
[ "$(man -w sendmail)" = /usr/share/man/man1/sendmail.1.gz ] || fail "man -w sendmail"
zcat /usr/share/man/man1/sendmail.1.gz | grep -q "generated from docs/sendmail.md" \
    || fail "man sendmail is not ours"
say "   diversions: $(dpkg-divert --list | grep -c pre-mailroom); dpkg -V postfix clean"

say "2. start, mail from root, status, stop"
if [ -d /run/systemd/system ]; then
    systemctl start mailroom.service
    systemctl is-active mailroom.service
else
    mailroom start
fi
mailroom status | head -1
mailroom status | grep -q "is running" || fail "mailroom status does not say running"
tag="install-test-$$-$(date +%s)"
printf 'Subject: %s\n\nhello\n' "$tag" | /usr/sbin/sendmail -f root root
found=""
for _ in $(seq 1 20); do
    if grep -rqs "Subject: $tag" /root/Maildir/new /var/mail/root; then found=delivered; break; fi
    if mailroom-queue -p | grep -q root; then found=queued; fi
    sleep 0.5
done
[ -n "$found" ] || fail "the message from sendmail was neither queued nor delivered"
say "   message from root via /usr/sbin/sendmail: $found"
if [ -d /run/systemd/system ]; then systemctl stop mailroom.service; else mailroom stop; fi
mailroom status >/dev/null 2>&1 && fail "still running after stop"

say "3. make uninstall PURGE=yes"
make -s uninstall PURGE=yes
[ -z "$(dpkg-divert --list | grep pre-mailroom)" ] || fail "a diversion is left"
fingerprint > /tmp/test-install.after
diff -u /tmp/test-install.before /tmp/test-install.after || fail "postfix's files differ"
[ -z "$(dpkg -V postfix)" ] || fail "dpkg -V postfix reports changes after uninstall"
for p in /usr/lib/mailroom /usr/sbin/mailroom /usr/share/mailroom /lib/systemd/system/mailroom.service \
    /usr/share/man/man8/mailroom.8.gz /var/spool/mailroom /var/lib/mailroom; do
    [ ! -e "$p" ] || fail "$p is left behind"
done
say "   postfix's files byte for byte as before:"
sed 's/^/     /' /tmp/test-install.after
[ "$postfix_was_running" = 1 ] && postfix start >/dev/null 2>&1 || true
say "PASS"
