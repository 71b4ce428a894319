# showq - lists the mail queue for users who cannot read it (public/showq);
# the listing code is shared with mailroom-queue (lib/queue/qshow.c)
PROGS += showq
showq_SRCS := showq/showq.c
