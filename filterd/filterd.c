/*
 * filterd - the content filter: an SMTP and LMTP server between qmgr's
 * filter transport (port 10024) and the re-injection smtpd (10025).
 *
 * What it does. One process serves many clients from the event server
 * skeleton. A session speaks SMTP after EHLO/HELO and LMTP after LHLO.
 * The content of each message goes, while it arrives, into an unnamed
 * spool file (O_TMPFILE in filterd_quarantine_directory), so memory does
 * not grow with the message. At the end of DATA the message goes to an
 * idle worker of the process's pool (filterd_pool.c: long-lived child
 * processes, started as needed, at most filterd_worker_limit busy at
 * once); the worker (filterd_work.c) runs the scanners (filterd_scan.c:
 * clamd, the built-in spam rules), decides per recipient, re-injects on
 * filterd_reinject_nexthop with the envelope kept (sender, every
 * recipient, DSN parameters), and then writes the replies to the client
 * itself. The session waits meanwhile and reads no command; it goes on
 * once the worker reports back (or dies: then it answers 451 itself).
 * A finished message's spool file is reused by a later one.
 *
 * Why the worker answers. The client (qmgr's agent) hears "250" only
 * after 10025 accepted the message (or, later, after the quarantine copy
 * is on disk). Because the worker holds the client's socket, a kill -9
 * of the session process in that moment does not turn an accepted
 * message into a deferred one that would be sent again: the worker still
 * answers. Only the worker's own death between 10025's reply and its own
 * leaves that window, which every filter of this shape has; qmgr then
 * counts the message as deferred and sends it again.
 *
 * Input it trusts: none. Clients must connect from
 * filterd_client_networks (loopback by default) or over a Unix socket:
 * filterd re-injects what it is given on the re-injection port, which
 * trusts it, so a filterd reachable from elsewhere would be an open relay
 * that skips smtpd's checks. Commands and content are bounded (line length,
 * recipients, message_size_limit, errors per session) and every
 * refusal has an enhanced status code. Only the worker talks to clamd
 * and 10025, whose replies are bounded by their clients.
 *
 * Runs as mail_owner, not chrooted (clamd's socket is outside the queue
 * directory).
 *
 * Policy per recipient. Each RCPT looks up filterd_policy_maps
 * (filterd_policy.h). With LMTP every recipient gets its own reply, so
 * any mix of policies is fine; with SMTP the one reply after the dot
 * speaks for all, so a recipient whose policy differs from the first
 * one's is answered 452 4.5.3 and the client sends it in another
 * transaction (docs/filterd.md).
 *
 * Leftovers: temporary files of killed processes in the quarantine
 * directory are removed at start and every filterd_temp_file_max_age
 * (filterd_sweep.c).
 *
 * What one client may hold. Sessions at once and connections per
 * anvil_rate_time_unit are limited per client (filterd_limit.c: a local
 * user is counted by uid, whatever loopback address it uses; the mail
 * owner's transport is not counted), and a session has
 * filterd_message_timeout from its connect, or from the end of its last
 * message, to the end of the next one's DATA: NOOP and a trickle of bytes
 * do not keep it. So idle clients cannot keep the service's processes.
 *
 * Life: a filterd process serves filterd_max_use clients (instead of
 * max_use: its pool of workers, their kept sessions with 10025 and its
 * spool files are lost with it, and rebuilding them every 100 messages
 * cost a fifth of the rate at 4 sessions), then drains and exits.
 *
 * Parameters: filterd_client_networks, filterd_policy_maps, filterd_timeout,
 * filterd_client_connection_limit, filterd_client_connection_rate_limit,
 * filterd_message_timeout,
 * filterd_recipient_limit, filterd_worker_limit, filterd_quarantine_directory,
 * filterd_temp_file_max_age, filterd_max_use, message_size_limit,
 * myhostname, and those of filterd_work.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filterd.h"
#include "global/config.h"
#include "global/mail_proto.h"
#include "global/net_list.h"
#include "global/smtpd_addr.h"
#include "master/mail_server.h"
#include "queue/qfile.h"
#include "table/table.h"
#include "util/event.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/safe_open.h"
#include "util/str.h"

#define FILTER_LINE_MAX 2048     /* bytes of a command line */
#define FILTER_ERROR_LIMIT 20    /* errors before we hang up */
#define FILTER_PENDING_MAX 65536 /* input kept while a worker runs */
#define FILTER_SPOOL_FLUSH 65536 /* content buffered before a write */
#define FILTER_SPOOL_POOL 16     /* spool files kept for reuse */
#define FILTER_SPOOL_KEEP 65536  /* a pooled file larger than this is emptied */

