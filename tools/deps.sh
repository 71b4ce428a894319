#!/bin/bash
# deps.sh - install the Debian packages Mailroom needs, only those missing.
set -e
PKGS="build-essential pkg-config libssl-dev libdb-dev libcdb-dev tinycdb db-util
 util-linux clang libclang-rt-14-dev clang-format
 libsasl2-dev sasl2-bin libsasl2-modules libcmocka-dev python3-pytest
 libpcre2-dev libidn2-dev zlib1g-dev python3-dnslib swaks bsd-mailx socat openssl pflogsumm mailgraph
 man-db systemd
 libnet-ssleay-perl fail2ban clamav-daemon fetchmail spamassassin spamd spamc
 postfix dovecot-lmtpd"
missing=""
for p in $PKGS; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
        missing="$missing $p"
    fi
done
if [ -z "$missing" ]; then
    echo "deps: all packages present"
    exit 0
fi
echo "deps: installing:$missing"
SUDO=""
if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then SUDO=sudo; else
        echo "deps: not root and no sudo; install these yourself:$missing" >&2; exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
# postfix and dovecot are peers the tests start as throwaway instances of
# their own (tests/integration/peers.py): the system's own services must not
# run and hold ports 25, 110, 143 and the like. Postfix is preseeded to
# "No configuration"; while apt runs, a policy-rc.d (if the machine has
# none) forbids starting any service, and afterwards the units are
# disabled so that a reboot does not start them either.
echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
POLICY=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
    POLICY=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\n# deps.sh: no service starts while packages install\nexit 101\n' |
        $SUDO tee "$POLICY" >/dev/null
    $SUDO chmod 755 "$POLICY"
    trap '$SUDO rm -f "$POLICY"' EXIT
fi
# Another apt may hold the lock for a while: wait for it. An old package
# list may not know a package: refresh once and retry.
if ! $SUDO apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 $missing; then
    $SUDO apt-get update -q -o DPkg::Lock::Timeout=300
    $SUDO apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 $missing
fi
for unit in postfix dovecot; do
    case "$missing" in *"$unit"*)
        if command -v systemctl >/dev/null; then
            $SUDO systemctl disable --now "$unit" >/dev/null 2>&1 || true
        fi ;;
    esac
done
