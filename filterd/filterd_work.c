/*
 * filterd_work.c - filterd's worker: what happens to one message after
 * its end-of-data dot, in a process of its own (see filterd.c for why).
 *
 *   1. scan: every scanner of filterd_scanners reads the spool file once
 *      (filterd_scan.c); the spam score is made for each scoring user
 *      when it depends on the recipient (filterd_spam.h);
 *   2. decide, per recipient: pass (with our headers), quarantine or
 *      refuse (a virus, a score at the kill level: filterd_virus_action,
 *      filterd_spam_action), or refuse temporarily (a virus scanner gave
 *      no verdict and filterd_pass_unscanned is off);
 *   2a. write the recipients to quarantine into a quarantine file per
 *      reason (filterd_quar.c), fsync'd before anyone hears 250;
 *   3. re-inject each group of recipients that pass with the same
 *      headers, through lib/global/smtp_client to filterd_reinject_nexthop,
 *      keeping sender, recipients, ORCPT, NOTIFY, RET, ENVID and BODY;
 *   4. the replies for the client: one per recipient in LMTP; in SMTP
 *      one for all (docs/filterd.md: a transaction whose recipients end
 *      differently is answered 4xx as a whole); filterd_pool.c sends them.
 *
 * The worker is long-lived (filterd_pool.c): it keeps its session with
 * the re-injection server from one message to the next (below).
 *
 * Parameters: filterd_scanners, filterd_clamd_socket,
 * filterd_pass_unscanned, filterd_reinject_nexthop,
 * filterd_reinject_timeout, filterd_reinject_cache_time,
 * filterd_spam_subject_tag, filterd_spam_user_limit,
 * myhostname; the levels and actions come with each recipient's policy
 * (filterd_policy.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "filterd.h"
#include "filterd_header.h"
#include "filterd_scan.h"
#include "filterd_spam.h"
#include "global/config.h"
#include "global/smtp_client.h"
#include "global/spam_filter.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/safe_open.h"
#include "queue/qfile.h"
#include "util/stream.h"

#define FILTER_PIECE 4096 /* bytes of a content line handed out at once */
#define FILTER_REPLY_MAX 400
#define FILTER_REPLY_TIME 60 /* seconds for all of filter_reply_write */

/* What happens to one recipient */
#define ACT_PASS 0       /* re-inject with the headers */
#define ACT_REFUSE 1     /* the reply says no (4xx or 5xx) */
#define ACT_QUARANTINE 2 /* kept in the quarantine, not delivered */

/* filter_out_t - one recipient's outcome */
typedef struct filter_out {
    int action;
    int tagged; /* spam flag set: subject tag */
    int bypass; /* passes unchanged */
    int code;
    char dsn[16];
    str_t *text;
    const char *status; /* for the log: sent, deferred, bounced */
} filter_out_t;

/* filter_job_t - the worker's state */
typedef struct filter_job {
    filter_msg_t *msg;
    int lmtp; /* one reply per recipient */
    filter_verdict_t verdict;
    size_t *spam_of; /* [rcpt_count]: the recipient's verdict.spam */
    int per_user;    /* scores differ per recipient */
    filter_out_t *out;
    str_t *headers; /* our header lines, each ending in "\n" */
} filter_job_t;

/* filter_spam_of - recipient i's spam score */
static const filter_spam_t *filter_spam_of(const filter_job_t *job, size_t i)
{
    return &job->verdict.spam[job->spam_of[i]];
}

/* filter_points - tenths as "12.5" */
static void filter_points(str_t *out, int tenths)
{
    char buf[32];

    str_appends(out, spam_format_points(tenths, buf, sizeof(buf)));
}

