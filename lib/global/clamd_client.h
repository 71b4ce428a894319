/*
 * clamd_client.h - scan a message with clamd (ClamAV's daemon) over its
 * Unix socket, INSTREAM protocol.
 *
 * The client connects (with a timeout), sends "zINSTREAM\0", then the
 * message as chunks (4-byte big-endian length + data), a zero-length
 * chunk, and reads one NUL-terminated reply:
 *   "stream: OK"                 clean
 *   "stream: NAME FOUND"         infected, NAME is the signature
 *   "... ERROR"                  clamd could not scan
 * A message larger than the configured maximum (clamd's StreamMaxLength)
 * is not sent past that size: the client stops and reports "too long"
 * instead of letting clamd cut the connection. Every failure (connect,
 * timeout, short or odd reply, clamd gone) is CLAMD_ERROR with a reason:
 * nothing but a well-formed "stream: OK" is ever CLAMD_CLEAN.
 *
 * The reply parser is a resumable, bounded state machine of its own
 * (clamd_reply_*) so that it can be tested byte by byte and fuzzed.
 */
#ifndef MR_CLAMD_CLIENT_H
#define MR_CLAMD_CLIENT_H

#include <stddef.h>

/* Verdicts */
#define CLAMD_CLEAN 0    /* "stream: OK" */
#define CLAMD_INFECTED 1 /* text is the signature name */
#define CLAMD_ERROR 2    /* text is the reason */
#define CLAMD_TOOLONG 3  /* larger than the maximum; not scanned */

/* Longest reply accepted, without the terminating NUL */
#define CLAMD_REPLY_MAX 512

/* Data bytes per INSTREAM chunk */
#define CLAMD_CHUNK 65536

/* clamd_result_t - a verdict and its text (printable, NUL-terminated) */
typedef struct clamd_result {
    int status;                      /* CLAMD_* */
    char text[CLAMD_REPLY_MAX + 64]; /* signature name or reason */
} clamd_result_t;

/* Results of clamd_reply_feed */
#define CLAMD_REPLY_MORE 0 /* all bytes used, need more input */
#define CLAMD_REPLY_DONE 1 /* reply complete; see the result */

/* clamd_reply_t - the reply parser's state */
typedef struct clamd_reply {
    int done;   /* a verdict was reached */
    size_t len; /* bytes in buf */
    char buf[CLAMD_REPLY_MAX + 1];
    clamd_result_t result; /* valid once done */
} clamd_reply_t;

/* clamd_reply_init - start reading a reply */
void clamd_reply_init(clamd_reply_t *r);
/* clamd_reply_feed - process len bytes; *used_r gets how many were
 * consumed (up to and including the NUL). Returns CLAMD_REPLY_DONE once
 * the reply is complete or too long (then CLAMD_ERROR) */
int clamd_reply_feed(clamd_reply_t *r, const char *data, size_t len, size_t *used_r);
/* clamd_reply_eof - the connection ended: a reply without its NUL is an
 * error; returns the verdict */
const clamd_result_t *clamd_reply_eof(clamd_reply_t *r);

/* clamd_conn_t - one scan in progress */
typedef struct clamd_conn clamd_conn_t;

/* clamd_open - connect to the socket path and start a scan; timeout in
 * seconds for the connect and every read and write; max_size is the
 * largest message sent (0: no limit). NULL with res filled on failure.
 * SIGPIPE is ignored from then on (a clamd that hangs up mid-stream is
 * an error, not the end of the process). */
clamd_conn_t *clamd_open(const char *path, int timeout, long long max_size, clamd_result_t *res);
/* clamd_send - add message bytes; -1 once the scan has failed or the
 * message is too long (further calls do nothing; clamd_finish says why) */
int clamd_send(clamd_conn_t *c, const void *data, size_t len);
/* clamd_finish - end the stream, read the verdict into res, close and
 * free; returns res->status */
int clamd_finish(clamd_conn_t **cp, clamd_result_t *res);
/* clamd_scan_fd - the whole scan of what can be read from fd */
int clamd_scan_fd(const char *path, int timeout, long long max_size, int fd, clamd_result_t *res);

#endif
