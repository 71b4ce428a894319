#!/bin/bash
# flush-count.sh - device cache flushes per accepted message, counted
# exactly on a private block device.
#
#   bash bench/flush-count.sh [BUILD]        (make bench runs it)
#
# The counters in /sys/block/*/stat belong to a whole device, which every
# process on the machine shares, so on a busy machine smtp-bench.sh's
# dev/msg column carries other people's flushes. This script makes a
# throwaway ext4 file system on a loop device (an image file in
# FLUSH_DIR), so that nothing but the server under test writes to it, and
# runs smtp-bench.sh there with Mailroom accepting only (and Postfix when
# FLUSH_SERVERS says so). The loop device counts the flush requests the
# file system sends it (field 16 of /sys/class/block/loopN/stat, "flush
# requests completed"), which is what a real disk would receive.
#
# Needs root (losetup, mkfs, mount); without root it says so and exits 0.
#
# Environment (all optional):
#   FLUSH_DIR       /var/tmp        where the image file goes
#   FLUSH_JOURNAL   "no yes"        ext4 without a journal, with one, or both
#   FLUSH_SERVERS   mailroom-intake passed as BENCH_SERVERS (accepting only)
#   FLUSH_SESSIONS  "1 10"          passed as BENCH_SESSIONS
#   FLUSH_SECONDS   4               passed as BENCH_SECONDS
set -u
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "flush-count: no $1; build first"; exit 1; }
if [ "$(id -u)" != 0 ]; then
    echo "flush-count: needs root for a private loop device; skipped"
    exit 0
fi
IMG=$(mktemp "${FLUSH_DIR:-/var/tmp}/mailroom-flush.XXXXXX") || exit 1
MNT=$(mktemp -d /tmp/mailroom-flush-mnt.XXXXXX) || exit 1
DEV=
OUT=$BUILD/bench
mkdir -p "$OUT"
: >"$OUT/flush-count.results"

cleanup() {
    mountpoint -q "$MNT" && umount "$MNT"
    [ -n "$DEV" ] && losetup -d "$DEV" 2>/dev/null
    rm -f "$IMG"
    rmdir "$MNT" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# one_fs JOURNAL - a fresh file system, one smtp-bench run on it
one_fs() {
    local journal=$1 opts=-O^has_journal
    [ "$journal" = yes ] && opts=-Ohas_journal
    truncate -s 2G "$IMG"
    DEV=$(losetup -f --show "$IMG") || { echo "flush-count: losetup failed"; return 1; }
    mkfs.ext4 -q -F "$opts" "$DEV" || return 1
    mount "$DEV" "$MNT" || return 1
    chmod 755 "$MNT"
    echo "flush-count: ext4 journal=$journal on $DEV"
    BENCH_DIR=$MNT BENCH_SERVERS=${FLUSH_SERVERS:-mailroom-intake} \
        BENCH_SESSIONS=${FLUSH_SESSIONS:-1 10} BENCH_SIZES=4096 \
        BENCH_SECONDS=${FLUSH_SECONDS:-4} BENCH_CLIENTS=smtp-load \
        BENCH_OUT=$OUT/flush-$journal bash "$TOP/bench/smtp-bench.sh" "$BUILD" \
        | grep -E '^(BENCH|smtp-bench: device)' \
        | sed "s/^BENCH /BENCH journal=$journal /" | tee -a "$OUT/flush-count.results"
    umount "$MNT"
    losetup -d "$DEV"
    DEV=
}

for journal in ${FLUSH_JOURNAL:-no yes}; do
    one_fs "$journal" || exit 1
done
echo
echo "flushes per accepted message (server, file system, sessions):"
awk '/^BENCH / {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        printf "  %-14s ext4 journal=%-3s %3s sessions: %s flushes/msg, %s msgs/s\n",
               v["server"], v["journal"], v["sessions"], v["dev_flushes_per_msg"], v["rate"] }' \
    "$OUT/flush-count.results"
