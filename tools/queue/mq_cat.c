/*
 * mq_cat.c - mailroom-queue -m: show one queue file, envelope and
 * content, the way Postfix's postcat does.
 *
 * The file is named by its queue ID (looked for in incoming, active,
 * deferred, hold, then maildrop) or by a path (anything with a '/').
 * It is read with the queue library's checking reader (qshow_open, the
 * listing's: a maildrop file with postdrop's rules and limits), so a truncated,
 * planted or otherwise corrupt file is reported and refused as a whole,
 * never half shown; there is no second parser of the record format here.
 * Envelope values come from whoever wrote the file and are printed
 * escaped (str_append_printable); the content is copied as it is, like
 * the message a mail reader would show.
 *
 * The caller (mailroom_queue.c) has checked who may read queue files and
 * has become mail_owner before this runs.
 */
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "global/mail_proto.h"
#include "queue/qfile.h"
#include "queue/qshow.h"
#include "util/attr.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "util/stream.h"
#include "mq.h"

#define MQ_CAT_LINE_MAX 65536 /* content bytes per write */

/* Queues a queue ID is looked for in, in this order */
static const char *const mq_cat_queues[] = {
    MAIL_QUEUE_INCOMING, MAIL_QUEUE_ACTIVE,   MAIL_QUEUE_DEFERRED,
    MAIL_QUEUE_HOLD,     MAIL_QUEUE_MAILDROP, NULL,
};

/* mq_cat_text - append untrusted text escaped */
static void mq_cat_text(str_t *out, const char *text)
{
    str_append_printable(out, text, strlen(text));
}

/* mq_cat_time - "Fri Nov 27 17:04:11 2026" (local time), or "?" */
static void mq_cat_time(str_t *out, long sec, long usec)
{
    time_t t = (time_t)sec;
    char buf[64];
    struct tm tm;

    if (sec < 0 || localtime_r(&t, &tm) == NULL ||
	strftime(buf, sizeof(buf), "%a %b %e %H:%M:%S %Y", &tm) == 0)
	str_appends(out, "?");
    else
	str_appendf(out, "%s (%ld.%06ld)", buf, sec, usec);
}

/* mq_cat_envelope - the envelope records, one per line */
static void mq_cat_envelope(str_t *out, const char *where, const qfile_t *qf)
{
    str_appends(out, "*** ENVELOPE RECORDS ");
    mq_cat_text(out, where);
    str_appends(out, " ***\n");
    if (qf->arrival_sec > 0) {
	str_appends(out, "arrival_time: ");
	mq_cat_time(out, qf->arrival_sec, qf->arrival_usec);
	str_appendc(out, '\n');
    }
    if (qf->size >= 0)
	str_appendf(out, "message_size: %lld\n", qf->size);
    if (qf->sender) {
	str_appends(out, "sender: ");
	mq_cat_text(out, qf->sender);
	str_appendc(out, '\n');
    }
    for (size_t i = 0; i < qf->rcpt_count; i++) {
	const qfile_rcpt_t *r = qf->rcpts + i;

	str_appends(out, "recipient: ");
	mq_cat_text(out, r->address);
	str_appends(out, r->done ? " (done)" : " (pending)");
	if (r->orcpt) {
	    str_appends(out, " orcpt=");
	    mq_cat_text(out, r->orcpt);
	}
	if (r->notify) {
	    str_appends(out, " notify=");
	    mq_cat_text(out, r->notify);
	}
	str_appendc(out, '\n');
    }
    for (size_t i = 0; i < qf->attrs->count; i++) {
	str_appends(out, "attribute: ");
	mq_cat_text(out, qf->attrs->items[i].name);
	str_appendc(out, '=');
	mq_cat_text(out, qf->attrs->items[i].value);
	str_appendc(out, '\n');
    }
}

/* mq_cat_content - the message, or with body_only what follows the
 * header; 0 ok, -1 (*error_r) */
