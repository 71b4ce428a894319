# master/ - the supervisor daemon, the mailroom control command, and three
# tiny test daemons (testechod, testtrigd, testeventd) used by tests/integration.
PROGS += master mailroom testechod testtrigd testeventd
master_SRCS := master/master.c master/master_services.c master/master_spawn.c \
	master/master_dirs.c master/master_state.c
mailroom_SRCS := master/mailroom.c master/mailroom_check.c master/mailroom_tls.c
testechod_SRCS := master/testechod.c
testtrigd_SRCS := master/testtrigd.c
testeventd_SRCS := master/testeventd.c
