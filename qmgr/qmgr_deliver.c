/*
 * qmgr_deliver.c - one delivery: connect to private/TRANSPORT, wait on the
 * event loop for the agent's handshake, send the request, wait for the
 * reply, apply the outcomes.
 *
 * The waits are on the event loop, so qmgr serves everything else
 * meanwhile. Once the socket is readable the handshake or reply is read
 * with an ordinary bounded stream read (ipc_timeout): an agent writes
 * each list in one go, so this does not block in practice, and a broken
 * agent costs at most that timeout. A delivery that takes longer than
 * delivery_time_limit is abandoned (its recipients count as deferred; the
 * agent's own marks in the queue file stay true).
 *
 * A batch (TRANSPORT_destination_batch_limit, qmgr_sched.c) is several
 * entries of one destination, one message each, sent as requests back to
 * back on one connection (lib/queue/deliver_request.h); the agent names
 * the queue ID in each reply, and replies come in any order. Entries
 * whose reply did not come when the connection ends count as deferred.
 * A reply naming a queue ID that waits for none ends the connection as a
 * protocol error: it is never taken for another message's.
 *
 * The outcomes need no disk work here: the agent has already marked the
 * file and written the bounce/defer logs. qmgr only records which
 * recipients are done or deferred for this round.
 */
#include <stdio.h>
#include <string.h>

#include "global/config.h"
#include "global/mail_proto.h"
#include "master/mail_server.h"
#include "queue/deliver_request.h"
#include "queue/qlog.h"
#include "util/event.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/sock.h"
#include "util/str.h"
#include "qmgr.h"

#define QMGR_CONNECT_TIMEOUT 5

/* One connection to an agent: one entry, or a batch of entries (one per
 * message) for the same destination, linked by entry->next. */
typedef struct qmgr_delivery {
    qmgr_entry_t *entry;        /* the first of the batch */
    qmgr_entry_t **entries;     /* all of them, in the order sent */
    deliver_result_t **results; /* per entry, its count of results */
    int *answered;              /* per entry: its reply came */
    size_t count, left;         /* entries, replies still to come */
    stream_t *stream;
    int fd;
} qmgr_delivery_t;

/* qmgr_delivery_success_notice - NOTIFY=SUCCESS (or sendmail -v): a
 * "delivered" record in the bounce log, for the notice */
static void qmgr_success_record(qmgr_message_t *msg, size_t i, const deliver_result_t *res)
{
    qmgr_rcpt_t *r = msg->rcpts + i;
    qlog_entry_t e = {
	.rcpt = r->address,
	.orcpt = r->orcpt ? r->orcpt : "",
	.notify = r->notify ? r->notify : "",
	.offset = (long long)r->offset,
	.dsn = res->dsn,
	.action = "delivered",
	.reason = res->reason,
	.relay = "",
	.time = qmgr_now(),
    };
    const char *why;

    if (qlog_append(MAIL_QUEUE_BOUNCE, msg->id, &e, 1, &why) < 0)
	msg_warn("%s: %s", msg->id, why);
}

/* qmgr_wants_success - does the sender want to hear about this delivery? */
static int qmgr_wants_success(const qmgr_message_t *msg, const qmgr_rcpt_t *r)
{
    if (msg->trace_flags & QMGR_TRACE_VERIFY)
	return 0; /* the agent wrote the record */
    return (msg->trace_flags & QMGR_TRACE_RECORD) ||
	   (r->notify && strcasestr(r->notify, "SUCCESS") != NULL);
}

/* qmgr_apply - the outcomes of one entry; 1 if the destination
 * answered for at least one recipient */
static int qmgr_apply(qmgr_entry_t *e, deliver_result_t *results)
{
    qmgr_message_t *msg = e->msg;
    int answered = 0;

    for (size_t k = 0; k < e->count; k++) {
	qmgr_rcpt_t *r = msg->rcpts + e->idx[k];
	deliver_result_t *res = results + k;

	if (res->status == DELIVER_STAT_DEFERRED) {
	    r->state = QMGR_RCPT_DEFERRED;
	    continue;
	}
	answered = 1;
	r->state = QMGR_RCPT_DONE;
	if (res->status == DELIVER_STAT_SENT && qmgr_wants_success(msg, r))
	    qmgr_success_record(msg, e->idx[k], res);
    }
    return answered;
}

static void qmgr_deliver_timeout(int unused_fd, int event, void *context);

