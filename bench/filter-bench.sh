#!/bin/bash
# filter-bench.sh - messages per second through the content filter: clamd
# alone (INSTREAM and FILDES), filterd with clamd, with clamd and the
# built-in spam scorer, with clamd and spamd, and amavisd-new with the same
# clamd, each with a one-signature clamd database and with a generated
# synthetic one, and each with the same body in every message and with
# bodies that differ; CPU per message, load averages, filterd's PSS
# (bench/filter_bench.py; figures in docs/benchmarks.md).
#
# amavisd-new is installed here, for this benchmark only (make deps does not
# install it). Its package would start the system's amavis service on port
# 10024, the content filter's port: the service is stopped and disabled
# right after the installation; the benchmark runs its own amavisd on a free
# port with a configuration of its own.
#
#   BENCH_FILTER_CLIENTS  4,16            parallel SMTP sessions / clamd clients /
#                                         amavisd-new children: every row at each
#                                         (qmgr feeds the filter up to 20 at once)
#   BENCH_FILTER_SIZES    4096,1048576    message sizes
#   BENCH_FILTER_MSGS     400,40          messages per run (per size)
#   BENCH_FILTER_DB       tiny,synthetic  clamd databases: one signature, and a
#                                         generated synthetic one (filter_bench.py)
#   BENCH_FILTER_BODY     same,vary       the same body in every message, and
#                                         bodies that differ (smtp-load -V)
#   BENCH_FILTER_SYNTH_BODY, _LOGICAL, _HASH  40000, 60000, 60000: its size
#   BENCH_FILTER_BAYES    200             made-up spam and as many ham messages
#                                         learned into the built-in scorer's Bayes
#                                         database before the runs (0: none)
BUILD=${1:-build}
cd "$(dirname "$0")/.." || exit 1
SUDO=""
[ "$(id -u)" != 0 ] && SUDO=sudo
if ! dpkg-query -W -f='${Status}' amavisd-new 2>/dev/null | grep -q "ok installed"; then
    echo "filter-bench: installing amavisd-new (for this benchmark only)"
    $SUDO env RUNLEVEL=1 DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends -o DPkg::Lock::Timeout=300 amavisd-new >/dev/null ||
        { echo "filter-bench: cannot install amavisd-new"; exit 1; }
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
        $SUDO systemctl disable --now amavis >/dev/null 2>&1
    fi
fi
msgs=${BENCH_FILTER_MSGS:-400,40}
exec /usr/bin/python3 bench/filter_bench.py "$BUILD" "${BENCH_FILTER_CLIENTS:-4,16}" \
    "${BENCH_FILTER_SIZES:-4096,1048576}" "${msgs%%,*}" "${msgs##*,}" \
    "${BENCH_FILTER_DB:-tiny,synthetic}" "${BENCH_FILTER_BODY:-same,vary}"
