/*
 * smtp_client.c - the client side of an SMTP or LMTP dialogue (see
 * smtp_client.h for the API and what is trusted).
 *
 * The weak spot is the server's replies: every line is read through the
 * stream's bounded line reader, checked by smtp_reply_feed, and only a
 * well-formed 2xx counts as success. A connection that breaks mid-way
 * leaves every recipient without a final reply at code 0 (a temporary
 * failure for the caller), so nothing is reported delivered that the
 * server did not confirm.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "header_2047.h"
#include "smtp_client.h"
#include "smtp_client_8bit.h"
#include "util/mymalloc.h"
#include "util/sock.h"

struct smtp_client {
    stream_t *stream;
    int lmtp;
    int ext;            /* SMTP_EXT_* */
    long long max_size; /* SIZE limit, 0 none */
    tls_conn_t *tls;
    str_t *line;  /* reply line buffer */
    str_t *cmd;   /* command being built */
    int at_start; /* content: the next byte starts a line */
    char *name;   /* the server, for reasons made here, or NULL */
};

/* smtp_reply_init - empty reply */
void smtp_reply_init(smtp_reply_t *r)
{
    r->code = 0;
    r->dsn[0] = 0;
    r->text = str_new(64);
}

/* smtp_reply_free - release the text */
void smtp_reply_free(smtp_reply_t *r)
{
    str_free(&r->text);
}

/* smtp_reply_local - a reply made here (no valid server reply) */
static void smtp_reply_local(smtp_reply_t *r, const char *dsn, const char *text)
{
    r->code = 0;
    snprintf(r->dsn, sizeof(r->dsn), "%s", dsn);
    str_reset(r->text);
    str_append_printable(r->text, text, strlen(text));
}

/* smtp_reply_parser_init - start a new reply */
void smtp_reply_parser_init(smtp_reply_parser_t *p, smtp_reply_t *r)
{
    p->lines = 0;
    p->code = 0;
    r->code = 0;
    r->dsn[0] = 0;
    str_reset(r->text);
}

/* smtp_dsn_scan - "X.Y.Z" at the start of text (class c): its length */
static size_t smtp_dsn_scan(const char *text, size_t len, int c)
{
    size_t i = 0, digits;

    if (len < 5 || text[0] != '0' + c || text[1] != '.')
	return 0;
    for (i = 2, digits = 0; i < len && isdigit((unsigned char)text[i]) && digits < 3; i++)
	digits++;
    if (digits == 0 || i >= len || text[i] != '.')
	return 0;
    for (i++, digits = 0; i < len && isdigit((unsigned char)text[i]) && digits < 3; i++)
	digits++;
    if (digits == 0 || (i < len && text[i] != ' '))
	return 0;
    return i;
}

/* smtp_reply_finish - the enhanced code (from the first line or the class) */
static void smtp_reply_finish(smtp_reply_t *r)
{
    const char *t = str_data(r->text) + 4;
    size_t len = str_len(r->text) > 4 ? str_len(r->text) - 4 : 0;
    size_t n = smtp_dsn_scan(t, len, r->code / 100);

    if (n > 0 && n < sizeof(r->dsn))
	snprintf(r->dsn, sizeof(r->dsn), "%.*s", (int)n, t);
    else
	snprintf(r->dsn, sizeof(r->dsn), "%d.0.0", r->code / 100);
}

/* smtp_reply_bad - a line that is no reply line */
static int smtp_reply_bad(smtp_reply_t *r, const char *why)
{
    smtp_reply_local(r, "4.5.0", why);
    return -1;
}

/* smtp_reply_feed - take one reply line */
int smtp_reply_feed(smtp_reply_parser_t *p, smtp_reply_t *r, const char *line, size_t len)
{
    int code;

    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
	len--;
    if (len < 3 || !isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1]) ||
	!isdigit((unsigned char)line[2]) || (len > 3 && line[3] != ' ' && line[3] != '-'))
	return smtp_reply_bad(r, "malformed reply from server");
    code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (code < 200 || code > 599)
	return smtp_reply_bad(r, "reply code out of range from server");
    if (p->lines > 0 && code != p->code)
	return smtp_reply_bad(r, "reply code changed within a multi-line reply");
    if (++p->lines > SMTP_CLIENT_REPLY_LINES)
	return smtp_reply_bad(r, "reply from server has too many lines");
    p->code = code;
    if (str_len(r->text) == 0)
	str_append(r->text, line, 3);
    if (len > 4 && str_len(r->text) < SMTP_CLIENT_TEXT_MAX) {
	size_t room = SMTP_CLIENT_TEXT_MAX - str_len(r->text);
	size_t n = len - 4 < room ? len - 4 : room;

	str_appendc(r->text, ' ');
	str_append_printable(r->text, line + 4, n);
	str_truncate(r->text, SMTP_CLIENT_TEXT_MAX); /* escapes grow */
    }
    if (len > 3 && line[3] == '-')
	return 0;
    r->code = code;
    smtp_reply_finish(r);
    return 1;
}

