#!/bin/bash
# check-skips.sh - a test never skips because something is missing: a
# program that is not built or an instance that does not start is a
# failure (add the Debian package to tools/deps.sh instead). The skips
# left are for what the invoking user cannot do: tests that need root
# (they run as root in CI and production-like runs), and the few that need
# a kernel feature a container may lack, which say so with an
# "# environment:" comment on the line of the check.
cd "$(dirname "$0")/.."
bad=$(grep -nE 'pytest\.skip\(|skipif\(|importorskip\(' tests/integration/*.py | while IFS= read -r hit; do
    file=${hit%%:*}; rest=${hit#*:}; line=${rest%%:*}
    context=$(sed -n "$((line > 1 ? line - 1 : 1)),${line}p" "$file")
    echo "$context" | grep -qE 'IS_ROOT|geteuid|root|# environment:' || echo "$hit"
done)
if [ -n "$bad" ]; then
    echo "tests that skip instead of failing (make it an assert, or a deps.sh package):"
    echo "$bad"; exit 1
fi
echo "check-skips: every skip is for root or a named environment limit"
