#!/bin/bash
# check-format.sh - every C file of the tree is formatted as .clang-format
# says (clang-format from Debian's clang-format package: make deps).
#
#   tests/check-format.sh          list the files that differ; exit 1 if any
#   tests/check-format.sh -d       also show the differences
#   tests/check-format.sh -i       reformat them in place
#
# The whole tree is checked: a file is never exempt for being old. The tree
# is reformatted in one commit on its own (so that it conflicts with no
# work in flight); from then on make test runs this check.
cd "$(dirname "$0")/.."
mode=${1:-}
CF=${CLANG_FORMAT:-clang-format}
command -v "$CF" >/dev/null || { echo "check-format: $CF not found (make deps)"; exit 1; }
[ -f .clang-format ] || { echo "check-format: no .clang-format at the top of the tree"; exit 1; }
files=$(find . \( -path ./build -o -path './build-*' -o -path ./run -o -path ./.git \) -prune \
             -o \( -name '*.c' -o -name '*.h' \) -print | sed 's|^\./||' | sort)
if [ "$mode" = -i ]; then
    echo "$files" | xargs "$CF" -i --style=file
    echo "check-format: reformatted $(echo "$files" | wc -l) files"; exit 0
fi
bad=0
for f in $files; do
    if ! "$CF" --style=file --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "$f"; bad=$((bad + 1))
        [ "$mode" = -d ] && diff -u "$f" <("$CF" --style=file "$f") | head -40
    fi
done
total=$(echo "$files" | wc -l)
if [ $bad -gt 0 ]; then
    echo "check-format: $bad of $total files are not formatted as .clang-format says"; exit 1
fi
echo "check-format: all $total files formatted"
