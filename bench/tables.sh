#!/bin/bash
# tables.sh - lookup table benchmark: builds a 1,000,000-key table, then
# 1,000,000 random lookups (90% hits) against cdb: and hash: in-process
# and through tabled (proxy:) of a throwaway instance started here.
#
#   bash bench/tables.sh [BUILD] [bench-tables options, e.g. -n 100000]
set -e
BUILD=${1:-build}
shift || true
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=$(cd "$BUILD/bin" && pwd)
D=$(mktemp -d /tmp/mailroom-bench-tables.XXXXXX)
chmod 755 "$D"
MASTER=
cleanup() {
    [ -n "$MASTER" ] && kill "$MASTER" 2>/dev/null && wait "$MASTER" 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT

if [ "$(id -u)" = 0 ] && ! getent passwd mailroom >/dev/null; then
    getent group mailroom-drop >/dev/null || groupadd --system mailroom-drop
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin mailroom
fi
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -m 755 "$D/tables"
/usr/bin/python3 "$TOP/tools/mkinstance.py" "$D/inst" --bin "$BIN" --ports "{\"smtp\": $PORT}" \
    -o "proxy_read_maps=proxy:cdb:$D/tables/keys proxy:hash:$D/tables/keys" >/dev/null
"$BIN/master" -c "$D/inst/etc" -f 2>"$D/master.stderr" &
MASTER=$!
for i in $(seq 100); do
    [ -S "$D/inst/spool/private/tabled" ] && break
    sleep 0.1
done
[ -S "$D/inst/spool/private/tabled" ] || { echo "tables.sh: tabled socket did not appear"; cat "$D/master.stderr"; exit 1; }
echo "bench-tables: $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
"$BIN/bench-tables" -d "$D/tables" -c "$D/inst/etc" -p "$@"
