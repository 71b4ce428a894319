# tools/quarantine - mailroom-quarantine: list, show, release, delete
PROGS += mailroom-quarantine
mailroom-quarantine_SRCS := tools/quarantine/quarantine.c
