/*
 * deliver_request.h - the delivery request protocol between qmgr and the
 * delivery agents (local, smtp, lmtp, ...), both sides.
 *
 * An agent is a single_server daemon listening on private/TRANSPORT. One
 * connection carries one request, or a batch (below):
 *
 *   agent: protocol=delivery                            (handshake)
 *   qmgr:  queue_name=active  queue_id=ID  transport=T  nexthop=H
 *          sender=S  size=N  arrival_time=SEC.USEC  active_time=SEC.USEC
 *          envid=E  ret=FULL|HDRS|  flags=N  rcpt_count=K
 *          rcpt.I=ADDR  orcpt.I=TYPE;ADDR  notify.I=LIST  offset.I=N
 *          (I = 0 .. K-1)                               (one list)
 *   agent: status.I=sent|deferred|bounced  dsn.I=X.Y.Z  reason.I=TEXT
 *          (for every I)  corrupt=1 (see below)         (one list)
 *
 *
 * Batch: for a transport whose agent reads batches (local; qmgr's
 * TRANSPORT_destination_batch_limit), qmgr may send several requests,
 * each for another message, back to back after the one handshake; every
 * request but the last carries more=1. The agent reads them all before
 * it answers any (deliver_request_next), and every reply carries the
 * queue_id of its request, so replies may come in any order (a request
 * refused by the checks is answered at once). An agent that ignores
 * more answers the first request and closes: qmgr counts the others as
 * deferred (lost connection), so a batch sent to the wrong agent costs a
 * retry, never a recipient.
 *
 * The agent opens the queue file itself (read-write) and holds a shared
 * flock(2) on it until the reply: a qmgr restarted meanwhile sees the
 * lock and leaves the message alone until the agents of the previous
 * qmgr are done with it, so a recipient is not handed out twice. A
 * request read after its qmgr died (deliver_request_client_gone, checked
 * once the locks are held) may have been taken up by the next qmgr
 * before the lock: the agent abandons it, delivering nothing. It then
 * delivers, and for
 * each recipient calls one of deliver_sent / deliver_bounced /
 * deliver_deferred, which do the bookkeeping before the reply:
 *   sent     mark the recipient done in the queue file (R -> D, fsync),
 *            log "ID: to=<..>, relay=.., delay=.., delays=a/b/c/d,
 *            dsn=2.X.X, status=sent (..)"
 *   bounced  append a record to bounce/ID (fsync'd, lib/queue/qlog.h),
 *            then mark done, log status=bounced
 *   deferred append to defer/ID, log status=deferred (stays queued)
 * qmgr only reads the reply to schedule: every durable fact is already
 * on disk when it arrives, so a crash of either side at any point loses
 * no recipient and delivers none twice that was marked done.
 *
 * Corrupt: when the queue file fails the reader's checks at the agent
 * (its open, or the content reader at END: the file's seal, docs/queue.md)
 * the recipients not yet answered are deferred and the reply carries
 * corrupt=1; qmgr then moves the file to corrupt/ once the message's
 * deliveries are over, instead of trying it again.
 *
 * With flags & DELIVER_FLAG_VERIFY (sendmail -bv), the agent must not
 * deliver: it decides what would happen and calls deliver_sent (the
 * library then logs status=deliverable and appends action=deliverable to
 * bounce/ID, from which qmgr makes the report) or deliver_bounced
 * (action=undeliverable, likewise); both mark the recipient done.
 *
 * Trust: both sides treat the other as possibly compromised. The agent
 * side checks every attribute for presence and bounds (lengths, counts,
 * digits, no control characters), accepts only queue_name=active and a
 * well-formed queue ID, opens the file without following links (as root:
 * only a file owned by mail_owner), and requires each offset.I to be the
 * offset of a recipient record of that very file whose address is
 * rcpt.I; offsets may not repeat. A recipient already marked done is not
 * handed to the agent again: it is answered "sent" at once. A request
 * that fails any check is answered with every recipient deferred
 * (4.3.5) and logged. The qmgr side accepts a reply status only from the
 * three words and a dsn whose class agrees with it (2/4/5); anything
 * else, or a missing entry, counts as deferred (4.3.0).
 */
