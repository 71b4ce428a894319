#!/bin/bash
# kill-load.sh - the kill-load test (tests/integration/test_kill_load.py)
# run for longer, with its figures printed: messages accepted per second
# without and with random SIGKILLs of smtpd and cleanup processes, the
# kills, and how many answered messages were lost or duplicated (the test
# fails if any was).
#
#   bash bench/kill-load.sh [BUILD]        (make bench runs it)
#
# Environment: KILL_LOAD_CLEAN (20), KILL_LOAD_KILL (60), KILL_LOAD_THREADS (8).
set -u
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
export MAILROOM_BUILD
MAILROOM_BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "kill-load: no $BUILD; build first"; exit 1; }
export KILL_LOAD_CLEAN=${KILL_LOAD_CLEAN:-20} KILL_LOAD_KILL=${KILL_LOAD_KILL:-60}
export KILL_LOAD_THREADS=${KILL_LOAD_THREADS:-8}
cd "$TOP/tests/integration" || exit 1
/usr/bin/python3 -m pytest -q -s -p no:cacheprovider test_kill_load.py 2>&1 \
    | grep -E '^kill-load:|passed|failed|Error'
exit "${PIPESTATUS[0]}"