/* filter_set - set an outcome */
static void filter_set(filter_out_t *o, int action, int code, const char *dsn, const char *status,
		       const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static void filter_set(filter_out_t *o, int action, int code, const char *dsn, const char *status,
		       const char *fmt, ...)
{
    va_list ap;

    o->action = action;
    o->code = code;
    mr_strlcpy(o->dsn, dsn, sizeof(o->dsn));
    o->status = status;
    str_reset(o->text);
    va_start(ap, fmt);
    str_vappendf(o->text, fmt, ap);
    va_end(ap);
}

/* filter_virus_header - X-Virus-Scanned, or nothing without a scanner */
static void filter_virus_header(filter_job_t *job)
{
    filter_verdict_t *v = &job->verdict;
    const char *me = config_str("myhostname");

    if (v->virus == FILTER_VIRUS_CLEAN)
	str_appendf(job->headers, "X-Virus-Scanned: yes (%s) by Mailroom filterd on %s\n",
		    str_data(v->virus_by), me);
    else if (v->virus == FILTER_VIRUS_ERROR || v->virus == FILTER_VIRUS_TOOBIG)
	str_appendf(job->headers,
		    "X-Virus-Scanned: no (not scanned: %.200s) by Mailroom filterd on %s\n",
		    str_data(v->virus_text), me);
}

/* filter_spam_headers - X-Spam-Flag, -Score, -Level, -Status for a
 * recipient's score and policy */
static void filter_spam_headers(filter_job_t *job, int flag, const filter_spam_t *sp,
				const filter_policy_t *p)
{
    int stars = sp->score <= 0 ? 0 : sp->score / 10;

    if (!sp->scanned)
	return;
    str_appendf(job->headers, "X-Spam-Flag: %s\nX-Spam-Score: ", flag ? "YES" : "NO");
    filter_points(job->headers, sp->score);
    str_appends(job->headers, "\nX-Spam-Level:");
    if (stars > 0)
	str_appendc(job->headers, ' ');
    for (int i = 0; i < stars && i < 50; i++)
	str_appendc(job->headers, '*');
    str_appendf(job->headers, "\nX-Spam-Status: %s, score=", flag ? "Yes" : "No");
    filter_points(job->headers, sp->score);
    str_appends(job->headers, " tag=");
    filter_points(job->headers, p->tag_level);
    str_appends(job->headers, " kill=");
    filter_points(job->headers, p->kill_level);
    str_appendf(job->headers, " tests=%s\n", str_len(sp->rules) ? str_data(sp->rules) : "none");
}

/* filter_final - a virus or a kill-level score: quarantine, or reject
 * with dsn, with the reason */
static void filter_final(filter_out_t *o, int reject, const char *dsn, const char *why)
{
    if (reject)
	filter_set(o, ACT_REFUSE, 554, dsn, "bounced", "%s", why);
    else
	filter_set(o, ACT_QUARANTINE, 250, "2.7.0", "quarantined", "%s", why);
}

/* filter_decide_one - recipient i's outcome from the verdict */
static void filter_decide_one(filter_job_t *job, size_t i, int unscanned, str_t *why)
{
    filter_verdict_t *v = &job->verdict;
    const filter_spam_t *sp = filter_spam_of(job, i);
    filter_out_t *o = &job->out[i];
    const filter_policy_t *p = &job->msg->rcpts[i].policy;
    char points[32];

    o->bypass = p->bypass;
    o->tagged = !p->bypass && sp->scanned && sp->score >= p->tag_level;
    if (p->bypass) {
	filter_set(o, ACT_PASS, 0, "", "", "bypass");
    } else if (v->virus == FILTER_VIRUS_FOUND) {
	str_printf(why, "Virus found: %s", str_data(v->virus_text));
	filter_final(o, p->virus_reject, "5.7.0", str_data(why));
    } else if (unscanned) {
	filter_set(o, ACT_REFUSE, 451, "4.7.0", "deferred",
		   "Virus scan failed, try again later: %s", str_data(v->virus_text));
    } else if (sp->scanned && sp->score >= p->kill_level) {
	str_printf(why, "Spam: score %s (%s)",
		   spam_format_points(sp->score, points, sizeof(points)), str_data(sp->rules));
	filter_final(o, p->spam_reject, "5.7.1", str_data(why));
    } else {
	filter_set(o, ACT_PASS, 0, "", "", "pass");
    }
}

/*
 * filter_smtp_split - in SMTP the one reply speaks for every recipient,
 * and their policies are the same (filterd.c refuses others at RCPT);
 * only scores per user can still put some at the kill level and others
 * below it. With spam=reject that would be a 554 for some and a 250 for
 * others: those recipients are quarantined instead (the same 250 class),
 * which loses nothing and sends nothing twice.
 */
static void filter_smtp_split(filter_job_t *job)
{
    size_t n = job->msg->rcpt_count, rejects = 0;
    str_t *why;

    for (size_t i = 0; i < n; i++)
	rejects += job->out[i].code == 554 && strcmp(job->out[i].dsn, "5.7.1") == 0;
    if (job->lmtp || rejects == 0 || rejects == n)
	return;
    why = str_new(128);
    for (size_t i = 0; i < n; i++)
	if (job->out[i].code == 554 && strcmp(job->out[i].dsn, "5.7.1") == 0) {
	    str_set(why, str_data(job->out[i].text));
	    filter_final(&job->out[i], 0, "5.7.1", str_data(why));
	}
    str_free(&why);
}

/* filter_decide - every recipient's outcome from the verdict */
static void filter_decide(filter_job_t *job)
{
    int unscanned =
	job->verdict.virus == FILTER_VIRUS_ERROR && !config_bool("filterd_pass_unscanned");
    str_t *why = str_new(128);

    for (size_t i = 0; i < job->msg->rcpt_count; i++)
	filter_decide_one(job, i, unscanned, why);
    filter_smtp_split(job);
    str_free(&why);
}

/* filter_keep_group - the n recipients of idx (same reason) into one
 * quarantine file */
static void filter_keep_group(filter_job_t *job, const size_t *idx, size_t n, const char *client)
{
    char id[QID_BUFSIZE];
    const char *err;
    str_t *why = str_new(128);

    str_set(why, str_data(job->out[idx[0]].text));
    if (filter_quarantine(job->msg, idx, n, str_data(why), client, id, &err) < 0) {
	for (size_t k = 0; k < n; k++)
	    filter_set(&job->out[idx[k]], ACT_REFUSE, 451, "4.3.0", "deferred", "%s", err);
    } else {
	for (size_t k = 0; k < n; k++)
	    filter_set(&job->out[idx[k]], ACT_QUARANTINE, 250, "2.7.0", "quarantined",
		       "Quarantined as %s: %s", id, str_data(why));
    }
    str_free(&why);
}

/* filter_groups_run - run fn on each group of the recipients that have
 * keys[i] set (the others have NULL), one call per group of equal keys */
static void filter_groups_run(filter_job_t *job, const char **keys, const char *client,
			      void (*fn)(filter_job_t *, const size_t *, size_t, const char *))
{
    size_t n = job->msg->rcpt_count, groups, count;
    size_t *group = mr_calloc(n, sizeof(*group)), *idx = mr_calloc(n, sizeof(*idx));

    groups = filter_group(keys, n, group);
    for (size_t g = 0; g < groups; g++) {
	count = 0;
	for (size_t i = 0; i < n; i++)
	    if (group[i] == g && keys[i] != NULL)
		idx[count++] = i;
	if (count > 0)
	    fn(job, idx, count, client);
    }
    mr_free(idx);
    mr_free(group);
}

/* filter_keep - the recipients to quarantine, one quarantine file per
 * reason (scores per user may differ) */
static void filter_keep(filter_job_t *job, const char *client)
{
    size_t n = job->msg->rcpt_count;
    const char **keys = mr_calloc(n, sizeof(*keys));

    for (size_t i = 0; i < n; i++)
	keys[i] = job->out[i].action == ACT_QUARANTINE ? str_data(job->out[i].text) : NULL;
    filter_groups_run(job, keys, client, filter_keep_group);
    mr_free(keys);
}

/* Content reader for smtp_client: our headers, then the spool file
 * through the header filter */
typedef struct filter_feed {
    const char *hdr; /* next of our header lines, or NULL after them */
    int raw;         /* bypass: the content exactly as received */
    stream_t *spool;
    int fd;         /* the spool file, read by filter_spool_read */
    long long off;  /* where the next read starts */
    long long size; /* the message's bytes in the file */
    filter_header_t filter;
    str_t *piece;
} filter_feed_t;

/*
 * filter_spool_read - the spool file as a stream's transport: pread from
 * the feed's own offset up to the message's size, so that re-injection
 * needs no descriptor of its own (a dup shares the offset, which clamd
 * and the scanners move) and no read to find the end.
 */
static ssize_t filter_spool_read(void *ctx, int unused_fd, void *buf, size_t len,
				 int unused_timeout)
{
    filter_feed_t *f = ctx;
    ssize_t n;

    if (f->off >= f->size)
	return 0;
    if ((long long)len > f->size - f->off)
	len = (size_t)(f->size - f->off);
    while ((n = pread(f->fd, buf, len, (off_t)f->off)) < 0 && errno == EINTR)
	;
    if (n > 0)
	f->off += n;
    return n;
}

/* filter_spool_write - the spool stream is never written */
static ssize_t filter_spool_write(void *unused_ctx, int unused_fd, const void *unused_buf,
				  size_t unused_len, int unused_timeout)
{
    errno = EBADF;
    return -1;
}

static const stream_io_t filter_spool_io = {filter_spool_read, filter_spool_write, NULL};

/* filter_feed_spool - next piece of the spool file: 1, 0 at the end, -1 */
static int filter_feed_spool(filter_feed_t *f, int *complete_r)
{
    int r, c;
    size_t n;

    str_reset(f->piece);
    r = stream_read_line(f->spool, f->piece, FILTER_PIECE);
    if (r == STREAM_EOF)
	return 0;
    if (r == STREAM_ERROR)
	return -1;
    n = str_len(f->piece);
    /* a CR at the end of a partial piece may be half of the line end */
    while (r == STREAM_PARTIAL && n > 0 && str_data(f->piece)[n - 1] == '\r') {
	if ((c = stream_getc(f->spool)) < 0 || c == '\n') {
	    r = STREAM_LINE;
	    break;
	}
	str_appendc(f->piece, c);
	n++;
    }
    *complete_r = r == STREAM_LINE;
    if (n > 0 && str_data(f->piece)[n - 1] == '\n')
	n--;
    if (*complete_r && n > 0 && str_data(f->piece)[n - 1] == '\r')
	n--;
    str_truncate(f->piece, n);
    return 1;
}

/* filter_feed_line - smtp_client's line callback */
static int filter_feed_line(void *ctx, str_t *line, int *complete_r, const char **error_r)
{
    filter_feed_t *f = ctx;
    const char *nl;
    int r;

    if (f->hdr && (nl = strchr(f->hdr, '\n')) != NULL) {
	str_setn(line, f->hdr, (size_t)(nl - f->hdr));
	f->hdr = nl + 1;
	*complete_r = 1;
	return 1;
    }
    f->hdr = NULL;
    while ((r = filter_feed_spool(f, complete_r)) == 1)
	if (f->raw ? (str_setn(line, str_data(f->piece), str_len(f->piece)), 1)
		   : filter_header_piece(&f->filter, str_data(f->piece), str_len(f->piece),
					 *complete_r, line))
	    return 1;
    if (r < 0)
	*error_r = "cannot read the spool file";
    return r;
}

/* filter_inject_result - a recipient's outcome from 10025's reply */
static void filter_inject_result(filter_out_t *o, const smtp_rcpt_t *r, const char *relay)
{
    const smtp_reply_t *rep = &r->reply;

    if (rep->code >= 200 && rep->code < 300)
	filter_set(o, ACT_PASS, 250, "2.0.0", "sent", "Ok, passed through %s: %s", relay,
		   str_data(rep->text));
    else if (rep->code >= 500)
	filter_set(o, ACT_REFUSE, rep->code, rep->dsn, "bounced", "%s said after %s: %s", relay,
		   r->stage ? r->stage : "connect", str_data(rep->text));
    else
	filter_set(o, ACT_REFUSE, 451, rep->dsn[0] == '4' ? rep->dsn : "4.3.0", "deferred",
		   "%s: %s", relay, str_data(rep->text));
}

/* filter_inject_session - connect, greeting, hello; NULL with *r set */
static smtp_client_t *filter_inject_connect(const char *relay, smtp_reply_t *r)
{
    int timeout = (int)config_time("filterd_reinject_timeout");
    const char *err;
    smtp_client_t *c;

    if ((c = smtp_client_connect(relay, 0, timeout, timeout, &err)) == NULL) {
	r->code = 0;
	mr_strlcpy(r->dsn, "4.4.1", sizeof(r->dsn));
	str_set(r->text, err);
	return NULL;
    }
    if (smtp_client_greeting(c, r) != 1 || smtp_client_hello(c, config_str("myhostname"), r) != 1) {
	smtp_client_free(&c);
	return NULL;
    }
    return c;
}

/*
 * The re-injection session is kept between messages (a pooled worker
 * lives for many), for filterd_reinject_cache_time after its last use.
 * It is used again only after a transaction that ended cleanly (every
 * recipient accepted, or an RSET accepted after one that did not), and
 * only while the server has said nothing on its own (a server that
 * timed out or went away makes the socket readable: it is closed and a
 * new session opened). A kept session that breaks at the MAIL command
 * accepted nothing: the transaction is sent again on a new one.
 */
static smtp_client_t *filter_cached;     /* the kept session, or NULL */
static struct timespec filter_cached_at; /* when it was last used */

/* filter_cached_alive - may the kept session c be used? */
static int filter_cached_alive(smtp_client_t *c)
{
    struct pollfd pfd = {.fd = stream_fd(smtp_client_stream(c)), .events = POLLIN};

    return poll(&pfd, 1, 0) == 0;
}

/* filter_inject_session - the kept session if it is usable, else a new
 * one; NULL with *r set. *reused_r says which. */
static smtp_client_t *filter_inject_session(const char *relay, smtp_reply_t *r, int *reused_r)
{
    smtp_client_t *c = filter_cached;

    filter_cached = NULL;
    *reused_r = c != NULL && filter_cached_alive(c);
    if (*reused_r)
	return c;
    if (c)
	smtp_client_free(&c);
    return filter_inject_connect(relay, r);
}

/* filter_inject_keep - after a transaction that ended with ret (see
 * smtp_client_send): keep the session for the next one, or end it */
static void filter_inject_keep(smtp_client_t *c, int ret, const smtp_rcpt_t *rc, size_t count)
{
    int clean = ret == 1 && config_time("filterd_reinject_cache_time") > 0;

    for (size_t k = 0; clean && k < count; k++)
	clean = rc[k].reply.code / 100 == 2;
    if (!clean && ret >= 0 && config_time("filterd_reinject_cache_time") > 0)
	clean = smtp_client_rset(c) == 1;
    if (clean) {
	filter_cached = c;
	(void)clock_gettime(CLOCK_MONOTONIC, &filter_cached_at);
	return;
    }
    if (ret >= 0)
	smtp_client_quit(c);
    smtp_client_free(&c);
}

/* filter_work_idle_ms - see filterd.h */
int filter_work_idle_ms(void)
{
    struct timespec now;
    long long left;

    if (filter_cached == NULL)
	return -1;
    (void)clock_gettime(CLOCK_MONOTONIC, &now);
    left = config_time("filterd_reinject_cache_time") * 1000LL -
	   ((now.tv_sec - filter_cached_at.tv_sec) * 1000LL +
	    (now.tv_nsec - filter_cached_at.tv_nsec) / 1000000);
    return left < 0 ? 0 : (int)left;
}

/* filter_work_idle - see filterd.h */
void filter_work_idle(void)
{
    if (filter_cached == NULL)
	return;
    smtp_client_quit(filter_cached);
    smtp_client_free(&filter_cached);
}

/* filter_inject_try - one transaction on a session: smtp_client_send's
 * return */
static int filter_inject_try(smtp_client_t *c, filter_feed_t *feed, smtp_msg_t *sm, smtp_rcpt_t *rc,
			     size_t count, int fd, const char *tag)
{
    int ret;

    feed->fd = fd;
    feed->off = 0;
    feed->spool = stream_open(fd);
    stream_set_io(feed->spool, &filter_spool_io, feed);
    feed->piece = str_new(FILTER_PIECE + 16);
    filter_header_init(&feed->filter, tag);
    ret = smtp_client_send(c, sm, rc, count);
    (void)stream_release(&feed->spool);
    str_free(&feed->piece);
    return ret;
}

/* filter_inject - re-inject to the recipients of idx (count of them) */
static void filter_inject(filter_job_t *job, const size_t *idx, size_t count, const char *headers,
			  const char *tag, int raw)
{
    const char *relay = config_str("filterd_reinject_nexthop");
    filter_msg_t *m = job->msg;
    smtp_rcpt_t *rc = mr_calloc(count, sizeof(*rc));
    filter_feed_t feed = {.hdr = headers, .raw = raw, .size = m->size};
    smtp_msg_t sm = {.sender = m->sender,
		     .size = m->size + (long long)strlen(headers),
		     .eightbit = m->eightbit,
		     .smtputf8 = m->smtputf8,
		     .ret = m->ret,
		     .envid = m->envid,
		     .line = filter_feed_line,
		     .ctx = &feed};
    smtp_client_t *c;
    smtp_reply_t r;
    int connected, reused, ret;
    const char *headers_start = headers;

    for (size_t k = 0; k < count; k++) {
	rc[k].address = m->rcpts[idx[k]].address;
	rc[k].orcpt = m->rcpts[idx[k]].orcpt;
	rc[k].notify = m->rcpts[idx[k]].notify;
	smtp_reply_init(&rc[k].reply);
    }
    smtp_reply_init(&r);
    if ((connected = (c = filter_inject_session(relay, &r, &reused)) != NULL)) {
	ret = filter_inject_try(c, &feed, &sm, rc, count, m->fd, tag);
	if (ret < 0 && reused && rc[0].stage && strcmp(rc[0].stage, "MAIL FROM") == 0) {
	    smtp_client_free(&c); /* the kept session had gone: nothing was taken */
	    feed.hdr = headers_start;
	    if ((connected = (c = filter_inject_connect(relay, &r)) != NULL))
		ret = filter_inject_try(c, &feed, &sm, rc, count, m->fd, tag);
	}
	if (c)
	    filter_inject_keep(c, ret, rc, count);
    }
    for (size_t k = 0; k < count; k++) {
	if (!connected) { /* no session: its reply is every recipient's */
	    rc[k].reply.code = r.code;
	    mr_strlcpy(rc[k].reply.dsn, r.dsn, sizeof(rc[k].reply.dsn));
	    str_set(rc[k].reply.text, str_data(r.text));
	    rc[k].stage = "connect";
	}
	filter_inject_result(&job->out[idx[k]], &rc[k], relay);
	smtp_reply_free(&rc[k].reply);
    }
    smtp_reply_free(&r);
    mr_free(rc);
}

/* filter_headers_for - the fields for recipient i (none with bypass) */
static void filter_headers_for(filter_job_t *job, size_t i, str_t *out)
{
    str_reset(job->headers);
    if (!job->out[i].bypass) {
	filter_virus_header(job);
	filter_spam_headers(job, job->out[i].tagged, filter_spam_of(job, i),
			    &job->msg->rcpts[i].policy);
    }
    str_set(out, str_data(job->headers));
}

/* filter_pass_group - re-inject the n recipients of idx, which get the
 * same fields, tag and bypass */
static void filter_pass_group(filter_job_t *job, const size_t *idx, size_t n, const char *unused)
{
    str_t *mine = str_new(512);
    const filter_out_t *o = &job->out[idx[0]];

    filter_headers_for(job, idx[0], mine);
    filter_inject(job, idx, n, str_data(mine),
		  o->tagged ? config_str("filterd_spam_subject_tag") : NULL, o->bypass);
    str_free(&mine);
}

/* filter_pass - re-inject every recipient that passes, one transaction
 * per set of recipients that get the same fields, tag and bypass */
static void filter_pass(filter_job_t *job)
{
    size_t n = job->msg->rcpt_count;
    const char **keys = mr_calloc(n, sizeof(*keys));
    str_t **key = mr_calloc(n, sizeof(*key));

    for (size_t i = 0; i < n; i++) {
	if (job->out[i].action != ACT_PASS)
	    continue;
	key[i] = str_new(512);
	str_appendf(key[i], "%d%d", job->out[i].bypass, job->out[i].tagged);
	filter_headers_for(job, i, job->headers);
	str_appends(key[i], str_data(job->headers));
	keys[i] = str_data(key[i]);
    }
    filter_groups_run(job, keys, NULL, filter_pass_group);
    for (size_t i = 0; i < n; i++)
	str_free(&key[i]);
    mr_free(key);
    mr_free(keys);
}

/* filter_reply_write - see filterd.h */
int filter_reply_write(int fd, const char *data, size_t len)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    struct timespec now;
    time_t deadline;
    ssize_t n;

    (void)clock_gettime(CLOCK_MONOTONIC, &now);
    deadline = now.tv_sec + FILTER_REPLY_TIME;
    while (len > 0) {
	if ((n = write(fd, data, len)) > 0) {
	    data += n;
	    len -= (size_t)n;
	} else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
	    (void)clock_gettime(CLOCK_MONOTONIC, &now);
	    if (now.tv_sec >= deadline || poll(&pfd, 1, (int)(deadline - now.tv_sec) * 1000) == 0)
		return -1;
	} else {
	    return -1;
	}
    }
    return 0;
}