/* smtp_client_reply - read one whole reply: 1 got one, -1 not (*r says) */
static int smtp_client_reply(smtp_client_t *c, smtp_reply_t *r)
{
    smtp_reply_parser_t p;
    int ret, got;

    smtp_reply_parser_init(&p, r);
    for (;;) {
	str_reset(c->line);
	got = stream_read_line(c->stream, c->line, SMTP_CLIENT_LINE_MAX);
	if (got == STREAM_PARTIAL) {
	    smtp_reply_local(r, "4.5.0", "reply line from server too long");
	    return -1;
	}
	if (got != STREAM_LINE) {
	    smtp_reply_local(r, "4.4.2",
			     stream_timedout(c->stream)
				 ? "timeout while reading the reply"
				 : "lost connection while reading the reply");
	    return -1;
	}
	if ((ret = smtp_reply_feed(&p, r, str_data(c->line), str_len(c->line))) != 0)
	    return ret;
    }
}

/* smtp_client_command - send cmd (flushing) and read the reply */
static int smtp_client_command(smtp_client_t *c, const char *cmd, smtp_reply_t *r)
{
    if (stream_printf(c->stream, "%s\r\n", cmd) < 0 || stream_flush(c->stream) < 0) {
	smtp_reply_local(r, "4.4.2", "lost connection while sending a command");
	return -1;
    }
    return smtp_client_reply(c, r);
}

/* smtp_client_open - a client on a connected descriptor */
smtp_client_t *smtp_client_open(int fd, int lmtp, int io_timeout)
{
    smtp_client_t *c = mr_calloc(1, sizeof(*c));

    c->stream = stream_open(fd);
    stream_set_timeout(c->stream, io_timeout);
    c->lmtp = lmtp;
    c->line = str_new(SMTP_CLIENT_LINE_MAX);
    c->cmd = str_new(256);
    return c;
}

/* smtp_client_connect - connect to TCP host:port or unix:/path */
smtp_client_t *smtp_client_connect(const char *dest, int lmtp, int timeout, int io_timeout,
				   const char **error_r)
{
    int fd;

    if (strncmp(dest, "unix:", 5) == 0)
	fd = sock_connect_unix(dest + 5, timeout, error_r);
    else
	fd = sock_connect_inet(dest, NULL, timeout, error_r);
    if (fd < 0)
	return NULL;
    return smtp_client_open(fd, lmtp, io_timeout);
}

/* smtp_client_free - close and free */
void smtp_client_free(smtp_client_t **cp)
{
    smtp_client_t *c = *cp;

    if (c == NULL)
	return;
    stream_close(&c->stream);
    str_free(&c->line);
    str_free(&c->cmd);
    mr_free(c->name);
    mr_free(c);
    *cp = NULL;
}

/* smtp_client_stream - the stream */
stream_t *smtp_client_stream(smtp_client_t *c)
{
    return c->stream;
}

/* smtp_client_greeting - read the 220 */
int smtp_client_greeting(smtp_client_t *c, smtp_reply_t *r)
{
    if (smtp_client_reply(c, r) < 0)
	return -1;
    return r->code / 100 == 2;
}

/* smtp_ext_word - the extension named at the start of an EHLO line */
static void smtp_ext_word(smtp_client_t *c, const char *word)
{
    static const struct {
	const char *name;
	int flag;
    } exts[] = {
	{"PIPELINING", SMTP_EXT_PIPELINING}, {"SIZE", SMTP_EXT_SIZE},
	{"8BITMIME", SMTP_EXT_8BITMIME},     {"DSN", SMTP_EXT_DSN},
	{"STARTTLS", SMTP_EXT_STARTTLS},     {"ENHANCEDSTATUSCODES", SMTP_EXT_ENHANCEDSTATUSCODES},
	{"SMTPUTF8", SMTP_EXT_SMTPUTF8},
    };
    size_t n = strcspn(word, " ");

    for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
	if (strlen(exts[i].name) != n || strncasecmp(word, exts[i].name, n) != 0)
	    continue;
	c->ext |= exts[i].flag;
	if (exts[i].flag == SMTP_EXT_SIZE && word[n] == ' ')
	    c->max_size = strtoll(word + n + 1, NULL, 10);
	if (c->max_size < 0)
	    c->max_size = 0;
    }
}

