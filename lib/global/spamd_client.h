/*
 * spamd_client.h - ask SpamAssassin's spamd about a message (protocol
 * SPAMC/1.5), over TCP or a Unix socket.
 *
 * A request is a command line ("CHECK SPAMC/1.5"), header lines
 * (Content-length, User, and for TELL Message-class and Set), an empty
 * line, then exactly Content-length bytes of message. spamd answers
 *   SPAMD/1.1 0 EX_OK
 *   Content-length: N            (SYMBOLS, PROCESS)
 *   Spam: True ; 15.3 / 5.0      (every command but TELL)
 *   DidSet: local                (TELL, when it learned)
 *   <empty line>
 *   N bytes of body              (SYMBOLS: rule names; PROCESS: the
 *                                 rewritten message)
 * and closes. A non-zero code ("SPAMD/1.0 76 Bad header line: ...")
 * ends the reply at once.
 *
 * Every failure (connect, timeout, a reply cut short or malformed, a
 * non-zero code, a missing Spam header) is SPAMD_ERROR with a reason:
 * nothing but a well-formed "Spam: False" is ever SPAMD_HAM.
 *
 * The reply parser (spamd_reply_*) is a resumable, bounded state
 * machine: lines at most SPAMD_LINE_MAX bytes, at most SPAMD_HEADERS_MAX
 * header lines, a body kept up to SPAMD_BODY_MAX bytes (PROCESS hands
 * its body to a callback instead, so a big message costs no memory).
 * Scores are in tenths of a point, as in spam_score.h.
 */
#ifndef MR_SPAMD_CLIENT_H
#define MR_SPAMD_CLIENT_H

#include <stddef.h>

/* Commands */
#define SPAMD_CHECK 0   /* verdict and score */
#define SPAMD_SYMBOLS 1 /* ... and the names of the rules hit */
#define SPAMD_PROCESS 2 /* ... and the message as spamd rewrites it */
#define SPAMD_TELL 3    /* learn the message as spam or ham */

/* Verdicts */
#define SPAMD_HAM 0     /* "Spam: False" */
#define SPAMD_SPAM 1    /* "Spam: True" */
#define SPAMD_ERROR 2   /* text is the reason */
#define SPAMD_TOOLONG 3 /* larger than the maximum; not sent */
#define SPAMD_TOLD 4    /* TELL done; learned says whether spamd learned */

/* Bounds */
#define SPAMD_LINE_MAX 512    /* status or header line, with its CRLF */
#define SPAMD_HEADERS_MAX 32  /* header lines in a reply */
#define SPAMD_BODY_MAX 8192   /* body kept in the result (SYMBOLS) */
#define SPAMD_TEXT_MAX 600    /* reason text */
#define SPAMD_SCORE_MAX 99999 /* |score| in tenths, larger is an error */

/* spamd_result_t - a verdict */
typedef struct spamd_result {
    int status;                       /* SPAMD_* */
    int score;                        /* tenths of a point (HAM, SPAM) */
    int threshold;                    /* tenths: spamd's required score */
    int learned;                      /* TELL: spamd said DidSet/DidRemove */
    char text[SPAMD_TEXT_MAX];        /* reason (ERROR, TOOLONG), printable */
    char symbols[SPAMD_BODY_MAX + 1]; /* SYMBOLS: rule names, printable */
} spamd_result_t;

/* Results of spamd_reply_feed */
#define SPAMD_REPLY_MORE 0 /* all bytes used, need more input */
#define SPAMD_REPLY_DONE 1 /* reply complete; see the result */

/* spamd_body_fn - receives PROCESS body bytes as they arrive */
typedef void (*spamd_body_fn)(void *context, const char *data, size_t len);

/* spamd_reply_t - the reply parser's state */
typedef struct spamd_reply {
    int command;       /* SPAMD_* command the reply answers */
    int state;         /* where in the reply */
    int done;          /* a verdict was reached */
    int headers;       /* header lines so far */
    int seen_spam;     /* a Spam: header was read */
    long long clen;    /* Content-length, -1 if none */
    long long body_at; /* body bytes so far */
    size_t len;        /* bytes in line */
    char line[SPAMD_LINE_MAX + 1];
    size_t symbols_len;
    spamd_body_fn body_fn; /* PROCESS; NULL: the body is dropped */
    void *body_context;
    spamd_result_t result; /* valid once done */
} spamd_reply_t;

/* spamd_reply_init - start reading the reply to command */
void spamd_reply_init(spamd_reply_t *r, int command);
/* spamd_reply_feed - process len bytes; *used_r gets how many were
 * consumed. Returns SPAMD_REPLY_DONE once the reply is complete or bad
 * (then SPAMD_ERROR), else SPAMD_REPLY_MORE */
int spamd_reply_feed(spamd_reply_t *r, const char *data, size_t len, size_t *used_r);
/* spamd_reply_eof - the connection ended: an unfinished reply is an
 * error; returns the verdict */
const spamd_result_t *spamd_reply_eof(spamd_reply_t *r);

/* spamd_request_t - what to ask */
typedef struct spamd_request {
    int command;           /* SPAMD_* command */
    const char *user;      /* User: header, NULL for none */
    int tell_spam;         /* TELL: 1 learn as spam, 0 as ham */
    int tell_forget;       /* TELL: forget the message instead */
    long long length;      /* exact message size (Content-length) */
    long long max_size;    /* largest message sent, 0: no limit */
    int timeout;           /* seconds, connect and each read/write */
    spamd_body_fn body_fn; /* PROCESS */
    void *body_context;
} spamd_request_t;

/* spamd_conn_t - one request in progress */
typedef struct spamd_conn spamd_conn_t;

/* spamd_open - connect to address ("unix:/path", "/path", or
 * "host:port") and send the command and its headers. NULL with res
 * filled on failure (also SPAMD_TOOLONG: nothing was sent). SIGPIPE is
 * ignored from then on. */
spamd_conn_t *spamd_open(const char *address, const spamd_request_t *req, spamd_result_t *res);
/* spamd_send - add message bytes; -1 once the request has failed (further
 * calls do nothing; spamd_finish says why) */
int spamd_send(spamd_conn_t *c, const void *data, size_t len);
/* spamd_finish - check that exactly length bytes were sent, read the
 * reply into res, close and free; returns res->status */
int spamd_finish(spamd_conn_t **cp, spamd_result_t *res);
/* spamd_ask_fd - the whole request for the regular file (or anything
 * whose size fstat tells) open on fd */
int spamd_ask_fd(const char *address, spamd_request_t *req, int fd, spamd_result_t *res);
/* spamd_status_name - "ham", "spam", "error", "too long", "told" */
const char *spamd_status_name(int status);

#endif