/* filter_reply_one - "CODE DSN text\r\n" for one outcome */
static void filter_reply_one(str_t *out, const filter_out_t *o, const char *id)
{
    str_appendf(out, "%d %s %s: %.*s\r\n", o->code, o->dsn, id, FILTER_REPLY_MAX,
		str_data(o->text));
}

/* filter_smtp_reply - the one SMTP reply for every recipient: the
 * first one's when all ended alike; a 4xx when their reply classes
 * differ; a neutral 250 when all were accepted but some were
 * quarantined and others delivered (scores per recipient), so that the
 * client's log does not call a delivered message quarantined or the
 * other way round */
static const filter_out_t *filter_smtp_reply(filter_job_t *job, filter_out_t *mixed)
{
    const filter_out_t *first = &job->out[0];
    size_t kept = 0, n = job->msg->rcpt_count;

    for (size_t i = 0; i < n; i++) {
	if (job->out[i].code / 100 != first->code / 100) {
	    filter_set(mixed, ACT_REFUSE, 451, "4.3.0", "deferred",
		       "recipients ended differently, try again (first: %d %s)", first->code,
		       first->dsn);
	    return mixed;
	}
	kept += job->out[i].action == ACT_QUARANTINE;
    }
    if (kept == 0 || kept == n)
	return first;
    filter_set(mixed, ACT_PASS, 250, "2.0.0", "sent", "Ok: %zu delivered, %zu quarantined",
	       n - kept, kept);
    return mixed;
}

