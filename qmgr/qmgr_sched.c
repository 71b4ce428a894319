/*
 * qmgr_sched.c - the scheduler: per transport, a ring of destination
 * queues, each a FIFO of entries (a batch of one message's recipients,
 * at most the transport's recipient limit).
 *
 * Per-transport limits: TRANSPORT_destination_recipient_limit and
 * TRANSPORT_destination_concurrency_limit when the parameter is declared
 * for that transport (local, smtp, lmtp: params_qmgr.c), else
 * default_destination_recipient_limit and
 * default_destination_concurrency_limit. A destination is the next hop;
 * with a recipient limit of 1 it is the recipient (Postfix's rule), so
 * the concurrency limit then bounds the deliveries to one address - for
 * local, to one mailbox: local_destination_concurrency_limit 2 keeps at
 * most two processes writing one Maildir at once, instead of one per
 * SMTP session, all contending for its directories' locks.
 *
 * Batches: TRANSPORT_destination_batch_limit (declared for local only:
 * its agent reads batches, deliver_request.h) lets one delivery take up
 * to that many entries of one destination, one per message, in one
 * connection; they hold one place in the window and in the transport's
 * process limit. local writes their Maildir files and then flushes new/
 * once for all of them (docs/local.md). An entry waits for no batch:
 * a delivery starts as soon as the limits allow, with what is queued.
 *
 * Limits: a transport runs at most default_process_limit agents at once
 * (0: no limit); master starts at most the service's master.conf maxproc,
 * so requests beyond that wait in the agent socket's listen queue. A destination runs
 * at most its window of deliveries at once. The window starts at
 * initial_destination_concurrency (at most the concurrency limit), grows
 * by one for each delivery the destination answered (slow start), up to
 * the concurrency limit, and is halved (not below 1)
 * when a delivery fails as a whole (agent or next hop unreachable, every
 * recipient deferred). Destinations take turns (the ring), so a slow or
 * dead destination holds at most its window of agents and never starves
 * the others.
 */
#include <stdio.h>
#include <string.h>

#include "global/config.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "qmgr.h"

#define QMGR_UNLIMITED 10000 /* maxproc 0 */

static qmgr_transport_t *qmgr_transports;

/* qmgr_sched_init - nothing to prepare (limits are read per transport) */
void qmgr_sched_init(void)
{
}

/*
 * qmgr_maxproc - agents at once for a transport: default_process_limit
 * (0: no limit). master.conf's maxproc for the agent's service limits
 * the processes master starts; requests beyond that wait in the socket's
 * listen queue until an agent is free, under delivery_time_limit.
 */
static int qmgr_maxproc(const char *name)
{
    int def = (int)config_int("default_process_limit", 0, 100000);

    return def > 0 ? def : QMGR_UNLIMITED;
}

/* qmgr_transport_limit - TRANSPORT_WHAT when declared, else default_WHAT */
static int qmgr_transport_limit(const char *name, const char *what, int max)
{
    str_t *param = str_new(64);
    int value;

    str_printf(param, "%s_%s", name, what);
    if (config_find(str_data(param)) == NULL)
	str_printf(param, "default_%s", what);
    value = (int)config_int(str_data(param), 1, max);
    str_free(&param);
    return value;
}

/* qmgr_transport_batch - messages per connection to the agent:
 * TRANSPORT_destination_batch_limit where declared (an agent that reads
 * batches), else 1 */
static int qmgr_transport_batch(const char *name)
{
    str_t *param = str_new(64);
    int value = 1;

    str_printf(param, "%s_destination_batch_limit", name);
    if (config_find(str_data(param)) != NULL)
	value = (int)config_int(str_data(param), 1, QMGR_BATCH_MAX);
    str_free(&param);
    return value;
}

/* qmgr_transport_get - find or make the transport */
static qmgr_transport_t *qmgr_transport_get(const char *name)
{
    qmgr_transport_t *tp;

    for (tp = qmgr_transports; tp; tp = tp->next)
	if (strcmp(tp->name, name) == 0)
	    return tp;
    tp = mr_calloc(1, sizeof(*tp));
    tp->name = mr_strdup(name);
    tp->maxproc = qmgr_maxproc(name);
    tp->rcpt_limit = qmgr_transport_limit(name, "destination_recipient_limit", DELIVER_MAX_RCPT);
    tp->conc_limit = qmgr_transport_limit(name, "destination_concurrency_limit", 1000);
    tp->batch_limit = qmgr_transport_batch(name);
    tp->next = qmgr_transports;
    qmgr_transports = tp;
    return tp;
}

/* qmgr_dest_get - find or make the destination (at the ring's tail):
 * the next hop, or with a recipient limit of 1 the recipient as well */
