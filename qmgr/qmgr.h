/*
 * qmgr.h - what the parts of the queue manager share: messages in the
 * active queue, their recipients, and the scheduler's transports,
 * destinations and entries.
 *
 *   qmgr.c          main, wake-ups, queue scans, restart recovery
 *   qmgr_message.c  loading a message, resolving recipients, finishing it
 *                   (remove, defer with back-off, expire)
 *   qmgr_sched.c    transports, destinations, concurrency, dispatch
 *   qmgr_deliver.c  one delivery: the agent connection on the event loop
 *   qmgr_bounce.c   non-delivery, delay and verification notices
 *   qmgr_unlink.c   removing finished files in a helper thread
 *   qmgr_flow.c     flow tokens for intake
 */
#ifndef MR_QMGR_H
#define MR_QMGR_H

#include <stddef.h>
#include <sys/types.h>

#include "queue/deliver_request.h"
#include "queue/qfile.h"

/* Recipient states */
#define QMGR_RCPT_PENDING 0  /* waiting in a destination queue */
#define QMGR_RCPT_BUSY 1     /* with an agent */
#define QMGR_RCPT_DONE 2     /* sent or bounced: marked in the file */
#define QMGR_RCPT_DEFERRED 3 /* try again later */

/* Trace flags (queue-file attribute trace_flags) */
#define QMGR_TRACE_VERIFY 1 /* sendmail -bv: report, do not deliver */
#define QMGR_TRACE_RECORD 2 /* sendmail -v: deliver and report */

typedef struct qmgr_rcpt {
    char *address;
    char *orcpt;  /* NULL if none */
    char *notify; /* NULL if none */
    off_t offset;
    int state; /* QMGR_RCPT_* */
} qmgr_rcpt_t;

typedef struct qmgr_message {
    char id[QID_BUFSIZE];
    char *sender;
    char *envid; /* NULL if none */
    char *ret;   /* NULL if none */
    long long size;
    long arrival_sec, arrival_usec;
    long active_sec, active_usec; /* when it entered active/ */
    int trace_flags;              /* QMGR_TRACE_* */
    int warned;                   /* a delay warning was sent */
    int corrupt;                  /* an agent found the file corrupt */
    qmgr_rcpt_t *rcpts;
    size_t rcpt_count;
    int refs;                                   /* entries queued or with an agent */
    struct qmgr_message *hnext;                 /* hash chain */
    int flow_held;                              /* holds a flow slot (qmgr_flow.c) */
    long long flow_since;                       /* since when (event_now_ms) */
    struct qmgr_message *flow_prev, *flow_next; /* holders, oldest first */
} qmgr_message_t;

typedef struct qmgr_transport qmgr_transport_t;
typedef struct qmgr_dest qmgr_dest_t;

/* A batch of one message's recipients for one destination */
typedef struct qmgr_entry {
    qmgr_message_t *msg;
    qmgr_dest_t *dest;
    size_t *idx; /* indices into msg->rcpts */
    size_t count;
    struct qmgr_entry *next;
} qmgr_entry_t;

struct qmgr_dest {
    char *nexthop;
    char *rcpt; /* the recipient, with a recipient limit of 1; else "" */
    qmgr_transport_t *tp;
    qmgr_entry_t *head, *tail;
    size_t queued;                 /* entries waiting */
    int busy;                      /* deliveries under way */
    double window;                 /* concurrency allowed now */
    struct qmgr_dest *next, *prev; /* in tp->dests */
};

struct qmgr_transport {
    char *name;
    int maxproc; /* agents at once */
    int busy;
    int rcpt_limit;     /* recipients per request */
    int conc_limit;     /* largest window of a destination */
    int batch_limit;    /* entries (messages) per connection */
    qmgr_dest_t *dests; /* ring; the head is served next */
    struct qmgr_transport *next;
};

/* qmgr.c */
extern int qmgr_active_count; /* messages in memory */
/* qmgr_now - wall-clock seconds */
long qmgr_now(void);
/* qmgr_trigger_scan - scan incoming/ and start deliveries */
void qmgr_trigger_scan(void);
/* qmgr_room_made - a message left memory: scan incoming/ again when
 * files waited there for room and enough is free */
void qmgr_room_made(void);

/* qmgr_message.c */
/* qmgr_message_find - the in-memory message with this ID, or NULL */
qmgr_message_t *qmgr_message_find(const char *id);
/* qmgr_message_load - read active/ID, resolve, queue its recipients */
void qmgr_message_load(const char *id);
/* qmgr_message_release - one entry of msg finished; at the last one,
 * finish the message (remove, defer or expire) */
void qmgr_message_release(qmgr_message_t *msg);
/* qmgr_message_defer_rcpt - qmgr itself defers a recipient (table
 * trouble, no agent): defer log record */
void qmgr_message_defer_rcpt(qmgr_message_t *msg, size_t i, const char *dsn, const char *reason);
/* qmgr_message_bounce_rcpts - qmgr itself bounces recipients (error
 * transport, expiry): bounce log records, done marks; 0 ok, -1 */
int qmgr_message_bounce_rcpts(qmgr_message_t *msg, const size_t *idx, size_t n, const char *dsn,
			      const char *const *reasons);

/* qmgr_sched.c */
#define QMGR_BATCH_MAX DELIVER_MAX_BATCH /* entries in one delivery */
/* qmgr_sched_init - per-transport limits from master.conf */
void qmgr_sched_init(void);
/* qmgr_sched_add - queue recipients idx[0..n) of msg for transport/nexthop */
void qmgr_sched_add(qmgr_message_t *msg, const char *transport, const char *nexthop,
		    const size_t *idx, size_t n);
/* qmgr_sched_run - start deliveries while limits allow */
void qmgr_sched_run(void);
/* qmgr_sched_done - a delivery of entry ended; ok says whether the
 * destination answered (for its concurrency window) */
void qmgr_sched_done(qmgr_entry_t *entry, int ok);

/* qmgr_deliver.c */
/* qmgr_deliver_start - hand entry to its transport's agent */
void qmgr_deliver_start(qmgr_entry_t *entry);

/* qmgr_unlink.c */
/* qmgr_unlink_init - start the removal thread (else removals are inline) */
void qmgr_unlink_init(void);
/* qmgr_unlink - remove active/ID, then its delivery logs; log "removed"
 * (at once, or when the removal thread has done it) */
void qmgr_unlink(const char *id);

/* qmgr_flow.c */
/* qmgr_flow_refill - top master's token pipe up to the free slots */
void qmgr_flow_refill(void);
/* qmgr_flow_hold - a message taken from incoming/ holds a slot (until it
 * leaves memory or for in_flow_hold_time) */
void qmgr_flow_hold(qmgr_message_t *msg);
/* qmgr_flow_release - the message leaves memory: free its slot */
void qmgr_flow_release(qmgr_message_t *msg);

/* qmgr_bounce.c */
/* qmgr_bounce_flush - send the notices the bounce log of msg calls for;
 * 0 done (or nothing to send), -1 try again later */
int qmgr_bounce_flush(qmgr_message_t *msg);
/* qmgr_bounce_delay_warning - tell the sender that mail is delayed */
void qmgr_bounce_delay_warning(qmgr_message_t *msg);

#endif
