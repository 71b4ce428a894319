/*
 * cleanup_msg.c - message content: header inspection and size limits.
 *
 * Header lines are collected one logical line at a time (CONT pieces are
 * joined, bounded by header_size_limit) so that their names can be
 * seen; body lines go straight to the queue file. At the end of the
 * header, cleanup appends what is missing: Message-ID: <ID@$myhostname>,
 * Date:, and, for local submissions, From: the envelope sender. The
 * header ends at the first line that is not a header field or a
 * continuation of one (normally the empty line), or at END. When that
 * line is not empty (content without any header, or a header cut short
 * by a body line), cleanup writes the empty line itself after what it
 * added, so the line stays in the body instead of joining the header.
 *
 * The content size counts each line plus one byte for its newline, the
 * added headers included; over message_size_limit the message is
 * refused with CLEANUP_STAT_SIZE (the rest is read and thrown away so the
 * client gets its answer instead of a broken pipe).
 */
#include <ctype.h>
#include <string.h>
#include <time.h>

#include "cleanup.h"
#include "global/config.h"
#include "global/mail_header.h"
#include "queue/cleanup_client.h"
#include "queue/record.h"
#include "util/msg.h"
#include "util/mymalloc.h"

#define CLEANUP_PIECE (REC_MAX_LEN / 2) /* longest record we write */

/* cleanup_count - add to the content size; 0 ok, -1 over the limit */
static int cleanup_count(cleanup_state_t *cs, int type, size_t len)
{
    if (type != REC_TYPE_NORM && type != REC_TYPE_CONT)
	return 0;
    cs->size += (long long)len + (type == REC_TYPE_NORM);
    if (cs->size_limit > 0 && cs->size > cs->size_limit) {
	cleanup_fail(cs, CLEANUP_STAT_SIZE, "message size exceeds fixed limit");
	return -1;
    }
    return 0;
}

/* cleanup_sum - the seal's running sum (queue/qfile.h, "Seal") over
 * every record written, except SIZE, the first record, whose value is
 * patched at the commit and summed then (cleanup_seal) */
static void cleanup_sum(cleanup_state_t *cs, int type, const char *data, size_t len)
{
    if (type == REC_TYPE_SIZE) {
	if (cs->sum_len != 0)
	    msg_panic("%s: size record after other records", cs->id);
	return;
    }
    cs->sum = rec_sum(cs->sum, type, data, len);
    cs->sum_len += rec_wire_size(len);
}

/* cleanup_write - one record (long content split into CONT pieces) */
void cleanup_write(cleanup_state_t *cs, int type, const char *data, size_t len)
{
    while (!cs->status) {
	int t = len > CLEANUP_PIECE ? REC_TYPE_CONT : type;
	size_t n = len > CLEANUP_PIECE ? CLEANUP_PIECE : len;

	if (t != type && type != REC_TYPE_NORM && type != REC_TYPE_CONT)
	    msg_panic("cleanup_write: %s record too long", rec_type_name(type));
	if (cleanup_count(cs, t, n) < 0)
	    return;
	if (rec_put(cs->qo->stream, t, data, n) < 0) {
	    msg_warn("%s: write queue file: %m", cs->id);
	    cleanup_fail(cs, CLEANUP_STAT_TEMP, "queue file write error");
	    return;
	}
	cleanup_sum(cs, t, data, n);
	if (t == type)
	    return;
	data += n;
	len -= n;
    }
}

/* cleanup_note_header - remember the headers we would otherwise add */
static void cleanup_note_header(cleanup_state_t *cs, const char *line, size_t n)
{
    if (header_name_is(line, n, "message-id")) {
	char *value = mr_strdup(line + n + 1);

	cs->seen_msgid = 1;
	msg_info("%s: message-id=%s", cs->id, trim_space(value));
	mr_free(value);
    } else if (header_name_is(line, n, "date"))
	cs->seen_date = 1;
    else if (header_name_is(line, n, "from"))
	cs->seen_from = 1;
}

/* cleanup_add_header - write a header line we made */
static void cleanup_add_header(cleanup_state_t *cs, const char *fmt, const char *value)
{
    char *line = mr_format(fmt, value);

    cleanup_write(cs, REC_TYPE_NORM, line, strlen(line));
    mr_free(line);
}

/* cleanup_header_end - add the missing headers */
static void cleanup_header_end(cleanup_state_t *cs)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;

    cs->part = CLEANUP_PART_BODY;
    if (!cs->seen_msgid) {
	char *id = mr_format("<%s@%s>", cs->id, config_str("myhostname"));

	cleanup_add_header(cs, "Message-ID: %s", id);
	msg_info("%s: message-id=%s", cs->id, id);
	mr_free(id);
    }
    if (!cs->seen_date) {
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z", localtime_r(&now, &tm));
	cleanup_add_header(cs, "Date: %s", date);
    }
    if ((cs->flags & CLEANUP_FLAG_LOCAL) && !cs->seen_from)
	cleanup_add_header(cs, "From: %s",
			   cs->sender && *cs->sender ? cs->sender : "MAILER-DAEMON");
}

/* cleanup_header_line - one complete logical line while in the header */
static void cleanup_header_line(cleanup_state_t *cs)
{
    const char *line = str_data(cs->line);
    size_t len = str_len(cs->line);
    size_t n = header_name_len(line, len);
    int cont = header_continues(line, len);

    if (n > 0)
	cleanup_note_header(cs, line, n);
    else if (!cont || cs->header_lines == 0) {
	cleanup_header_end(cs);
	if (len > 0) /* the client sent no empty line */
	    cleanup_write(cs, REC_TYPE_NORM, "", 0);
    }
    cs->header_lines++;
    cleanup_write(cs, REC_TYPE_NORM, line, len);
    str_reset(cs->line);
}

/* cleanup_content - one NORM or CONT record from the client */
void cleanup_content(cleanup_state_t *cs, int type, const str_t *value)
{
    size_t limit;

    if (cs->status)
	return;
    if (cs->part == CLEANUP_PART_BODY) {
	cleanup_write(cs, type, str_data(value), str_len(value));
	return;
    }
    limit = (size_t)config_size("header_size_limit");
    cs->header_bytes += str_len(value) + (type == REC_TYPE_NORM);
    if (cs->header_bytes > limit) {
	cleanup_fail(cs, CLEANUP_STAT_SIZE, "message header size exceeds limit");
	return;
    }
    str_append(cs->line, str_data(value), str_len(value));
    if (type == REC_TYPE_NORM)
	cleanup_header_line(cs);
}

/* cleanup_content_end - END: close an unfinished header or line */
void cleanup_content_end(cleanup_state_t *cs)
{
    if (cs->status)
	return;
    if (cs->part == CLEANUP_PART_HEADER) {
	if (cs->last_type == REC_TYPE_CONT)
	    cleanup_header_line(cs);
	if (cs->part == CLEANUP_PART_HEADER)
	    cleanup_header_end(cs);
    } else if (cs->last_type == REC_TYPE_CONT)
	cleanup_write(cs, REC_TYPE_NORM, "", 0);
}
