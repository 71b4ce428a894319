/*
 * qmgr_message.c - one message in the active queue: load it, resolve its
 * recipients into destination queues, and when its last delivery has
 * ended, finish it: remove it (after any notice), defer it with back-off,
 * or expire it into a bounce.
 *
 * Only recipients not marked done in the file are loaded, so a message
 * taken up again after a crash or a deferral continues where it stopped.
 * The file is not kept open: a message in memory costs its envelope only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "global/config.h"
#include "global/mail_proto.h"
#include "queue/qlog.h"
#include "queue/resolve.h"
#include "util/event.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "qmgr.h"

#define QMGR_HASH_SIZE 4099

static qmgr_message_t *qmgr_hash[QMGR_HASH_SIZE];

/* qmgr_hash_slot - bucket of an ID */
static qmgr_message_t **qmgr_hash_slot(const char *id)
{
    unsigned long h = 5381;

    for (; *id; id++)
	h = h * 33 + (unsigned char)*id;
    return qmgr_hash + h % QMGR_HASH_SIZE;
}

/* qmgr_message_find - in-memory message by ID */
qmgr_message_t *qmgr_message_find(const char *id)
{
    for (qmgr_message_t *m = *qmgr_hash_slot(id); m; m = m->hnext)
	if (strcmp(m->id, id) == 0)
	    return m;
    return NULL;
}

/* qmgr_message_free - unhash and release */
static void qmgr_message_free(qmgr_message_t *msg)
{
    qmgr_message_t **mp = qmgr_hash_slot(msg->id);

    while (*mp != msg)
	mp = &(*mp)->hnext;
    *mp = msg->hnext;
    qmgr_flow_release(msg);
    for (size_t i = 0; i < msg->rcpt_count; i++) {
	mr_free(msg->rcpts[i].address);
	mr_free(msg->rcpts[i].orcpt);
	mr_free(msg->rcpts[i].notify);
    }
    mr_free(msg->rcpts);
    mr_free(msg->sender);
    mr_free(msg->envid);
    mr_free(msg->ret);
    mr_free(msg);
    qmgr_active_count--;
    qmgr_room_made();
}

/* qmgr_attr_dup - copy of a queue-file attribute, NULL if none/empty */
static char *qmgr_attr_dup(const qfile_t *qf, const char *name)
{
    const char *v = attr_get(qf->attrs, name);

    return v && *v ? mr_strdup(v) : NULL;
}

/* qmgr_warned - has a delay warning been sent (a warned record)? */
static int qmgr_warned_fn(const qlog_entry_t *e, void *context)
{
    if (strcmp(e->action, "warned") == 0)
	*(int *)context = 1;
    return 0;
}

/* qmgr_message_new - the in-memory envelope of an open file */
static qmgr_message_t *qmgr_message_new(const char *id, const qfile_t *qf)
{
    qmgr_message_t *msg = mr_calloc(1, sizeof(*msg));
    qmgr_message_t **slot = qmgr_hash_slot(id);
    struct timeval tv;
    const char *why;

    mr_strlcpy(msg->id, id, sizeof(msg->id));
    msg->sender = mr_strdup(qf->sender ? qf->sender : "");
    msg->envid = qmgr_attr_dup(qf, "envid");
    msg->ret = qmgr_attr_dup(qf, "ret");
    msg->trace_flags = (int)attr_get_long(qf->attrs, "trace_flags", 0) & 3;
    msg->size = qf->size;
    msg->arrival_sec = qf->arrival_sec ? qf->arrival_sec : qid_time(id);
    msg->arrival_usec = qf->arrival_usec;
    gettimeofday(&tv, NULL);
    msg->active_sec = (long)tv.tv_sec;
    msg->active_usec = (long)tv.tv_usec;
    msg->rcpts = mr_calloc(qf->rcpt_count ? qf->rcpt_count : 1, sizeof(*msg->rcpts));
    for (size_t i = 0; i < qf->rcpt_count; i++) {
	const qfile_rcpt_t *r = qf->rcpts + i;

	if (r->done)
	    continue;
	msg->rcpts[msg->rcpt_count].address = mr_strdup(r->address);
	msg->rcpts[msg->rcpt_count].orcpt = r->orcpt ? mr_strdup(r->orcpt) : NULL;
	msg->rcpts[msg->rcpt_count].notify = r->notify ? mr_strdup(r->notify) : NULL;
	msg->rcpts[msg->rcpt_count].offset = r->offset;
	msg->rcpt_count++;
    }
    (void)qlog_walk(MAIL_QUEUE_DEFER, id, qmgr_warned_fn, &msg->warned, &why);
    msg->hnext = *slot;
    *slot = msg;
    qmgr_active_count++;
    return msg;
}

