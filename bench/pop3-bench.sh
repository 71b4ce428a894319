#!/bin/bash
# pop3-bench.sh - POP3 sessions of 10 users in parallel (login, LIST, RETR
# of 100 messages of 4 kB each, QUIT), three rounds, against pop3d and a
# private Dovecot pop3 (installed here if missing; BENCH_DOVECOT=no skips
# it) over a copy of the same Maildirs: messages per second, server CPU,
# peak resident size, and login latency (bench/pop3_bench.py).
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 1
exec /usr/bin/python3 bench/pop3_bench.py "$BUILD" 10 100 4000 3 200