static qmgr_dest_t *qmgr_dest_get(qmgr_transport_t *tp, const char *nexthop, const char *rcpt)
{
    qmgr_dest_t *d = tp->dests;
    int initial;

    if (tp->rcpt_limit > 1)
	rcpt = "";
    if (d) {
	do {
	    if (strcmp(d->nexthop, nexthop) == 0 && strcmp(d->rcpt, rcpt) == 0)
		return d;
	} while ((d = d->next) != tp->dests);
    }
    d = mr_calloc(1, sizeof(*d));
    d->nexthop = mr_strdup(nexthop);
    d->rcpt = mr_strdup(rcpt);
    d->tp = tp;
    initial = (int)config_int("initial_destination_concurrency", 1, 1000);
    d->window = (double)(initial < tp->conc_limit ? initial : tp->conc_limit);
    if (tp->dests == NULL) {
	d->next = d->prev = d;
	tp->dests = d;
    } else {
	d->next = tp->dests;
	d->prev = tp->dests->prev;
	d->prev->next = d;
	tp->dests->prev = d;
    }
    return d;
}

/* qmgr_dest_drop - forget an idle, empty destination */
static void qmgr_dest_drop(qmgr_dest_t *d)
{
    qmgr_transport_t *tp = d->tp;

    if (d->busy || d->head)
	return;
    if (d->next == d) {
	tp->dests = NULL;
    } else {
	d->prev->next = d->next;
	d->next->prev = d->prev;
	if (tp->dests == d)
	    tp->dests = d->next;
    }
    mr_free(d->nexthop);
    mr_free(d->rcpt);
    mr_free(d);
}

/* qmgr_sched_add - split recipients into entries of at most rcpt_limit */
void qmgr_sched_add(qmgr_message_t *msg, const char *transport, const char *nexthop,
		    const size_t *idx, size_t n)
{
    qmgr_transport_t *tp = qmgr_transport_get(transport);

    for (size_t off = 0; off < n; off += (size_t)tp->rcpt_limit) {
	qmgr_dest_t *d = qmgr_dest_get(tp, nexthop, msg->rcpts[idx[off]].address);
	qmgr_entry_t *e = mr_calloc(1, sizeof(*e));

	e->msg = msg;
	e->dest = d;
	e->count = n - off < (size_t)tp->rcpt_limit ? n - off : (size_t)tp->rcpt_limit;
	e->idx = mr_calloc(e->count, sizeof(size_t));
	memcpy(e->idx, idx + off, e->count * sizeof(size_t));
	if (d->tail)
	    d->tail->next = e;
	else
	    d->head = e;
	d->tail = e;
	d->queued++;
	msg->refs++;
    }
}

/* qmgr_dest_next - next destination of tp that may start a delivery */
static qmgr_dest_t *qmgr_dest_next(qmgr_transport_t *tp)
{
    qmgr_dest_t *d = tp->dests;

    if (d == NULL)
	return NULL;
    do {
	if (d->head && d->busy < (int)d->window) {
	    tp->dests = d->next; /* the next one goes first next time */
	    return d;
	}
    } while ((d = d->next) != tp->dests);
    return NULL;
}

/* qmgr_batch_take - the head entry of d and, up to the transport's batch
 * limit, the entries after it of other messages, linked by ->next */
static qmgr_entry_t *qmgr_batch_take(qmgr_dest_t *d)
{
    qmgr_entry_t *first = d->head, *last = first;
    int n = 1;

    while (n < d->tp->batch_limit && last->next != NULL) {
	qmgr_entry_t *e = last->next;
	int same = 0;

	for (qmgr_entry_t *b = first; b != e && !same; b = b->next)
	    same = b->msg == e->msg;
	if (same)
	    break; /* one request per message in a batch */
	last = e;
	n++;
    }
    if ((d->head = last->next) == NULL)
	d->tail = NULL;
    last->next = NULL;
    d->queued -= (size_t)n;
    return first;
}

/* qmgr_sched_run - start deliveries while the limits allow */
void qmgr_sched_run(void)
{
    for (qmgr_transport_t *tp = qmgr_transports; tp; tp = tp->next) {
	qmgr_dest_t *d;

	while (tp->busy < tp->maxproc && (d = qmgr_dest_next(tp)) != NULL) {
	    qmgr_entry_t *e = qmgr_batch_take(d);

	    d->busy++;
	    tp->busy++;
	    qmgr_deliver_start(e);
	}
    }
}

/* qmgr_sched_done - a delivery (one entry or a batch) ended: window
 * feedback, free the entries, release their messages */
void qmgr_sched_done(qmgr_entry_t *entry, int ok)
{
    qmgr_dest_t *d = entry->dest;
    double limit = (double)d->tp->conc_limit;
    qmgr_message_t *msgs[QMGR_BATCH_MAX];
    size_t n = 0;

    d->busy--;
    d->tp->busy--;
    if (ok)
	d->window = d->window + 1 > limit ? limit : d->window + 1;
    else
	d->window = d->window / 2 < 1 ? 1 : d->window / 2;
    while (entry) {
	qmgr_entry_t *next = entry->next;

	msgs[n++] = entry->msg;
	mr_free(entry->idx);
	mr_free(entry);
	entry = next;
    }
    qmgr_dest_drop(d);
    for (size_t i = 0; i < n; i++)
	qmgr_message_release(msgs[i]);
}
