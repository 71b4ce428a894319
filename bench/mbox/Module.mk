# bench/mbox - mbox store benchmark (bench/mbox-bench.sh runs it)
PROGS += bench-mbox
bench-mbox_SRCS := bench/mbox/bench-mbox.c
