#!/bin/bash
# qmgr-million.sh - qmgr with 1,000,000 queued messages: peak memory and
# the time until the first 100,000 are delivered. See bench/qmgr_million.py
# (BENCH_MILLION, BENCH_FIRST, BENCH_DIR, BENCH_ACTIVE_LIMIT, BENCH_ALL).
# Needs ~5 GiB and 1.2 million inodes free in BENCH_DIR (/var/tmp).
cd "$(dirname "$0")/.." || exit 1
exec /usr/bin/python3 bench/qmgr_million.py "${1:-build}"
