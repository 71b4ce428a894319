# local/ - the local delivery agent (system users, virtual mailboxes,
# aliases, .forward, Maildir/mbox, commands, files).
PROGS += local
LOCAL_LIB_SRCS := local/local_msg.c local/local_user.c local/local_keep.c local/local_maildir.c \
	local/local_mbox.c local/local_pipe.c local/local_forward.c \
	local/local_expand.c local/local_resolve.c local/local_member.c
local_SRCS := local/local.c $(LOCAL_LIB_SRCS)
# the unit test links the agent's objects (see Makefile)
test_local_OBJS := $(LOCAL_LIB_SRCS:%.c=$(BUILD)/obj/%.o)
test_local_seal_OBJS := $(test_local_OBJS)