/* qmgr_delivery_end - apply, release, free, schedule more */
static void qmgr_delivery_end(qmgr_delivery_t *dl)
{
    qmgr_entry_t *e = dl->entry;
    int ok = 0;

    for (size_t k = 0; k < dl->count; k++) {
	ok |= qmgr_apply(dl->entries[k], dl->results[k]);
	deliver_results_free(dl->results[k], dl->entries[k]->count);
	mr_free(dl->results[k]);
    }
    if (dl->stream) {
	event_disable(dl->fd);
	stream_close(&dl->stream);
    }
    event_cancel_timer(qmgr_deliver_timeout, dl);
    mr_free(dl->results);
    mr_free(dl->entries);
    mr_free(dl->answered);
    mr_free(dl);
    qmgr_sched_done(e, ok);
    qmgr_sched_run();
}

/* qmgr_delivery_fail - nothing usable came back for the entries still
 * waiting: all deferred; the defer log gets the reason so that mailq
 * shows it */
static void qmgr_delivery_fail(qmgr_delivery_t *dl, const char *dsn, const char *reason)
{
    for (size_t k = 0; k < dl->count; k++) {
	qmgr_entry_t *e = dl->entries[k];

	if (dl->answered[k])
	    continue;
	msg_warn("%s: %s delivery via %s: %s", e->msg->id, e->dest->tp->name,
		 *e->dest->nexthop ? e->dest->nexthop : "-", reason);
	deliver_results_fail(dl->results[k], e->count, dsn, reason);
	for (size_t i = 0; i < e->count; i++)
	    qmgr_message_defer_rcpt(e->msg, e->idx[i], dsn, reason);
    }
    qmgr_delivery_end(dl);
}

/* qmgr_deliver_timeout - the agent took longer than delivery_time_limit */
static void qmgr_deliver_timeout(int unused_fd, int event, void *context)
{
    qmgr_delivery_fail(context, "4.4.2", "delivery timed out");
}

/* qmgr_reply_entry - the waiting entry a reply is for: the one of the
 * queue ID it names; a reply that names none is for the first request
 * (an agent that answers one request per connection). dl->count if no
 * entry waits for it: a reply for a message not in this delivery, or
 * answered already, must count for no other message (its "sent" would
 * have qmgr remove a file whose recipients were never delivered). */
static size_t qmgr_reply_entry(const qmgr_delivery_t *dl, const char *qid)
{
    for (size_t k = 0; k < dl->count; k++) {
	if (dl->answered[k])
	    continue;
	if (qid ? strcmp(dl->entries[k]->msg->id, qid) == 0 : k == 0)
	    return k;
    }
    return dl->count;
}

/* qmgr_deliver_reply - a reply is there (a batch's replies come one list
 * per request, in any order; buffered ones are read at once) */
static void qmgr_deliver_reply(int fd, int event, void *context)
{
    qmgr_delivery_t *dl = context;

    event_disable(fd);
    do {
	attr_list_t *l = attr_list_new();
	const char *qid;
	size_t k;

	if (attr_read(dl->stream, l) != 1) {
	    attr_list_free(&l);
	    qmgr_delivery_fail(dl, "4.3.0", "lost connection with delivery agent");
	    return;
	}
	if ((k = qmgr_reply_entry(dl, qid = deliver_reply_queue_id(l))) == dl->count) {
	    msg_warn("%s: %s agent answered for %s, which waits for no answer in this delivery",
		     dl->entry->msg->id, dl->entry->dest->tp->name,
		     qid == NULL      ? "no queue ID"
		     : qid_valid(qid) ? qid
				      : "a malformed queue ID");
	    attr_list_free(&l);
	    qmgr_delivery_fail(dl, "4.3.0", "delivery agent protocol error");
	    return;
	}
	if (deliver_reply_decode(l, dl->results[k], dl->entries[k]->count) < dl->entries[k]->count)
	    msg_warn("%s: malformed reply from %s agent", dl->entries[k]->msg->id,
		     dl->entry->dest->tp->name);
	if (deliver_reply_corrupt(l))
	    dl->entries[k]->msg->corrupt = 1; /* set aside when it is finished */
	attr_list_free(&l);
	dl->answered[k] = 1;
	dl->left--;
    } while (dl->left > 0 && stream_pending(dl->stream) > 0);
    if (dl->left == 0)
	qmgr_delivery_end(dl);
    else
	event_enable_read(fd, qmgr_deliver_reply, dl);
}

