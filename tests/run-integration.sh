#!/bin/bash
# run-integration.sh - pytest over tests/integration with Debian's python.
BUILD=${1:-build}
export MAILROOM_BUILD="$(cd "$BUILD" && pwd)"
cd "$(dirname "$0")/integration"
/usr/bin/python3 -m pytest -q -p no:cacheprovider "${PYTEST_ARGS[@]}" .
rc=$?
# 5 = no tests collected: something is broken (a test file that does not
# import, a filter that matches nothing); a suite that ran nothing fails
[ $rc -eq 5 ] && echo "integration: no tests collected"
exit $rc