/* Session phases */
#define PH_CMD 0  /* reading commands */
#define PH_DATA 1 /* reading content */
#define PH_WAIT 2 /* message complete, waiting for a worker slot */
#define PH_WORK 3 /* a worker has the message */

/* A spool file: its descriptor, its inode (the transaction's ID is made
 * from it) and the most bytes it can hold (what the longest message
 * written since it was last truncated left) */
typedef struct filter_spool {
    int fd;
    unsigned long ino;
    long long size;
} filter_spool_t;

typedef struct filter_sess {
    event_conn_t *conn;  /* NULL once the client has gone */
    int lmtp;            /* LHLO was said */
    int helo;            /* a hello was said */
    int phase;           /* PH_* */
    int errors;          /* refused commands */
    int closing;         /* we hung up: ignore further input */
    smtpd_dot_t cmd;     /* command line splitter (no dot rules) */
    smtpd_dot_t data;    /* content splitter */
    str_t *line;         /* the command line so far */
    int line_long;       /* it overran FILTER_LINE_MAX */
    int line_done;       /* a whole command line is in line */
    str_t *spool;        /* content not yet written */
    int spool_error;     /* 0, or why the content is refused */
    filter_msg_t msg;    /* the transaction */
    filter_spool_t file; /* msg.fd's inode and size */
    long long spool_off; /* content bytes written to msg.fd */
    str_t *pending;      /* input that came while a worker ran */
    str_t *out;          /* replies not yet written (filter_flush) */
    int worker;          /* a worker has the message */
    char *ident;         /* counted by anvil as this (filterd_limit.c) */
    struct filter_sess *next_waiting;
    struct filter_sess *prev, *next; /* every session of this process */
} filter_sess_t;

#define SPOOL_TOOBIG 1
#define SPOOL_IOERR 2

static table_list_t *filter_policy_maps;                    /* NULL: none, or unusable */
static int filter_policy_broken;                            /* it could not be opened */
static int filter_workers;                                  /* running */
static filter_spool_t filter_spool_pool[FILTER_SPOOL_POOL]; /* spool files to reuse */
static size_t filter_spool_count;                           /* in the pool */
static filter_sess_t *filter_waiting;                       /* sessions waiting for a slot */
static filter_sess_t **filter_wait_tail = &filter_waiting;
static filter_sess_t *filter_sessions; /* every session */

static void filter_consume(filter_sess_t *s, const char *buf, size_t len);
static void filter_spool_release(filter_sess_t *s);

/* filter_reply - one reply line to the client, written with the other
 * replies to the same input (filter_flush): the lines of EHLO, or the
 * replies to pipelined commands, go out in one write and one segment */
