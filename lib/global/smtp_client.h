/*
 * smtp_client.h - the client side of an SMTP (RFC 5321) or LMTP (RFC
 * 2033) dialogue, for every program that sends mail to another server:
 * the smtp/lmtp delivery agent and the content filter's re-injection.
 *
 * The module knows the protocol and nothing about queues: the message
 * comes from a line callback, the recipients and their outcomes live in
 * an array the caller owns. One client carries one connection:
 *
 *   c = smtp_client_connect("127.0.0.1:10025" | "unix:/path", ...)
 *   smtp_client_greeting(c, &r)            220 expected
 *   smtp_client_hello(c, "my.name", &r)    EHLO (HELO if refused) or LHLO
 *   smtp_client_starttls(c, ctx, ...)      optional, then hello again
 *   smtp_client_send(c, &msg, rcpts, n)    MAIL, RCPT..., DATA, content
 *   smtp_client_quit(c); smtp_client_free(&c)
 *
 * smtp_client_send pipelines MAIL, every RCPT and DATA in one write when
 * the server offers PIPELINING (one round trip before the content), adds SIZE, BODY and the DSN
 * parameters (RET, ENVID, NOTIFY, ORCPT) only when the server announced the extension, refuses a
 * message larger than the server's SIZE before MAIL (5.3.4), sends SMTPUTF8 with MAIL for a
 * message that needs it (the sender asked for it, or an envelope address is not ASCII: RFC 6531)
 * and refuses such a message before MAIL when the server does not offer it (5.6.7), dot-stuffs the
 * content (downgrading 8-bit MIME parts to quoted-printable for a server without 8BITMIME:
 * smtp_client_8bit.h) and, with LMTP, reads one reply per accepted recipient after the final dot.
 * Every recipient ends with a final reply (its own outcome) in rcpts[i].reply.
 *
 * Replies from the server are untrusted: a line is bounded by
 * SMTP_CLIENT_LINE_MAX, a reply by SMTP_CLIENT_REPLY_LINES lines and its
 * kept text by SMTP_CLIENT_TEXT_MAX; a malformed reply counts as a
 * temporary failure (code 0 with text saying what was wrong), never as
 * success.
 *
 * Returns follow the project rule: -1 error (*error_r), 0 no, 1 yes.
 */
#ifndef MR_SMTP_CLIENT_H
#define MR_SMTP_CLIENT_H

#include <stddef.h>

#include "util/str.h"
#include "util/stream.h"
#include "util/tls.h"

#define SMTP_CLIENT_LINE_MAX 2048   /* bytes of one reply line */
#define SMTP_CLIENT_REPLY_LINES 100 /* lines of one reply */
#define SMTP_CLIENT_TEXT_MAX 1000   /* bytes of reply text kept */

/* Extensions the server announced (smtp_client_ext) */
#define SMTP_EXT_PIPELINING (1 << 0)
#define SMTP_EXT_SIZE (1 << 1)
#define SMTP_EXT_8BITMIME (1 << 2)
#define SMTP_EXT_DSN (1 << 3)
#define SMTP_EXT_STARTTLS (1 << 4)
#define SMTP_EXT_ENHANCEDSTATUSCODES (1 << 5)
#define SMTP_EXT_SMTPUTF8 (1 << 6)

typedef struct smtp_client smtp_client_t;

/*
 * A reply. code is 200..599, or 0 when none arrived, it was malformed
 * or the outcome was decided here (then dsn is 4.4.2, 4.5.0, 5.3.4 ...
 * and text says what happened: the dsn's class is the outcome). dsn is the
 * enhanced status code of the reply, or one made from its class (X.0.0).
 * text is "CODE text" of every line joined by spaces, bounded, printable.
 */
typedef struct smtp_reply {
    int code;
    char dsn[16];
    str_t *text;
} smtp_reply_t;

/* smtp_reply_init, smtp_reply_free - a reply's storage */
void smtp_reply_init(smtp_reply_t *r);
void smtp_reply_free(smtp_reply_t *r);

/*
 * The reply parser, line by line (the line splitting is the stream's,
 * bounded by SMTP_CLIENT_LINE_MAX). smtp_reply_feed takes one line
 * (with or without its CRLF) and returns 1 when the reply is complete,
 * 0 when more lines follow, -1 when the line is not a reply line (wrong
 * form, a code that changes between lines, too many lines): *r then
 * holds code 0 and the reason.
 */
typedef struct smtp_reply_parser {
    int lines; /* lines taken so far */
    int code;  /* code of the first line */
} smtp_reply_parser_t;

void smtp_reply_parser_init(smtp_reply_parser_t *p, smtp_reply_t *r);
int smtp_reply_feed(smtp_reply_parser_t *p, smtp_reply_t *r, const char *line, size_t len);

/* smtp_client_connect - connect to "host:port", "[v6addr]:port" or
 * "unix:/path" within timeout seconds; every later read and write has
 * io_timeout seconds. lmtp selects LHLO and per-recipient replies. NULL
 * with *error_r (static) on failure. */
