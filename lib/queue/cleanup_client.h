/*
 * cleanup_client.h - how smtpd and pickup hand a message to cleanup.
 *
 * cleanup is the only writer of new queue files. A client connects to
 * private/cleanup, gets the protocol handshake and a queue ID, sends the
 * envelope and the content, and learns at the end whether the message is
 * safely on disk in incoming/ (fsync'd and renamed). Only then may smtpd
 * answer 250.
 *
 * Wire: server sends attr list {protocol=cleanup, queue_id=ID}; client
 * sends attr list {flags=...} and then queue-file records (lib/queue
 * record.h) for the envelope and content, ending with an END record;
 * server answers attr list {status=N, queue_id=ID, reason=TEXT}.
 *
 * Content is sent one line at a time WITHOUT its line terminator; a line
 * longer than the client's buffer is sent in pieces with complete=0 on all
 * but the last piece.
 */
#ifndef MR_CLEANUP_CLIENT_H
#define MR_CLEANUP_CLIENT_H

#include <stddef.h>

#include "util/str.h"

typedef struct cleanup_client cleanup_client_t;

/* Flags for cleanup_open */
#define CLEANUP_FLAG_NONE 0
#define CLEANUP_FLAG_LOCAL (1 << 0)    /* local submission: add From: if missing */
#define CLEANUP_FLAG_HOLD (1 << 1)     /* put the message on hold */
#define CLEANUP_FLAG_NO_ALIAS (1 << 2) /* do not expand virtual_alias_maps */
#define CLEANUP_FLAG_FLOW (1 << 3)     /* new mail: wait for a flow token (in_flow_delay) */

/* Status codes returned by cleanup_finish */
#define CLEANUP_STAT_OK 0
#define CLEANUP_STAT_TEMP 1   /* 451 4.3.0: disk, table, or I/O trouble */
#define CLEANUP_STAT_SIZE 2   /* 552 5.3.4: message too big */
#define CLEANUP_STAT_BAD 3    /* 550 5.6.0: malformed content / loop */
#define CLEANUP_STAT_NORCPT 4 /* 554 5.5.1: no valid recipients */

/* cleanup_flow_flag - CLEANUP_FLAG_FLOW when in_flow_delay is on, else
 * 0: for the clients that bring new mail in (smtpd, pickup) */
int cleanup_flow_flag(void);
/* cleanup_open - connect and get a queue ID; NULL + *error_r on failure */
cleanup_client_t *cleanup_open(int flags, const char **error_r);
/* cleanup_open_postdrop - the same interface, but the message goes to a
 * mailroom-postdrop child (command_directory) and from there through
 * maildrop/ and pickup: for a process run by a local user, who may not
 * reach private/cleanup (smtpd -S under sendmail -bs). The queue ID is
 * the maildrop file's (pickup logs it as orig_id=). cleanup_finish
 * reports CLEANUP_STAT_OK only when postdrop committed the file and
 * exited 0. NULL + *error_r when postdrop could not start or failed
 * before naming its file. */
cleanup_client_t *cleanup_open_postdrop(const char **error_r);
/* cleanup_connect - only connect (cleanup starts its queue file and sends
 * the handshake meanwhile); call cleanup_ready before anything else.
 * Lets a client overlap cleanup's start with its own work. NULL +
 * *error_r on failure */
cleanup_client_t *cleanup_connect(int flags, const char **error_r);
/* cleanup_ready - finish the handshake of a cleanup_connect'ed client:
 * 0 ok (and at once if already done); -1 + *error_r: closed, *ccp NULL */
int cleanup_ready(cleanup_client_t **ccp, const char **error_r);
/* cleanup_queue_id - the queue ID cleanup assigned */
const char *cleanup_queue_id(const cleanup_client_t *cc);
/* cleanup_attr - envelope attribute (client_name, client_addr, helo,
 * protocol, sasl_username, envid, ret, body, size ...) */
void cleanup_attr(cleanup_client_t *cc, const char *name, const char *value);
/* cleanup_sender - envelope sender ("" for the null sender) */
void cleanup_sender(cleanup_client_t *cc, const char *sender);
/* cleanup_rcpt - one recipient with its DSN ORCPT and NOTIFY (may be NULL) */
void cleanup_rcpt(cleanup_client_t *cc, const char *rcpt, const char *orcpt, const char *notify);
/* cleanup_line - one content line without terminator */
void cleanup_line(cleanup_client_t *cc, const char *line, size_t len, int complete);
/* cleanup_finish - end the message and wait for the verdict. Returns a
 * CLEANUP_STAT_* code; *reason gets text for the client on failure. The
 * connection is closed and *ccp set to NULL. */
int cleanup_finish(cleanup_client_t **ccp, str_t *reason);
/* cleanup_abort - give up on the message: cleanup removes its temp file */
void cleanup_abort(cleanup_client_t **ccp);
/* cleanup_error - a write to cleanup failed (cleanup died): the message
 * cannot be committed; the caller should reply 451 and abort */
int cleanup_error(const cleanup_client_t *cc);

#endif
