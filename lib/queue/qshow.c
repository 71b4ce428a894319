/*
 * qshow.c - listing the queue: mailq's layout (-p), or JSON (-j).
 *
 * One implementation for both ways a listing is made: mailroom-queue
 * writes it to standard output when its user can read the queue (root,
 * mail_owner), and the showq daemon writes it to its client's socket for
 * everyone else. Either way the text goes to a stream_t.
 *
 * Every message file in maildrop, incoming, active, deferred and hold is
 * opened with qfile_open (the queue library's reader, which checks the
 * whole file; maildrop files with postdrop's rules and limits). Files are
 * opened without blocking and must be regular: a FIFO named like a queue
 * ID is reported and skipped, never waited on. Sizes and times come
 * from the file and may be planted: totals saturate instead of
 * overflowing, and a time localtime_r cannot show prints as "?".
 * Addresses and reasons are printed escaped (str_append_printable). A file that
 * vanished meanwhile (qmgr moved it) is skipped;
 * a corrupt one is reported (msg_warn: standard error for the command,
 * the mail log for showq) and the listing goes on; one in hold/ is also
 * moved to corrupt/, since no daemon ever reads hold/ and it would
 * otherwise be reported at every listing (qmgr sets aside those of
 * incoming/ and deferred/, pickup those of maildrop/). The column titles
 * come before the first message shown, so a queue holding only files
 * that are skipped lists as empty.
 * The reason a recipient was deferred comes from the message's defer/
 * log: attribute lists (lib/util/attr.h) with rcpt= (or recipient=) and
 * reason=; the last reason for a recipient wins.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <sys/stat.h>
#include <time.h>

#include "global/mail_proto.h"
#include "global/mail_queue.h"
#include "queue/qenv.h"
#include "queue/qfile.h"
#include "queue/qshow.h"
#include "util/attr.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/safe_open.h"
#include "util/str.h"
#include "util/stream.h"

const char *const qshow_queues[] = {
    MAIL_QUEUE_MAILDROP, MAIL_QUEUE_INCOMING, MAIL_QUEUE_ACTIVE,
    MAIL_QUEUE_DEFERRED, MAIL_QUEUE_HOLD,     NULL,
};

/* qshow_queue_missing - the queue directory does not exist (yet): an
 * instance that never ran has no queue to show, and that is no error */
int qshow_queue_missing(const char *queue)
{
    struct stat st;

    return stat(mail_queue_path(queue), &st) < 0 && errno == ENOENT;
}

#define QSHOW_RCPT_INDENT 48 /* column of sender and recipients */

typedef struct qshow_totals {
    stream_t *out;
    long long bytes;
    long count;
    int json;
} qshow_totals_t;

/* qshow_header - the column titles, before the first message shown */
static void qshow_header(qshow_totals_t *tot)
{
    if (!tot->json && tot->count == 0)
	stream_printf(tot->out, "%-17s %8s %-19s  %s\n", "-Queue ID-", "--Size--",
		      "---Arrival Time----", "-Sender/Recipient-------");
}

/* qshow_reasons - the defer log of id as an attribute list rcpt -> reason */
static attr_list_t *qshow_reasons(const char *id)
{
    attr_list_t *out = attr_list_new(), *entry = attr_list_new();
    str_t *path = str_new(100);
    const char *error, *rcpt, *reason;
    int fd;

    if ((fd = safe_open_read(qfile_abspath(path, MAIL_QUEUE_DEFER, id), &error)) >= 0) {
	stream_t *s = stream_open(fd);

	while (attr_read(s, entry) > 0) {
	    if ((rcpt = attr_get(entry, MAIL_ATTR_RCPT)) == NULL)
		rcpt = attr_get(entry, MAIL_ATTR_RECIPIENT);
	    if (rcpt && (reason = attr_get(entry, MAIL_ATTR_REASON)) != NULL)
		attr_add(out, rcpt, reason);
	}
	stream_close(&s);
    }
    attr_list_free(&entry);
    str_free(&path);
    return out;
}

/* qshow_reason - the last reason logged for rcpt, or NULL */
static const char *qshow_reason(const attr_list_t *reasons, const char *rcpt)
{
    const char *found = NULL;

    for (size_t i = 0; i < reasons->count; i++)
	if (strcmp(reasons->items[i].name, rcpt) == 0)
	    found = reasons->items[i].value;
    return found;
}

