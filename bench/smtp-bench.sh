#!/bin/bash
# smtp-bench.sh - SMTP acceptance benchmark: Mailroom against Postfix.
#
#   bash bench/smtp-bench.sh [BUILD]        (make bench runs it)
#
# Starts a throwaway Mailroom instance (tools/mkinstance.py, master -f) and,
# when Debian's postfix package is installed, two throwaway Postfix
# instances, each with its own config, queue and data directories under one
# temp folder (never /etc/postfix's spool): "postfix", stock (Debian's
# master.cf with qmgr, delivering to discard:), and "postfix-intake" (no
# qmgr, in_flow_delay = 0: accepting only), against "mailroom" (qmgr and
# local deliver into Maildirs) and "mailroom-intake" (no qmgr: accepting
# only). Each server then takes the same loads:
# smtp-load (bench/smtp-load) at every SESSIONS x SIZES, time-bounded, and
# Postfix's smtp-source (if installed) with the same sessions and size and
# as many messages as smtp-load managed in that slot. For every run it
# measures the server's CPU time (all processes under its master, from
# /proc), its peak PSS and the device cache flushes per message (from
# /sys/class/block/DEV/stat), and prints one table. Details: bench/README.md.
#
# Environment (all optional):
#   BENCH_SESSIONS  "1 10 20"     concurrent sessions to try
#   BENCH_SIZES     "4096 65536"  message sizes in bytes
#   BENCH_SECONDS   6             length of each smtp-load run
#   BENCH_SERVERS   "mailroom-intake postfix-intake mailroom postfix"
#   BENCH_DIR       /var/tmp      where the instances live (their file
#                                 system is what the fsyncs cost on)
#   BENCH_CLIENTS   "smtp-load smtp-source"
#   BENCH_OUT       BUILD/bench   where the results file goes
set -u
BUILD=${1:-build}
TOP=$(cd "$(dirname "$0")/.." && pwd)
cd "$TOP" || exit 1
BIN=$(cd "$BUILD/bin" 2>/dev/null && pwd) || { echo "smtp-bench: no $BUILD/bin; build first"; exit 1; }
LOAD=$BIN/smtp-load
SOURCE=/usr/sbin/smtp-source
POSTFIX=/usr/sbin/postfix
SESSIONS=${BENCH_SESSIONS:-1 10 20}
SIZES=${BENCH_SIZES:-4096 65536}
SECONDS_PER_RUN=${BENCH_SECONDS:-6}
# The stock Postfix comes last: it deletes every message it delivers, and
# on ext4 without a journal the inode allocator then walks past recently
# (30 s) deleted inodes, which would be charged to the next server's CPU.
SERVERS=${BENCH_SERVERS:-mailroom-intake postfix-intake mailroom postfix}
CLIENTS=${BENCH_CLIENTS:-smtp-load smtp-source}
OUT=${BENCH_OUT:-$(cd "$BUILD" && pwd)/bench}
RCPT=bob@mailroom.test
FROM=bench@mailroom.test
HZ=$(getconf CLK_TCK)
WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/mailroom-bench-smtp.XXXXXX") || exit 1
chmod 755 "$WORK"
mkdir -p "$OUT"
RESULTS=$OUT/smtp-bench.results
: >"$RESULTS"
ROOT_PID=		# master of the server under test
SPOOL=			# its queue directory
PORT=
MR_PID=
PF_DIR=
PF_MODE=		# stock or intake
ROTATED=0

# --- process tree figures -------------------------------------------------

# tree_pids - ROOT and every process below it
tree_pids() {
    ps -e -o pid=,ppid= | awk -v root="$1" '
        { parent[$1] = $2 }
        END { for (p in parent) { q = p + 0
                while (q != "" && q > 1) { if (q == root) { print p; break }; q = parent[q] } } }'
}

