# cleanup/ - the cleanup daemon (only writer of new queue files) and the
# pickup daemon (maildrop -> cleanup).
PROGS += cleanup pickup
cleanup_SRCS := cleanup/cleanup.c cleanup/cleanup_state.c cleanup/cleanup_env.c cleanup/cleanup_msg.c
pickup_SRCS := cleanup/pickup.c
test_cleanup_env_OBJS := $(BUILD)/obj/cleanup/cleanup_state.o \
	$(BUILD)/obj/cleanup/cleanup_env.o $(BUILD)/obj/cleanup/cleanup_msg.o