/*
 * Senders, recipients and delay reasons come from mail: a CR, an ESC
 * sequence or a C1 control in them must not reach the administrator's
 * terminal. Both layouts print them through str_append_printable
 * ("\\x1b"); JSON then quotes that text.
 */

/* qshow_text - append text from mail, escaped for a terminal */
static void qshow_text(str_t *out, const char *s)
{
    str_append_printable(out, s, strlen(s));
}

/* qshow_json_str - append a JSON string literal of text from mail */
static void qshow_json_str(str_t *out, const char *s)
{
    str_t *safe = str_new(64);

    qshow_text(safe, s);
    str_appendc(out, '"');
    for (const char *cp = str_data(safe); *cp; cp++) {
	if (*cp == '"' || *cp == '\\')
	    str_appendc(out, '\\');
	str_appendc(out, *cp);
    }
    str_appendc(out, '"');
    str_free(&safe);
}

/* qshow_size - what -p shows as the size: the SIZE record, else the file */
static long long qshow_size(const qfile_t *qf)
{
    return qf->size >= 0 ? qf->size : (long long)qf->file_size;
}

/* qshow_add - saturating sum of sizes: a planted SIZE record of 2^63-1
 * must not overflow the total */
static long long qshow_add(long long a, long long b)
{
    return b > LLONG_MAX - a ? LLONG_MAX : a + b;
}

/* qshow_when - the arrival time in mailq's layout, or "?" when the time is
 * out of the range localtime_r can show */
static const char *qshow_when(char *buf, size_t len, long sec)
{
    time_t t = (time_t)sec;
    struct tm tm;

    if (sec < 0 || localtime_r(&t, &tm) == NULL ||
	strftime(buf, len, "%a %b %e %H:%M:%S", &tm) == 0)
	mr_strlcpy(buf, "?", len);
    return buf;
}

/* qshow_print_json - one message as one JSON object on one line */
static void qshow_print_json(stream_t *dst, const char *queue, const qfile_t *qf,
			     const attr_list_t *reasons)
{
    str_t *out = str_new(512);
    const char *reason;
    int first = 1;

    str_appends(out, "{\"queue_name\": ");
    qshow_json_str(out, queue);
    str_appends(out, ", \"queue_id\": ");
    qshow_json_str(out, qf->id);
    str_appendf(out, ", \"arrival_time\": %ld, \"message_size\": %lld, \"sender\": ",
		qf->arrival_sec ? qf->arrival_sec : qid_time(qf->id), qshow_size(qf));
    qshow_json_str(out, qf->sender ? qf->sender : "");
    str_appends(out, ", \"recipients\": [");
    for (size_t i = 0; i < qf->rcpt_count; i++) {
	if (qf->rcpts[i].done)
	    continue;
	str_appends(out, first ? "{\"address\": " : ", {\"address\": ");
	qshow_json_str(out, qf->rcpts[i].address);
	if ((reason = qshow_reason(reasons, qf->rcpts[i].address)) != NULL) {
	    str_appends(out, ", \"delay_reason\": ");
	    qshow_json_str(out, reason);
	}
	str_appendc(out, '}');
	first = 0;
    }
    str_appends(out, "]}\n");
    stream_write(dst, str_data(out), str_len(out));
    str_free(&out);
}

/* qshow_print_text - one message in mailq's layout */
static void qshow_print_text(stream_t *dst, const char *queue, const qfile_t *qf,
			     const attr_list_t *reasons)
{
    char idcol[QID_BUFSIZE + 2], when[40];
    str_t *out = str_new(256);
    const char *reason, *last_reason = NULL;
    const char *sender = qf->sender && *qf->sender ? qf->sender : "MAILER-DAEMON";
    int mark = strcmp(queue, MAIL_QUEUE_ACTIVE) == 0 ? '*'
	       : strcmp(queue, MAIL_QUEUE_HOLD) == 0 ? '!'
						     : ' ';

    snprintf(idcol, sizeof(idcol), "%s%c", qf->id, mark);
    str_appendf(
	out, "%-17s %8lld %-19s  ", idcol, qshow_size(qf),
	qshow_when(when, sizeof(when), qf->arrival_sec ? qf->arrival_sec : qid_time(qf->id)));
    qshow_text(out, sender);
    str_appendc(out, '\n');
    for (size_t i = 0; i < qf->rcpt_count; i++) {
	if (qf->rcpts[i].done)
	    continue;
	reason = qshow_reason(reasons, qf->rcpts[i].address);
	if (reason && (last_reason == NULL || strcmp(reason, last_reason) != 0)) {
	    str_appendf(out, "%7s(", "");
	    qshow_text(out, reason);
	    str_appends(out, ")\n");
	}
	last_reason = reason;
	str_appendf(out, "%*s", QSHOW_RCPT_INDENT, "");
	qshow_text(out, qf->rcpts[i].address);
	str_appendc(out, '\n');
    }
    str_appendc(out, '\n');
    stream_write(dst, str_data(out), str_len(out));
    str_free(&out);
}

