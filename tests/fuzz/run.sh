#!/bin/bash
# run.sh - build every tests/fuzz/fuzz_*.c as a libFuzzer binary and run
# each for a bounded time.
#
#   tests/fuzz/run.sh [SECONDS]        (default 30 per fuzzer)
#
# make test runs every fuzzer for a few seconds (FUZZ_SECONDS, default 3):
# enough to replay the seeds and the corpus kept from earlier runs and to
# catch a parser that crashes on the first odd input; make fuzz runs longer.
# clang and libFuzzer come from Debian (clang, libclang-rt-14-dev: make deps).
#
# The library is compiled with clang, ASan+UBSan and fuzzer coverage into
# build-fuzz/. A fuzzer's seeds live in tests/fuzz/corpus/NAME/ (optional);
# new inputs are kept in build-fuzz/corpus/NAME/, crashes in build-fuzz/.
# A fuzzer of program code names the sources it needs in its header
# comment (" * Links: smtpd/smtpd_dot.c"); they are compiled like the
# library and linked in, so no fuzzer includes a .c file.
set -e
cd "$(dirname "$0")/../.."
SECS=${1:-30}
OUT=build-fuzz
CC=${FUZZ_CC:-clang}
command -v "$CC" >/dev/null || { echo "fuzz: $CC not found (apt-get install clang)"; exit 1; }
FLAGS="-g -O1 -std=gnu11 -D_GNU_SOURCE -Ilib -fsanitize=address,undefined -fno-sanitize-recover=undefined"
LIBS="-lssl -lcrypto -ldb -lcdb -lpcre2-8 -lsasl2 -lresolv -lz -lm"
mkdir -p "$OUT/obj"
objs=()
newest_h=$(ls -t lib/*/*.h | head -1)
for src in lib/*/*.c; do
    obj="$OUT/obj/$(echo "${src%.c}" | tr / _).o"
    if [ ! -e "$obj" ] || [ "$src" -nt "$obj" ] || [ "$newest_h" -nt "$obj" ]; then
        $CC $FLAGS -fsanitize=fuzzer-no-link -c -o "$obj" "$src"
    fi
    objs+=("$obj")
done
rm -f "$OUT/libfuzz.a"; ar rcs "$OUT/libfuzz.a" "${objs[@]}"
status=0
for src in tests/fuzz/fuzz_*.c; do
    name=$(basename "$src" .c)
    echo "fuzz: building $name"
    links=()
    for extra in $(sed -n 's|^ \* Links: ||p' "$src"); do
        obj="$OUT/obj/$(echo "${extra%.c}" | tr / _).o"
        if [ ! -e "$obj" ] || [ "$extra" -nt "$obj" ] || [ "$newest_h" -nt "$obj" ]; then
            $CC $FLAGS -fsanitize=fuzzer-no-link -c -o "$obj" "$extra"
        fi
        links+=("$obj")
    done
    $CC $FLAGS -fsanitize=fuzzer -o "$OUT/$name" "$src" "${links[@]}" "$OUT/libfuzz.a" $LIBS
    mkdir -p "$OUT/corpus/$name"
    seeds=()
    [ -d "tests/fuzz/corpus/$name" ] && seeds=("tests/fuzz/corpus/$name")
    echo "fuzz: running $name for ${SECS}s"
    if ! "$OUT/$name" -max_total_time="$SECS" -artifact_prefix="$OUT/$name-" \
            "$OUT/corpus/$name" "${seeds[@]}" >"$OUT/$name.log" 2>&1; then
        echo "fuzz: $name FAILED (see $OUT/$name.log)"; tail -20 "$OUT/$name.log"; status=1
    else
        echo "fuzz: $name ok ($(grep -c . "$OUT/$name.log") log lines)"
    fi
done
exit $status
