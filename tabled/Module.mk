# tabled - lookup table server for proxy: tables
PROGS += tabled
tabled_SRCS := tabled/tabled.c
