/*
 * qmgr_flow.c - flow tokens for intake (global/mail_flow.h, docs/qmgr.md
 * "Flow control").
 *
 * A message taken from incoming/ holds one of in_flow_limit slots until
 * it leaves memory or has been in memory for in_flow_hold_time, whichever
 * comes first; qmgr keeps master's token pipe filled up to the free
 * slots. The time limit is what keeps one slow destination from slowing
 * every sender: mail that takes minutes to deliver (a server that answers
 * slowly on purpose, a host that times out) would otherwise keep its
 * slots for minutes and let intake through at one message per
 * in_flow_delay. After in_flow_hold_time a message no longer counts, so
 * at worst in_flow_limit messages per in_flow_hold_time get in beyond
 * what delivery finishes. Messages taken from deferred/ hold no slot:
 * they took no token.
 *
 * The holders are kept in a list, oldest first, so ageing them is a look
 * at its head, and one timer for the oldest.
 */
#include "global/config.h"
#include "global/mail_flow.h"
#include "util/event.h"
#include "qmgr.h"

static qmgr_message_t *qmgr_flow_head, *qmgr_flow_tail; /* holders, oldest first */
static long qmgr_flow_held;

/* qmgr_flow_refill - tokens for intake: in_flow_limit less the slots
 * held less the tokens not yet taken (spares are left to run out: every
 * message from smtpd or pickup takes one) */
void qmgr_flow_refill(void)
{
    long have, want;

    if (!mail_flow_enabled() || config_time("in_flow_delay") <= 0 || (have = mail_flow_count()) < 0)
	return;
    want = config_int("in_flow_limit", 1, 60000) - qmgr_flow_held - have;
    if (want > 0)
	(void)mail_flow_put(want);
}

/* qmgr_flow_unlink - take msg off the holders' list */
static void qmgr_flow_unlink(qmgr_message_t *msg)
{
    if (msg->flow_prev)
	msg->flow_prev->flow_next = msg->flow_next;
    else
	qmgr_flow_head = msg->flow_next;
    if (msg->flow_next)
	msg->flow_next->flow_prev = msg->flow_prev;
    else
	qmgr_flow_tail = msg->flow_prev;
    msg->flow_prev = msg->flow_next = NULL;
    msg->flow_held = 0;
    qmgr_flow_held--;
}

static void qmgr_flow_arm(void);

/* qmgr_flow_expire - timer: holders past in_flow_hold_time let go */
static void qmgr_flow_expire(int unused_fd, int event, void *context)
{
    long long limit = event_now_ms() - config_time("in_flow_hold_time") * 1000LL;

    while (qmgr_flow_head && qmgr_flow_head->flow_since <= limit)
	qmgr_flow_unlink(qmgr_flow_head);
    qmgr_flow_refill();
    qmgr_flow_arm();
}

/* qmgr_flow_arm - the timer for the oldest holder, if any */
static void qmgr_flow_arm(void)
{
    long long due;

    if (qmgr_flow_head == NULL)
	return;
    due = qmgr_flow_head->flow_since + config_time("in_flow_hold_time") * 1000LL - event_now_ms();
    event_request_timer(qmgr_flow_expire, NULL, due > 0 ? (long)due : 0);
}

/* qmgr_flow_hold - msg came from incoming/: it holds a slot */
void qmgr_flow_hold(qmgr_message_t *msg)
{
    if (msg->flow_held)
	return;
    msg->flow_held = 1;
    msg->flow_since = event_now_ms();
    msg->flow_prev = qmgr_flow_tail;
    msg->flow_next = NULL;
    if (qmgr_flow_tail)
	qmgr_flow_tail->flow_next = msg;
    else
	qmgr_flow_head = msg;
    qmgr_flow_tail = msg;
    qmgr_flow_held++;
    if (qmgr_flow_head == msg)
	qmgr_flow_arm();
}

/* qmgr_flow_release - msg leaves memory: its slot is free again */
void qmgr_flow_release(qmgr_message_t *msg)
{
    if (!msg->flow_held)
	return;
    qmgr_flow_unlink(msg);
    qmgr_flow_refill();
}