static int mq_cat_content(stream_t *out, qfile_t *qf, int body_only, const char **error_r)
{
    str_t *line = str_new(256);
    int complete = 1, was_complete = 1, in_header = body_only, r;

    while ((r = qfile_line(qf, line, MQ_CAT_LINE_MAX, &complete, error_r)) > 0) {
	if (in_header) {
	    /* the header ends at the first empty line */
	    if (was_complete && complete && str_len(line) == 0)
		in_header = 0;
	    was_complete = complete;
	    continue;
	}
	stream_write(out, str_data(line), str_len(line));
	if (complete)
	    stream_write(out, "\n", 1);
    }
    str_free(&line);
    return r;
}

/* mq_cat_show - print what the flags ask for; an exit status */
static int mq_cat_show(qfile_t *qf, const char *where, int flags)
{
    stream_t *out = stream_open(1);
    str_t *env = str_new(512);
    const char *error = NULL;
    int ret = 0;

    if (!(flags & MQ_CAT_BODY)) {
	mq_cat_envelope(env, where, qf);
	if (!(flags & MQ_CAT_ENVELOPE))
	    str_appends(env, "*** MESSAGE CONTENTS ***\n");
	stream_write(out, str_data(env), str_len(env));
    }
    if (!(flags & MQ_CAT_ENVELOPE) && mq_cat_content(out, qf, flags & MQ_CAT_BODY, &error) < 0) {
	stream_flush(out);
	fprintf(stderr, "mailroom-queue: %s: %s\n", where, error);
	ret = EX_DATAERR;
    } else if (!(flags & (MQ_CAT_BODY | MQ_CAT_ENVELOPE))) {
	stream_write(out, "*** END OF MESSAGE ***\n", 23);
    }
    if (stream_flush(out) < 0 && ret == 0)
	ret = EX_IOERR;
    stream_release(&out);
    str_free(&env);
    return ret;
}

/* mq_cat_report - tell the user why a file cannot be shown; an exit
 * status */
static int mq_cat_report(const char *where, int st, const char *error)
{
    if (st == QFILE_CORRUPT) {
	fprintf(stderr, "mailroom-queue: %s: corrupt queue file: %s\n", where, error);
	return EX_DATAERR;
    }
    if (st == QFILE_MISSING) {
	fprintf(stderr, "mailroom-queue: %s: no such queue file%s\n", where,
		strchr(where, '/') ? " (or one not finished: without the owner execute bit)" : "");
	return EX_NOINPUT;
    }
    fprintf(stderr, "mailroom-queue: %s: %s\n", where, error);
    return EX_IOERR;
}

/* mq_cat_find - open queue ID in the first queue that has it */
static int mq_cat_find(const char *id, qfile_t **qf_r, str_t *where, const char **error_r)
{
    str_t *path = str_new(100);
    int st = QFILE_MISSING;

    for (int q = 0; st == QFILE_MISSING && mq_cat_queues[q]; q++) {
	st = qshow_open(qfile_abspath(path, mq_cat_queues[q], id), mq_cat_queues[q], qf_r, error_r);
	str_printf(where, "%s/%s", mq_cat_queues[q], id);
    }
    if (st == QFILE_MISSING)
	str_printf(where, "%s", id);
    str_free(&path);
    return st;
}

int mq_cat(const char *target, int flags)
{
    str_t *where = str_new(100);
    qfile_t *qf = NULL;
    const char *error = "";
    int st, ret;

    if (strchr(target, '/')) {
	str_printf(where, "%s", target);
	st = qshow_open(target, NULL, &qf, &error);
    } else if (qid_valid(target)) {
	st = mq_cat_find(target, &qf, where, &error);
    } else {
	fprintf(stderr, "mailroom-queue: %s: not a queue ID (give a path with a '/')\n", target);
	str_free(&where);
	return EX_USAGE;
    }
    if (st == QFILE_OK) {
	ret = mq_cat_show(qf, str_data(where), flags);
	qfile_close(&qf);
    } else {
	ret = mq_cat_report(str_data(where), st, error);
    }
    str_free(&where);
    return ret;
}
