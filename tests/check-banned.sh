#!/bin/bash
# check-banned.sh - the tree must not call the unbounded C string functions.
# Every C file in the repository is searched (build output excepted), so a
# new program folder is covered without being listed here.
cd "$(dirname "$0")/.."
files=$(find . \( -path ./build -o -path './build-*' -o -path ./run -o -path ./.git \) -prune \
             -o \( -name '*.c' -o -name '*.h' \) -print | sort)
hits=$(grep -nE '\b(strcpy|strcat|sprintf|vsprintf|gets|strncpy)\s*\(' $files \
       | grep -vE '\b(snprintf|vsnprintf|fgets|str_appendf)\s*\(' | grep -vE '^\S+:\s*\*|/\*.*\b(strcpy|sprintf)' )
if [ -n "$hits" ]; then
    echo "banned function calls found:"; echo "$hits"; exit 1
fi
echo "check-banned: no banned calls in $(echo "$files" | wc -l) files"