/* qshow_open - open a queue file; a maildrop file comes from a local user
 * and is held to postdrop's rules and limits, so a planted one with
 * millions of recipients costs no more than an allowed one */
int qshow_open(const char *abspath, const char *queue, qfile_t **qf_r, const char **error_r)
{
    qenv_limits_t limits;

    if (queue == NULL || strcmp(queue, MAIL_QUEUE_MAILDROP) != 0)
	return qfile_open(abspath, 0, qf_r, error_r);
    qenv_local_limits(&limits);
    if (limits.size > 0)
	limits.size += QENV_POSTDROP_STAMPS;
    return qfile_open_from(abspath, QENV_USER, &limits, qf_r, error_r);
}

/* qshow_corrupt - report a corrupt file. In hold/, which no daemon
 * reads, it is also moved to corrupt/ (as qmgr does with one in incoming/
 * or deferred/ and pickup with one in maildrop/), so that it is reported
 * once, not at every listing for as long as it sits there */
static void qshow_corrupt(const char *queue, const char *id, const char *error)
{
    const char *why;

    if (strcmp(queue, MAIL_QUEUE_HOLD) != 0)
	msg_warn("%s: %s/%s: corrupt queue file: %s", id, queue, id, error);
    else if (qfile_move(id, queue, MAIL_QUEUE_CORRUPT, &why) < 0)
	msg_warn("%s: %s/%s: corrupt queue file: %s; cannot move to corrupt: %s", id, queue, id,
		 error, why);
    else
	msg_warn("%s: %s/%s: corrupt queue file (%s) moved to corrupt", id, queue, id, error);
}

/* qshow_one - open one file and print it; 0 shown, -1 skipped */
static int qshow_one(const char *queue, const char *id, qshow_totals_t *tot)
{
    str_t *path = str_new(100);
    qfile_t *qf = NULL;
    const char *error;
    int st;

    st = qshow_open(qfile_abspath(path, queue, id), queue, &qf, &error);
    if (st == QFILE_OK) {
	attr_list_t *reasons = qshow_reasons(id);

	qshow_header(tot);
	(tot->json ? qshow_print_json : qshow_print_text)(tot->out, queue, qf, reasons);
	tot->bytes = qshow_add(tot->bytes, qshow_size(qf));
	tot->count++;
	attr_list_free(&reasons);
	qfile_close(&qf);
    } else if (st == QFILE_CORRUPT) {
	qshow_corrupt(queue, id, error);
    } else if (st == QFILE_ERROR) {
	msg_warn("%s: %s/%s: %s", id, queue, id, error);
    }
    str_free(&path);
    return st == QFILE_OK ? 0 : -1;
}

/* qshow_list - list all queues, then the totals line */
int qshow_list(stream_t *out, int json)
{
    qshow_totals_t tot = {out, 0, 0, json};
    char id[QID_BUFSIZE];
    const char *error;
    int ret = 0;

    for (int q = 0; qshow_queues[q]; q++) {
	qscan_t *qs;

	if (qshow_queue_missing(qshow_queues[q]))
	    continue;
	if ((qs = qscan_open(qshow_queues[q], &error)) == NULL) {
	    msg_warn("cannot read queue %s: %s", qshow_queues[q], error);
	    ret = EX_NOPERM;
	    continue;
	}
	while (!stream_error(out) && qscan_next(qs, id) > 0)
	    qshow_one(qshow_queues[q], id, &tot);
	qscan_close(&qs);
    }
    if (!json && tot.count == 0)
	stream_puts(out, "Mail queue is empty\n");
    else if (!json)
	stream_printf(out, "-- %lld Kbytes in %ld Request%s.\n",
		      tot.bytes / 1024 + (tot.bytes % 1024 != 0), tot.count,
		      tot.count == 1 ? "" : "s");
    if (stream_flush(out) < 0 || stream_error(out))
	return EX_IOERR;
    return ret;
}
