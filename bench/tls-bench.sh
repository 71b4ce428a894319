#!/bin/bash
# tls-bench.sh - submission over TLS (port 465, AUTH PLAIN, 4 KiB), full
# handshakes and resumed sessions: messages/s, sessions resumed and server
# CPU per message, for Mailroom and, beside it, a throwaway Postfix with
# the same certificate (when Debian's postfix is installed; see
# bench/tls_bench.py). TLS_BENCH_MSGS (500), TLS_BENCH_SERVERS
# ("mailroom postfix").
BUILD=${1:-build}
exec /usr/bin/python3 "$(dirname "$0")/tls_bench.py" "$BUILD" "${TLS_BENCH_MSGS:-500}"
