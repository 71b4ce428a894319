/*
 * qmgr_bounce.c - notices to the sender: non-delivery (bounce), delay
 * warning, success (NOTIFY=SUCCESS), and the delivery status report of
 * address verification (sendmail -bv) and sendmail -v. Each is an RFC 3464
 * multipart/report (text, message/delivery-status, then the original
 * message or its header) posted through cleanup like any mail.
 *
 * What goes in comes from the message's bounce log (bounce/ID: failed,
 * delivered, deliverable, undeliverable records) or, for a delay warning,
 * its defer log. A recipient is reported only if its NOTIFY allows it
 * (NEVER: never; otherwise FAILURE, DELAY, SUCCESS as listed; no NOTIFY:
 * failures and delays). RET=HDRS attaches the header only, RET=FULL (or
 * none) the whole message unless it is bigger than bounce_size_limit, in
 * which case the header only.
 *
 * Loops: a notice has the null sender. A notice that cannot be delivered
 * (a message from <> that bounces) goes once to bounce_notice_recipient
 * with the sender double_bounce_sender@$myhostname; if that fails too (a
 * message from that sender bounces), it is discarded and logged. Mail
 * from <> never gets a delay or success notice.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "global/config.h"
#include "global/mail_proto.h"
#include "queue/cleanup_client.h"
#include "queue/qlog.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "qmgr.h"

#define BOUNCE_FAILURE 1
#define BOUNCE_DELAY 2
#define BOUNCE_SUCCESS 3
#define BOUNCE_REPORT 4 /* verification / sendmail -v */

typedef struct bounce_rcpt {
    char *rcpt, *orcpt, *dsn, *action, *reason, *relay;
    long long offset;
    long time;
} bounce_rcpt_t;

typedef struct bounce_set {
    bounce_rcpt_t *items;
    size_t count;
    int kind; /* BOUNCE_* wanted by the walk */
    const qmgr_message_t *msg;
} bounce_set_t;

/* bounce_notify_allows - may this recipient hear about kind? */
static int bounce_notify_allows(const char *notify, int kind)
{
    if (kind == BOUNCE_REPORT)
	return 1;
    if (notify == NULL || *notify == 0)
	return kind != BOUNCE_SUCCESS;
    if (strcasestr(notify, "NEVER"))
	return 0;
    return strcasestr(notify, kind == BOUNCE_FAILURE ? "FAILURE"
			      : kind == BOUNCE_DELAY ? "DELAY"
						     : "SUCCESS") != NULL;
}

/* bounce_kind_of - which notice an action belongs to */
static int bounce_kind_of(const char *action, int trace)
{
    if (trace)
	return BOUNCE_REPORT;
    if (strcmp(action, "failed") == 0)
	return BOUNCE_FAILURE;
    if (strcmp(action, "delayed") == 0)
	return BOUNCE_DELAY;
    if (strcmp(action, "delivered") == 0)
	return BOUNCE_SUCCESS;
    return 0;
}

/* bounce_collect_fn - keep the last record per recipient for set->kind */
static int bounce_collect_fn(const qlog_entry_t *e, void *context)
{
    bounce_set_t *set = context;
    bounce_rcpt_t *r = NULL;

    if (*e->rcpt == 0 || bounce_kind_of(e->action, set->msg->trace_flags != 0) != set->kind ||
	!bounce_notify_allows(e->notify, set->kind))
	return 0;
    for (size_t i = 0; i < set->count && r == NULL; i++)
	if (set->items[i].offset == e->offset && strcmp(set->items[i].rcpt, e->rcpt) == 0)
	    r = set->items + i;
    if (r == NULL) {
	set->items = mr_reallocarray(set->items, set->count + 1, sizeof(*set->items));
	r = set->items + set->count++;
	memset(r, 0, sizeof(*r));
	r->rcpt = mr_strdup(e->rcpt);
	r->orcpt = mr_strdup(e->orcpt);
	r->offset = e->offset;
    }
    mr_free(r->dsn);
    mr_free(r->action);
    mr_free(r->reason);
    mr_free(r->relay);
    r->dsn = mr_strdup(e->dsn);
    r->action = mr_strdup(e->action);
    r->reason = mr_strdup(e->reason);
    r->relay = mr_strdup(e->relay);
    r->time = e->time;
    return 0;
}

