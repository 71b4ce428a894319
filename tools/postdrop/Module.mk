# mailroom-postdrop - setgid helper that writes into maildrop/
PROGS += mailroom-postdrop
mailroom-postdrop_SRCS := tools/postdrop/postdrop.c tools/postdrop/pd_copy.c
test_postdrop_OBJS := $(BUILD)/obj/tools/postdrop/pd_copy.o