static void filter_reply(filter_sess_t *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void filter_reply(filter_sess_t *s, const char *fmt, ...)
{
    va_list ap;

    if (s->conn == NULL)
	return;
    va_start(ap, fmt);
    str_vappendf(s->out, fmt, ap);
    va_end(ap);
    str_appends(s->out, "\r\n");
}

/* filter_flush - write the replies made so far; before anything else may
 * write to the client's socket (a worker), and when the input that
 * caused them has been read */
static void filter_flush(filter_sess_t *s)
{
    if (s->conn && str_len(s->out) > 0)
	(void)event_conn_write(s->conn, str_data(s->out), str_len(s->out));
    str_reset(s->out);
}

/* filter_hangup - end the session once the replies are out */
static void filter_hangup(filter_sess_t *s)
{
    filter_flush(s);
    s->closing = 1;
    event_conn_close(s->conn);
}

/* filter_refuse - a refused command: reply, count, hang up at the limit */
static void filter_refuse(filter_sess_t *s, const char *reply)
{
    filter_reply(s, "%s", reply);
    if (++s->errors >= FILTER_ERROR_LIMIT && s->conn) {
	msg_warn("too many errors from %s: closing", event_conn_addr(s->conn));
	filter_reply(s, "421 4.7.0 %s Error: too many errors", config_str("myhostname"));
	filter_hangup(s);
    }
}

/* filter_msg_reset - forget the transaction (closing its spool file) */
static void filter_msg_reset(filter_sess_t *s)
{
    filter_msg_t *m = &s->msg;

    filter_msg_clear(m);
    if (m->fd >= 0)
	filter_spool_release(s);
    memset(m, 0, sizeof(*m));
    m->fd = -1;
    str_reset(s->spool);
    s->spool_error = 0;
}

/* filter_cmd_line - a piece of a command line from the splitter */
static void filter_cmd_line(void *ctx, const char *data, size_t len, int complete)
{
    filter_sess_t *s = ctx;

    if (str_len(s->line) + len > FILTER_LINE_MAX)
	s->line_long = 1;
    else
	str_append(s->line, data, len);
    if (complete)
	s->line_done = 1;
}

/* filter_hello - EHLO, HELO, LHLO */
static void filter_hello(filter_sess_t *s, const char *verb, char *args)
{
    const char *me = config_str("myhostname");

    if (*args == 0) {
	filter_refuse(s, "501 5.5.4 Syntax: EHLO hostname");
	return;
    }
    filter_msg_reset(s);
    s->helo = 1;
    s->lmtp = strcasecmp(verb, "LHLO") == 0;
    if (strcasecmp(verb, "HELO") == 0) {
	filter_reply(s, "250 %s", me);
	return;
    }
    filter_reply(s, "250-%s", me);
    filter_reply(s, "250-PIPELINING");
    if (config_size("message_size_limit") > 0)
	filter_reply(s, "250-SIZE %lld", config_size("message_size_limit"));
    filter_reply(s, "250-ENHANCEDSTATUSCODES");
    filter_reply(s, "250-8BITMIME");
    filter_reply(s, "250-SMTPUTF8");
    filter_reply(s, "250 DSN");
}

/* filter_mail_param - one MAIL parameter; 0, or -1 with a reply in why */
static int filter_mail_param(filter_sess_t *s, char *name, char *value, str_t *tmp,
			     const char **why)
{
    long long size;

    if (strcasecmp(name, "SIZE") == 0 && value) {
	if (smtpd_size_parse(value, &size) < 0)
	    return (*why = "501 5.5.4 Bad SIZE parameter value"), -1;
	if (config_size("message_size_limit") > 0 && size > config_size("message_size_limit"))
	    return (*why = "552 5.3.4 Message size exceeds fixed limit"), -1;
    } else if (strcasecmp(name, "BODY") == 0 && value &&
	       (strcasecmp(value, "7BIT") == 0 || strcasecmp(value, "8BITMIME") == 0)) {
	s->msg.eightbit = strcasecmp(value, "8BITMIME") == 0;
    } else if (strcasecmp(name, "SMTPUTF8") == 0 && value == NULL) {
	s->msg.smtputf8 = 1;
    } else if (strcasecmp(name, "RET") == 0 && value && !s->msg.ret &&
	       (strcasecmp(value, "FULL") == 0 || strcasecmp(value, "HDRS") == 0)) {
	s->msg.ret = mr_strdup(value);
    } else if (strcasecmp(name, "ENVID") == 0 && value && !s->msg.envid) {
	if (smtpd_xtext_decode(value, tmp) < 0 || str_len(tmp) > 100)
	    return (*why = "501 5.5.4 Bad ENVID parameter syntax"), -1;
	s->msg.envid = mr_strdup(str_data(tmp));
    } else {
	return (*why = "555 5.5.4 Unsupported option"), -1;
    }
    return 0;
}

/* filter_mail - MAIL FROM */
static void filter_mail(filter_sess_t *s, char *args)
{
    char *addr, *params, *name, *value;
    const char *why = NULL;
    str_t *tmp;
    int r;

    if (!s->helo)
	return filter_refuse(s, "503 5.5.1 Error: send EHLO or LHLO first");
    if (s->msg.sender)
	return filter_refuse(s, "503 5.5.1 Error: nested MAIL command");
    if (smtpd_addr_split(args, "FROM", &addr, &params) < 0)
	return filter_refuse(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
    tmp = str_new(64);
    while (why == NULL && (r = smtpd_param_next(&params, &name, &value)) != 0)
	if (r < 0 || filter_mail_param(s, name, value, tmp, &why) < 0)
	    why = why ? why : "555 5.5.4 Unsupported option";
    str_free(&tmp);
    if (why == NULL && *addr && smtpd_addr_check(addr, s->msg.smtputf8) != SMTPD_ADDR_OK)
	why = "501 5.1.7 Bad sender address syntax";
    if (why) {
	filter_msg_reset(s);
	return filter_refuse(s, why);
    }
    s->msg.sender = mr_strdup(addr);
    filter_reply(s, "250 2.1.0 Ok");
}

/* filter_rcpt_policy - the recipient's policy: 0, or -1 (logged) */
static int filter_rcpt_policy(const char *addr, filter_policy_t *p)
{
    const char *err = NULL;
    str_t *value;
    int r = 0;

    if (filter_policy_defaults(p, &err) < 0 || filter_policy_broken) {
	msg_warn("filterd policy: %s", err ? err : "filterd_policy_maps cannot be opened");
	return -1;
    }
    if (filter_policy_maps == NULL)
	return 0;
    value = str_new(64);
    r = table_list_lookup_addr(filter_policy_maps, addr, config_str("recipient_delimiter"), 1,
			       value, &err);
    if (r < 0)
	msg_warn("filterd_policy_maps: lookup of %s: %s", addr, err);
    else if (r > 0 && filter_policy_parse(str_data(value), p, &err) < 0)
	msg_warn("filterd_policy_maps: %s: \"%s\": %s", addr, str_data(value), err), r = -1;
    str_free(&value);
    return r < 0 ? -1 : 0;
}

/* filter_rcpt - RCPT TO */
static void filter_rcpt(filter_sess_t *s, char *args)
{
    filter_rcpt_t r = {0};
    char *addr, *params, *name, *value;
    str_t *tmp;
    int n, bad = 0;

    if (!s->msg.sender)
	return filter_refuse(s, "503 5.5.1 Error: need MAIL command");
    if ((long)s->msg.rcpt_count >= config_int("filterd_recipient_limit", 1, 1000000))
	return filter_refuse(s, "452 4.5.3 Error: too many recipients");
    if (smtpd_addr_split(args, "TO", &addr, &params) < 0 || *addr == 0 ||
	smtpd_addr_check(addr, s->msg.smtputf8) != SMTPD_ADDR_OK)
	return filter_refuse(s, "501 5.1.3 Bad recipient address syntax");
    tmp = str_new(64);
    while (!bad && (n = smtpd_param_next(&params, &name, &value)) != 0)
	bad = n < 0 || smtpd_rcpt_dsn_param(name, value, &r.notify, &r.orcpt, tmp) < 0;
    str_free(&tmp);
    if (bad) {
	mr_free(r.orcpt);
	mr_free(r.notify);
	return filter_refuse(s, "501 5.5.4 Bad RCPT parameter");
    }
    if (filter_rcpt_policy(addr, &r.policy) < 0) {
	mr_free(r.orcpt);
	mr_free(r.notify);
	return filter_reply(s, "451 4.3.0 Error: cannot look up the content policy");
    }
    if (!s->lmtp && s->msg.rcpt_count > 0 &&
	!filter_policy_same(&s->msg.rcpts[0].policy, &r.policy)) {
	mr_free(r.orcpt);
	mr_free(r.notify);
	return filter_reply(s, "452 4.5.3 Error: other content policy, send it separately");
    }
    r.address = mr_strdup(addr);
    s->msg.rcpts = mr_reallocarray(s->msg.rcpts, s->msg.rcpt_count + 1, sizeof(r));
    s->msg.rcpts[s->msg.rcpt_count++] = r;
    filter_reply(s, "250 2.1.5 Ok");
}

/* filter_spool_new - an unnamed file for the content: it vanishes with
 * its last descriptor, whatever happens to the process */
static int filter_spool_new(const char **error_r)
{
    const char *dir = config_str("filterd_quarantine_directory");
    str_t *path;
    int fd;

    if ((fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600)) >= 0)
	return fd;
    if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL) {
	*error_r = "cannot create a spool file";
	msg_warn("open %s (O_TMPFILE): %m", dir);
	return -1;
    }
    path = str_new(128);
    str_printf(path, "%s/.spool.XXXXXX", dir);
    if ((fd = mkostemp(str_data(path), O_CLOEXEC)) >= 0)
	(void)unlink(str_data(path));
    else
	msg_warn("mkstemp %s: %m", str_data(path));
    str_free(&path);
    *error_r = "cannot create a spool file";
    return fd;
}

