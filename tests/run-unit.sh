#!/bin/bash
# run-unit.sh - run every cmocka unit test binary in BUILD/tests.
BUILD=${1:-build}
fail=0; pass=0
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    if "$t"; then pass=$((pass+1)); else fail=$((fail+1)); echo "FAILED: $t"; fi
done
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
