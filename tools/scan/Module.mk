# tools/scan - mailroom-scan: scan files with clamd, as filterd will
PROGS += mailroom-scan
mailroom-scan_SRCS := tools/scan/scan.c