/* filter_spool_open - the session's spool file for a new message: one a
 * finished message left in the pool (filter_spool_release), else a new
 * one. The content is written with pwrite from offset 0 (the file's own
 * offset means nothing). 0, or -1 with *error_r */
static int filter_spool_open(filter_sess_t *s, const char **error_r)
{
    struct stat st;

    s->spool_off = 0;
    if (filter_spool_count > 0) {
	s->file = filter_spool_pool[--filter_spool_count];
	return 0;
    }
    if ((s->file.fd = filter_spool_new(error_r)) < 0)
	return -1;
    s->file.ino = fstat(s->file.fd, &st) == 0 ? (unsigned long)st.st_ino : 0;
    s->file.size = 0;
    return 0;
}

/* filter_spool_release - the session's spool file, which nobody else
 * holds any more (its worker has finished): back into the pool, or
 * closed when the pool is full. A large file is emptied first so that the
 * pool does not keep disk space. */
static void filter_spool_release(filter_sess_t *s)
{
    filter_spool_t *f = &s->file;

    if (s->spool_off > f->size)
	f->size = s->spool_off;
    if (f->size > FILTER_SPOOL_KEEP && ftruncate(f->fd, 0) == 0)
	f->size = 0;
    if (filter_spool_count >= FILTER_SPOOL_POOL || f->size > FILTER_SPOOL_KEEP)
	(void)close(f->fd);
    else
	filter_spool_pool[filter_spool_count++] = *f;
    f->fd = -1;
}