/* smtp_client_ehlo_lines - read an EHLO reply line by line, noting the
 * extensions (the first line is the greeting, not an extension) */
static int smtp_client_ehlo_lines(smtp_client_t *c, smtp_reply_t *r)
{
    smtp_reply_parser_t p;
    int ret, got;

    c->ext = 0;
    c->max_size = 0;
    smtp_reply_parser_init(&p, r);
    for (;;) {
	str_reset(c->line);
	got = stream_read_line(c->stream, c->line, SMTP_CLIENT_LINE_MAX);
	if (got != STREAM_LINE) {
	    smtp_reply_local(r, "4.4.2",
			     got == STREAM_PARTIAL ? "reply line from server too long"
						   : "lost connection while reading the reply");
	    return -1;
	}
	str_truncate(c->line, strcspn(str_data(c->line), "\r\n"));
	if ((ret = smtp_reply_feed(&p, r, str_data(c->line), str_len(c->line))) < 0)
	    return -1;
	if (p.lines > 1 && str_len(c->line) > 4)
	    smtp_ext_word(c, str_data(c->line) + 4);
	if (ret == 1)
	    return 1;
    }
}

/* smtp_client_hello - EHLO/LHLO, HELO fallback */
int smtp_client_hello(smtp_client_t *c, const char *name, smtp_reply_t *r)
{
    if (stream_printf(c->stream, "%s %s\r\n", c->lmtp ? "LHLO" : "EHLO", name) < 0 ||
	stream_flush(c->stream) < 0) {
	smtp_reply_local(r, "4.4.2", "lost connection while sending EHLO");
	return -1;
    }
    if (smtp_client_ehlo_lines(c, r) < 0)
	return -1;
    if (r->code / 100 == 2)
	return 1;
    if (c->lmtp || r->code / 100 != 5)
	return 0;
    str_printf(c->cmd, "HELO %s", name);
    if (smtp_client_command(c, str_data(c->cmd), r) < 0)
	return -1;
    return r->code / 100 == 2;
}

/* smtp_client_ext - announced extensions */
int smtp_client_ext(const smtp_client_t *c)
{
    return c->ext;
}

/* smtp_client_max_size - SIZE limit */
long long smtp_client_max_size(const smtp_client_t *c)
{
    return c->max_size;
}

/* smtp_client_starttls - STARTTLS and handshake */
int smtp_client_starttls(smtp_client_t *c, tls_ctx_t *ctx, const char *servername, int verify,
			 smtp_reply_t *r)
{
    const char *err;

    if (smtp_client_command(c, "STARTTLS", r) < 0)
	return -1;
    if (r->code != 220)
	return 0;
    stream_discard_input(c->stream);
    if ((c->tls = tls_client_start(c->stream, ctx, servername, verify, &err)) == NULL) {
	smtp_reply_local(r, "4.7.5", err);
	return -1;
    }
    return 1;
}

/* smtp_client_tls - the TLS connection or NULL */
tls_conn_t *smtp_client_tls(const smtp_client_t *c)
{
    return c->tls;
}

void smtp_client_set_name(smtp_client_t *c, const char *name)
{
    mr_free(c->name);
    c->name = mr_strdup(name);
}

/* smtp_xtext_encode - RFC 3461 xtext */
void smtp_xtext_encode(str_t *out, const char *value)
{
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
	if (*p < 33 || *p > 126 || *p == '+' || *p == '=')
	    str_appendf(out, "+%02X", *p);
	else
	    str_appendc(out, *p);
    }
}

