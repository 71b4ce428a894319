#!/bin/bash
# tls-bench.sh - submission over TLS (port 465, AUTH PLAIN, 4 KiB), full
# handshakes and resumed sessions: messages/s and server CPU per message.
BUILD=${1:-build}
exec /usr/bin/python3 "$(dirname "$0")/tls_bench.py" "$BUILD" "${TLS_BENCH_MSGS:-500}"
