/*
 * clamd_client.h - scan a message with clamd (ClamAV's daemon), over its
 * Unix socket ("/path" or "unix:/path") or TCP ("host:port").
 *
 * Two ways to hand clamd the message:
 *   INSTREAM  the client connects (with a timeout), sends "zINSTREAM\0",
 *             then the message as chunks (4-byte big-endian length +
 *             data) and a zero-length chunk; clamd copies the stream into
 *             a temporary file of its own and scans that;
 *   FILDES    for a message already in a file, over a Unix socket only:
 *             the client sends "zFILDES\0", then one byte carrying the
 *             file's descriptor (SCM_RIGHTS); clamd scans the open file
 *             itself, from its start, with no copy. clamd moves the
 *             file's offset (it is shared with the sender): read such a
 *             file with pread until the verdict is in.
 * Either way it reads one NUL-terminated reply:
 *   "stream: OK", "fd[N]: OK"    clean
 *   "stream: NAME FOUND"         infected, NAME is the signature
 *   "fd[N]: NAME FOUND"
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
    int said;                        /* CLAMD_ERROR: clamd's reply, not a verdict */
    char text[CLAMD_REPLY_MAX + 64]; /* signature name or reason */
} clamd_result_t;

/* Results of clamd_reply_feed */
#define CLAMD_REPLY_MORE 0 /* all bytes used, need more input */
#define CLAMD_REPLY_DONE 1 /* reply complete; see the result */

/* clamd_reply_t - the reply parser's state */
typedef struct clamd_reply {
    int fildes; /* a reply to FILDES: "fd[N]: " instead of "stream: " */
    int done;   /* a verdict was reached */
    size_t len; /* bytes in buf */
    char buf[CLAMD_REPLY_MAX + 1];
    clamd_result_t result; /* valid once done */
} clamd_reply_t;

/* clamd_reply_init - start reading a reply to INSTREAM ("stream: ...") */
void clamd_reply_init(clamd_reply_t *r);
/* clamd_reply_init_fd - start reading a reply to FILDES ("fd[N]: ...") */
void clamd_reply_init_fd(clamd_reply_t *r);
/* clamd_reply_feed - process len bytes; *used_r gets how many were
 * consumed (up to and including the NUL). Returns CLAMD_REPLY_DONE once
 * the reply is complete or too long (then CLAMD_ERROR) */
int clamd_reply_feed(clamd_reply_t *r, const char *data, size_t len, size_t *used_r);
/* clamd_reply_eof - the connection ended: a reply without its NUL is an
 * error; returns the verdict */
const clamd_result_t *clamd_reply_eof(clamd_reply_t *r);

/* clamd_conn_t - one scan in progress */
typedef struct clamd_conn clamd_conn_t;

/* clamd_open - connect to clamd's address and start an INSTREAM scan;
 * timeout in seconds for the connect and every read and write; max_size
 * is the largest message sent (0: no limit). NULL with res filled on
 * failure. SIGPIPE is ignored from then on (a clamd that hangs up
 * mid-stream is an error, not the end of the process). */
clamd_conn_t *clamd_open(const char *addr, int timeout, long long max_size, clamd_result_t *res);
/* clamd_open_file - start the scan of the whole regular file open on fd
 * (from its start, whatever its offset): with fildes set and a Unix
 * socket, its descriptor is passed (FILDES) and clamd scans it while the
 * caller goes on; otherwise (TCP, fildes 0, or a clamd that refused a
 * descriptor before in this process) the file is streamed now (INSTREAM).
 * Nothing is to be sent with clamd_send. A file larger than max_size
 * is CLAMD_TOOLONG, not scanned. NULL with res filled on failure. */
clamd_conn_t *clamd_open_file(const char *addr, int timeout, long long max_size, int fd, int fildes,
			      clamd_result_t *res);
/* clamd_send - add message bytes (INSTREAM); -1 once the scan has failed
 * or the message is too long (further calls do nothing; clamd_finish
 * says why) */
int clamd_send(clamd_conn_t *c, const void *data, size_t len);
/* clamd_finish - end the stream, read the verdict into res, close and
 * free; returns res->status. When clamd answers a passed descriptor
 * (FILDES) with anything but a verdict ("... ERROR", "UNKNOWN COMMAND":
 * a clamd without descriptor passing, one not allowed to read the
 * file; not a timeout or a lost connection), the file is
 * streamed to it once more and that verdict counts; the process then
 * streams every later file (logged once). */
int clamd_finish(clamd_conn_t **cp, clamd_result_t *res);
/* clamd_scan_fd - the whole scan of fd: a regular file as clamd_open_file
 * does it, anything else (a pipe) streamed from where it is to its end */
int clamd_scan_fd(const char *addr, int timeout, long long max_size, int fd, int fildes,
		  clamd_result_t *res);
/* clamd_address_local - is addr a Unix socket ("/path", "unix:/path")? */
int clamd_address_local(const char *addr);

#endif
