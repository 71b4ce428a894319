# master/ - the supervisor daemon, the mailroom control command, and three
# tiny test daemons (testechod, testtrigd, testeventd) used by tests/integration.
PROGS += master mailroom testechod testtrigd testeventd
# master_conf.c (master.conf), master_pid.c (the pid file) and master_dirtab.c
# (queue directory modes) are shared by master and mailroom, nobody else.
MASTER_COMMON_SRCS := master/master_conf.c master/master_pid.c master/master_dirtab.c
master_SRCS := master/master.c master/master_services.c master/master_spawn.c \
	master/master_dirs.c master/master_state.c $(MASTER_COMMON_SRCS)
mailroom_SRCS := master/mailroom.c master/mailroom_check.c master/mailroom_tls.c \
	master/mailroom_edit.c \
	$(MASTER_COMMON_SRCS)
# unit tests that exercise program code link its objects (see Makefile)
test_master_conf_OBJS := $(BUILD)/obj/master/master_conf.o
testechod_SRCS := master/testechod.c
testtrigd_SRCS := master/testtrigd.c
testeventd_SRCS := master/testeventd.c
