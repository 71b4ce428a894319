# showq - lists the mail queue for users who cannot read it (public/showq);
# the listing code is mailroom-queue's own (tools/queue/mq_show.c)
PROGS += showq
showq_SRCS := showq/showq.c tools/queue/mq_show.c
