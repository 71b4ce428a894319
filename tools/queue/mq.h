/*
 * mq.h - pieces of mailroom-queue (internal to tools/queue).
 *
 * mailroom_queue.c  command line, who may do what, triggers to qmgr
 * mq_show.c         walking the queues: -p (mailq layout) and -j (JSON)
 * mq_admin.c        -d delete, -h hold, -H release, -r requeue
 */
#ifndef MR_MQ_H
#define MR_MQ_H

/* Queues that hold messages, in the order -p lists them */
extern const char *const mq_queues[];

/* mq_queue_missing - 1 if the queue directory does not exist */
int     mq_queue_missing(const char *queue);

/* mq_show - list every message; json selects -j. Returns an exit status. */
int     mq_show(int json);

/* Admin operations */
#define MQ_OP_DELETE	'd'
#define MQ_OP_HOLD	'h'
#define MQ_OP_RELEASE	'H'
#define MQ_OP_REQUEUE	'r'

/* mq_admin - apply op to each ID in ids (NULL-terminated; "ALL" means
 * every message, "-" reads IDs from standard input). Returns an exit
 * status. */
int     mq_admin(int op, char **ids);

#endif