/* qmgr_log_status - a status line for what qmgr decided itself */
static void qmgr_log_status(qmgr_message_t *msg, size_t i, const char *dsn, const char *status,
			    const char *reason)
{
    msg_info("%s: to=<%s>, relay=none, delay=%ld, delays=%ld/%ld/0/0, dsn=%s, status=%s (%s)",
	     msg->id, msg->rcpts[i].address, qmgr_now() - msg->arrival_sec,
	     msg->active_sec - msg->arrival_sec, qmgr_now() - msg->active_sec, dsn, status, reason);
}

/* qmgr_qlog_entry - a log record for recipient i */
static void qmgr_qlog_entry(qlog_entry_t *e, const qmgr_message_t *msg, size_t i, const char *dsn,
			    const char *action, const char *reason)
{
    const qmgr_rcpt_t *r = msg->rcpts + i;

    memset(e, 0, sizeof(*e));
    e->rcpt = r->address;
    e->orcpt = r->orcpt ? r->orcpt : "";
    e->notify = r->notify ? r->notify : "";
    e->offset = (long long)r->offset;
    e->dsn = dsn;
    e->action = action;
    e->reason = reason;
    e->relay = "none";
    e->time = qmgr_now();
}

/* qmgr_message_defer_rcpt - qmgr defers a recipient itself */
void qmgr_message_defer_rcpt(qmgr_message_t *msg, size_t i, const char *dsn, const char *reason)
{
    qlog_entry_t e;
    const char *why;

    qmgr_qlog_entry(&e, msg, i, dsn, "delayed", reason);
    if (qlog_append(MAIL_QUEUE_DEFER, msg->id, &e, 0, &why) < 0)
	msg_warn("%s: %s", msg->id, why);
    msg->rcpts[i].state = QMGR_RCPT_DEFERRED;
    qmgr_log_status(msg, i, dsn, "deferred", reason);
}

/* qmgr_find_qf_rcpt - the file's recipient at offset, or -1 */
static long qmgr_find_qf_rcpt(const qfile_t *qf, off_t offset)
{
    for (size_t j = 0; j < qf->rcpt_count; j++)
	if (qf->rcpts[j].offset == offset)
	    return (long)j;
    return -1;
}

/* qmgr_message_bounce_rcpts - bounce log records, then done marks */
int qmgr_message_bounce_rcpts(qmgr_message_t *msg, const size_t *idx, size_t n, const char *dsn,
			      const char *const *reasons)
{
    str_t *path = str_new(100);
    qfile_t *qf = NULL;
    qlog_entry_t e;
    const char *why;
    long j = 0; /* set before any read: qlog_append may fail first */
    int ret = 0;

    if (qfile_open(qfile_abspath(path, MAIL_QUEUE_ACTIVE, msg->id), 1, &qf, &why) != QFILE_OK) {
	msg_warn("%s: cannot update queue file: %s", msg->id, why);
	str_free(&path);
	return -1;
    }
    for (size_t k = 0; k < n && ret == 0; k++) {
	size_t i = idx[k];

	qmgr_qlog_entry(&e, msg, i, dsn, "failed", reasons[k]);
	if (qlog_append(MAIL_QUEUE_BOUNCE, msg->id, &e, 1, &why) < 0 ||
	    (j = qmgr_find_qf_rcpt(qf, msg->rcpts[i].offset)) < 0 ||
	    qfile_rcpt_done(qf, (size_t)j, &why) < 0) {
	    msg_warn("%s: %s", msg->id, j < 0 ? "recipient record not found" : why);
	    ret = -1;
	    break;
	}
	msg->rcpts[i].state = QMGR_RCPT_DONE;
	qmgr_log_status(msg, i, dsn, "bounced", reasons[k]);
    }
    qfile_close(&qf);
    str_free(&path);
    return ret;
}

