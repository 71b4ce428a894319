/*
 * mq.h - pieces of mailroom-queue (internal to tools/queue), and the
 * listing code that the showq daemon shares with it.
 *
 * mailroom_queue.c  command line, who may do what, triggers to qmgr
 * mq_show.c         walking the queues: -p (mailq layout) and -j (JSON);
 *                   also linked into showq/ (the same listing, one copy)
 * mq_client.c       listing through the showq service, for users who
 *                   cannot read the queue themselves
 * mq_admin.c        -d delete, -h hold, -H release, -r requeue
 *
 * The showq protocol (public/showq, attribute lists of lib/util/attr.h):
 *   showq:  protocol=showq
 *   client: request=list | request=json
 *   showq:  the listing, exactly as mq_show writes it, then it closes
 */
#ifndef MR_MQ_H
#define MR_MQ_H

#include "util/stream.h"

#define MQ_PROTO_SHOWQ	"showq"		/* handshake name */
#define MQ_REQUEST_LIST	"list"		/* -p */
#define MQ_REQUEST_JSON	"json"		/* -j */

/* Queues that hold messages, in the order -p lists them */
extern const char *const mq_queues[];

/* mq_queue_missing - 1 if the queue directory does not exist */
int     mq_queue_missing(const char *queue);

/* mq_show - write the listing of every message to out (json selects -j)
 * and flush it. Problems with single files are logged (msg_warn) and the
 * listing goes on. Returns 0, EX_NOPERM if a queue could not be read, or
 * EX_IOERR if out could not be written. */
int     mq_show(stream_t *out, int json);

/* mq_show_remote - ask the showq service for the listing and copy it to
 * standard output. Returns 0, or an exit status after telling the user
 * what went wrong (EX_UNAVAILABLE: the mail system is down; EX_NOPERM:
 * public/showq cannot be reached by this user). */
int     mq_show_remote(int json);

/* mq_drop_setgid - give up the set-gid group for good (a no-op when the
 * program does not run set-gid); fatal if that fails */
void    mq_drop_setgid(void);

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
