/*
 * qenv.c - the envelope validator (see qenv.h for the rules).
 *
 * One function per concern: the grammar (qenv_order), the values
 * (qenv_value_ok), the attributes (qenv_attr_allowed), the limits
 * (qenv_count). qenv_record applies them in that order of cheapness:
 * the limits first, so that a flood of records is refused before any of
 * it is looked at twice.
 */
#include <string.h>

#include "global/config.h"
#include "queue/qenv.h"
#include "queue/qfile.h"
#include "queue/record.h"

#define QENV_PART_ENV 0
#define QENV_PART_CONTENT 1
#define QENV_PART_END 2

#define QENV_HAVE_ORCPT 1
#define QENV_HAVE_NOTIFY 2

/* What a local user may say about the message (sendmail -F -V -R -B) */
static const char *const qenv_user_attrs[] = {"fullname", "envid",       "ret",
					      "body",     "trace_flags", NULL};

/* What pickup adds to that: the submitter's uid, from the file owner,
 * and its own content_filter (sent by the cleanup client library) */
static const char *const qenv_local_attrs[] = {"uid", "content_filter", NULL};

/* qenv_local_limits - message_size_limit, smtpd_recipient_limit */
void qenv_local_limits(qenv_limits_t *limits)
{
    limits->size = config_size("message_size_limit");
    limits->rcpts = (size_t)config_int("smtpd_recipient_limit", 0, 100000000);
}

/* qenv_init - fresh state */
void qenv_init(qenv_t *q, int source, const qenv_limits_t *limits)
{
    memset(q, 0, sizeof(*q));
    q->source = source;
    if (limits)
	q->limits = *limits;
}

/* qenv_refuse - remember the first refusal; returns QENV_REFUSE */
static int qenv_refuse(qenv_t *q, int kind, const char *why)
{
    if (!q->refused) {
	q->refused = kind;
	q->error = why;
    }
    return QENV_REFUSE;
}

/* qenv_attr_name - length of a well-formed attribute name, or 0 */
size_t qenv_attr_name(const char *data, size_t len)
{
    size_t n = 0;

    while (n < len && ((data[n] >= 'a' && data[n] <= 'z') || (data[n] >= '0' && data[n] <= '9') ||
		       data[n] == '_'))
	n++;
    return n > 0 && n < len && data[n] == '=' ? n : 0;
}

/* qenv_listed - is the name of length n in list? */
static int qenv_listed(const char *const *list, const char *name, size_t n)
{
    for (int i = 0; list[i]; i++)
	if (strlen(list[i]) == n && memcmp(list[i], name, n) == 0)
	    return 1;
    return 0;
}

/* qenv_attr_allowed - the attribute allow-list per source */
int qenv_attr_allowed(int source, const char *data, size_t len)
{
    size_t n = qenv_attr_name(data, len);

    if (n == 0)
	return 0;
    if (n == strlen(QFILE_ID_ATTR) && memcmp(data, QFILE_ID_ATTR, n) == 0)
	return source == QENV_QUEUE; /* cleanup's own */
    switch (source) {
    case QENV_USER:
	return qenv_listed(qenv_user_attrs, data, n);
    case QENV_LOCAL:
	return qenv_listed(qenv_user_attrs, data, n) || qenv_listed(qenv_local_attrs, data, n);
    default:
	return 1;
    }
}

/* qenv_value_ok - no NUL in an envelope value; from a user, nothing
 * unprintable and nothing over-long */
static int qenv_value_ok(const qenv_t *q, const char *data, size_t len)
{
    if (q->source != QENV_USER)
	return memchr(data, 0, len) == NULL;
    if (len > QENV_USER_VALUE_MAX)
	return 0;
    for (size_t i = 0; i < len; i++)
	if ((unsigned char)data[i] < ' ' || data[i] == 0x7f)
	    return 0;
    return 1;
}

/* qenv_count - apply the size and recipient limits */
static int qenv_count(qenv_t *q, int type, size_t len)
{
    q->bytes += (long long)rec_wire_size(len);
    if (q->limits.size > 0 && q->bytes > q->limits.size)
	return qenv_refuse(q, QENV_TOO_BIG, "message too large");
    if (type == REC_TYPE_RCPT || type == REC_TYPE_DONE) {
	if (q->limits.rcpts > 0 && q->rcpts >= q->limits.rcpts)
	    return qenv_refuse(q, QENV_TOO_MANY, "too many recipients");
	q->rcpts++;
    }
    if (type == REC_TYPE_NORM || type == REC_TYPE_CONT)
	q->content_size += (long long)len + (type == REC_TYPE_NORM);
    return QENV_KEEP;
}

/* qenv_rcpt_extra - ORCPT/NOTIFY: once each, right after a recipient */
static int qenv_rcpt_extra(qenv_t *q, int type)
{
    int bit = type == REC_TYPE_ORCPT ? QENV_HAVE_ORCPT : QENV_HAVE_NOTIFY;

    if (q->last_type != REC_TYPE_RCPT && q->last_type != REC_TYPE_DONE &&
	q->last_type != REC_TYPE_ORCPT && q->last_type != REC_TYPE_NOTIFY)
	return qenv_refuse(q, QENV_BAD, "orcpt/notify without recipient");
    if (q->rcpt_extras & bit)
	return qenv_refuse(q, QENV_BAD, "duplicate orcpt/notify");
    q->rcpt_extras |= bit;
    return QENV_KEEP;
}

