/*
 * local_msg.c - the message as local delivery writes it, and the
 * Delivered-To loop check.
 *
 * What lands in a mailbox is, byte for byte:
 *
 *   [From SENDER DATE\n]            mbox and /file only
 *   Return-Path: <SENDER>\n
 *   Delivered-To: RECIPIENT\n
 *   the queued content, each line ended by LF (the Maildir and mbox
 *   convention); mbox: a line matching ^>*From  gets one more '>'
 *   [\n]                            mbox: the empty line between messages
 *
 * The content is exactly what cleanup queued (smtpd's Received: line
 * first), so a test can compare the file with what it sent.
 *
 * Delivered-To: every copy local writes or forwards carries the address
 * it was delivered for. A message that comes back to the same address
 * (an alias or .forward loop through another system, or a forward to
 * oneself) already has that line: it is bounced with 5.4.6 instead of
 * circling until some hop count runs out.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "global/mail_header.h"
#include "local.h"
#include "util/safe_open.h"

#define LOCAL_MSG_FLUSH (64 * 1024)

/* local_result_set - fill a result */
void local_result_set(local_result_t *r, int status, const char *dsn, const char *fmt, ...)
{
    va_list ap;

    r->status = status;
    snprintf(r->dsn, sizeof(r->dsn), "%s", dsn);
    va_start(ap, fmt);
    vsnprintf(r->text, sizeof(r->text), fmt, ap);
    va_end(ap);
}

/* local_result_merge - the worse of two results */
void local_result_merge(local_result_t *acc, const local_result_t *r)
{
    if (r->status > acc->status)
	*acc = *r;
}

/* local_msg_flush - write out the buffer when it is full (or force),
 * counting what was written in *total */
static int local_msg_flush(int fd, str_t *buf, int force, long long *total)
{
    int ret = 0;

    if (str_len(buf) >= LOCAL_MSG_FLUSH || (force && str_len(buf) > 0)) {
	ret = write_all(fd, str_data(buf), str_len(buf));
	*total += (long long)str_len(buf);
	str_reset(buf);
    }
    return ret;
}

/* local_msg_from_line - the mbox separator line */
static void local_msg_from_line(str_t *buf, const char *sender)
{
    char date[64];
    time_t now = time(NULL);
    struct tm tm;

    strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", localtime_r(&now, &tm));
    str_appendf(buf, "From %s  %s\n", *sender ? sender : "MAILER-DAEMON", date);
}

/* local_msg_quote - mbox: does this line need one more '>'? */
static int local_msg_quote(const str_t *line)
{
    const char *cp = str_data(line);
    size_t len = str_len(line), i = 0;

    while (i < len && cp[i] == '>')
	i++;
    return len - i >= 5 && memcmp(cp + i, "From ", 5) == 0;
}

/* local_msg_write - envelope lines, then the content */
long long local_msg_write(int fd, const local_msg_t *msg, const char *rcpt, int flags,
			  const char **error_r)
{
    str_t *buf = str_new(LOCAL_MSG_FLUSH + 1024);
    str_t *line = str_new(1024);
    int complete = 1, at_start = 1, ret;
    long long total = 0;

    if (flags & LOCAL_MSG_MBOX)
	local_msg_from_line(buf, msg->sender);
    str_appendf(buf, "Return-Path: <%s>\nDelivered-To: %s\n", msg->sender, rcpt);
    msg->rewind(msg->ctx);
    while ((ret = msg->line(msg->ctx, line, &complete, error_r)) > 0) {
	if ((flags & LOCAL_MSG_MBOX) && at_start && local_msg_quote(line))
	    str_appendc(buf, '>');
	str_append(buf, str_data(line), str_len(line));
	if (complete)
	    str_appendc(buf, '\n');
	at_start = complete;
	if (local_msg_flush(fd, buf, 0, &total) < 0)
	    goto write_error;
    }
    if (ret == 0 && (flags & LOCAL_MSG_MBOX))
	str_appends(buf, at_start ? "\n" : "\n\n");
    if (ret == 0 && local_msg_flush(fd, buf, 1, &total) < 0)
	goto write_error;
    str_free(&buf);
    str_free(&line);
    return ret < 0 ? -1 : total;

write_error:
    *error_r = strerror(errno);
    str_free(&buf);
    str_free(&line);
    return -1;
}

/* local_msg_is_loop - is this header line "Delivered-To: rcpt"? */
static int local_msg_is_loop(const str_t *line, const char *rcpt)
{
    const char *cp = str_data(line);
    size_t len = str_len(line);
    size_t n = header_name_len(cp, len);
    size_t rlen = strlen(rcpt);

    if (n == 0 || !header_name_is(cp, n, "delivered-to"))
	return 0;
    cp += n + 1;
    len -= n + 1;
    while (len > 0 && (*cp == ' ' || *cp == '\t'))
	cp++, len--;
    while (len > 0 && (cp[len - 1] == ' ' || cp[len - 1] == '\t'))
	len--;
    return len == rlen && strncasecmp(cp, rcpt, rlen) == 0;
}

/* local_msg_loop - scan the header for our Delivered-To */
int local_msg_loop(const local_msg_t *msg, const char *rcpt, const char **error_r)
{
    str_t *line = str_new(1024);
    int complete = 1, at_start = 1, ret = 0, found = 0;

    msg->rewind(msg->ctx);
    while (!found && (ret = msg->line(msg->ctx, line, &complete, error_r)) > 0) {
	if (at_start) {
	    if (header_name_len(str_data(line), str_len(line)) == 0 &&
		!header_continues(str_data(line), str_len(line)))
		break; /* end of the header */
	    found = complete && local_msg_is_loop(line, rcpt);
	}
	at_start = complete;
    }
    str_free(&line);
    if (!found && ret < 0)
	return -1;
    return found;
}

/* local_body_load - the content, read once */
int local_body_load(local_body_t *b, const local_msg_t *msg, size_t max, const char **error_r)
{
    str_t *line = str_new(1024);
    int complete = 1, ret;

    b->text = str_new(4096);
    b->pos = 0;
    msg->rewind(msg->ctx);
    while ((ret = msg->line(msg->ctx, line, &complete, error_r)) > 0) {
	if (str_len(b->text) + str_len(line) + 1 > max)
	    break; /* too large: ret stays 1, read from the file instead */
	str_append(b->text, str_data(line), str_len(line));
	if (complete)
	    str_appendc(b->text, '\n');
    }
    msg->rewind(msg->ctx);
    str_free(&line);
    return ret < 0 ? -1 : ret == 0;
}

/* local_body_line - the next line of the body in memory */
int local_body_line(void *ctx, str_t *line, int *complete_r, const char **error_r)
{
    local_body_t *b = ctx;
    const char *start = str_data(b->text) + b->pos;
    size_t left = str_len(b->text) - b->pos;
    size_t len = left < LOCAL_BODY_PIECE ? left : LOCAL_BODY_PIECE;
    const char *nl = memchr(start, '\n', len);

    (void)error_r;
    if (left == 0)
	return 0;
    *complete_r = nl != NULL;
    if (nl)
	len = (size_t)(nl - start);
    str_setn(line, start, len);
    b->pos += len + (nl != NULL);
    return 1;
}

/* local_body_rewind - back to the first line */
void local_body_rewind(void *ctx)
{
    ((local_body_t *)ctx)->pos = 0;
}