/* filter_answer - the replies to the client into out: per recipient in
 * LMTP; in SMTP one (filter_smtp_reply) */
static void filter_answer(filter_job_t *job, int lmtp, str_t *out)
{
    filter_msg_t *m = job->msg;
    filter_out_t mixed = {.text = str_new(64)};

    str_reset(out);
    for (size_t i = 0; lmtp && i < m->rcpt_count; i++)
	filter_reply_one(out, &job->out[i], m->id);
    if (!lmtp)
	filter_reply_one(out, filter_smtp_reply(job, &mixed), m->id);
    str_free(&mixed.text);
}

/* filter_log_spam - a score for the log: "1.5 (RULES)" or "none (RULES)" */
static void filter_log_spam(str_t *out, const filter_spam_t *sp)
{
    char points[32];

    str_appendf(out, "%s (%s)",
		sp->scanned ? spam_format_points(sp->score, points, sizeof(points)) : "none",
		str_len(sp->rules) ? str_data(sp->rules) : "none");
}

/* filter_log_problems - every spam scorer failure, with its user when
 * scores are per recipient */
static void filter_log_problems(filter_job_t *job, str_t *out)
{
    const filter_verdict_t *v = &job->verdict;

    for (size_t k = 0; k < v->spam_count; k++) {
	if (str_len(v->spam[k].problem) == 0)
	    continue;
	str_appends(out, str_len(out) ? "; " : ", spam scan failed: ");
	if (job->per_user && v->spam_users[k])
	    str_appendf(out, "<%s> ", v->spam_users[k]);
	str_appends(out, str_data(v->spam[k].problem));
    }
}

