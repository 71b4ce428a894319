# cleanup/ - the cleanup daemon (only writer of new queue files) and the
# pickup daemon (maildrop -> cleanup).
PROGS += cleanup pickup
cleanup_SRCS := cleanup/cleanup.c cleanup/cleanup_env.c cleanup/cleanup_msg.c
pickup_SRCS := cleanup/pickup.c
