# bench/store - mailbox store benchmark (bench/store-bench.sh runs it)
PROGS += bench-store
bench-store_SRCS := bench/store/bench-store.c