/* qmgr_transport_ok - a transport name that can name a socket */
static int qmgr_transport_ok(const char *name)
{
    size_t n = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-");

    return n > 0 && n <= 64 && name[n] == 0;
}

typedef struct qmgr_group {
    char *transport;
    char *nexthop;
    size_t *idx;
    size_t count;
} qmgr_group_t;

/* qmgr_group_add - put recipient i into the group for transport/nexthop */
static void qmgr_group_add(qmgr_group_t **groups, size_t *ngroups, const char *transport,
			   const char *nexthop, size_t i, size_t max)
{
    qmgr_group_t *g = NULL;

    for (size_t k = 0; k < *ngroups && g == NULL; k++)
	if (strcmp((*groups)[k].transport, transport) == 0 &&
	    strcmp((*groups)[k].nexthop, nexthop) == 0)
	    g = *groups + k;
    if (g == NULL) {
	*groups = mr_reallocarray(*groups, *ngroups + 1, sizeof(**groups));
	g = *groups + (*ngroups)++;
	g->transport = mr_strdup(transport);
	g->nexthop = mr_strdup(nexthop);
	g->idx = mr_calloc(max, sizeof(size_t));
	g->count = 0;
    }
    g->idx[g->count++] = i;
}

/* qmgr_route_one - resolve recipient i (or apply the content filter) */
static void qmgr_route_one(qmgr_message_t *msg, size_t i, const char *filter, resolve_reply_t *rr,
			   qmgr_group_t **groups, size_t *ngroups)
{
    const char *why;
    str_t *reason;

    if (filter) {
	const char *colon = strchr(filter, ':');

	str_setn(rr->transport, filter, colon ? (size_t)(colon - filter) : strlen(filter));
	str_set(rr->nexthop, colon ? colon + 1 : "");
    } else if (resolve_addr(msg->rcpts[i].address, rr, &why) < 0) {
	reason = str_new(100);
	str_printf(reason, "address resolution failed: %s", why);
	qmgr_message_defer_rcpt(msg, i, "4.3.0", str_data(reason));
	str_free(&reason);
	return;
    }
    if (strcmp(str_data(rr->transport), "error") == 0) {
	const char *text =
	    *str_data(rr->nexthop) ? str_data(rr->nexthop) : "mail for this address is refused";

	(void)qmgr_message_bounce_rcpts(msg, &i, 1, "5.0.0", &text);
	return;
    }
    if (!qmgr_transport_ok(str_data(rr->transport))) {
	qmgr_message_defer_rcpt(msg, i, "4.3.5", "mail transport unavailable");
	return;
    }
    qmgr_group_add(groups, ngroups, str_data(rr->transport), str_data(rr->nexthop), i,
		   msg->rcpt_count);
}

/* qmgr_message_route - every pending recipient into a destination queue */
static void qmgr_message_route(qmgr_message_t *msg, const qfile_t *qf)
{
    const char *filter = attr_get(qf->attrs, "content_filter");
    qmgr_group_t *groups = NULL;
    size_t ngroups = 0;
    resolve_reply_t rr;

    if (filter && *filter == 0)
	filter = NULL;
    resolve_reply_init(&rr);
    for (size_t i = 0; i < msg->rcpt_count; i++)
	qmgr_route_one(msg, i, filter, &rr, &groups, &ngroups);
    resolve_reply_free(&rr);
    msg->refs++; /* hold the message while queueing */
    for (size_t k = 0; k < ngroups; k++) {
	qmgr_sched_add(msg, groups[k].transport, groups[k].nexthop, groups[k].idx, groups[k].count);
	mr_free(groups[k].transport);
	mr_free(groups[k].nexthop);
	mr_free(groups[k].idx);
    }
    mr_free(groups);
    qmgr_message_release(msg);
}