/* qenv_stamp - TIME and SIZE: the queue's own; others stamp their own */
static int qenv_stamp(qenv_t *q, int type)
{
    if (q->source == QENV_QUEUE)
	return QENV_KEEP;
    if (type == REC_TYPE_SIZE && q->source == QENV_USER)
	return qenv_refuse(q, QENV_BAD, "size record not allowed");
    return QENV_SKIP;
}

/* qenv_envelope - one record before MESG */
static int qenv_envelope(qenv_t *q, int type, const char *data, size_t len)
{
    if (type != REC_TYPE_MESG && !qenv_value_ok(q, data, len))
	return qenv_refuse(q, QENV_BAD,
			   q->source == QENV_USER
			       ? "control character or over-long value in envelope"
			       : "NUL byte in envelope record");
    switch (type) {
    case REC_TYPE_TIME:
    case REC_TYPE_SIZE:
	return qenv_stamp(q, type);
    case REC_TYPE_SENDER:
	if (q->have_sender++)
	    return qenv_refuse(q, QENV_BAD, "duplicate sender record");
	return QENV_KEEP;
    case REC_TYPE_DONE:
	if (q->source != QENV_QUEUE)
	    return qenv_refuse(q, QENV_BAD, "done record not allowed");
	/* FALLTHROUGH */
    case REC_TYPE_RCPT:
	if (len == 0 && q->source == QENV_USER)
	    return qenv_refuse(q, QENV_BAD, "empty recipient");
	q->rcpt_extras = 0;
	return QENV_KEEP;
    case REC_TYPE_ORCPT:
    case REC_TYPE_NOTIFY:
	return qenv_rcpt_extra(q, type);
    case REC_TYPE_ATTR:
	if (qenv_attr_name(data, len) == 0)
	    return qenv_refuse(q, QENV_BAD, "malformed attribute record");
	return qenv_attr_allowed(q->source, data, len) ? QENV_KEEP : QENV_SKIP;
    case REC_TYPE_MESG:
	if (len)
	    return qenv_refuse(q, QENV_BAD, "non-empty mesg record");
	if (q->source == QENV_USER && !q->have_sender)
	    return qenv_refuse(q, QENV_BAD, "no sender");
	if (q->source == QENV_USER && q->rcpts == 0)
	    return qenv_refuse(q, QENV_BAD, "no recipients");
	q->part = QENV_PART_CONTENT;
	return QENV_KEEP;
    default:
	return qenv_refuse(q, QENV_BAD, "content record before mesg");
    }
}

/* qenv_end_value - END is empty; a queue file's may carry a seal
 * (queue/qfile.h): NULL or why not */
static const char *qenv_end_value(const qenv_t *q, const char *data, size_t len)
{
    char id[QID_BUFSIZE];
    uint32_t sum;

    if (len == 0)
	return NULL;
    if (q->source != QENV_QUEUE)
	return "non-empty end record";
    return qfile_seal_parse(data, len, id, &sum) == 1 ? NULL : "malformed end record";
}

/* qenv_content - one record after MESG */
static int qenv_content(qenv_t *q, int type, const char *data, size_t len)
{
    const char *why;

    switch (type) {
    case REC_TYPE_NORM:
    case REC_TYPE_CONT:
	return QENV_KEEP;
    case REC_TYPE_END:
	if (q->last_type == REC_TYPE_CONT)
	    return qenv_refuse(q, QENV_BAD, "end record inside a line");
	if ((why = qenv_end_value(q, data, len)) != NULL)
	    return qenv_refuse(q, QENV_BAD, why);
	q->part = QENV_PART_END;
	return QENV_KEEP;
    default:
	return qenv_refuse(q, QENV_BAD, "envelope record after mesg");
    }
}

/* qenv_record - check one record */
int qenv_record(qenv_t *q, int type, const char *data, size_t len)
{
    int ret;

    if (q->refused)
	return QENV_REFUSE;
    if (q->part == QENV_PART_END)
	return qenv_refuse(q, QENV_BAD, "data after end record");
    if (!rec_type_known(type))
	return qenv_refuse(q, QENV_BAD, "unknown record type");
    if (qenv_count(q, type, len) < 0)
	return QENV_REFUSE;
    ret = q->part == QENV_PART_ENV ? qenv_envelope(q, type, data, len)
				   : qenv_content(q, type, data, len);
    q->last_type = type;
    return ret;
}

/* qenv_complete - END seen */
int qenv_complete(const qenv_t *q)
{
    return q->part == QENV_PART_END && !q->refused;
}

/* qenv_end - the input ended here */
int qenv_end(qenv_t *q)
{
    if (q->refused)
	return -1;
    if (q->part != QENV_PART_END) {
	qenv_refuse(q, QENV_BAD, "missing end record");
	return -1;
    }
    return 0;
}