/* filter_spool_end - the content is complete: cut off what a longer
 * message before it left in a pooled file (only when one may have); 0
 * or -1 */
static int filter_spool_end(filter_sess_t *s)
{
    if (s->file.size > s->spool_off && ftruncate(s->msg.fd, s->spool_off) < 0)
	return -1;
    s->file.size = s->spool_off;
    return 0;
}

/* filter_spool_flush - write the buffered content */
static void filter_spool_flush(filter_sess_t *s)
{
    if (str_len(s->spool) == 0 || s->spool_error)
	return;
    if (pwrite_all(s->msg.fd, str_data(s->spool), str_len(s->spool), s->spool_off) < 0) {
	msg_warn("%s: write to spool file: %m", s->msg.id);
	s->spool_error = SPOOL_IOERR;
    } else {
	s->spool_off += (long long)str_len(s->spool);
    }
    str_reset(s->spool);
}

/* filter_data_line - a piece of a content line from the splitter */
static void filter_data_line(void *ctx, const char *data, size_t len, int complete)
{
    filter_sess_t *s = ctx;
    long long limit = config_size("message_size_limit");

    s->msg.size += (long long)len + (complete ? 2 : 0);
    if (limit > 0 && s->msg.size > limit)
	s->spool_error = s->spool_error ? s->spool_error : SPOOL_TOOBIG;
    if (s->spool_error)
	return;
    str_append(s->spool, data, len);
    if (complete)
	str_append(s->spool, "\r\n", 2);
    if (str_len(s->spool) >= FILTER_SPOOL_FLUSH)
	filter_spool_flush(s);
}

/* filter_data - DATA: the spool file, then the content */
static void filter_data(filter_sess_t *s)
{
    const char *why = NULL;

    if (!s->msg.sender)
	return filter_refuse(s, "503 5.5.1 Error: need MAIL command");
    if (s->msg.rcpt_count == 0)
	return filter_refuse(s, "503 5.5.1 Error: need RCPT command");
    if (filter_spool_open(s, &why) < 0) {
	filter_reply(s, "451 4.3.0 Error: %s", why);
	return filter_msg_reset(s);
    }
    s->msg.fd = s->file.fd;
    qid_new(s->msg.id, s->file.ino);
    smtpd_dot_init(&s->data, SMTPD_DOT_MODE_NORMALIZE, 0, 1, filter_data_line, s);
    s->phase = PH_DATA;
    filter_reply(s, "354 End data with <CR><LF>.<CR><LF>");
}

