#!/bin/bash
# make-run.sh - create ./run (a self-contained instance) and start master
# in the foreground on the fixed high ports. Ctrl-C stops every process.
set -e
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN="$TOP/$BUILD/bin"
RUN="$TOP/run"

# Refuse early, by name, when a port we need is taken.
PORTS=$(/usr/bin/python3 -c '
import sys; sys.path.insert(0, "'"$TOP"'/tools"); import mkinstance
print(" ".join(f"{k}:{v}" for k, v in mkinstance.RUN_PORTS.items()))')
busy=""
for sp in $PORTS; do
    port=${sp#*:}
    if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then busy="$busy ${sp%%:*}($port)"; fi
done
if [ -n "$busy" ]; then
    echo "make run: these ports are already in use:$busy" >&2
    echo "make run: stop whatever listens there (ss -ltnp) and try again" >&2
    exit 1
fi

if [ "$(id -u)" = 0 ]; then
    getent group mailroom-drop >/dev/null || groupadd --system mailroom-drop
    getent passwd mailroom >/dev/null || useradd --system --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin mailroom
    getent passwd mailroom-login >/dev/null || useradd --system --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin mailroom-login
    chmod 755 "$TOP" 2>/dev/null || true
fi
# The content filter asks clamd: the system's when it runs, else one of our
# own on the instance's small signature database (EICAR and a test string,
# tools/mkinstance.py), started here in the same process group as master,
# so that Ctrl-C stops it too.
CLAMD_OPT=()
if [ -S /run/clamav/clamd.ctl ]; then
    CLAMD_OPT=(-o filterd_clamd_socket=/run/clamav/clamd.ctl)
fi
/usr/bin/python3 "$TOP/tools/mkinstance.py" "$RUN" --bin "$BIN" "${CLAMD_OPT[@]}" >/dev/null
if [ ${#CLAMD_OPT[@]} = 0 ]; then
    /usr/sbin/clamd -c "$RUN/clamd/clamd.conf" &
    CLAMD_INFO="its own clamd ($RUN/clamd/clamd.sock; log $RUN/clamd/clamd.log)"
else
    CLAMD_INFO="the system's clamd (/run/clamav/clamd.ctl)"
fi

cat <<INFO
Mailroom is starting from $RUN (config in $RUN/etc, log in $RUN/log/mailroom.log).
  SMTP        127.0.0.1:2525   swaks --server 127.0.0.1:2525 --to alice@mailroom.test
              (STARTTLS offered: add --tls)
  submission  127.0.0.1:2587   STARTTLS, then AUTH required; relays for its users:
              swaks --server 127.0.0.1:2587 --tls --auth PLAIN --auth-user alice \\
                    --auth-password alice-pw --from alice@mailroom.test --to someone@example.org
  smtps       127.0.0.1:2465   TLS from the first byte, AUTH required:
              swaks --server 127.0.0.1:2465 --tlsc --auth LOGIN --auth-user bob \\
                    --auth-password bob-pw --from bob@mailroom.test --to alice@mailroom.test
              openssl s_client -connect 127.0.0.1:2465 (self-signed: $RUN/etc/cert.pem)
  filter      127.0.0.1:10024  filterd: every message received on 2525/2587/2465 is
              scanned with $CLAMD_INFO
              and the spam rules, then re-injected on 127.0.0.1:10025 (docs/filterd.md);
              a virus is quarantined: $BIN/mailroom-quarantine -c $RUN/etc list
  sendmail    MAILROOM_CONFIG_DIR=$RUN/etc $BIN/sendmail -t < message
  queue       MAILROOM_CONFIG_DIR=$RUN/etc $BIN/mailroom-queue -p
  status      $BIN/mailroom -c $RUN/etc status
Demo users (virtual mailboxes; SASL logins alice and bob in $RUN/etc/sasldb2,
each may send only as its own address, see $RUN/etc/sender_login):
  alice@mailroom.test / alice-pw     bob@mailroom.test / bob-pw
Where the mail goes: alice@ and bob@mailroom.test are virtual mailboxes, delivered
by local into the Maildirs $RUN/mail/mailroom.test/alice/new/ and .../bob/new/
(postmaster@ goes to alice, see $RUN/etc/aliases).
  POP3        127.0.0.1:1110   STLS offered; USER/PASS or AUTH (cleartext is allowed on loopback):
              openssl s_client -connect 127.0.0.1:1110 -starttls pop3
  POP3S       127.0.0.1:1995   TLS from the first byte:
              openssl s_client -connect 127.0.0.1:1995   (then USER alice / PASS alice-pw)
              fetchmail -p POP3 -P 1995 --ssl --sslcertfile $RUN/etc/cert.pem \
                        --sslcommonname mx.mailroom.test -u alice -k 127.0.0.1
IMAP (1143/1993) and ManageSieve (4190) are not built yet, so those ports are
reserved but not opened.
INFO
if [ ! -x "$BIN/qmgr" ]; then
    echo "The scheduler (qmgr) is not built yet: mail is accepted and queued durably"
    echo "(mailroom-queue -p) and waits there for it."
fi
cat <<INFO
Press Ctrl-C to stop.
INFO
exec "$BIN/master" -c "$RUN/etc" -f