/* qmgr_job_fill - the request for an entry */
static void qmgr_job_fill(deliver_job_t *job, deliver_job_rcpt_t *jr, const qmgr_entry_t *e)
{
    const qmgr_message_t *msg = e->msg;

    memset(job, 0, sizeof(*job));
    job->queue_id = msg->id;
    job->transport = e->dest->tp->name;
    job->nexthop = e->dest->nexthop;
    job->sender = msg->sender;
    job->envid = msg->envid;
    job->ret = msg->ret;
    job->size = msg->size;
    job->arrival_sec = msg->arrival_sec;
    job->arrival_usec = msg->arrival_usec;
    job->active_sec = msg->active_sec;
    job->active_usec = msg->active_usec;
    job->flags = (msg->trace_flags & QMGR_TRACE_VERIFY) ? DELIVER_FLAG_VERIFY : 0;
    job->more = e->next != NULL;
    for (size_t k = 0; k < e->count; k++) {
	const qmgr_rcpt_t *r = msg->rcpts + e->idx[k];

	jr[k].address = r->address;
	jr[k].orcpt = r->orcpt;
	jr[k].notify = r->notify;
	jr[k].offset = r->offset;
    }
    job->rcpts = jr;
    job->rcpt_count = e->count;
}

/* qmgr_deliver_format - append one entry's request to out */
static void qmgr_deliver_format(str_t *out, const qmgr_entry_t *e)
{
    deliver_job_rcpt_t *jr = mr_calloc(e->count, sizeof(*jr));
    attr_list_t *l = attr_list_new();
    deliver_job_t job;

    qmgr_job_fill(&job, jr, e);
    deliver_job_encode(l, &job);
    attr_format(out, l);
    attr_list_free(&l);
    mr_free(jr);
}

/* qmgr_deliver_send - every request of the delivery, written at once (a
 * batch in one write, so the agent reads it in one go): 0, -1 */
static int qmgr_deliver_send(qmgr_delivery_t *dl)
{
    str_t *out = str_new(512 * dl->count);
    int ret;

    for (size_t k = 0; k < dl->count; k++)
	qmgr_deliver_format(out, dl->entries[k]);
    ret = stream_write(dl->stream, str_data(out), str_len(out));
    if (ret == 0)
	ret = stream_flush(dl->stream);
    str_free(&out);
    return ret == 0 ? 0 : -1;
}

/* qmgr_deliver_greeting - the handshake is there: send the request(s) */
static void qmgr_deliver_greeting(int fd, int event, void *context)
{
    qmgr_delivery_t *dl = context;
    const char *why;
    int ok;

    event_disable(fd);
    ok = attr_expect_protocol(dl->stream, MAIL_PROTO_DELIVERY, &why) == 1 &&
	 qmgr_deliver_send(dl) == 0;
    if (!ok) {
	qmgr_delivery_fail(dl, "4.3.0", "delivery agent protocol error");
	return;
    }
    event_enable_read(fd, qmgr_deliver_reply, dl);
}

/* qmgr_deliver_start - connect and wait for the handshake */
void qmgr_deliver_start(qmgr_entry_t *entry)
{
    qmgr_delivery_t *dl = mr_calloc(1, sizeof(*dl));
    str_t *path = str_new(64);
    const char *why;
    size_t k = 0;

    dl->entry = entry;
    for (qmgr_entry_t *e = entry; e; e = e->next)
	dl->count++;
    dl->left = dl->count;
    dl->entries = mr_calloc(dl->count, sizeof(*dl->entries));
    dl->results = mr_calloc(dl->count, sizeof(*dl->results));
    dl->answered = mr_calloc(dl->count, sizeof(*dl->answered));
    for (qmgr_entry_t *e = entry; e; e = e->next, k++) {
	dl->entries[k] = e;
	dl->results[k] = mr_calloc(e->count, sizeof(**dl->results));
	for (size_t i = 0; i < e->count; i++)
	    e->msg->rcpts[e->idx[i]].state = QMGR_RCPT_BUSY;
    }
    dl->fd = -1;
    str_printf(path, "%s/%s", MAIL_SOCK_AGENT_DIR, entry->dest->tp->name);
    dl->fd = sock_connect_unix(server_queue_path(str_data(path)), QMGR_CONNECT_TIMEOUT, &why);
    str_free(&path);
    if (dl->fd < 0) {
	qmgr_delivery_fail(dl, "4.3.0", "mail transport unavailable");
	return;
    }
    dl->stream = stream_open(dl->fd);
    stream_set_timeout(dl->stream, (int)config_time("ipc_timeout"));
    event_enable_read(dl->fd, qmgr_deliver_greeting, dl);
    event_request_timer(qmgr_deliver_timeout, dl, config_time("delivery_time_limit") * 1000L);
}