/* bounce_set_free - release the collected records */
static void bounce_set_free(bounce_set_t *set)
{
    for (size_t i = 0; i < set->count; i++) {
	bounce_rcpt_t *r = set->items + i;

	mr_free(r->rcpt);
	mr_free(r->orcpt);
	mr_free(r->dsn);
	mr_free(r->action);
	mr_free(r->reason);
	mr_free(r->relay);
    }
    mr_free(set->items);
}

/* bounce_line - one line of the notice */
static void bounce_line(cleanup_client_t *cc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void bounce_line(cleanup_client_t *cc, const char *fmt, ...)
{
    str_t *line = str_new(100);
    va_list ap;

    va_start(ap, fmt);
    str_vappendf(line, fmt, ap);
    va_end(ap);
    cleanup_line(cc, str_data(line), str_len(line), 1);
    str_free(&line);
}

/* bounce_date - RFC 5322 date of a time */
static const char *bounce_date(long when)
{
    static char buf[64];
    time_t t = (time_t)when;
    struct tm tm;

    localtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S %z", &tm);
    return buf;
}

static const char *const bounce_subjects[] = {
    "",
    "Undelivered Mail Returned to Sender",
    "Delayed Mail (still being retried)",
    "Successful Mail Delivery Report",
    "Mail Delivery Status Report",
};

/* bounce_header - the notice's own header */
static void bounce_header(cleanup_client_t *cc, const qmgr_message_t *msg, int kind, const char *to,
			  const char *boundary)
{
    bounce_line(cc, "From: MAILER-DAEMON@%s (Mail Delivery System)", config_str("myhostname"));
    bounce_line(cc, "To: <%s>", to);
    bounce_line(cc, "Subject: %s", bounce_subjects[kind]);
    bounce_line(cc, "Date: %s", bounce_date(qmgr_now()));
    bounce_line(cc, "Auto-Submitted: auto-replied");
    bounce_line(cc, "MIME-Version: 1.0");
    bounce_line(cc, "Content-Type: multipart/report; report-type=delivery-status;");
    bounce_line(cc, "\tboundary=\"%s\"", boundary);
    bounce_line(cc, "Content-Transfer-Encoding: 8bit");
    bounce_line(cc, "%s", "");
    bounce_line(cc, "This is a MIME-encapsulated message.");
    bounce_line(cc, "%s", "");
}

/* bounce_text - the part for humans */
static void bounce_text(cleanup_client_t *cc, const qmgr_message_t *msg, int kind,
			const bounce_set_t *set, const char *boundary)
{
    static const char *const intro[] = {
	"",
	"I'm sorry to have to inform you that your message could not\n"
	"be delivered to one or more recipients. It's attached below.",
	"Your message could not be delivered for some time. The mail\n"
	"system will keep trying; you do not need to send it again.",
	"Your message was successfully delivered to the destination(s)\n"
	"listed below.",
	"Enclosed is the mail delivery report that you requested.",
    };
    const char *cp = intro[kind], *nl;

    bounce_line(cc, "--%s", boundary);
    bounce_line(cc, "Content-Description: Notification");
    bounce_line(cc, "Content-Type: text/plain; charset=utf-8");
    bounce_line(cc, "%s", "");
    bounce_line(cc, "This is the mail system at host %s.", config_str("myhostname"));
    bounce_line(cc, "%s", "");
    for (; (nl = strchr(cp, '\n')) != NULL; cp = nl + 1)
	cleanup_line(cc, cp, (size_t)(nl - cp), 1);
    bounce_line(cc, "%s", cp);
    bounce_line(cc, "%s", "");
    bounce_line(cc, "                   The %s program", config_str("mail_name"));
    bounce_line(cc, "%s", "");
    for (size_t i = 0; i < set->count; i++)
	bounce_line(cc, "<%s>: %s", set->items[i].rcpt, set->items[i].reason);
    bounce_line(cc, "%s", "");
}

/* bounce_status - the message/delivery-status part */
static void bounce_status(cleanup_client_t *cc, const qmgr_message_t *msg, const bounce_set_t *set,
			  const char *boundary)
{
    bounce_line(cc, "--%s", boundary);
    bounce_line(cc, "Content-Description: Delivery report");
    bounce_line(cc, "Content-Type: message/delivery-status");
    bounce_line(cc, "%s", "");
    bounce_line(cc, "Reporting-MTA: dns; %s", config_str("myhostname"));
    bounce_line(cc, "X-Mailroom-Queue-ID: %s", msg->id);
    if (msg->envid)
	bounce_line(cc, "Original-Envelope-Id: %s", msg->envid);
    bounce_line(cc, "X-Mailroom-Sender: rfc822; %s", msg->sender);
    bounce_line(cc, "Arrival-Date: %s", bounce_date(msg->arrival_sec));
    for (size_t i = 0; i < set->count; i++) {
	const bounce_rcpt_t *r = set->items + i;

	bounce_line(cc, "%s", "");
	bounce_line(cc, "Final-Recipient: rfc822; %s", r->rcpt);
	if (*r->orcpt)
	    bounce_line(cc, "Original-Recipient: %s", r->orcpt);
	bounce_line(cc, "Action: %s", r->action);
	bounce_line(cc, "Status: %s", r->dsn);
	if (*r->relay && strcmp(r->relay, "none") != 0)
	    bounce_line(cc, "Remote-MTA: dns; %s", r->relay);
	bounce_line(cc, "Diagnostic-Code: X-Mailroom; %s", r->reason);
	if (r->time)
	    bounce_line(cc, "Last-Attempt-Date: %s", bounce_date(r->time));
    }
    bounce_line(cc, "%s", "");
}

/* bounce_original - the original message, or its header: 0, or -1 when
 * its content failed to read (an I/O error, or content that does not
 * match the queue file's seal: docs/queue.md), after part of it went to
 * cleanup; the notice must then be dropped */
static int bounce_original(cleanup_client_t *cc, const qmgr_message_t *msg, int kind,
			   const char *boundary)
{
    str_t *path = str_new(100), *line = str_new(256);
    int headers = (msg->ret && mr_strcaseeq(msg->ret, "HDRS")) || kind != BOUNCE_FAILURE ||
		  msg->size > config_size("bounce_size_limit");
    const char *why;
    qfile_t *qf = NULL;
    int complete = 1, r = 0;

    bounce_line(cc, "--%s", boundary);
    bounce_line(cc, "Content-Description: %s", headers ? "Message Headers" : "Undelivered Message");
    bounce_line(cc, "Content-Type: %s", headers ? "text/rfc822-headers" : "message/rfc822");
    bounce_line(cc, "%s", "");
    if (qfile_open(qfile_abspath(path, MAIL_QUEUE_ACTIVE, msg->id), 0, &qf, &why) == QFILE_OK) {
	while ((r = qfile_line(qf, line, 65536, &complete, &why)) > 0) {
	    if (headers && complete && str_len(line) == 0)
		break;
	    cleanup_line(cc, str_data(line), str_len(line), complete);
	}
	if (r < 0)
	    msg_warn("%s: cannot read the original message: %s", msg->id, why);
	if (!complete)
	    cleanup_line(cc, "", 0, 1);
	qfile_close(&qf);
    } else {
	msg_warn("%s: cannot attach the original message: %s", msg->id, why);
    }
    bounce_line(cc, "%s", "");
    bounce_line(cc, "--%s--", boundary);
    str_free(&path);
    str_free(&line);
    return r < 0 ? -1 : 0;
}

/* bounce_double_sender - double_bounce_sender@$myhostname */
static const char *bounce_double_sender(void)
{
    static char buf[512];

    snprintf(buf, sizeof(buf), "%s@%s", config_str("double_bounce_sender"),
	     config_str("myhostname"));
    return buf;
}

/* bounce_post - one notice through cleanup: 0 posted (or discarded), -1 */
static int bounce_post(const qmgr_message_t *msg, int kind, const bounce_set_t *set)
{
    const char *to = msg->sender, *env_sender = "", *why;
    str_t *reason, *boundary;
    cleanup_client_t *cc;
    char *new_id;
    int st;

    if (*to == 0 || strcmp(to, bounce_double_sender()) == 0) {
	if (kind != BOUNCE_FAILURE || *to) {
	    msg_info("%s: undeliverable postmaster notification discarded", msg->id);
	    return 0;
	}
	to = config_str("bounce_notice_recipient"); /* a bounce bounced */
	env_sender = bounce_double_sender();
    }
    if ((cc = cleanup_open(CLEANUP_FLAG_NONE, &why)) == NULL) {
	msg_warn("%s: cannot post notice: %s", msg->id, why);
	return -1;
    }
    boundary = str_new(64);
    str_printf(boundary, "%s.%ld/%s", msg->id, qmgr_now(), config_str("myhostname"));
    cleanup_sender(cc, env_sender);
    cleanup_rcpt(cc, to, NULL, NULL);
    bounce_header(cc, msg, kind, to, str_data(boundary));
    bounce_text(cc, msg, kind, set, str_data(boundary));
    bounce_status(cc, msg, set, str_data(boundary));
    if (bounce_original(cc, msg, kind, str_data(boundary)) < 0) {
	cleanup_abort(&cc);
	str_free(&boundary);
	return -1;
    }
    reason = str_new(100);
    new_id = mr_strdup(cleanup_queue_id(cc));
    st = cleanup_finish(&cc, reason);
    if (st == CLEANUP_STAT_OK)
	msg_info("%s: %s %s notification: %s", msg->id, *env_sender ? "postmaster" : "sender",
		 kind == BOUNCE_FAILURE   ? "non-delivery"
		 : kind == BOUNCE_DELAY   ? "delay"
		 : kind == BOUNCE_SUCCESS ? "delivery status"
					  : "delivery status report",
		 new_id);
    else
	msg_warn("%s: notice not accepted by cleanup: %s", msg->id, str_data(reason));
    mr_free(new_id);
    str_free(&reason);
    str_free(&boundary);
    return st == CLEANUP_STAT_OK ? 0 : -1;
}

/* bounce_send_kind - collect the records of one kind and post them;
 * -1 on error, else how many records the log held (0: none, or no log) */
static long bounce_send_kind(qmgr_message_t *msg, const char *queue, int kind)
{
    bounce_set_t set = {NULL, 0, kind, msg};
    const char *why;
    long seen;

    if ((seen = qlog_walk(queue, msg->id, bounce_collect_fn, &set, &why)) < 0)
	msg_warn("%s: %s", msg->id, why);
    else if (set.count > 0 && bounce_post(msg, kind, &set) < 0)
	seen = -1;
    bounce_set_free(&set);
    return seen;
}

/* qmgr_bounce_flush - the notices the bounce log calls for. A log that
 * held no record (or none at all: the common case, every recipient
 * delivered without NOTIFY=SUCCESS) is not read a second time. */
int qmgr_bounce_flush(qmgr_message_t *msg)
{
    long seen;

    if (msg->trace_flags)
	return bounce_send_kind(msg, MAIL_QUEUE_BOUNCE, BOUNCE_REPORT) < 0 ? -1 : 0;
    if ((seen = bounce_send_kind(msg, MAIL_QUEUE_BOUNCE, BOUNCE_FAILURE)) < 0)
	return -1;
    if (*msg->sender && seen > 0)
	(void)bounce_send_kind(msg, MAIL_QUEUE_BOUNCE, BOUNCE_SUCCESS);
    return 0;
}

/* qmgr_bounce_delay_warning - one delay notice, remembered in defer/ID */
void qmgr_bounce_delay_warning(qmgr_message_t *msg)
{
    qlog_entry_t e = {.rcpt = "",
		      .offset = -1,
		      .action = "warned",
		      .reason = "delay warning sent",
		      .time = qmgr_now()};
    const char *why;

    msg->warned = 1;
    if (*msg->sender == 0 || msg->trace_flags)
	return;
    if (bounce_send_kind(msg, MAIL_QUEUE_DEFER, BOUNCE_DELAY) >= 0 &&
	qlog_append(MAIL_QUEUE_DEFER, msg->id, &e, 0, &why) < 0)
	msg_warn("%s: %s", msg->id, why);
}