/* filter_log - the verdict and each recipient's outcome; with scores per
 * recipient, each scored recipient's line ends with its score */
static void filter_log(filter_job_t *job, const char *client_addr)
{
    filter_msg_t *m = job->msg;
    filter_verdict_t *v = &job->verdict;
    static const char *const virus[] = {"none", "clean", "found", "not scanned", "too big"};
    str_t *spam = str_new(128), *problems = str_new(64), *mine = str_new(128);

    if (job->per_user)
	str_appends(spam, "per recipient");
    else
	filter_log_spam(spam, &v->spam[0]);
    filter_log_problems(job, problems);
    msg_info("%s: client=%s, from=<%s>, size=%lld, nrcpt=%zu, virus=%s%s%s, spam=%s%s", m->id,
	     client_addr, m->sender, m->size, m->rcpt_count, virus[v->virus],
	     v->virus > FILTER_VIRUS_CLEAN ? " " : "",
	     v->virus > FILTER_VIRUS_CLEAN ? str_data(v->virus_text) : "", str_data(spam),
	     str_data(problems));
    for (size_t i = 0; i < m->rcpt_count; i++) {
	str_reset(mine);
	if (job->per_user && !m->rcpts[i].policy.bypass) {
	    str_appends(mine, ", spam=");
	    filter_log_spam(mine, filter_spam_of(job, i));
	}
	msg_info("%s: to=<%s>, relay=filterd, dsn=%s, status=%s (%d %s)%s", m->id,
		 m->rcpts[i].address, job->out[i].dsn, job->out[i].status, job->out[i].code,
		 str_data(job->out[i].text), str_data(mine));
    }
    str_free(&mine);
    str_free(&problems);
    str_free(&spam);
}

