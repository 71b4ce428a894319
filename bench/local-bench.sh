#!/bin/bash
# local-bench.sh - Maildir deliveries per second of the local agent
# (bench/local_bench.py: one request of 150 recipients, three rounds).
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 1
exec /usr/bin/python3 bench/local_bench.py "$BUILD" 150 3