#ifndef MR_DELIVER_REQUEST_H
#define MR_DELIVER_REQUEST_H

#include <stddef.h>
#include <sys/types.h>

#include "queue/qfile.h"
#include "util/attr.h"
#include "util/str.h"
#include "util/stream.h"

/* Request flags */
#define DELIVER_FLAG_VERIFY (1 << 0) /* report what would happen, do not deliver */

/* Per-recipient outcomes */
#define DELIVER_STAT_NONE 0 /* not decided yet (agent side) */
#define DELIVER_STAT_SENT 1
#define DELIVER_STAT_DEFERRED 2
#define DELIVER_STAT_BOUNCED 3

/* Bounds (both sides) */
#define DELIVER_MAX_RCPT 200    /* recipients in one request */
#define DELIVER_MAX_ADDR 1024   /* bytes of an address, orcpt */
#define DELIVER_MAX_NAME 255    /* transport, nexthop, envid, notify */
#define DELIVER_MAX_REASON 1000 /* bytes of a reason kept and sent */
#define DELIVER_MAX_BATCH 100   /* requests in one connection */

/* ------------------------------------------------------------------ */
/* Agent side */

typedef struct deliver_rcpt {
    const char *address; /* rcpt.I, equal to the queue file's */
    const char *orcpt;   /* "" if none */
    const char *notify;  /* "" if none */
    off_t offset;        /* of its record in the queue file */
    size_t index;        /* I in the request and the reply */
    size_t qf_index;     /* index in qf->rcpts */
    int status;          /* DELIVER_STAT_*, set by deliver_* */
    char dsn[16];
    str_t *reason;
} deliver_rcpt_t;

typedef struct deliver_request {
    const char *queue_name; /* "active" */
    const char *queue_id;
    const char *transport;
    const char *nexthop;
    const char *sender; /* "" for the null sender */
    const char *envid;  /* "" if none */
    const char *ret;    /* "FULL", "HDRS" or "" */
    long long size;
    double arrival_time;   /* seconds, with fraction */
    double active_time;    /* when qmgr took it into active/ */
    double recv_time;      /* when the agent got the request */
    double conn_time;      /* deliver_request_connected, or 0 */
    int flags;             /* DELIVER_FLAG_* */
    int more;              /* another request of the batch follows */
    qfile_t *qf;           /* the queue file, open read-write */
    deliver_rcpt_t *rcpts; /* the recipients to deliver */
    size_t rcpt_count;
    /* private */
    attr_list_t *attrs; /* values above point into this */
    size_t total;       /* rcpt_count of the request */
    int *answers;       /* per I: preset outcome (done) */
    int corrupt;        /* the queue file failed its checks here */
} deliver_request_t;

/* deliver_request_read - send the handshake, read and check one request,
 * open the queue file. Returns 1 with *req_r (deliver what is in
 * rcpts[0..rcpt_count), then call deliver_request_done), 0 if qmgr
 * closed the connection without a request, -1 if the request was bad or
 * the queue file cannot be used (already answered and logged: just
 * return), DELIVER_REFUSED_MORE as -1 for a request that said more=1:
 * the next request of its batch follows (deliver_request_next). */
#define DELIVER_REFUSED_MORE (-2)
int deliver_request_read(stream_t *client, deliver_request_t **req_r);

/* deliver_request_next - the next request of a batch (the previous one
 * had more set): read and checked like the first, no handshake. Returns
 * as deliver_request_read. */
int deliver_request_next(stream_t *client, deliver_request_t **req_r);

/* deliver_request_abandon - let go of a request without delivering or
 * answering anything (qmgr went away before the agent held the queue
 * file's lock: a new qmgr may have taken the message up); sets *reqp to
 * NULL */
void deliver_request_abandon(deliver_request_t **reqp);

/* deliver_request_client_gone - 1 if qmgr has closed its end (its
 * process died): nothing more was to come from it on this connection */
int deliver_request_client_gone(stream_t *client);

/* deliver_request_connected - note that the connection to the next hop
 * is set up (splits the delays= figures c and d); optional */
