# bench/smtp-load - SMTP load generator for the benchmarks (bench/smtp-bench.sh)
PROGS += smtp-load
smtp-load_SRCS := bench/smtp-load/smtp-load.c bench/smtp-load/load_session.c \
		  bench/smtp-load/load_stats.c
