#!/bin/bash
# mbox-bench.sh - lib/store on an mbox of 1,000, 10,000 and 100,000
# messages: the scan of a POP3 login (first, with the index), and the
# rewrites of QUIT (the last message, the first, half of them);
# bench/mbox/bench-mbox.c says what each step does.
#
#   bash bench/mbox-bench.sh [BUILD] [N...]
set -e
BUILD=${1:-build}
shift || true
SIZES=${*:-1000 10000 100000}
D=$(mktemp -d /tmp/mailroom-bench-mbox.XXXXXX)
trap 'rm -rf "$D"' EXIT
echo "mbox-bench: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)," \
    "$(df -T "$D" | awk 'NR==2 {print $2}') file system in $D"
# shellcheck disable=SC2086
"$BUILD/bin/bench-mbox" -d "$D" $SIZES
echo "mbox-bench: load after $(cut -d' ' -f1-3 /proc/loadavg)"
