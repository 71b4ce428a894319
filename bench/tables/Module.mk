# bench/tables - lookup table benchmark (bench/tables.sh runs it)
PROGS += bench-tables
bench-tables_SRCS := bench/tables/bench-tables.c