smtp_client_t *smtp_client_connect(const char *dest, int lmtp, int timeout, int io_timeout,
				   const char **error_r);
/* smtp_client_open - the same on a connected descriptor (taken over) */
smtp_client_t *smtp_client_open(int fd, int lmtp, int io_timeout);
/* smtp_client_free - close the connection, free; sets *cp to NULL */
void smtp_client_free(smtp_client_t **cp);
/* smtp_client_stream - the connection's stream (for logs, TLS) */
stream_t *smtp_client_stream(smtp_client_t *c);

/* smtp_client_greeting - read the server's greeting: 1 if 2xx, 0 if it
 * refused (reply in *r), -1 if no valid reply (*r says why) */
int smtp_client_greeting(smtp_client_t *c, smtp_reply_t *r);
/* smtp_client_hello - EHLO name (LHLO with LMTP), falling back to HELO
 * when an SMTP server refuses EHLO with 5xx; records the extensions. 1
 * accepted, 0 refused (*r), -1 no valid reply. */
int smtp_client_hello(smtp_client_t *c, const char *name, smtp_reply_t *r);
/* smtp_client_ext - SMTP_EXT_* announced by the last hello */
int smtp_client_ext(const smtp_client_t *c);
/* smtp_client_max_size - the server's SIZE limit (0: none given) */
long long smtp_client_max_size(const smtp_client_t *c);
/* smtp_client_starttls - STARTTLS and the handshake (servername for SNI
 * and, with verify, the certificate check); the caller says hello again
 * afterwards. 1 done, 0 the server refused STARTTLS (*r), -1 failure
 * (*r code 0 with the reason; the connection is unusable). */
int smtp_client_starttls(smtp_client_t *c, tls_ctx_t *ctx, const char *servername, int verify,
			 smtp_reply_t *r);
/* smtp_client_tls - the TLS connection after STARTTLS, or NULL */
tls_conn_t *smtp_client_tls(const smtp_client_t *c);
/* smtp_client_set_name - the server's name in reasons made here
 * ("host[addr]:port"; copied); without one they say "the server" */
void smtp_client_set_name(smtp_client_t *c, const char *name);

/* One recipient of a transaction; reply is its final outcome: the RCPT
 * reply when that was not 2xx, else the DATA reply (SMTP) or its own
 * reply after the dot (LMTP), or the MAIL reply when MAIL failed. stage
 * names the command the reply answered ("MAIL FROM", "RCPT TO",
 * "end of DATA", ...) for reasons given to people. */
typedef struct smtp_rcpt {
    const char *address;
    const char *orcpt;  /* "type;address" (decoded) or NULL */
    const char *notify; /* DSN NOTIFY list or NULL */
    smtp_reply_t reply;
    const char *stage;
} smtp_rcpt_t;

/* The message: envelope and a content reader. line() puts the next line
 * without its end in line and returns 1 (*complete_r 0 when the line
 * continues in the next call), 0 at the end, -1 on error (*error_r). */
typedef struct smtp_msg {
    const char *sender; /* "" for <> */
    long long size;     /* bytes (for SIZE=), -1 unknown */
    int eightbit;       /* content is 8BITMIME (BODY=8BITMIME when offered;
			 * without 8BITMIME, 8-bit parts are converted
			 * whatever this says) */
    int no_downgrade;   /* send 8-bit parts as they are even to a
			 * server without 8BITMIME */
    int rcpt_only;      /* stop after RCPT (address verification):
			 * each reply is the RCPT reply */
    int smtputf8;       /* the sender asked for SMTPUTF8 (RFC 6531) */
    const char *ret;    /* DSN RET (FULL/HDRS) or NULL */
    const char *envid;  /* DSN ENVID (decoded) or NULL */
    int (*line)(void *ctx, str_t *line, int *complete_r, const char **error_r);
    /* start the content again, or NULL: for a server without 8BITMIME
     * the content is read twice, to find parts with 8-bit bytes that no
     * label announces (without rewind only labelled parts are encoded) */
    void (*rewind)(void *ctx);
    void *ctx;
} smtp_msg_t;

/* smtp_client_send - one transaction. Every rcpts[i].reply must have
 * been set up with smtp_reply_init. Returns 1 when the session may go on
 * (the transaction ended with every recipient decided by a reply), 0
 * when it ended early but the connection is fine (message too big for
 * the server, content unreadable: recipients hold a local reason with
 * code 0), -1 when the connection failed (recipients without a final
 * reply hold code 0 and the reason; do not reuse the client). */
int smtp_client_send(smtp_client_t *c, const smtp_msg_t *msg, smtp_rcpt_t *rcpts, size_t count);
/* smtp_client_rset - RSET after a transaction that ended early: 1 ok,
 * 0 refused, -1 failure */
int smtp_client_rset(smtp_client_t *c);
/* smtp_client_quit - QUIT and read the reply (the answer does not
 * matter; errors are ignored) */
void smtp_client_quit(smtp_client_t *c);

/* smtp_xtext_encode - append value as RFC 3461 xtext */
void smtp_xtext_encode(str_t *out, const char *value);

#endif
