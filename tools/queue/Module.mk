# mailroom-queue - list and manage the mail queue (mailq, sendmail -q)
PROGS += mailroom-queue
mailroom-queue_SRCS := tools/queue/mailroom_queue.c \
	tools/queue/mq_client.c tools/queue/mq_admin.c tools/queue/mq_cat.c
