# anvil - session count and rate server (for smtpd's client limits)
PROGS += anvil
anvil_SRCS := anvil/anvil.c anvil/anvil_count.c
# the counting rules have a unit test of their own (tests/unit/test_anvil.c)
test_anvil_OBJS := $(BUILD)/obj/anvil/anvil_count.o