/* filter_reply_all - the same reply for the transaction: once in SMTP,
 * once per recipient in LMTP */
static void filter_reply_all(filter_sess_t *s, const char *reply)
{
    size_t n = s->lmtp ? s->msg.rcpt_count : 1;

    for (size_t i = 0; i < n; i++)
	filter_reply(s, "%s", reply);
}

/* filter_deadline - timer: the session brought no message in time */
static void filter_deadline(int unused_fd, int event, void *context)
{
    filter_sess_t *s = context;

    if (s->conn == NULL || s->closing || s->phase >= PH_WAIT)
	return;
    msg_info("timeout: no message from %s within filterd_message_timeout (%lds)",
	     event_conn_addr(s->conn), config_time("filterd_message_timeout"));
    filter_reply(s, "421 4.4.2 %s Error: timeout exceeded", config_str("myhostname"));
    filter_hangup(s);
}

/* filter_deadline_arm - from now the session has filterd_message_timeout
 * to bring its next message to the end of DATA: NOOP, RSET and bytes
 * trickling in do not extend it */
static void filter_deadline_arm(filter_sess_t *s)
{
    event_request_timer(filter_deadline, s, config_time("filterd_message_timeout") * 1000L);
}

/* filter_resume - back to commands, and on with any input kept */
static void filter_resume(filter_sess_t *s)
{
    str_t *kept;

    filter_msg_reset(s);
    s->phase = PH_CMD;
    if (s->conn == NULL)
	return;
    event_conn_set_timeout(s->conn, config_time("filterd_timeout"));
    filter_deadline_arm(s);
    if (str_len(s->pending) == 0)
	return;
    kept = s->pending;
    s->pending = str_new(256);
    filter_consume(s, str_data(kept), str_len(kept));
    str_free(&kept);
}

static void filter_worker_start(filter_sess_t *s);

/* filter_worker_next - a slot is free: start the next waiting session */
static void filter_worker_next(void)
{
    filter_sess_t *s = filter_waiting;

    if (s == NULL || filter_workers >= config_int("filterd_worker_limit", 1, 10000))
	return;
    if ((filter_waiting = s->next_waiting) == NULL)
	filter_wait_tail = &filter_waiting;
    s->next_waiting = NULL;
    filter_worker_start(s);
}

/* filter_sess_free - release a session */
static void filter_sess_free(filter_sess_t *s)
{
    if (s->prev)
	s->prev->next = s->next;
    else
	filter_sessions = s->next;
    if (s->next)
	s->next->prev = s->prev;
    (void)event_cancel_timer(filter_deadline, s);
    filter_msg_reset(s);
    str_free(&s->line);
    str_free(&s->spool);
    str_free(&s->pending);
    str_free(&s->out);
    mr_free(s);
}

/* filter_worker_done - the worker has finished (or died); the len
 * bytes of its replies that the client's socket did not take go out
 * behind the client's other output */
static void filter_worker_done(void *context, int answered, const char *rest, size_t len)
{
    filter_sess_t *s = context;

    if (!answered) {
	msg_warn("%s: the worker ended without answering the client", s->msg.id);
	filter_reply_all(s, "451 4.3.0 Error: internal error in the content filter");
    } else if (len > 0 && s->conn) {
	(void)event_conn_write(s->conn, rest, len);
    }
    s->worker = 0;
    filter_workers--;
    if (s->conn == NULL) {
	filter_sess_free(s);
    } else {
	filter_resume(s);
	filter_flush(s);
    }
    filter_worker_next();
}

/* filter_worker_child_init - in a new worker: close what belongs to the
 * session process (clients' sockets, spool files), so that a client's
 * connection ends when its session closes it */
static void filter_worker_child_init(void)
{
    for (filter_sess_t *s = filter_sessions; s; s = s->next) {
	if (s->conn)
	    (void)close(event_conn_fd(s->conn));
	if (s->msg.fd >= 0)
	    (void)close(s->msg.fd);
    }
    while (filter_spool_count > 0)
	(void)close(filter_spool_pool[--filter_spool_count].fd);
}