/* smtp_client_mail_cmd - MAIL FROM with the parameters the server takes */
static void smtp_client_mail_cmd(smtp_client_t *c, const smtp_msg_t *msg, int utf8)
{
    str_printf(c->cmd, "MAIL FROM:<%s>", msg->sender);
    if ((c->ext & SMTP_EXT_SIZE) && msg->size >= 0)
	str_appendf(c->cmd, " SIZE=%lld", msg->size);
    if ((c->ext & SMTP_EXT_8BITMIME) && msg->eightbit)
	str_appends(c->cmd, " BODY=8BITMIME");
    if (utf8) /* only offered: smtp_client_send refused it otherwise */
	str_appends(c->cmd, " SMTPUTF8");
    if (!(c->ext & SMTP_EXT_DSN))
	return;
    if (msg->ret && (strcasecmp(msg->ret, "FULL") == 0 || strcasecmp(msg->ret, "HDRS") == 0))
	str_appendf(c->cmd, " RET=%s",
		    toupper((unsigned char)msg->ret[0]) == 'F' ? "FULL" : "HDRS");
    if (msg->envid && *msg->envid) {
	str_appends(c->cmd, " ENVID=");
	smtp_xtext_encode(c->cmd, msg->envid);
    }
}

/* smtp_client_rcpt_cmd - RCPT TO with NOTIFY and ORCPT when offered */
static void smtp_client_rcpt_cmd(smtp_client_t *c, const smtp_rcpt_t *rc)
{
    const char *semi;

    str_printf(c->cmd, "RCPT TO:<%s>", rc->address);
    if (!(c->ext & SMTP_EXT_DSN))
	return;
    if (rc->notify && *rc->notify)
	str_appendf(c->cmd, " NOTIFY=%s", rc->notify);
    if (rc->orcpt && (semi = strchr(rc->orcpt, ';')) != NULL && semi[1]) {
	str_appendf(c->cmd, " ORCPT=%.*s;", (int)(semi - rc->orcpt), rc->orcpt);
	smtp_xtext_encode(c->cmd, semi + 1);
    }
}

/* smtp_client_set_all - give every recipient still open the same reply */
static void smtp_client_set_all(smtp_rcpt_t *rcpts, size_t count, const smtp_reply_t *r,
				const char *stage, int only_open)
{
    for (size_t i = 0; i < count; i++) {
	if (only_open && rcpts[i].reply.code / 100 != 2)
	    continue;
	rcpts[i].reply.code = r->code;
	memcpy(rcpts[i].reply.dsn, r->dsn, sizeof(r->dsn));
	str_setn(rcpts[i].reply.text, str_data(r->text), str_len(r->text));
	rcpts[i].stage = stage;
    }
}

/* smtp_client_needs_utf8 - does the message need SMTPUTF8? When its
 * sender asked for it (the headers may then be UTF-8, RFC 6532, which
 * nothing here reads), or when an envelope address is not ASCII */
static int smtp_client_needs_utf8(const smtp_msg_t *msg, const smtp_rcpt_t *rcpts, size_t count)
{
    if (msg->smtputf8 || header_2047_has_8bit(msg->sender, strlen(msg->sender)))
	return 1;
    for (size_t i = 0; i < count; i++)
	if (header_2047_has_8bit(rcpts[i].address, strlen(rcpts[i].address)))
	    return 1;
    return 0;
}

/* smtp_client_data_drop - the reply to a pipelined DATA of a transaction
 * that has no recipient: a server that still says 354 gets the empty
 * content's lone dot (RFC 2920), whose reply (none in LMTP, for no
 * recipient) does not matter. 0, -1 on a broken connection */
static int smtp_client_data_drop(smtp_client_t *c, smtp_reply_t *r)
{
    if (smtp_client_reply(c, r) < 0)
	return -1;
    if (r->code != 354)
	return 0;
    if (stream_puts(c->stream, ".\r\n") < 0 || stream_flush(c->stream) < 0)
	return -1;
    return c->lmtp || smtp_client_reply(c, r) >= 0 ? 0 : -1;
}

/* smtp_client_envelope - MAIL and RCPTs, and DATA unless msg->rcpt_only,
 * in one write when the server offers PIPELINING: returns how many
 * recipients were accepted (*data_r 1: DATA went too and *r holds its
 * reply), -1 on a broken connection */
