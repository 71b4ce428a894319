/*
 * mq.h - pieces of mailroom-queue (internal to tools/queue).
 *
 * mailroom_queue.c  command line, who may do what, triggers to qmgr
 *                   (the listing itself, -p and -j, is lib/queue/qshow.c,
 *                   shared with the showq daemon)
 * mq_client.c       listing through the showq service, for users who
 *                   cannot read the queue themselves
 * mq_admin.c        -d delete, -h hold, -H release, -r requeue
 * mq_cat.c          -m show one queue file (envelope and content)
 *
 * The showq protocol is described in global/mail_proto.h.
 */
#ifndef MR_MQ_H
#define MR_MQ_H

#include "util/stream.h"

/* mq_show_remote - ask the showq service for the listing and copy it to
 * standard output. Returns 0, or an exit status after telling the user
 * what went wrong (EX_UNAVAILABLE: the mail system is down; EX_NOPERM:
 * public/showq cannot be reached by this user). */
int mq_show_remote(int json);

/* mq_drop_setgid - give up the set-gid group for good (a no-op when the
 * program does not run set-gid); fatal if that fails */
void mq_drop_setgid(void);

/* Admin operations */
#define MQ_OP_DELETE 'd'
#define MQ_OP_HOLD 'h'
#define MQ_OP_RELEASE 'H'
#define MQ_OP_REQUEUE 'r'

/* mq_admin - apply op to each ID in ids (NULL-terminated; "ALL" means
 * every message, "-" reads IDs from standard input). Returns an exit
 * status. */
int mq_admin(int op, char **ids);

/* mq_cat flags */
#define MQ_CAT_ENVELOPE 1 /* -e: the envelope records only */
#define MQ_CAT_BODY 2     /* -b: the message body only (after the header) */

/* mq_cat - show the queue file named by target (a queue ID, looked for
 * in every queue, or a path with a '/'). Returns an exit status: 0,
 * EX_NOINPUT (no such file), EX_DATAERR (corrupt: refused, nothing shown
 * of it), EX_USAGE, EX_IOERR. */
int mq_cat(const char *target, int flags);

#endif
