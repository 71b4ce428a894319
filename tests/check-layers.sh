#!/bin/bash
# check-layers.sh - includes point down the layers, never into another
# program's folder:
#
#   lib/util  <-  lib/global  <-  lib/table  <-  lib/queue, lib/tls, ...  <-  lib/master  <-  programs
#
#   lib/util      only lib/util
#   lib/global    lib/util, lib/global
#   lib/table     lib/util, lib/global, lib/table
#   lib/OTHER     lib/util, lib/global, lib/table and its own folder (queue,
#                 tls, and the ones to come: mime, store, sieve ...); never
#                 a sibling: lib/queue does not include lib/tls
#   lib/master    every lib folder
#   a program     every lib folder and its own folder, no other program's
#   tests, bench  anything
#
# A quoted include is resolved the way the compiler does (the including
# file's folder, then lib/). A Module.mk may only name sources in its own
# folder: a program does not compile another program's files either. No
# file includes a .c file: a unit test of program code links that code's
# objects (test_NAME_OBJS in the Module.mk), a fuzzer names them in a
# " * Links:" line of its header (tests/fuzz/run.sh).
cd "$(dirname "$0")/.."
fail=0

# layer_of - "util", "global", "mid:NAME", "master", "prog:DIR" or "any"
layer_of() {
    case "$1" in
        lib/util/*) echo util ;;
        lib/global/*) echo global ;;
        lib/master/*) echo master ;;
        lib/*/*) d=${1#lib/}; echo "mid:${d%%/*}" ;;
        tests/*|bench/*) echo any ;;
        *) echo "prog:$(dirname "$1")" ;;
    esac
}

# allowed FROM TO - may a file of layer FROM include one of layer TO?
allowed() {
    case "$1" in
        any) return 0 ;;
        util) [ "$2" = util ] ;;
        global) [ "$2" = util ] || [ "$2" = global ] ;;
        mid:table) [ "$2" = util ] || [ "$2" = global ] || [ "$2" = mid:table ] ;;
        mid:*) [ "$2" = util ] || [ "$2" = global ] || [ "$2" = mid:table ] || [ "$2" = "$1" ] ;;
        master) [ "$2" != any ] && [ "${2%%:*}" != prog ] ;;
        prog:*) [ "${2%%:*}" != prog ] || [ "$2" = "$1" ] ;;
    esac
}

# resolve FILE INCLUDE - the path the compiler would open, or nothing
resolve() {
    local here cand
    here=$(dirname "$1")
    for cand in "$here/$2" "lib/$2"; do
        if [ -f "$cand" ]; then realpath --relative-to=. "$cand"; return; fi
    done
}

while IFS= read -r file; do
    from=$(layer_of "$file")
    while IFS= read -r inc; do
        case "$inc" in *.c)
            echo "$file: #include \"$inc\": link the object instead"; fail=1 ;;
        esac
        target=$(resolve "$file" "$inc")
        if [ -z "$target" ]; then
            echo "$file: #include \"$inc\": no such file here or under lib/"; fail=1; continue
        fi
        to=$(layer_of "$target")
        if ! allowed "$from" "$to"; then
            echo "$file: #include \"$inc\" ($target) reaches from $from into $to"; fail=1
        fi
    done < <(sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]+"([^"]+)".*/\1/p' "$file")
done < <(find . \( -path ./build -o -path './build-*' -o -path ./run -o -path ./.git \) -prune \
             -o \( -name '*.c' -o -name '*.h' \) -print | sed 's|^\./||' | sort)

while IFS= read -r mk; do
    dir=$(dirname "$mk")
    for src in $(sed -nE 's/^[A-Za-z0-9_-]+_SRCS[[:space:]]*[:+]?=(.*)$/\1/p; s/^[[:space:]]+(.*\\)$/\1/p; s/^[[:space:]]+([^=]*\.c)[[:space:]]*$/\1/p' "$mk" | tr -d '\\' | tr ' ' '\n' | sort -u); do
        case "$src" in
            "$dir"/*|'$('*) ;;
            *.c) echo "$mk: $src is another folder's source"; fail=1 ;;
        esac
    done
done < <(find . \( -path ./build -o -path './build-*' -o -path ./run -o -path ./.git \) -prune \
             -o -name Module.mk -print | sed 's|^\./||' | sort)

[ $fail -eq 0 ] && echo "check-layers: every include points down"
exit $fail