# tree_cpu - clock ticks used by the tree: utime+stime of each live process
# plus cutime+cstime (children it has already reaped)
tree_cpu() {
    local root=$1 total=0 p st
    for p in $(tree_pids "$root"); do
        st=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        st=${st##*) }
        set -- $st
        total=$((total + ${12} + ${13} + ${14} + ${15}))
    done
    echo "$total"
}

# tree_pss_kb - sum of Pss over the tree (kB), without forking per process
tree_pss_kb() {
    local total=0 p k v rest
    for p in $(tree_pids "$1"); do
        { while read -r k v rest; do
            [ "$k" = Pss: ] && { total=$((total + v)); break; }
        done <"/proc/$p/smaps_rollup"; } 2>/dev/null
    done
    echo "$total"
}

# pss_sampler - write the peak tree PSS to FILE about once a second
pss_sampler() {
    local root=$1 file=$2 max=0 v
    while :; do
        v=$(tree_pss_kb "$root")
        [ "$v" -gt "$max" ] && { max=$v; echo "$max" >"$file"; }
        sleep 1
    done
}

# --- device cache flushes ---------------------------------------------------

# flush_dev_init DIR - find the block device under DIR; FLUSH_KIND says what
# flush_count counts: "flushes" (field 16 of /sys/class/block/DEV/stat,
# flush requests completed) or, on a device that reports none, "writes"
# (field 5, write requests completed)
FLUSH_STAT= FLUSH_KIND=
flush_dev_init() {
    local src f
    src=$(findmnt -n -o SOURCE -T "$1" 2>/dev/null)
    f=/sys/class/block/${src##*/}/stat
    [ -r "$f" ] || { FLUSH_KIND=none; return; }
    FLUSH_STAT=$f
    read -r -a f <"$FLUSH_STAT"
    if [ "${#f[@]}" -ge 17 ] && { [ "${f[15]}" -gt 0 ] \
        || grep -qs 'write back' "/sys/class/block/${src##*/}/queue/write_cache"; }; then
        FLUSH_KIND=flushes
    else
        FLUSH_KIND=writes
    fi
}

# flush_count - the device's counter now (see flush_dev_init)
flush_count() {
    local f
    [ -n "$FLUSH_STAT" ] || { echo 0; return; }
    read -r -a f <"$FLUSH_STAT"
    if [ "$FLUSH_KIND" = flushes ]; then echo "${f[15]}"; else echo "${f[4]}"; fi
}

# --- servers ----------------------------------------------------------------

free_port() {
    /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
    local i
    for i in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# mailroom_start MODE - fresh instance in WORK/mailroom-MODE, master in the
# foreground; MODE full (qmgr delivers into Maildirs) or intake (no qmgr)
mailroom_start() {
    if [ ! -x "$BIN/master" ] || [ ! -x "$BIN/smtpd" ] || [ ! -x "$BIN/cleanup" ]; then
        echo "smtp-bench: Mailroom's master/smtpd/cleanup are not built; Mailroom rows skipped"
        return 1
    fi
    if [ "$(id -u)" = 0 ] && ! getent passwd mailroom >/dev/null; then
        getent group mailroom-drop >/dev/null || groupadd --system mailroom-drop
        useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin mailroom
    fi
    PORT=$(free_port)
    local mode=$1 d=$WORK/mailroom-$1 p2 p3
    p2=$(free_port) p3=$(free_port)	# its other listeners, off the fixed ports
    /usr/bin/python3 tools/mkinstance.py "$d" --bin "$BIN" \
        --ports "{\"smtp\": $PORT, \"submission\": $p2, \"reinject\": $p3}" >/dev/null || return 1
    # intake: no qmgr, so accepted mail stays in incoming/ (as postfix-intake)
    [ "$mode" = intake ] && sed -i '/^qmgr[[:space:]]/d' "$d/etc/master.conf"
    "$BIN/master" -c "$d/etc" -f >>"$d/log/master.stderr" 2>&1 &
    MR_PID=$!
    if ! wait_port "$PORT"; then
        echo "smtp-bench: Mailroom did not start; Mailroom rows skipped"; tail -5 "$d/log/"*
        mailroom_stop; return 1
    fi
    ROOT_PID=$MR_PID SPOOL=$d/spool
}

mailroom_stop() {
    [ -n "$MR_PID" ] || return 0
    kill -TERM "$MR_PID" 2>/dev/null
    for _ in $(seq 150); do kill -0 "$MR_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$MR_PID" 2>/dev/null && kill -KILL "$MR_PID"
    wait "$MR_PID" 2>/dev/null
    MR_PID=
}

# postfix_config DIR MODE - main.cf and master.cf of a throwaway Postfix.
# Both modes change main.cf only so that it runs privately (queue, data
# and log under DIR, 127.0.0.1 on a free port, no /etc/postfix), takes
# the test recipients (mailroom.test is local, no recipient or alias
# tables) and hands every message to discard: (local_transport,
# virtual_transport, relay_transport, default_transport), so nothing
# leaves the machine or lands in a mailbox.
# stock: master.cf is Debian's /etc/postfix/master.cf with the smtp line
# bound to 127.0.0.1:PORT and every chroot column "n" (upstream Postfix's
# default; Debian's "y" needs a prepared chroot). qmgr runs and delivers.
# intake: master.cf runs only smtpd, cleanup, trivial-rewrite, anvil and
# postlogd; no qmgr, so accepted mail stays in incoming/ as in Mailroom,
# and in_flow_delay = 0 because without a qmgr there are no flow-control
# tokens (smtpd would otherwise wait 1 s per message).
postfix_config() {
    local d=$1 mode=$2
    mkdir -p "$d/etc" "$d/spool" "$d/data" "$d/log"
    chown postfix "$d/data"
    cat >"$d/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $d/spool
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.postfix-bench.test
mydomain = postfix-bench.test
mydestination = mailroom.test, localhost
local_recipient_maps =
mynetworks = 127.0.0.1/32
alias_maps =
alias_database =
local_transport = discard:
virtual_transport = discard:
relay_transport = discard:
default_transport = discard:
maillog_file = $d/log/postfix.log
maillog_file_prefixes = $d
EOF
    if [ "$mode" = intake ]; then
        echo "in_flow_delay = 0" >>"$d/etc/main.cf"
        cat >"$d/etc/master.cf" <<EOF
127.0.0.1:$PORT inet n - n - - smtpd
cleanup   unix  n  -  n  -  0  cleanup
rewrite   unix  -  -  n  -  -  trivial-rewrite
anvil     unix  -  -  n  -  1  anvil
postlog   unix-dgram n - n - 1 postlogd
EOF
    else
        awk -v port="$PORT" '
            /^smtp[ \t]+inet[ \t]/ { $1 = "127.0.0.1:" port }
            /^[a-z0-9]/ && NF >= 8 && $5 == "y" { $5 = "n" }
            { print }' /etc/postfix/master.cf >"$d/etc/master.cf"
    fi
}

# postfix_start MODE - stock or intake
postfix_start() {
    PF_MODE=$1
    if [ ! -x "$POSTFIX" ]; then
        echo "smtp-bench: postfix is not installed (apt-get install postfix); Postfix rows skipped"
        return 1
    fi
    PORT=$(free_port)
    PF_DIR=$WORK/postfix-$PF_MODE
    postfix_config "$PF_DIR" "$PF_MODE"
    if ! "$POSTFIX" -c "$PF_DIR/etc" start >/dev/null 2>&1 || ! wait_port "$PORT"; then
        echo "smtp-bench: the throwaway Postfix did not start; Postfix rows skipped"
        tail -5 "$PF_DIR/log/postfix.log" 2>/dev/null
        postfix_stop; return 1
    fi
    ROOT_PID=$(tr -d ' ' <"$PF_DIR/spool/pid/master.pid")
    SPOOL=$PF_DIR/spool
}

postfix_stop() {
    [ -n "$PF_DIR" ] || return 0
    local pid
    pid=$(tr -d ' ' <"$PF_DIR/spool/pid/master.pid" 2>/dev/null)
    "$POSTFIX" -c "$PF_DIR/etc" stop >/dev/null 2>&1
    for _ in $(seq 150); do [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    PF_DIR=
}

cleanup_all() {
    mailroom_stop
    postfix_stop
    rm -rf "$WORK"
}
trap cleanup_all EXIT
trap 'exit 130' INT TERM

# queue_count - files that arrived in the incoming queue during the run;
# for the stock Postfix, which delivers, the messages its qmgr has taken in
# (one "(queue active)" log line each) since queue_clear cut the log
queue_count() {
    if [ -n "$PF_DIR" ] && [ "$PF_MODE" = stock ]; then
        grep -c ' nrcpt=.*(queue active)' "$PF_DIR/log/postfix.log"
        return
    fi
    # committed (ready) files written during the run; Mailroom's cleanups
    # may commit into files they reserved before queue_clear renamed the
    # folder away, so the renamed folders count too
    find "$SPOOL/incoming" "$WORK"/old-incoming.* -type f -perm -u+x \
        -newer "$WORK/run.start" 2>/dev/null | wc -l
}

# queue_drain - stock Postfix: wait (up to 30 s) until every accepted
# message has been delivered, so that its CPU is counted in the same run
queue_drain() {
    [ -n "$PF_DIR" ] && [ "$PF_MODE" = stock ] || return 0
    local i
    for i in $(seq 300); do
        [ -z "$(find "$SPOOL/incoming" "$SPOOL/active" -type f 2>/dev/null | head -1)" ] && return 0
        sleep 0.1
    done
}

# queue_clear - give the server an empty incoming queue for the next run.
# The full one is renamed away (and removed at the end) rather than
# emptied: deleting tens of thousands of files right before a run makes
# the next run's file creations slower (on ext4 without a journal the
# inode allocator walks past recently deleted inodes), which would be
# measured as the server's CPU. The new folder gets the old one's
# subfolders, owners and modes.
queue_clear() {
    local q=$SPOOL/incoming new=$SPOOL/incoming.new d
    [ -n "$PF_DIR" ] && [ "$PF_MODE" = stock ] && : >"$PF_DIR/log/postfix.log"
    [ -d "$q" ] || return 0
    rm -rf "$new"
    mkdir "$new"
    while read -r d; do
        [ "$d" = . ] || mkdir -p "$new/$d"
        chown --reference="$q/$d" "$new/$d"
        chmod --reference="$q/$d" "$new/$d"
    done < <(cd "$q" && find . -type d)
    mv "$q" "$WORK/old-incoming.$((++ROTATED))"
    mv "$new" "$q"
    sync
}

# --- runs -------------------------------------------------------------------

# kv - the value of KEY in a key=value line
kv() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }

# measure SERVER CLIENT SESSIONS SIZE COMMAND... - run one load, record a row
measure() {
    local server=$1 client=$2 sessions=$3 size=$4; shift 4
    local peak=$WORK/pss.peak log=$WORK/run.log cpu0 cpu1 t0 t1 sampler rc fl0 fl1 load1
    queue_clear
    read -r load1 _ </proc/loadavg
    touch "$WORK/run.start"
    echo 0 >"$peak"
    pss_sampler "$ROOT_PID" "$peak" & sampler=$!
    cpu0=$(tree_cpu "$ROOT_PID")
    fl0=$(flush_count)
    t0=$(date +%s%N)
    timeout 300 "$@" >"$log" 2>&1; rc=$?
    t1=$(date +%s%N)
    fl1=$(flush_count)
    queue_drain
    cpu1=$(tree_cpu "$ROOT_PID")
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
    local queued res accepted secs rate p50=- p99=-
    queued=$(queue_count)
    res=$(grep '^RESULT ' "$log")
    if [ -n "$res" ]; then
        accepted=$(kv accepted "$res") secs=$(kv secs "$res") rate=$(kv rate "$res")
        p50=$(kv p50_ms "$res") p99=$(kv p99_ms "$res")
    else
        accepted=$queued
        secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", (b-a)/1e9}')
        rate=$(awk -v n="$accepted" -v s="$secs" 'BEGIN{printf "%.1f", (s > 0 ? n/s : 0)}')
    fi
    [ "$rc" = 0 ] || { echo "smtp-bench: $server/$client/$sessions/$size exited $rc:"; tail -3 "$log"; }
    awk -v s="$server" -v c="$client" -v n="$sessions" -v z="$size" -v a="$accepted" \
        -v q="$queued" -v secs="$secs" -v r="$rate" -v p50="$p50" -v p99="$p99" \
        -v cpu=$((cpu1 - cpu0)) -v hz="$HZ" -v pss="$(cat "$peak")" \
        -v fl=$((fl1 - fl0)) -v fk="$FLUSH_KIND" -v load1="$load1" 'BEGIN {
        printf "BENCH server=%s client=%s sessions=%s size=%s accepted=%s queued=%s secs=%s rate=%s p50_ms=%s p99_ms=%s cpu_ms=%.0f cpu_ms_per_msg=%.3f pss_mb=%.1f dev_%s=%d dev_%s_per_msg=%.2f load1=%s\n",
            s, c, n, z, a, q, secs, r, p50, p99, cpu * 1000 / hz, (a > 0 ? cpu * 1000 / hz / a : 0), pss / 1024,
            fk, fl, fk, (a > 0 ? fl / a : 0), load1 }' \
        | tee -a "$RESULTS"
}

# run_server NAME - every load against the server that is up now
run_server() {
    local server=$1 size sessions res rate n
    "$LOAD" -q -c 10 -m 300 -s 4096 -t "$RCPT" -f "$FROM" "127.0.0.1:$PORT" >/dev/null 2>&1	# warm-up
    queue_drain		# the stock Postfix delivers the warm-up before the first run
    for size in $SIZES; do
        for sessions in $SESSIONS; do
            measure "$server" smtp-load "$sessions" "$size" \
                "$LOAD" -q -c "$sessions" -m 1000000 -d "$SECONDS_PER_RUN" -s "$size" \
                -t "$RCPT" -f "$FROM" -l "$server" "127.0.0.1:$PORT"
            case " $CLIENTS " in *" smtp-source "*) ;; *) continue ;; esac
            [ -x "$SOURCE" ] || continue
            res=$(tail -1 "$RESULTS")
            n=$(kv accepted "$res")
            [ "${n:-0}" -ge 100 ] || n=100
            measure "$server" smtp-source "$sessions" "$size" \
                "$SOURCE" -s "$sessions" -m "$n" -l $((size > 400 ? size - 150 : 250)) \
                -f "$FROM" -t "$RCPT" -M smtp-source.invalid "127.0.0.1:$PORT"
        done
    done
}

