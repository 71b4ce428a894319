/*
 * deliver_request.c - the agent side of the delivery request protocol:
 * read and check a request, open the queue file, record each
 * recipient's outcome (done mark, bounce/defer log, log line), reply.
 * The protocol and the trust rules are in deliver_request.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "global/config.h"
#include "global/mail_proto.h"
#include "queue/deliver_request.h"
#include "queue/qlog.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/privs.h"
#include "util/safe_open.h"

/* deliver_now - wall-clock seconds with fraction */
static double deliver_now(void)
{
    struct timeval tv;

    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

/* deliver_text_ok - at most max bytes, no control characters */
static int deliver_text_ok(const char *v, size_t max)
{
    size_t n = 0;

    for (; v[n]; n++)
	if ((unsigned char)v[n] < 0x20 || v[n] == 0x7f || n >= max)
	    return 0;
    return 1;
}

/* deliver_number - all digits, at most 18 of them: value, or -1 */
static long long deliver_number(const char *v)
{
    size_t n = strspn(v, "0123456789");

    if (n == 0 || n > 18 || v[n])
	return -1;
    return strtoll(v, NULL, 10);
}

/* deliver_time - "SECONDS.MICROSECONDS" (fraction optional): 0 ok, -1 */
static int deliver_time(const char *v, double *t_r)
{
    size_t n = strspn(v, "0123456789"), frac = 0;

    if (v[n] == '.')
	frac = strspn(v + n + 1, "0123456789") + 1;
    if (n == 0 || n > 12 || frac > 7 || v[n + frac] != 0)
	return -1;
    *t_r = strtod(v, NULL);
    return 0;
}

/* deliver_get - attribute value checked for bounds; NULL if bad/absent */
static const char *deliver_get(deliver_request_t *req, const char *name, size_t max, int optional)
{
    const char *v = attr_get(req->attrs, name);

    if (v == NULL)
	return optional ? "" : NULL;
    return deliver_text_ok(v, max) ? v : NULL;
}

/* deliver_get_i - the same for NAME.I */
static const char *deliver_get_i(deliver_request_t *req, const char *name, size_t i, size_t max,
				 int optional)
{
    char key[64];

    snprintf(key, sizeof(key), "%s.%zu", name, i);
    return deliver_get(req, key, max, optional);
}

/* deliver_check_envelope - the per-message attributes: NULL or why not */
static const char *deliver_check_envelope(deliver_request_t *req)
{
    const char *v;

    if ((req->queue_name = deliver_get(req, MAIL_ATTR_QUEUE_NAME, 32, 0)) == NULL ||
	strcmp(req->queue_name, MAIL_QUEUE_ACTIVE) != 0)
	return "bad queue_name";
    if ((req->queue_id = deliver_get(req, MAIL_ATTR_QUEUE_ID, QID_LEN, 0)) == NULL ||
	!qid_valid(req->queue_id))
	return "bad queue_id";
    if ((req->transport = deliver_get(req, MAIL_ATTR_TRANSPORT, DELIVER_MAX_NAME, 0)) == NULL ||
	(req->nexthop = deliver_get(req, MAIL_ATTR_NEXTHOP, DELIVER_MAX_NAME, 1)) == NULL ||
	(req->sender = deliver_get(req, MAIL_ATTR_SENDER, DELIVER_MAX_ADDR, 0)) == NULL ||
	(req->envid = deliver_get(req, MAIL_ATTR_ENVID, DELIVER_MAX_NAME, 1)) == NULL ||
	(req->ret = deliver_get(req, MAIL_ATTR_RET, 8, 1)) == NULL)
	return "bad transport, nexthop, sender, envid or ret";
    if ((v = attr_get(req->attrs, MAIL_ATTR_SIZE)) == NULL || (req->size = deliver_number(v)) < 0)
	return "bad size";
    if ((v = attr_get(req->attrs, MAIL_ATTR_ARRIVAL_TIME)) == NULL ||
	deliver_time(v, &req->arrival_time) < 0)
	return "bad arrival_time";
    if ((v = attr_get(req->attrs, MAIL_ATTR_ACTIVE_TIME)) == NULL ||
	deliver_time(v, &req->active_time) < 0)
	req->active_time = req->recv_time;
    if ((v = attr_get(req->attrs, MAIL_ATTR_FLAGS)) == NULL || deliver_number(v) < 0 ||
	deliver_number(v) > 0xffff)
	return "bad flags";
    req->flags = (int)deliver_number(v);
    if ((v = attr_get(req->attrs, MAIL_ATTR_MORE)) != NULL && strcmp(v, "1") != 0 &&
	strcmp(v, "0") != 0)
	return "bad more";
    req->more = v != NULL && strcmp(v, "1") == 0;
    if ((v = attr_get(req->attrs, MAIL_ATTR_RCPT_COUNT)) == NULL || deliver_number(v) < 1 ||
	deliver_number(v) > DELIVER_MAX_RCPT)
	return "bad rcpt_count";
    req->total = (size_t)deliver_number(v);
    return NULL;
}

/* deliver_find_rcpt - the queue file recipient at offset, or -1 */
static long deliver_find_rcpt(const qfile_t *qf, off_t offset)
{
    for (size_t j = 0; j < qf->rcpt_count; j++)
	if (qf->rcpts[j].offset == offset)
	    return (long)j;
    return -1;
}

/* deliver_check_rcpt - recipient I against the queue file: NULL or why */
static const char *deliver_check_rcpt(deliver_request_t *req, size_t i, char *seen)
{
    deliver_rcpt_t *r = req->rcpts + req->rcpt_count;
    const char *off;
    long long offset;
    long j;

    memset(r, 0, sizeof(*r));
    if ((r->address = deliver_get_i(req, MAIL_ATTR_RCPT, i, DELIVER_MAX_ADDR, 0)) == NULL ||
	(r->orcpt = deliver_get_i(req, MAIL_ATTR_ORCPT, i, DELIVER_MAX_ADDR, 1)) == NULL ||
	(r->notify = deliver_get_i(req, MAIL_ATTR_NOTIFY, i, DELIVER_MAX_NAME, 1)) == NULL ||
	(off = deliver_get_i(req, MAIL_ATTR_OFFSET, i, 20, 0)) == NULL ||
	(offset = deliver_number(off)) < 0)
	return "bad rcpt, orcpt, notify or offset";
    if ((j = deliver_find_rcpt(req->qf, (off_t)offset)) < 0)
	return "offset is not a recipient record of the queue file";
    if (strcmp(req->qf->rcpts[j].address, r->address) != 0)
	return "recipient differs from the queue file";
    if (seen[j]++)
	return "recipient requested twice";
    if (req->qf->rcpts[j].done) {
	req->answers[i] = DELIVER_STAT_SENT; /* delivered before: say so */
	return NULL;
    }
    r->offset = (off_t)offset;
    r->index = i;
    r->qf_index = (size_t)j;
    r->reason = str_new(64);
    req->rcpt_count++;
    return NULL;
}

/* deliver_owner - mail_owner's uid as root, else -1 (looked up once per
 * process: the passwd file is read at every lookup) */
static uid_t deliver_owner(void)
{
    static uid_t owner;
    static int known;
    gid_t gid;

    if (geteuid() != 0)
	return (uid_t)-1;
    if (!known && privs_lookup(config_str("mail_owner"), &owner, &gid) < 0)
	msg_fatal("unknown mail_owner user \"%s\"", config_str("mail_owner"));
    known = 1;
    return owner;
}

/* deliver_open_file - open the queue file read-write: NULL or why not */
static const char *deliver_open_file(deliver_request_t *req)
{
    str_t *path = str_new(100);
    uid_t owner = deliver_owner();
    const char *why = NULL;
    int fd, st = QFILE_ERROR;

    qfile_abspath(path, req->queue_name, req->queue_id);
    if ((fd = safe_open(str_data(path), O_RDWR, 0, owner, &why)) >= 0 && flock(fd, LOCK_SH) == 0 &&
	(st = qfile_open_fd(fd, str_data(path), 1, &req->qf, &why)) == QFILE_OK)
	why = NULL;
    else if (why == NULL)
	why = "cannot open queue file";
    req->corrupt = st == QFILE_CORRUPT;
    str_free(&path);
    return why;
}

/* deliver_check - everything about a request: NULL or why it is bad */
static const char *deliver_check(deliver_request_t *req)
{
    const char *why;
    char *seen;

    if ((why = deliver_check_envelope(req)) != NULL || (why = deliver_open_file(req)) != NULL)
	return why;
    req->rcpts = mr_calloc(req->total, sizeof(*req->rcpts));
    req->answers = mr_calloc(req->total, sizeof(*req->answers));
    seen = mr_calloc(req->qf->rcpt_count + 1, 1);
    for (size_t i = 0; i < req->total && why == NULL; i++)
	why = deliver_check_rcpt(req, i, seen);
    mr_free(seen);
    return why;
}

/* deliver_request_free - release everything */
static void deliver_request_free(deliver_request_t **reqp)
{
    deliver_request_t *req = *reqp;

    for (size_t i = 0; i < req->rcpt_count; i++)
	str_free(&req->rcpts[i].reason);
    mr_free(req->rcpts);
    mr_free(req->answers);
    qfile_close(&req->qf);
    attr_list_free(&req->attrs);
    mr_free(req);
    *reqp = NULL;
}

/* deliver_add_answer - one recipient's entries in the reply */
static void deliver_add_answer(attr_list_t *reply, size_t i, int status, const char *dsn,
			       const char *reason)
{
    static const char *const words[] = {"deferred", "sent", "deferred", "bounced"};

    deliver_attr_add_i(reply, MAIL_ATTR_STATUS, i, words[status]);
    deliver_attr_add_i(reply, MAIL_ATTR_DSN, i, dsn);
    deliver_attr_add_i(reply, MAIL_ATTR_REASON, i, reason);
}

/* deliver_refuse - answer a bad request: every recipient deferred */
static void deliver_refuse(stream_t *client, deliver_request_t *req, const char *why)
{
    attr_list_t *reply = attr_list_new();
    const char *id = req->queue_id && qid_valid(req->queue_id) ? req->queue_id : "NOQUEUE";
    const char *count = attr_get(req->attrs, MAIL_ATTR_RCPT_COUNT);
    long long n = count ? deliver_number(count) : -1;

    if (req->corrupt)
	msg_warn("%s: corrupt queue file: %s", id, why);
    else
	msg_warn("%s: invalid delivery request: %s", id, why);
    if (strcmp(id, "NOQUEUE") != 0)
	attr_add(reply, MAIL_ATTR_QUEUE_ID, id);
    if (req->corrupt)
	attr_add(reply, MAIL_ATTR_CORRUPT, "1");
    for (long long i = 0; i < n && i < DELIVER_MAX_RCPT; i++) {
	deliver_add_answer(reply, (size_t)i, DELIVER_STAT_DEFERRED,
			   req->corrupt ? "4.3.0" : "4.3.5",
			   req->corrupt ? "queue file corrupt" : "invalid delivery request");
    }
    (void)attr_write(client, reply);
    attr_list_free(&reply);
}

/* deliver_request_read - handshake, request, checks, queue file */
int deliver_request_read(stream_t *client, deliver_request_t **req_r)
{
    if (attr_send_protocol(client, MAIL_PROTO_DELIVERY) < 0)
	return 0;
    return deliver_request_next(client, req_r);
}

/* deliver_request_next - request, checks, queue file */
int deliver_request_next(stream_t *client, deliver_request_t **req_r)
{
    deliver_request_t *req;
    const char *why;
    int r;

    req = mr_calloc(1, sizeof(*req));
    req->attrs = attr_list_new();
    if ((r = attr_read(client, req->attrs)) <= 0) {
	if (r < 0)
	    msg_warn("malformed or unreadable delivery request");
	deliver_request_free(&req);
	return r;
    }
    req->recv_time = deliver_now();
    if ((why = deliver_check(req)) != NULL) {
	deliver_refuse(client, req, why);
	r = req->more ? DELIVER_REFUSED_MORE : -1;
	deliver_request_free(&req);
	return r;
    }
    *req_r = req;
    return 1;
}

/* deliver_request_abandon - release without bookkeeping */
void deliver_request_abandon(deliver_request_t **reqp)
{
    deliver_request_free(reqp);
}

/* deliver_request_client_gone - EOF waiting on the connection? */
int deliver_request_client_gone(stream_t *client)
{
    struct pollfd pfd = {.fd = stream_fd(client), .events = POLLIN};
    char c;

    if (stream_pending(client) > 0 || poll(&pfd, 1, 0) != 1)
	return 0;
    return recv(pfd.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* deliver_request_connected - note the end of connection set-up */
void deliver_request_connected(deliver_request_t *req)
{
    req->conn_time = deliver_now();
}

/* deliver_fmt_delay - a delay like Postfix prints it: 2 decimals, no
 * trailing zeros */
static void deliver_fmt_delay(str_t *out, double secs)
{
    char buf[40], *end;

    if (secs < 0)
	secs = 0;
    snprintf(buf, sizeof(buf), secs >= 10 ? "%.0f" : "%.2f", secs);
    if (strchr(buf, '.')) {
	end = buf + strlen(buf) - 1;
	while (*end == '0')
	    *end-- = 0;
	if (*end == '.')
	    *end = 0;
    }
    str_appends(out, buf);
}

/* deliver_log - the Postfix-shaped line for one outcome */
static void deliver_log(deliver_request_t *req, deliver_rcpt_t *r, const char *relay,
			const char *status)
{
    str_t *line = str_new(256);
    double now = deliver_now();
    double conn = req->conn_time > 0 ? req->conn_time : now;
    const char *orig = r->orcpt;

    str_printf(line, "%s: to=<%s>, ", req->queue_id, r->address);
    if (strncasecmp(orig, "rfc822;", 7) == 0 && !mr_strcaseeq(orig + 7, r->address))
	str_appendf(line, "orig_to=<%s>, ", orig + 7);
    str_appendf(line, "relay=%s, delay=", relay);
    deliver_fmt_delay(line, now - req->arrival_time);
    str_appends(line, ", delays=");
    deliver_fmt_delay(line, req->active_time - req->arrival_time);
    str_appendc(line, '/');
    deliver_fmt_delay(line, req->recv_time - req->active_time);
    str_appendc(line, '/');
    deliver_fmt_delay(line, conn - req->recv_time);
    str_appendc(line, '/');
    deliver_fmt_delay(line, now - conn);
    str_appendf(line, ", dsn=%s, status=%s (%s)", r->dsn, status, str_data(r->reason));
    msg_info("%s", str_data(line));
    str_free(&line);
}

/* deliver_set_reason - bounded text without control characters */
static void deliver_set_reason(deliver_rcpt_t *r, const char *fmt, va_list ap)
{
    str_reset(r->reason);
    str_vappendf(r->reason, fmt, ap);
    str_truncate(r->reason, DELIVER_MAX_REASON);
    for (size_t k = 0; k < str_len(r->reason); k++)
	if ((unsigned char)r->reason->data[k] < 0x20 || r->reason->data[k] == 0x7f)
	    r->reason->data[k] = ' ';
}

/* deliver_qlog - append the recipient's record to bounce/ or defer/ */
static int deliver_qlog(deliver_request_t *req, deliver_rcpt_t *r, const char *queue,
			const char *action, const char *relay, const char **why_r)
{
    qlog_entry_t e = {
	.rcpt = r->address,
	.orcpt = r->orcpt,
	.notify = r->notify,
	.offset = (long long)r->offset,
	.dsn = r->dsn,
	.action = action,
	.reason = str_data(r->reason),
	.relay = relay,
	.time = (long)deliver_now(),
    };

    return qlog_append(queue, req->queue_id, &e, strcmp(queue, MAIL_QUEUE_BOUNCE) == 0, why_r);
}

/* deliver_mark_done - R -> D in the queue file: 0, or -1 (then deferred) */
static int deliver_mark_done(deliver_request_t *req, deliver_rcpt_t *r)
{
    const char *why;

    if (qfile_rcpt_done(req->qf, r->qf_index, &why) == 0)
	return 0;
    msg_warn("%s: %s: %s", req->queue_id, r->address, why);
    snprintf(r->dsn, sizeof(r->dsn), "4.3.0");
    str_printf(r->reason, "queue file write error");
    r->status = DELIVER_STAT_DEFERRED;
    return -1;
}

/* deliver_final - sent or bounced (or verified): log record, mark, log */
static int deliver_final(deliver_request_t *req, deliver_rcpt_t *r, int status, const char *relay)
{
    int verify = (req->flags & DELIVER_FLAG_VERIFY) != 0;
    const char *action, *word, *why;

    if (status == DELIVER_STAT_SENT) {
	action = verify ? "deliverable" : "delivered";
	word = verify ? "deliverable" : "sent";
    } else {
	action = verify ? "undeliverable" : "failed";
	word = verify ? "undeliverable" : "bounced";
    }
    r->status = status;
    if ((verify || status == DELIVER_STAT_BOUNCED) &&
	deliver_qlog(req, r, MAIL_QUEUE_BOUNCE, action, relay, &why) < 0) {
	msg_warn("%s: %s", req->queue_id, why);
	snprintf(r->dsn, sizeof(r->dsn), "4.3.0");
	str_set(r->reason, "cannot write the bounce log");
	r->status = DELIVER_STAT_DEFERRED;
	word = "deferred";
    } else if (deliver_mark_done(req, r) < 0) {
	word = "deferred";
    }
    deliver_log(req, r, relay, word);
    return r->status == status ? 0 : -1;
}

/* deliver_outcome - common part of deliver_sent/bounced/deferred */
static int deliver_outcome(deliver_request_t *req, size_t i, int status, const char *relay,
			   const char *dsn, const char *fmt, va_list ap)
{
    static const char class_of[] = {0, '2', '4', '5'};
    deliver_rcpt_t *r;
    const char *why;

    if (i >= req->rcpt_count || req->rcpts[i].status != DELIVER_STAT_NONE)
	msg_panic("deliver outcome: recipient %zu out of range or decided twice", i);
    if (!deliver_dsn_valid(dsn) || dsn[0] != class_of[status])
	msg_panic("deliver outcome: dsn \"%s\" does not fit the outcome", dsn);
    r = req->rcpts + i;
    mr_strlcpy(r->dsn, dsn, sizeof(r->dsn));
    deliver_set_reason(r, fmt, ap);
    if (status != DELIVER_STAT_DEFERRED)
	return deliver_final(req, r, status, relay);
    r->status = DELIVER_STAT_DEFERRED;
    if (deliver_qlog(req, r, MAIL_QUEUE_DEFER, "delayed", relay, &why) < 0)
	msg_warn("%s: %s", req->queue_id, why);
    deliver_log(req, r, relay, "deferred");
    return 0;
}

int deliver_sent(deliver_request_t *req, size_t i, const char *relay, const char *dsn,
		 const char *fmt, ...)
{
    va_list ap;
    int ret;

    va_start(ap, fmt);
    ret = deliver_outcome(req, i, DELIVER_STAT_SENT, relay, dsn, fmt, ap);
    va_end(ap);
    return ret;
}

int deliver_bounced(deliver_request_t *req, size_t i, const char *relay, const char *dsn,
		    const char *fmt, ...)
{
    va_list ap;
    int ret;

    va_start(ap, fmt);
    ret = deliver_outcome(req, i, DELIVER_STAT_BOUNCED, relay, dsn, fmt, ap);
    va_end(ap);
    return ret;
}

int deliver_deferred(deliver_request_t *req, size_t i, const char *relay, const char *dsn,
		     const char *fmt, ...)
{
    va_list ap;
    int ret;

    va_start(ap, fmt);
    ret = deliver_outcome(req, i, DELIVER_STAT_DEFERRED, relay, dsn, fmt, ap);
    va_end(ap);
    return ret;
}

/* deliver_request_done - reply, close, free */
int deliver_request_done(stream_t *client, deliver_request_t **reqp)
{
    deliver_request_t *req = *reqp;
    attr_list_t *reply = attr_list_new();
    int ret;

    attr_add(reply, MAIL_ATTR_QUEUE_ID, req->queue_id);
    if (req->corrupt || req->qf->damaged)
	attr_add(reply, MAIL_ATTR_CORRUPT, "1");
    for (size_t i = 0; i < req->rcpt_count; i++)
	if (req->rcpts[i].status == DELIVER_STAT_NONE)
	    deliver_deferred(req, i, "none", "4.3.0", "delivery agent did not finish");
    for (size_t i = 0; i < req->total; i++)
	if (req->answers[i] == DELIVER_STAT_SENT)
	    deliver_add_answer(reply, i, DELIVER_STAT_SENT, "2.0.0", "already delivered");
    for (size_t i = 0; i < req->rcpt_count; i++) {
	deliver_rcpt_t *r = req->rcpts + i;

	deliver_add_answer(reply, r->index, r->status, r->dsn, str_data(r->reason));
    }
    ret = attr_write(client, reply);
    attr_list_free(&reply);
    deliver_request_free(reqp);
    return ret;
}