static int smtp_client_envelope(smtp_client_t *c, const smtp_msg_t *msg, smtp_rcpt_t *rcpts,
				size_t count, smtp_reply_t *r, int *data_r)
{
    int pipe = (c->ext & SMTP_EXT_PIPELINING) != 0, ok = 0;

    *data_r = pipe && !msg->rcpt_only;
    smtp_client_mail_cmd(c, msg, smtp_client_needs_utf8(msg, rcpts, count));
    if (stream_printf(c->stream, "%s\r\n", str_data(c->cmd)) < 0)
	goto lost;
    for (size_t i = 0; pipe && i < count; i++) {
	smtp_client_rcpt_cmd(c, rcpts + i);
	if (stream_printf(c->stream, "%s\r\n", str_data(c->cmd)) < 0)
	    goto lost;
    }
    if ((*data_r && stream_puts(c->stream, "DATA\r\n") < 0) || stream_flush(c->stream) < 0)
	goto lost;
    if (smtp_client_reply(c, r) < 0)
	goto broken;
    if (r->code / 100 != 2) {
	smtp_client_set_all(rcpts, count, r, "MAIL FROM", 0);
	for (size_t i = 0; pipe && i < count; i++) /* the RCPT replies */
	    if (smtp_client_reply(c, r) < 0)
		return -1;
	return *data_r && smtp_client_data_drop(c, r) < 0 ? -1 : 0;
    }
    for (size_t i = 0; i < count; i++) {
	if (!pipe) {
	    smtp_client_rcpt_cmd(c, rcpts + i);
	    if (smtp_client_command(c, str_data(c->cmd), &rcpts[i].reply) < 0)
		goto broken_rcpt;
	} else if (smtp_client_reply(c, &rcpts[i].reply) < 0)
	    goto broken_rcpt;
	rcpts[i].stage = "RCPT TO";
	ok += rcpts[i].reply.code / 100 == 2;
    }
    if (*data_r && ok == 0)
	return smtp_client_data_drop(c, r) < 0 ? -1 : 0;
    if (*data_r && smtp_client_reply(c, r) < 0) {
	smtp_client_set_all(rcpts, count, r, "DATA", 1);
	return -1;
    }
    return ok;

lost:
    smtp_reply_local(r, "4.4.2", "lost connection while sending the envelope");
broken:
    smtp_client_set_all(rcpts, count, r, "MAIL FROM", 0);
    return -1;
broken_rcpt:
    for (size_t i = 0; i < count; i++)
	if (rcpts[i].stage == NULL || rcpts[i].reply.code == 0) {
	    rcpts[i].reply.code = 0;
	    snprintf(rcpts[i].reply.dsn, sizeof(rcpts[i].reply.dsn), "4.4.2");
	    str_set(rcpts[i].reply.text, "lost connection while sending the envelope");
	    rcpts[i].stage = "RCPT TO";
	}
    return -1;
}

/* smtp_client_put - one piece of content, dot-stuffed; a complete one
 * ends its line */
static void smtp_client_put(void *ctx, const char *data, size_t len, int complete)
{
    smtp_client_t *c = ctx;

    if (len == 0 && !complete)
	return;
    if (c->at_start && len > 0 && data[0] == '.')
	stream_write(c->stream, ".", 1);
    stream_write(c->stream, data, len);
    if (complete)
	stream_write(c->stream, "\r\n", 2);
    c->at_start = complete;
}

/* smtp_client_scan - read the whole content once to find the parts with
 * unlabelled 8-bit bytes, tell conv, and start the content again: 0, or
 * -1 when it could not be read (*err) */
static int smtp_client_scan(const smtp_msg_t *msg, smtp_8bit_t *conv, str_t *line, const char **err)
{
    smtp_8bit_t *scan = smtp_8bit_create(NULL, NULL);
    int complete, ret;

    while ((ret = msg->line(msg->ctx, line, &complete, err)) > 0)
	smtp_8bit_line(scan, str_data(line), str_len(line), complete);
    smtp_8bit_finish(scan);
    smtp_8bit_learn(conv, scan);
    smtp_8bit_free(&scan);
    msg->rewind(msg->ctx);
    return ret < 0 ? -1 : 0;
}

/* smtp_client_content - the content, dot-stuffed, then the final dot;
 * downgraded to 7 bits (smtp_client_8bit) for a server without 8BITMIME:
 * 0 sent, 1 the content could not be read (*r), -1 broken connection */
