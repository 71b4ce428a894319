/*
 * qlog.h - the per-message delivery logs: bounce/ID and defer/ID.
 *
 * Delivery agents append one record per recipient whose delivery failed
 * for good (bounce/ID) or for now (defer/ID). qmgr reads bounce/ID to make
 * the non-delivery notice (and, for address verification, the report),
 * and defer/ID for delay warnings and for the bounce when a message
 * expires; mailq (mailroom-queue -p/-j) shows the last defer reason of
 * each recipient.
 *
 * Format: a sequence of attribute lists (lib/util/attr.h: name=value
 * lines, %-escaped, an empty line ends a record), one per recipient event:
 *
 *     rcpt=ADDRESS          the recipient as queued
 *     orcpt=TYPE;ADDRESS    DSN original recipient (empty if none)
 *     notify=LIST           DSN NOTIFY (SUCCESS,DELAY,FAILURE | NEVER; empty)
 *     offset=N              offset of its record in the queue file
 *     dsn=X.Y.Z             enhanced status code
 *     action=WORD           failed | delayed | delivered | deliverable |
 *                           undeliverable | relayed | expanded (RFC 3464);
 *                           in defer/ID also warned (a delay notice was
 *                           sent) and member (local: one destination of
 *                           the list of the recipient at offset was
 *                           delivered, reason names it; local_member.c).
 *                           Both have an empty rcpt, so notices skip them
 *     reason=TEXT           what went wrong, for humans
 *     relay=TEXT            where it was tried ("none" if nowhere)
 *     time=SECONDS          when (Unix time)
 *
 * A reader skips names it does not know, so the format can grow. A record
 * is written with one write(2) on an O_APPEND descriptor, so records of
 * agents working on the same message at the same time do not interleave;
 * a torn last record (crash mid-write) is ignored by the reader. The bounce
 * log is fsync'd before the recipient is marked done in the queue file, so
 * a bounce is never lost (after a crash in between, the recipient is tried
 * again and may be logged twice: readers keep the last record per
 * recipient). The defer log is not fsync'd: losing a reason only makes a
 * notice less specific.
 *
 * Files are created mode 0600 and owned by mail_owner: a caller running
 * as root (local delivery) has its effective ids switched to mail_owner
 * for the open, so it never creates a root file (or hash directory) in
 * a directory mail_owner can write, and never follows a link planted there.
 */
#ifndef MR_QLOG_H
#define MR_QLOG_H

#include <sys/types.h>

#include "util/attr.h"

typedef struct qlog_entry {
    const char *rcpt;
    const char *orcpt;  /* "" if none */
    const char *notify; /* "" if none */
    long long offset;   /* -1 if unknown */
    const char *dsn;
    const char *action;
    const char *reason;
    const char *relay; /* "" if none */
    long time;
} qlog_entry_t;

#define QLOG_MAX_ENTRIES 100000 /* records a reader accepts per file */

/* qlog_append - append one record to QUEUE/.../ID (queue is
 * MAIL_QUEUE_BOUNCE or MAIL_QUEUE_DEFER); with sync, fsync it. Returns 0,
 * or -1 with *error_r (static storage). */
int qlog_append(const char *queue, const char *id, const qlog_entry_t *e, int sync,
		const char **error_r);

/* qlog_walk_fn - called per record; return 0 to go on, non-zero to stop */
typedef int (*qlog_walk_fn)(const qlog_entry_t *e, void *context);

/* qlog_walk - call fn for each complete record of QUEUE/.../ID, in file
 * order. Fields missing from a record are "" (offset -1, time 0); a
 * record without rcpt is skipped. Returns the number of records seen,
 * 0 if the log does not exist, -1 with *error_r on an I/O error or a
 * malformed record. */
long qlog_walk(const char *queue, const char *id, qlog_walk_fn fn, void *context,
	       const char **error_r);

/* qlog_remove - remove the log (missing is fine): 0, or -1 with *error_r */
int qlog_remove(const char *queue, const char *id, const char **error_r);

/* qlog_format - encode one record as the bytes qlog_append writes */
struct str;
void qlog_format(struct str *out, const qlog_entry_t *e);

#endif
