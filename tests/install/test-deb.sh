#!/bin/bash
# test-deb.sh - part of make test-install (root, scratch machine): the
# package replaces Debian's postfix the way Debian's MTAs replace each
# other, works, purges cleanly, and postfix can come back.
#
#  1. make deb (lintian clean); apt installs it over postfix: postfix is
#     removed (Conflicts/Provides/Replaces mail-transport-agent);
#  2. the user, group and set-gid overrides exist; mailroom start; mail
#     from root through /usr/sbin/sendmail is delivered or queued; stop;
#  3. purge: no file of the package, no queue, no override left;
#  4. postfix installed again, `dpkg -V postfix` clean.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "test-deb: must run as root" >&2; exit 1; }
say() { echo "test-deb: $*"; }
fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive

say "1. make deb, install over postfix"
make -s deb >/dev/null
deb=$(ls build/deb/mailroom_*_*.deb | head -1)
postfix status >/dev/null 2>&1 && postfix stop >/dev/null 2>&1 || true
apt-get install -y -q "./$deb" >/tmp/test-deb.apt 2>&1 || { cat /tmp/test-deb.apt; fail "apt install"; }
dpkg-query -W -f='${Status}' postfix 2>/dev/null | grep -q "ok installed" && fail "postfix still installed"
say "   postfix replaced: $(grep -E '^Removing postfix' /tmp/test-deb.apt || echo 'was not installed')"

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

say "3. purge"
apt-get purge -y -q mailroom >/dev/null
dpkg-query -W mailroom >/dev/null 2>&1 && dpkg-query -W -f='${Status}' mailroom | grep -q installed \
    && fail "still installed"
for p in /usr/lib/mailroom /usr/sbin/mailroom /var/spool/mailroom /var/lib/mailroom /etc/mailroom \
    /lib/systemd/system/mailroom.service; do
    [ ! -e "$p" ] || fail "$p left after purge"
done
dpkg-statoverride --list | grep -q mailroom && fail "a stat override is left"

say "4. postfix back"
echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
apt-get install -y -q postfix >/dev/null
[ -z "$(dpkg -V postfix)" ] || fail "dpkg -V postfix: $(dpkg -V postfix)"
say "PASS"