static int smtp_client_content(smtp_client_t *c, const smtp_msg_t *msg, smtp_reply_t *r)
{
    str_t *line = str_new(1024);
    smtp_8bit_t *conv = NULL;
    int complete = 1, ret;
    const char *err = "content reader failed";

    if (!(c->ext & SMTP_EXT_8BITMIME) && !msg->no_downgrade) {
	conv = smtp_8bit_create(smtp_client_put, c);
	if (msg->rewind && smtp_client_scan(msg, conv, line, &err) < 0) {
	    smtp_8bit_free(&conv);
	    str_free(&line);
	    smtp_reply_local(r, "4.3.0", err);
	    return 1;
	}
    }
    c->at_start = 1;
    while ((ret = msg->line(msg->ctx, line, &complete, &err)) > 0) {
	if (conv)
	    smtp_8bit_line(conv, str_data(line), str_len(line), complete);
	else
	    smtp_client_put(c, str_data(line), str_len(line), complete);
	if (stream_error(c->stream))
	    break;
    }
    if (conv && ret == 0)
	smtp_8bit_finish(conv);
    smtp_8bit_free(&conv);
    str_free(&line);
    if (ret < 0) {
	smtp_reply_local(r, "4.3.0", err);
	return 1;
    }
    if (!c->at_start)
	stream_write(c->stream, "\r\n", 2);
    if (stream_puts(c->stream, ".\r\n") < 0 || stream_flush(c->stream) < 0) {
	smtp_reply_local(r, "4.4.2", "lost connection while sending the message");
	return -1;
    }
    return 0;
}

/* smtp_client_final - the replies after the dot: one (SMTP) or one per
 * accepted recipient (LMTP) */
static int smtp_client_final(smtp_client_t *c, smtp_rcpt_t *rcpts, size_t count, smtp_reply_t *r)
{
    if (!c->lmtp) {
	int ret = smtp_client_reply(c, r);

	smtp_client_set_all(rcpts, count, r, "end of DATA", 1);
	return ret < 0 ? -1 : 1;
    }
    for (size_t i = 0; i < count; i++) {
	if (rcpts[i].reply.code / 100 != 2)
	    continue;
	rcpts[i].stage = "end of DATA";
	if (smtp_client_reply(c, &rcpts[i].reply) < 0) {
	    smtp_client_set_all(rcpts + i, count - i, &rcpts[i].reply, "end of DATA", 1);
	    return -1;
	}
    }
    return 1;
}

/* smtp_client_send - one transaction */
int smtp_client_send(smtp_client_t *c, const smtp_msg_t *msg, smtp_rcpt_t *rcpts, size_t count)
{
    smtp_reply_t r;
    int ret, data = 0;

    smtp_reply_init(&r);
    for (size_t i = 0; i < count; i++)
	rcpts[i].stage = NULL;
    if (c->max_size > 0 && msg->size > c->max_size) {
	char why[128];

	snprintf(why, sizeof(why), "message size %lld exceeds size limit %lld of server", msg->size,
		 c->max_size);
	smtp_reply_local(&r, "5.3.4", why);
	smtp_client_set_all(rcpts, count, &r, "SIZE", 0);
	ret = 0;
    } else if (!(c->ext & SMTP_EXT_SMTPUTF8) && smtp_client_needs_utf8(msg, rcpts, count)) {
	char why[600];

	snprintf(why, sizeof(why), "SMTPUTF8 is required, but was not offered by %s%s",
		 c->name ? "host " : "the server", c->name ? c->name : "");
	smtp_reply_local(&r, "5.6.7", why);
	smtp_client_set_all(rcpts, count, &r, "SMTPUTF8", 0);
	ret = 0;
    } else if ((ret = smtp_client_envelope(c, msg, rcpts, count, &r, &data)) <= 0) {
	ret = ret < 0 ? -1 : 1;
    } else if (msg->rcpt_only) {
	ret = smtp_client_rset(c) < 0 ? -1 : 1;
    } else if ((!data && smtp_client_command(c, "DATA", &r) < 0) || r.code != 354) {
	ret = r.code == 0 ? -1 : 1;
	smtp_client_set_all(rcpts, count, &r, "DATA", 1);
    } else if ((ret = smtp_client_content(c, msg, &r)) != 0) {
	smtp_client_set_all(rcpts, count, &r, "DATA", 1);
	ret = -1; /* a half-sent DATA cannot be taken back */
    } else {
	ret = smtp_client_final(c, rcpts, count, &r);
    }
    smtp_reply_free(&r);
    return ret;
}

/* smtp_client_rset - RSET */
int smtp_client_rset(smtp_client_t *c)
{
    smtp_reply_t r;
    int ret;

    smtp_reply_init(&r);
    ret = smtp_client_command(c, "RSET", &r) < 0 ? -1 : r.code / 100 == 2;
    smtp_reply_free(&r);
    return ret;
}

/* smtp_client_quit - QUIT, reply ignored */
void smtp_client_quit(smtp_client_t *c)
{
    smtp_reply_t r;

    smtp_reply_init(&r);
    (void)smtp_client_command(c, "QUIT", &r);
    smtp_reply_free(&r);
}
