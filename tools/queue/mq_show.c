/*
 * mq_show.c - listing the queue: -p in mailq's layout, -j as JSON.
 *
 * One implementation for both ways a listing is made: mailroom-queue
 * writes it to standard output when its user can read the queue (root,
 * mail_owner), and the showq daemon writes it to its client's socket for
 * everyone else. Either way the text goes to a stream_t.
 *
 * Every message file in maildrop, incoming, active, deferred and hold is
 * opened with qfile_open (the queue library's reader, which checks the
 * whole file). A file that vanished meanwhile (qmgr moved it) is skipped;
 * a corrupt one is reported (msg_warn: standard error for the command,
 * the mail log for showq) and the listing goes on.
 * The reason a recipient was deferred comes from the message's defer/
 * log: attribute lists (lib/util/attr.h) with rcpt= (or recipient=) and
 * reason=; the last reason for a recipient wins.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <sys/stat.h>
#include <time.h>

#include "global/mail_proto.h"
#include "master/mail_server.h"
#include "queue/qfile.h"
#include "util/attr.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/safe_open.h"
#include "util/str.h"
#include "util/stream.h"
#include "mq.h"

const char *const mq_queues[] = {
    MAIL_QUEUE_MAILDROP, MAIL_QUEUE_INCOMING, MAIL_QUEUE_ACTIVE,
    MAIL_QUEUE_DEFERRED, MAIL_QUEUE_HOLD, NULL,
};

/* mq_queue_missing - the queue directory does not exist (yet): an
 * instance that never ran has no queue to show, and that is no error */
int     mq_queue_missing(const char *queue)
{
    struct stat st;

    return stat(server_queue_path(queue), &st) < 0 && errno == ENOENT;
}

#define MQ_RCPT_INDENT	48		/* column of sender and recipients */

typedef struct mq_totals {
    stream_t *out;
    long long bytes;
    long    count;
    int     json;
} mq_totals_t;

/* mq_reasons - the defer log of id as an attribute list rcpt -> reason */
static attr_list_t *mq_reasons(const char *id)
{
    attr_list_t *out = attr_list_new(), *entry = attr_list_new();
    str_t  *path = str_new(100);
    const char *error, *rcpt, *reason;
    int     fd;

    if ((fd = safe_open_read(qfile_abspath(path, MAIL_QUEUE_DEFER, id), &error)) >= 0) {
	stream_t *s = stream_open(fd);

	while (attr_read(s, entry) > 0) {
	    if ((rcpt = attr_get(entry, MAIL_ATTR_RCPT)) == NULL)
		rcpt = attr_get(entry, "recipient");
	    if (rcpt && (reason = attr_get(entry, MAIL_ATTR_REASON)) != NULL)
		attr_add(out, rcpt, reason);
	}
	stream_close(&s);
    }
    attr_list_free(&entry);
    str_free(&path);
    return out;
}

/* mq_reason - the last reason logged for rcpt, or NULL */
static const char *mq_reason(const attr_list_t *reasons, const char *rcpt)
{
    const char *found = NULL;

    for (size_t i = 0; i < reasons->count; i++)
	if (strcmp(reasons->items[i].name, rcpt) == 0)
	    found = reasons->items[i].value;
    return found;
}

/* mq_json_str - append a JSON string literal */
static void mq_json_str(str_t *out, const char *s)
{
    str_appendc(out, '"');
    for (; *s; s++) {
	unsigned char c = (unsigned char) *s;

	if (c == '"' || c == '\\')
	    str_appendf(out, "\\%c", c);
	else if (c < 0x20 || c == 0x7f)
	    str_appendf(out, "\\u%04x", c);
	else
	    str_appendc(out, (char) c);
    }
    str_appendc(out, '"');
}

/* mq_size - what -p shows as the size: the SIZE record, else the file */
static long long mq_size(const qfile_t *qf)
{
    return qf->size >= 0 ? qf->size : (long long) qf->file_size;
}

/* mq_print_json - one message as one JSON object on one line */
static void mq_print_json(stream_t *dst, const char *queue, const qfile_t *qf,
			  const attr_list_t *reasons)
{
    str_t  *out = str_new(512);
    const char *reason;
    int     first = 1;

    str_appends(out, "{\"queue_name\": ");
    mq_json_str(out, queue);
    str_appends(out, ", \"queue_id\": ");
    mq_json_str(out, qf->id);
    str_appendf(out, ", \"arrival_time\": %ld, \"message_size\": %lld, \"sender\": ",
		qf->arrival_sec ? qf->arrival_sec : qid_time(qf->id), mq_size(qf));
    mq_json_str(out, qf->sender ? qf->sender : "");
    str_appends(out, ", \"recipients\": [");
    for (size_t i = 0; i < qf->rcpt_count; i++) {
	if (qf->rcpts[i].done)
	    continue;
	str_appends(out, first ? "{\"address\": " : ", {\"address\": ");
	mq_json_str(out, qf->rcpts[i].address);
	if ((reason = mq_reason(reasons, qf->rcpts[i].address)) != NULL) {
	    str_appends(out, ", \"delay_reason\": ");
	    mq_json_str(out, reason);
	}
	str_appendc(out, '}');
	first = 0;
    }
    str_appends(out, "]}\n");
    stream_write(dst, str_data(out), str_len(out));
    str_free(&out);
}

