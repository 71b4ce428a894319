#!/bin/bash
# run-all.sh - run every benchmark script in bench/ (what `make bench` does).
#
#   bash bench/run-all.sh [BUILD]
#
# Each bench/*.sh other than this one gets the build folder as $1 and runs
# in turn, so that no two benchmarks share the machine's two cores. A
# failing script is reported and the others still run; the exit status is
# 1 if any failed.
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 1
status=0
for script in bench/*.sh; do
    [ "$script" = bench/run-all.sh ] && continue
    echo "=== $script"
    if ! bash "$script" "$BUILD"; then
        echo "=== $script failed"
        status=1
    fi
done
exit $status
