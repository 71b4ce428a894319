# filterd - the content filter (10024 -> clamd, spam rules -> 10025)
PROGS += filterd
filterd_SRCS := filterd/filterd.c filterd/filterd_work.c filterd/filterd_scan.c \
	filterd/filterd_header.c filterd/filterd_quar.c \
	filterd/filterd_policy.c filterd/filterd_sweep.c filterd/filterd_pool.c \
	filterd/filterd_spam.c filterd/filterd_limit.c

# the header rewriting has a unit test and a fuzzer of its own
test_filterd_header_OBJS := $(BUILD)/obj/filterd/filterd_header.o
test_filterd_policy_OBJS := $(BUILD)/obj/filterd/filterd_policy.o
test_filterd_spam_OBJS := $(BUILD)/obj/filterd/filterd_spam.o