/* filter_users - the scoring users of the message (filterd_spam.h): the
 * verdict is made for them, job->spam_of says whose score is each
 * recipient's */
static void filter_users(filter_job_t *job)
{
    filter_msg_t *m = job->msg;
    const char **rcpts = mr_calloc(m->rcpt_count, sizeof(*rcpts));
    const char **users = mr_calloc(m->rcpt_count, sizeof(*users));
    int per_user = spam_filter_per_user(), over;
    long limit = per_user ? config_int("filterd_spam_user_limit", 1, 1000) : 1;
    size_t count;

    job->spam_of = mr_calloc(m->rcpt_count, sizeof(*job->spam_of));
    for (size_t i = 0; i < m->rcpt_count; i++)
	rcpts[i] = m->rcpts[i].policy.bypass ? NULL : m->rcpts[i].address;
    count = filter_spam_users(rcpts, m->rcpt_count, per_user, (size_t)limit, users, job->spam_of,
			      &over);
    if (over)
	msg_info("%s: more than filterd_spam_user_limit (%ld) users: the spam score is the same "
		 "for all",
		 m->id, limit);
    job->per_user = per_user && !over;
    filter_verdict_init(&job->verdict, users, count);
    mr_free(users);
    mr_free(rcpts);
}

/* filter_work - see filterd.h */
void filter_work(filter_msg_t *msg, int lmtp, const char *client_addr, str_t *reply)
{
    filter_job_t job = {.msg = msg, .lmtp = lmtp};
    const char *err = NULL;

    filter_users(&job);
    job.headers = str_new(512);
    job.out = mr_calloc(msg->rcpt_count, sizeof(*job.out));
    for (size_t i = 0; i < msg->rcpt_count; i++)
	job.out[i].text = str_new(128);
    if (filter_scan_fd(config_str("filterd_scanners"), msg->fd, &job.verdict, &err) < 0) {
	for (size_t i = 0; i < msg->rcpt_count; i++)
	    filter_set(&job.out[i], ACT_REFUSE, 451, "4.3.0", "deferred", "%s", err);
    } else {
	filter_decide(&job);
	filter_keep(&job, client_addr);
	filter_pass(&job);
    }
    filter_log(&job, client_addr);
    filter_answer(&job, lmtp, reply);
    for (size_t i = 0; i < msg->rcpt_count; i++)
	str_free(&job.out[i].text);
    mr_free(job.out);
    mr_free(job.spam_of);
    str_free(&job.headers);
    filter_verdict_free(&job.verdict);
}