/* qmgr_set_aside - a file that does not parse goes to corrupt/ */
static void qmgr_set_aside(const char *id, const char *problem)
{
    const char *why;

    if (qfile_move(id, MAIL_QUEUE_ACTIVE, MAIL_QUEUE_CORRUPT, &why) < 0)
	msg_warn("%s: corrupt queue file (%s); cannot move to corrupt: %s", id, problem, why);
    else
	msg_warn("%s: corrupt queue file (%s) moved to corrupt", id, problem);
}

/* qmgr_backoff - seconds until the next attempt: the message's age,
 * kept between minimal_backoff_time and maximal_backoff_time (so the
 * interval roughly doubles per attempt) */
static long qmgr_backoff(long arrival)
{
    long lo = config_time("minimal_backoff_time"), hi = config_time("maximal_backoff_time");
    long age = qmgr_now() - arrival;

    if (hi < lo)
	hi = lo;
    return age < lo ? lo : age > hi ? hi : age;
}

/* qmgr_defer_file - active/ -> deferred/ with mtime = next attempt */
static void qmgr_defer_file(const char *id, long arrival)
{
    str_t *path = str_new(100);
    struct timespec ts[2];
    const char *why;

    ts[0].tv_sec = ts[1].tv_sec = qmgr_now() + qmgr_backoff(arrival);
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
    if (utimensat(AT_FDCWD, qfile_abspath(path, MAIL_QUEUE_ACTIVE, id), ts, 0) < 0)
	msg_warn("%s: set retry time: %m", id);
    if (qfile_move(id, MAIL_QUEUE_ACTIVE, MAIL_QUEUE_DEFERRED, &why) < 0)
	msg_warn("%s: %s", id, why);
    str_free(&path);
}

/* qmgr_rescan - look at incoming/ again (after a skipped message) */
static void qmgr_rescan(int unused_fd, int event, void *context)
{
    qmgr_trigger_scan();
}

/*
 * qmgr_busy_elsewhere - an agent started by an earlier qmgr still holds
 * the file (its shared lock; see deliver_request.h): leave the message
 * until it is done, or a recipient it is delivering would be handed out
 * a second time. Back to incoming/, another look in a second.
 */
static void qmgr_busy_elsewhere(const char *id)
{
    const char *why;

    msg_info("%s: skipped, still being delivered", id);
    if (qfile_move(id, MAIL_QUEUE_ACTIVE, MAIL_QUEUE_INCOMING, &why) < 0)
	msg_warn("%s: %s", id, why);
    event_request_timer(qmgr_rescan, NULL, 1000);
}

/* qmgr_message_load - read active/ID and queue its recipients */
void qmgr_message_load(const char *id)
{
    str_t *path = str_new(100);
    qfile_t *qf = NULL;
    const char *why;
    int st;

    st = qfile_open(qfile_abspath(path, MAIL_QUEUE_ACTIVE, id), 0, &qf, &why);
    str_free(&path);
    if (st == QFILE_MISSING)
	return;
    if (st == QFILE_CORRUPT) {
	qmgr_set_aside(id, why);
	return;
    }
    if (st != QFILE_OK) {
	msg_warn("%s: cannot read queue file: %s", id, why);
	qmgr_defer_file(id, qmgr_now());
	return;
    }
    if (flock(qf->fd, LOCK_EX | LOCK_NB) < 0) {
	qfile_close(&qf);
	qmgr_busy_elsewhere(id);
	return;
    }
    /* the line log tools (pflogsumm, mailgraph) count messages by */
    msg_info("%s: from=<%s>, size=%lld, nrcpt=%zu (queue active)", id, qf->sender ? qf->sender : "",
	     qf->size >= 0 ? qf->size : (long long)qf->file_size, qf->rcpt_count);
    qmgr_message_route(qmgr_message_new(id, qf), qf);
    qfile_close(&qf);
}

