/*
 * mq_admin.c - changing the queue: delete, hold, release, requeue.
 *
 * Every change is one rename or unlink through the queue library
 * (qfile_move, qfile_remove), so qmgr, which may be looking at the same
 * file, sees either the old state or the new one. An ID is only ever
 * used after qid_valid accepted it, so no argument can name a path.
 *
 *   -d  delete from maildrop incoming active deferred hold (and the
 *       message's defer/ and bounce/ logs): "ID: removed"
 *   -h  incoming active deferred -> hold: "ID: placed on hold"
 *   -H  hold -> deferred, then a flush trigger: "ID: released from hold"
 *   -r  incoming active deferred hold -> incoming, then a wake-up
 *       trigger, so qmgr takes it up again from the start: "ID: requeued"
 *
 * Deleting or moving a message that qmgr has in active/ is allowed, as
 * with Postfix's postsuper: qmgr notices the file is gone when it next
 * touches it. That is the known weak spot: a delivery already under way
 * may still complete.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "global/mail_proto.h"
#include "queue/mail_trigger.h"
#include "queue/qfile.h"
#include "queue/qshow.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "mq.h"

typedef struct mq_op {
    int op;
    const char *const *from; /* queues the message may be in */
    const char *to;          /* NULL: delete */
    const char *done;        /* log text */
    int trigger;             /* byte for qmgr afterwards, 0 none */
} mq_op_t;

static const char *const mq_from_all[] = {
    MAIL_QUEUE_MAILDROP, MAIL_QUEUE_INCOMING, MAIL_QUEUE_ACTIVE,
    MAIL_QUEUE_DEFERRED, MAIL_QUEUE_HOLD,     NULL,
};
static const char *const mq_from_live[] = {
    MAIL_QUEUE_INCOMING,
    MAIL_QUEUE_ACTIVE,
    MAIL_QUEUE_DEFERRED,
    NULL,
};
static const char *const mq_from_hold[] = {MAIL_QUEUE_HOLD, NULL};
static const char *const mq_from_queued[] = {
    MAIL_QUEUE_INCOMING, MAIL_QUEUE_ACTIVE, MAIL_QUEUE_DEFERRED, MAIL_QUEUE_HOLD, NULL,
};

static const mq_op_t mq_ops[] = {
    {MQ_OP_DELETE, mq_from_all, NULL, "removed", 0},
    {MQ_OP_HOLD, mq_from_live, MAIL_QUEUE_HOLD, "placed on hold", 0},
    {MQ_OP_RELEASE, mq_from_hold, MAIL_QUEUE_DEFERRED, "released from hold", TRIGGER_FLUSH},
    {MQ_OP_REQUEUE, mq_from_queued, MAIL_QUEUE_INCOMING, "requeued", TRIGGER_WAKEUP},
};

typedef struct mq_count {
    long changed;
    int failed;
} mq_count_t;

/* mq_apply_in - apply op to id if it is in queue: 1 done, 0 not there, -1 error */
static int mq_apply_in(const mq_op_t *op, const char *queue, const char *id)
{
    const char *error;
    int ret;

    if (op->to && strcmp(queue, op->to) == 0)
	return 0;
    ret = op->to ? qfile_move(id, queue, op->to, &error) : qfile_remove(queue, id, &error);
    if (ret == 0) {
	if (op->to == NULL) {
	    qfile_remove(MAIL_QUEUE_DEFER, id, &error);
	    qfile_remove(MAIL_QUEUE_BOUNCE, id, &error);
	}
	msg_info("%s: %s", id, op->done);
	return 1;
    }
    if (errno == ENOENT)
	return 0;
    msg_warn("%s: %s", id, error);
    return -1;
}

/* mq_apply - op on one ID wherever it is */
static void mq_apply(const mq_op_t *op, const char *id, mq_count_t *cnt)
{
    int found = 0, st;

    if (!qid_valid(id)) {
	msg_warn("%s: not a queue ID", id);
	cnt->failed = 1;
	return;
    }
    for (int q = 0; op->from[q] && !found; q++) {
	if ((st = mq_apply_in(op, op->from[q], id)) != 0)
	    found = 1;
	if (st > 0)
	    cnt->changed++;
	else if (st < 0)
	    cnt->failed = 1;
    }
    if (!found)
	msg_warn("%s: no such message in the queues this operation applies to", id);
}

/* mq_apply_all - op on every message in its source queues */
static void mq_apply_all(const mq_op_t *op, mq_count_t *cnt)
{
    char id[QID_BUFSIZE];
    const char *error;

    for (int q = 0; op->from[q]; q++) {
	qscan_t *qs;

	if ((op->to && strcmp(op->from[q], op->to) == 0) || qshow_queue_missing(op->from[q]))
	    continue;
	if ((qs = qscan_open(op->from[q], &error)) == NULL) {
	    msg_warn("cannot read queue %s: %s", op->from[q], error);
	    cnt->failed = 1;
	    continue;
	}
	while (qscan_next(qs, id) > 0) {
	    int st = mq_apply_in(op, op->from[q], id);

	    if (st > 0)
		cnt->changed++;
	    else if (st < 0)
		cnt->failed = 1;
	}
	qscan_close(&qs);
    }
}

/* mq_apply_stdin - op on each ID read from standard input, one a line */
static void mq_apply_stdin(const mq_op_t *op, mq_count_t *cnt)
{
    char line[256];

    while (fgets(line, sizeof(line), stdin) != NULL) {
	char *id = trim_space(line);

	if (*id)
	    mq_apply(op, id, cnt);
    }
}

/* mq_admin - apply one operation to the IDs given */
int mq_admin(int opcode, char **ids)
{
    const mq_op_t *op = NULL;
    mq_count_t cnt = {0, 0};
    const char *error;
    static const char *verbs[] = {"Deleted", "Placed on hold", "Released from hold", "Requeued"};
    int n;

    for (n = 0; n < 4 && op == NULL; n++)
	if (mq_ops[n].op == opcode)
	    op = mq_ops + n;
    if (op == NULL)
	msg_panic("mq_admin: unknown operation %c", opcode);
    for (int i = 0; ids[i]; i++) {
	if (strcmp(ids[i], "ALL") == 0)
	    mq_apply_all(op, &cnt);
	else if (strcmp(ids[i], "-") == 0)
	    mq_apply_stdin(op, &cnt);
	else
	    mq_apply(op, ids[i], &cnt);
    }
    if (cnt.changed > 0 && op->trigger) {
	char byte = (char)op->trigger;

	mail_trigger(MAIL_SOCK_QMGR, &byte, 1, &error);
    }
    fprintf(stderr, "mailroom-queue: %s: %ld message%s\n", verbs[op - mq_ops], cnt.changed,
	    cnt.changed == 1 ? "" : "s");
    return cnt.failed ? EX_DATAERR : 0;
}