/* filter_worker_start - hand a complete message to a worker */
static void filter_worker_start(filter_sess_t *s)
{
    if (s->conn == NULL) { /* the client went away while waiting */
	filter_sess_free(s);
	return;
    }
    filter_flush(s); /* the worker writes the next reply itself */
    if (filter_pool_submit(&s->msg, s->lmtp, event_conn_fd(s->conn), event_conn_addr(s->conn),
			   filter_worker_child_init, filter_worker_done, s) < 0) {
	filter_reply_all(s, "451 4.3.0 Error: content filter busy, try again later");
	filter_resume(s);
	filter_flush(s);
	return;
    }
    s->worker = 1;
    s->phase = PH_WORK;
    filter_workers++;
}

/* filter_data_end - the end-of-data dot: refuse, or hand to a worker */
static void filter_data_end(filter_sess_t *s)
{
    filter_spool_flush(s);
    if (!s->spool_error && filter_spool_end(s) < 0) {
	msg_warn("%s: truncate spool file: %m", s->msg.id);
	s->spool_error = SPOOL_IOERR;
    }
    if (s->spool_error) {
	msg_info("%s: reject: %s, size=%lld", s->msg.id,
		 s->spool_error == SPOOL_TOOBIG ? "message too big" : "spool write error",
		 s->msg.size);
	filter_reply_all(s, s->spool_error == SPOOL_TOOBIG
				? "552 5.3.4 Error: message size exceeds fixed limit"
				: "451 4.3.0 Error: cannot store the message");
	filter_msg_reset(s);
	s->phase = PH_CMD;
	filter_deadline_arm(s);
	return;
    }
    (void)event_cancel_timer(filter_deadline, s);
    s->phase = PH_WAIT;
    event_conn_set_timeout(s->conn, 0); /* the worker has its own limits */
    *filter_wait_tail = s;
    filter_wait_tail = &s->next_waiting;
    filter_worker_next();
}

/* filter_command - one complete command line */
static void filter_command(filter_sess_t *s)
{
    char *line = str_data(s->line), *args;

    if (s->line_long) {
	s->line_long = 0;
	str_reset(s->line);
	return filter_refuse(s, "500 5.5.2 Error: line too long");
    }
    args = line + strcspn(line, " ");
    if (*args)
	*args++ = 0;
    if (strcasecmp(line, "EHLO") == 0 || strcasecmp(line, "HELO") == 0 ||
	strcasecmp(line, "LHLO") == 0)
	filter_hello(s, line, args);
    else if (strcasecmp(line, "MAIL") == 0)
	filter_mail(s, args);
    else if (strcasecmp(line, "RCPT") == 0)
	filter_rcpt(s, args);
    else if (strcasecmp(line, "DATA") == 0)
	filter_data(s);
    else if (strcasecmp(line, "RSET") == 0)
	filter_msg_reset(s), filter_reply(s, "250 2.0.0 Ok");
    else if (strcasecmp(line, "NOOP") == 0)
	filter_reply(s, "250 2.0.0 Ok");
    else if (strcasecmp(line, "QUIT") == 0)
	filter_reply(s, "221 2.0.0 Bye"), filter_hangup(s);
    else
	filter_refuse(s, "502 5.5.2 Error: command not recognized");
    str_reset(s->line);
}

/* filter_consume - process client bytes in the current phase */
static void filter_consume(filter_sess_t *s, const char *buf, size_t len)
{
    const char *nl;
    size_t used, take;

    while (len > 0 && s->phase < PH_WAIT && s->conn && !s->closing) {
	if (s->phase == PH_DATA) {
	    if (smtpd_dot_feed(&s->data, buf, len, &used) == SMTPD_DOT_END)
		filter_data_end(s);
	} else {
	    /* one line at a time, so that DATA's content starts fresh */
	    nl = memchr(buf, '\n', len);
	    take = nl ? (size_t)(nl - buf) + 1 : len;
	    (void)smtpd_dot_feed(&s->cmd, buf, take, &used);
	    used = take;
	    if (s->line_done) {
		s->line_done = 0;
		filter_command(s);
	    }
	}
	buf += used;
	len -= used;
    }
    if (len > 0 && s->phase >= PH_WAIT && !s->closing) {
	if (str_len(s->pending) + len > FILTER_PENDING_MAX) {
	    msg_warn("%s sends too much while its message is scanned: closing",
		     event_conn_addr(s->conn));
	    filter_hangup(s);
	    return;
	}
	str_append(s->pending, buf, len);
    }
    filter_flush(s);
}

