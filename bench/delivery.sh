#!/bin/bash
# delivery.sh - end-to-end delivery (SMTP in, Maildir out) against Postfix:
# messages/s, delay from 250 to the Maildir (p50, p95) and CPU per message.
# See bench/delivery.py (BENCH_MESSAGES, BENCH_SESSIONS, BENCH_RUNS,
# BENCH_SERVERS, BENCH_DIR). qmgr's memory with a huge queue:
# bench/qmgr-million.sh.
cd "$(dirname "$0")/.." || exit 1
exec /usr/bin/python3 bench/delivery.py "${1:-build}"
