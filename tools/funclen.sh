#!/bin/bash
# funclen.sh - function lengths over the C tree: count, median, p90, max,
# and the longest functions.
#
#   tools/funclen.sh [-a] [-l N]
#     -a    also count tests/ and bench/ (default: lib/ and the programs)
#     -l N  list the N longest functions (default 10)
#
# A function is a definition in the tree's style: its return type and name
# start at column 0 and its body opens with "{" alone at column 0 and closes
# with "}" alone at column 0. Its length is the number of lines from the
# first line of its signature to its closing brace, both included (the
# "/* name - ..." comment above it is not counted).
cd "$(dirname "$0")/.."
all=0; top=10
while getopts "al:" o; do
    case $o in a) all=1 ;; l) top=$OPTARG ;; *) exit 2 ;; esac
done
prune=(-path ./build -o -path './build-*' -o -path ./run -o -path ./.git)
[ $all = 0 ] && prune+=(-o -path ./tests -o -path ./bench)
files=$(find . \( "${prune[@]}" \) -prune -o \( -name '*.c' -o -name '*.h' \) -print | sort)
lengths=$(awk '
    FNR == 1 { sig = 0; inside = 0 }
    !inside && /^[A-Za-z_]/ && !/^(typedef|struct|enum|union)\b.*[;{]\s*$/ { sig = FNR; name = $0 }
    !inside && /^\{$/ && sig { inside = 1; start = sig; next }
    inside && /^\}/ {
        inside = 0
        n = split(name, w, "(")
        fn = w[1]; sub(/.*[ *]/, "", fn)
        printf "%d %s:%d %s\n", FNR - start + 1, FILENAME, start, fn
        sig = 0
    }
    !inside && /^$/ { sig = 0 }
' $files | sed 's|^\([0-9]*\) \./|\1 |')
count=$(echo "$lengths" | grep -c .)
sorted=$(echo "$lengths" | sort -n -k1,1)
pick() { echo "$sorted" | sed -n "$1p" | cut -d' ' -f1; }
median=$(pick $(( (count + 1) / 2 )))
p90=$(pick $(( (count * 9 + 9) / 10 )))
max=$(pick "$count")
over70=$(echo "$sorted" | awk '$1 > 70' | grep -c .)
echo "functions: $count  median: $median lines  p90: $p90 lines  max: $max lines  over 70: $over70"
echo "longest:"
echo "$sorted" | tail -n "$top" | sort -rn -k1,1 | sed 's/^/  /'