void deliver_request_connected(deliver_request_t *req);

/*
 * Outcomes for rcpts[i]. relay names where it went ("local",
 * "mx.example.com[192.0.2.1]:25", "none"); dsn is "X.Y.Z" with a class
 * that matches (2 sent, 4 deferred, 5 bounced: anything else is a caller
 * bug); reason is text for logs and notices. Each returns 0, or -1 when
 * the bookkeeping failed (queue file or log not writable): the recipient
 * is then reported deferred, never lost.
 */
int deliver_sent(deliver_request_t *req, size_t i, const char *relay, const char *dsn,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int deliver_bounced(deliver_request_t *req, size_t i, const char *relay, const char *dsn,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
int deliver_deferred(deliver_request_t *req, size_t i, const char *relay, const char *dsn,
		     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* deliver_request_done - reply (recipients left undecided are deferred
 * with 4.3.0), close the queue file, free; sets *reqp to NULL. Returns 0,
 * or -1 if the reply could not be written (qmgr will read nothing and
 * treat the lot as deferred; what is on disk stays true). */
int deliver_request_done(stream_t *client, deliver_request_t **reqp);

/* ------------------------------------------------------------------ */
/* qmgr side */

typedef struct deliver_job_rcpt {
    const char *address;
    const char *orcpt;  /* NULL or "" if none */
    const char *notify; /* NULL or "" if none */
    off_t offset;
} deliver_job_rcpt_t;

typedef struct deliver_job {
    const char *queue_id;
    const char *transport;
    const char *nexthop;
    const char *sender;
    const char *envid; /* NULL or "" */
    const char *ret;   /* NULL or "" */
    long long size;
    long arrival_sec, arrival_usec;
    long active_sec, active_usec;
    int flags;
    int more; /* another request of the batch follows */
    const deliver_job_rcpt_t *rcpts;
    size_t rcpt_count; /* 1 .. DELIVER_MAX_RCPT */
} deliver_job_t;

typedef struct deliver_result {
    int status; /* DELIVER_STAT_SENT/DEFERRED/BOUNCED */
    char dsn[16];
    char *reason; /* bounded; free with deliver_results_free */
} deliver_result_t;

/* deliver_job_encode - the request list for a job */
void deliver_job_encode(attr_list_t *out, const deliver_job_t *job);

/* deliver_reply_decode - per-recipient outcomes from an agent's reply
 * list into results[0..count) (anything missing or malformed: deferred,
 * 4.3.0, with a reason that says so). Returns how many entries were
 * well-formed. */
size_t deliver_reply_decode(const attr_list_t *reply, deliver_result_t *results, size_t count);

/* deliver_reply_corrupt - 1 if the agent found the queue file corrupt
 * (corrupt=1), else 0 */
int deliver_reply_corrupt(const attr_list_t *reply);

/* deliver_reply_queue_id - the queue_id a reply names, or NULL (an
 * agent that answers one request per connection need not name it) */
const char *deliver_reply_queue_id(const attr_list_t *reply);

/* deliver_results_fail - set every result to deferred with dsn and reason
 * (agent unreachable, died, timed out) */
void deliver_results_fail(deliver_result_t *results, size_t count, const char *dsn,
			  const char *reason);

/* deliver_results_free - free the reasons (not the array) */
void deliver_results_free(deliver_result_t *results, size_t count);

/* deliver_call - blocking client: connect to the agent's socket (queue-
 * relative path such as "private/local"), check the handshake, send the
 * job, read the reply into results. Failures before a reply become
 * deferred results. Returns 0 if a reply was read, -1 if not (results
 * are filled either way). For tools and tests; qmgr uses the pieces
 * above under its event loop. */
int deliver_call(const char *socket_path, const deliver_job_t *job, deliver_result_t *results,
		 int timeout);

/* deliver_attr_add_i - add NAME.I=value (value NULL: empty) */
void deliver_attr_add_i(attr_list_t *l, const char *name, size_t i, const char *value);

/* deliver_dsn_valid - "X.Y.Z" with class 2, 4 or 5 and 1-3 digit parts */
int deliver_dsn_valid(const char *dsn);

#endif