typedef struct qmgr_reasons {
    qmgr_message_t *msg;
    char **reasons; /* per recipient: last defer reason */
} qmgr_reasons_t;

/* qmgr_reason_fn - remember the last defer reason per recipient */
static int qmgr_reason_fn(const qlog_entry_t *e, void *context)
{
    qmgr_reasons_t *r = context;

    for (size_t i = 0; i < r->msg->rcpt_count; i++)
	if (r->msg->rcpts[i].offset == e->offset &&
	    strcmp(r->msg->rcpts[i].address, e->rcpt) == 0) {
	    mr_free(r->reasons[i]);
	    r->reasons[i] = mr_strdup(e->reason);
	}
    return 0;
}

/* qmgr_message_expire - bounce every deferred recipient: 0 ok, -1 */
static int qmgr_message_expire(qmgr_message_t *msg)
{
    qmgr_reasons_t r = {msg, mr_calloc(msg->rcpt_count, sizeof(char *))};
    size_t *idx = mr_calloc(msg->rcpt_count, sizeof(size_t)), n = 0;
    char **texts = mr_calloc(msg->rcpt_count, sizeof(char *));
    const char *why;
    int ret;

    (void)qlog_walk(MAIL_QUEUE_DEFER, msg->id, qmgr_reason_fn, &r, &why);
    for (size_t i = 0; i < msg->rcpt_count; i++) {
	if (msg->rcpts[i].state != QMGR_RCPT_DEFERRED)
	    continue;
	texts[n] = mr_format("message expired after %ld seconds in the queue%s%s",
			     qmgr_now() - msg->arrival_sec, r.reasons[i] ? ": " : "",
			     r.reasons[i] ? r.reasons[i] : "");
	idx[n++] = i;
    }
    ret = qmgr_message_bounce_rcpts(msg, idx, n, "5.4.7", (const char *const *)texts);
    for (size_t i = 0; i < msg->rcpt_count; i++) {
	mr_free(r.reasons[i]);
	mr_free(texts[i]);
    }
    mr_free(r.reasons);
    mr_free(texts);
    mr_free(idx);
    return ret;
}

/* qmgr_expired - has the message outlived its queue lifetime? */
static int qmgr_expired(const qmgr_message_t *msg)
{
    long life = config_time(*msg->sender ? "maximal_queue_lifetime" : "bounce_queue_lifetime");

    return qmgr_now() - msg->arrival_sec >= life;
}

/* qmgr_remove - every recipient done: notices, then the file goes */
static void qmgr_remove(qmgr_message_t *msg)
{
    if (qmgr_bounce_flush(msg) < 0) {
	qmgr_defer_file(msg->id, msg->arrival_sec);
	return;
    }
    qmgr_unlink(msg->id);
}

/* qmgr_message_finish - the last delivery ended: decide the file's fate */
static void qmgr_message_finish(qmgr_message_t *msg)
{
    int deferred = 0;
    long warn = config_time("delay_warning_time");

    if (msg->corrupt) {
	qmgr_set_aside(msg->id, "a delivery agent found it corrupt");
	qmgr_message_free(msg);
	return;
    }
    for (size_t i = 0; i < msg->rcpt_count; i++)
	if (msg->rcpts[i].state == QMGR_RCPT_DEFERRED)
	    deferred = 1;
    if (deferred && qmgr_expired(msg) && qmgr_message_expire(msg) == 0)
	deferred = 0;
    if (deferred) {
	if (warn > 0 && !msg->warned && qmgr_now() - msg->arrival_sec >= warn)
	    qmgr_bounce_delay_warning(msg);
	qmgr_defer_file(msg->id, msg->arrival_sec);
    } else {
	qmgr_remove(msg);
    }
    qmgr_message_free(msg);
}

/* qmgr_message_release - one entry done; the last one finishes msg */
void qmgr_message_release(qmgr_message_t *msg)
{
    if (--msg->refs == 0)
	qmgr_message_finish(msg);
}