# print_table - the results file as a table, then the ratios and suite sums
print_table() {
    awk '
    function v(k,   i) { for (i = 2; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return "-" }
    BEGIN { printf "%-14s %-12s %8s %6s %9s %8s %8s %11s %7s %9s %6s\n", "server", "client", "sessions", "size",
                   "msgs/s", "p50 ms", "p99 ms", "CPU ms/msg", "PSS MB", "dev/msg", "load" }
    /^BENCH / {
        s = v("server"); c = v("client"); n = v("sessions"); z = v("size")
        d = v("dev_flushes_per_msg"); if (d == "-") d = v("dev_writes_per_msg") "w"
        printf "%-14s %-12s %8s %6s %9s %8s %8s %11s %7s %9s %6s\n", s, c, n, z / 1024 "K",
               v("rate"), v("p50_ms"), v("p99_ms"), v("cpu_ms_per_msg"), v("pss_mb"), d, v("load1")
        key = c " " n " " z; rate[s, key] = v("rate"); cpu[s, key] = v("cpu_ms_per_msg")
        if (!(key in keys)) { keys[key] = 1; order[++nkeys] = key }
        cpu_sum[s] += v("cpu_ms"); msgs[s] += v("accepted")
        if (n == 10 && z == 4096 && c == "smtp-load") pss10[s] = v("pss_mb")
    }
    END {
        for (s in msgs)
            printf "suite %-14s CPU %.3f ms/msg over %d messages; PSS at 10 sessions, 4K: %s MB\n",
                   s, msgs[s] ? cpu_sum[s] / msgs[s] : 0, msgs[s], (s in pss10) ? pss10[s] : "-"
        n = split("mailroom:postfix mailroom-intake:postfix-intake mailroom-intake:postfix", pairs, " ")
        for (o = 1; o <= n; o++) {
            split(pairs[o], pr, ":"); m = pr[1]; p = pr[2]
            if (!(m in msgs) || !(p in msgs))
                continue
            print m "/" p " (client sessions size): msgs/s ratio, CPU/msg ratio"
            for (i = 1; i <= nkeys; i++)
                if ((k = order[i]) != "" && (rate[p, k] > 0 && cpu[p, k] > 0) && rate[m, k] > 0)
                    printf "  %-26s %6.2fx %6.2fx\n", k, rate[m, k] / rate[p, k],
                           cpu[m, k] / cpu[p, k]
            if (msgs[p] && cpu_sum[p] && msgs[m])
                printf "  suite CPU/msg ratio %.2fx\n", (cpu_sum[m] / msgs[m]) / (cpu_sum[p] / msgs[p])
        }
    }' "$RESULTS"
}

# fs_desc DIR - "DEVICE FSTYPE on MOUNTPOINT, journal|no journal" (ext4)
fs_desc() {
    local src fstype target journal="no journal"
    read -r src fstype target < <(findmnt -n -o SOURCE,FSTYPE,TARGET -T "$1")
    ls /proc/fs/jbd2 2>/dev/null | grep -q "^${src##*/}-" && journal="journal"
    [ "$fstype" = ext4 ] || journal="journal unknown"
    echo "$src $fstype on $target, $journal"
}

# --- main -------------------------------------------------------------------
[ -x "$LOAD" ] || { echo "smtp-bench: $LOAD is not built"; exit 1; }
echo "smtp-bench: $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)"
echo "smtp-bench: instances in $WORK: $(fs_desc "$WORK")"
flush_dev_init "$WORK"
echo "smtp-bench: device counter per message: $FLUSH_KIND${FLUSH_STAT:+ ($FLUSH_STAT)}; it counts every process on the device"
[ -x "$SOURCE" ] || echo "smtp-bench: smtp-source (package postfix) not installed; its rows skipped"
for server in $SERVERS; do
    case $server in
    mailroom) mailroom_start full && { run_server mailroom; mailroom_stop; } ;;
    mailroom-intake) mailroom_start intake && { run_server mailroom-intake; mailroom_stop; } ;;
    postfix) postfix_start stock && { run_server postfix; postfix_stop; } ;;
    postfix-intake) postfix_start intake && { run_server postfix-intake; postfix_stop; } ;;
    *) echo "smtp-bench: unknown server $server" ;;
    esac
done
echo
print_table | tee "$OUT/smtp-bench.table"
echo "smtp-bench: rows in $RESULTS"
