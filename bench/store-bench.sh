#!/bin/bash
# store-bench.sh - lib/store on a Maildir of 1,000, 10,000 and 100,000
# messages: first open, reopen from the index, empty sync, sync after one
# delivery, one flag change, 100 flag changes, a STAT-like open after them
# (bench/store/bench-store.c says what each step does). Prints the load
# average before and after: compare the CPU column between runs.
#
#   bash bench/store-bench.sh [BUILD] [N...]
set -e
BUILD=${1:-build}
shift || true
SIZES=${*:-1000 10000 100000}
D=$(mktemp -d /tmp/mailroom-bench-store.XXXXXX)
trap 'rm -rf "$D"' EXIT
echo "store-bench: $(nproc) cores, $(df -T "$D" | awk 'NR==2 {print $2}') file system in $D"
echo "store-bench: load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
# shellcheck disable=SC2086
"$BUILD/bin/bench-store" -d "$D" $SIZES
echo "store-bench: load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