/* filter_conn_input - bytes from a client */
static void filter_conn_input(event_conn_t *conn, const char *buf, size_t len)
{
    filter_consume(event_conn_context(conn), buf, len);
}

/* filter_client_allowed - a Unix-socket client, or one from
 * filterd_client_networks */
static int filter_client_allowed(const char *addr)
{
    return strcmp(addr, "local") == 0 ||
	   net_list_match(addr, config_str("filterd_client_networks"));
}

/* filter_conn_open - greet a new client, or refuse one from elsewhere */
static void filter_conn_open(event_conn_t *conn, const char *service)
{
    filter_sess_t *s = mr_calloc(1, sizeof(*s));
    const char *addr = event_conn_addr(conn);
    const char *over;

    s->conn = conn;
    s->line = str_new(128);
    s->spool = str_new(FILTER_SPOOL_FLUSH + 4096);
    s->pending = str_new(256);
    s->out = str_new(512);
    s->msg.fd = -1;
    if ((s->next = filter_sessions) != NULL)
	s->next->prev = s;
    filter_sessions = s;
    smtpd_dot_init(&s->cmd, SMTPD_DOT_MODE_NORMALIZE, 1, 1, filter_cmd_line, s);
    event_conn_set_context(conn, s);
    event_conn_set_timeout(conn, config_time("filterd_timeout"));
    if (!filter_client_allowed(addr)) {
	msg_warn("client %s is not in filterd_client_networks: refused", addr);
	filter_reply(s, "554 5.7.1 %s Error: access denied", config_str("myhostname"));
	filter_hangup(s);
	return;
    }
    if ((over = filter_limit_open(event_conn_fd(conn), addr, service, &s->ident)) != NULL) {
	filter_reply(s, "%s", over);
	filter_hangup(s);
	return;
    }
    filter_deadline_arm(s);
    filter_reply(s, "220 %s ESMTP Mailroom content filter", config_str("myhostname"));
    filter_flush(s);
}

/* filter_conn_close - the client has gone; a worker may still run */
static void filter_conn_close(event_conn_t *conn)
{
    filter_sess_t *s = event_conn_context(conn);
    filter_sess_t **pp;

    s->conn = NULL;
    filter_limit_close(&s->ident);
    (void)event_cancel_timer(filter_deadline, s);
    if (s->phase == PH_DATA)
	msg_info("%s: lost connection with %s in DATA", s->msg.id[0] ? s->msg.id : "NOQUEUE",
		 event_conn_addr(conn));
    if (s->phase == PH_WAIT) {
	for (pp = &filter_waiting; *pp && *pp != s; pp = &(*pp)->next_waiting)
	    ;
	if (*pp && (*pp = s->next_waiting) == NULL)
	    filter_wait_tail = pp;
    }
    if (s->worker == 0)
	filter_sess_free(s);
}

/* filter_post_init - open the policy tables (as mail_owner), start the
 * sweep of temporary files */
static void filter_post_init(const char *service)
{
    const char *err;

    filter_sweep_start();
    filter_limit_init();
    if (*config_str("filterd_policy_maps") == 0)
	return;
    if ((filter_policy_maps = table_list_open(config_str("filterd_policy_maps"), &err)) == NULL) {
	msg_warn("filterd_policy_maps: %s: recipients get 451 4.3.0", err);
	filter_policy_broken = 1;
    }
}

int main(int argc, char **argv)
{
    static const server_params_t params = {
	.post_init = filter_post_init,
	.conn_open = filter_conn_open,
	.conn_input = filter_conn_input,
	.conn_close = filter_conn_close,
	.max_use_param = "filterd_max_use",
    };

    msg_init("filterd");
    return event_server_main(argc, argv, &params);
}
