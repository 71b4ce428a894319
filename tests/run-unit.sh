#!/bin/bash
# run-unit.sh - run every cmocka unit test binary in BUILD/tests and add up
# their test cases.
BUILD=${1:-build}
bins_failed=0; cases=0; cases_failed=0
out=$(mktemp)
for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    if ! "$t" >"$out" 2>&1; then bins_failed=$((bins_failed+1)); echo "FAILED: $t"; fi
    grep -E '^\[  (FAILED|PASSED)  \]|^\[  ERROR   \]|runtime error|ERROR: ' "$out" | sed "s|^|$(basename "$t"): |"
    n=$(sed -nE 's/^\[==========\] ([0-9]+) test\(s\) run\./\1/p' "$out" | tail -1)
    f=$(sed -nE 's/^\[  FAILED  \] ([0-9]+) test\(s\).*/\1/p' "$out" | tail -1)
    cases=$((cases + ${n:-0})); cases_failed=$((cases_failed + ${f:-0}))
done
rm -f "$out"
[ "$bins_failed" -gt 0 ] && [ "$cases_failed" -eq 0 ] && cases_failed=$bins_failed
echo "unit: $((cases - cases_failed)) passed, $cases_failed failed"
[ "$bins_failed" -eq 0 ]
