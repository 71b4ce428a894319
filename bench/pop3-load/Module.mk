# bench/pop3-load - POP3 load generator for the benchmark (bench/pop3-bench.sh)
PROGS += pop3-load
pop3-load_SRCS := bench/pop3-load/pop3-load.c