/* mq_print_text - one message in mailq's layout */
static void mq_print_text(stream_t *dst, const char *queue, const qfile_t *qf,
			  const attr_list_t *reasons)
{
    char    idcol[QID_BUFSIZE + 2], when[40];
    time_t  t = qf->arrival_sec ? qf->arrival_sec : qid_time(qf->id);
    struct tm tm;
    const char *reason, *last_reason = NULL;
    const char *sender = qf->sender && *qf->sender ? qf->sender : "MAILER-DAEMON";
    int     mark = strcmp(queue, MAIL_QUEUE_ACTIVE) == 0 ? '*'
	: strcmp(queue, MAIL_QUEUE_HOLD) == 0 ? '!' : ' ';

    localtime_r(&t, &tm);
    strftime(when, sizeof(when), "%a %b %e %H:%M:%S", &tm);
    snprintf(idcol, sizeof(idcol), "%s%c", qf->id, mark);
    stream_printf(dst, "%-17s %8lld %-19s  %s\n", idcol, mq_size(qf), when, sender);
    for (size_t i = 0; i < qf->rcpt_count; i++) {
	if (qf->rcpts[i].done)
	    continue;
	reason = mq_reason(reasons, qf->rcpts[i].address);
	if (reason && (last_reason == NULL || strcmp(reason, last_reason) != 0))
	    stream_printf(dst, "%7s(%s)\n", "", reason);
	last_reason = reason;
	stream_printf(dst, "%*s%s\n", MQ_RCPT_INDENT, "", qf->rcpts[i].address);
    }
    stream_puts(dst, "\n");
}

/* mq_show_one - open one file and print it; 0 shown, -1 skipped */
static int mq_show_one(const char *queue, const char *id, mq_totals_t *tot)
{
    str_t  *path = str_new(100);
    qfile_t *qf = NULL;
    const char *error;
    int     st;

    st = qfile_open(qfile_abspath(path, queue, id), 0, &qf, &error);
    if (st == QFILE_OK) {
	attr_list_t *reasons = mq_reasons(id);

	(tot->json ? mq_print_json : mq_print_text) (tot->out, queue, qf, reasons);
	tot->bytes += mq_size(qf);
	tot->count++;
	attr_list_free(&reasons);
	qfile_close(&qf);
    } else if (st == QFILE_CORRUPT) {
	msg_warn("%s: %s/%s: corrupt queue file: %s", id, queue, id, error);
    } else if (st == QFILE_ERROR) {
	msg_warn("%s: %s/%s: %s", id, queue, id, error);
    }
    str_free(&path);
    return st == QFILE_OK ? 0 : -1;
}

/* mq_show - list all queues, then the totals line */
int     mq_show(stream_t *out, int json)
{
    mq_totals_t tot = {out, 0, 0, json};
    char    id[QID_BUFSIZE];
    const char *error;
    int     ret = 0, header = 0;

    for (int q = 0; mq_queues[q]; q++) {
	qscan_t *qs;

	if (mq_queue_missing(mq_queues[q]))
	    continue;
	if ((qs = qscan_open(mq_queues[q], &error)) == NULL) {
	    msg_warn("cannot read queue %s: %s", mq_queues[q], error);
	    ret = EX_NOPERM;
	    continue;
	}
	while (!stream_error(out) && qscan_next(qs, id) > 0) {
	    if (!json && !header++)
		stream_printf(out, "%-17s %8s %-19s  %s\n", "-Queue ID-", "--Size--",
			      "---Arrival Time----", "-Sender/Recipient-------");
	    mq_show_one(mq_queues[q], id, &tot);
	}
	qscan_close(&qs);
    }
    if (!json && tot.count == 0)
	stream_puts(out, "Mail queue is empty\n");
    else if (!json)
	stream_printf(out, "-- %lld Kbytes in %ld Request%s.\n", (tot.bytes + 1023) / 1024,
		      tot.count, tot.count == 1 ? "" : "s");
    if (stream_flush(out) < 0 || stream_error(out))
	return EX_IOERR;
    return ret;
}
