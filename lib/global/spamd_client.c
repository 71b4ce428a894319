/*
 * spamd_client.c - spamd (SPAMC/1.5) client and its reply parser (see
 * spamd_client.h).
 *
 * The parser reads the status line and the header lines one bounded line
 * at a time and judges each line whole; the body, when the reply has
 * one, is counted against Content-length and passed on as it comes. The
 * reply is complete after the empty line when there is no body (CHECK,
 * TELL: whatever spamd sends after it is ignored), or after exactly
 * Content-length body bytes. Anything else - a cut, a line too long, too
 * many headers, an unknown verdict word - is an error.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/sock.h"
#include "util/stream.h"
#include "spamd_client.h"

/* Parser states */
#define ST_STATUS 0
#define ST_HEADERS 1
#define ST_BODY 2

/* Largest Content-length believed (PROCESS of a very big message) */
#define SPAMD_CLEN_MAX (1LL << 40)

struct spamd_conn {
    stream_t *stream;
    spamd_request_t req;
    long long sent; /* message bytes so far */
    int failed;     /* fail holds the verdict */
    spamd_result_t fail;
};

/* text_set - a printable text from a prefix and raw bytes, cut to fit */
static void text_set(char *text, size_t size, const char *prefix, const char *raw, size_t len)
{
    size_t n = strlen(prefix), i;

    if (n >= size)
	n = size - 1;
    memcpy(text, prefix, n);
    for (i = 0; i < len && n < size - 1; i++) {
	unsigned char ch = (unsigned char)raw[i];

	text[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    text[n] = 0;
}

/* result_error - make the result an error with a reason */
static void result_error(spamd_result_t *res, int status, const char *prefix, const char *raw,
			 size_t len)
{
    res->status = status;
    text_set(res->text, sizeof(res->text), prefix, raw, len);
}

/* reply_fail - the reply is bad: an error, and the parser is done */
static void reply_fail(spamd_reply_t *r, const char *why, const char *raw, size_t len)
{
    result_error(&r->result, SPAMD_ERROR, why, raw, len);
    r->done = 1;
}

/* parse_tenths - a decimal number ("-1.25", "1000.0") in tenths, rounded
 * half away from zero; advances *pp. 0 ok, -1 not a number or too big */
static int parse_tenths(const char **pp, int *out_r)
{
    const char *p = *pp;
    int neg = 0, digits = 0;
    long v = 0;

    if (*p == '-' || *p == '+')
	neg = *p++ == '-';
    for (; *p >= '0' && *p <= '9'; p++, digits++)
	if ((v = v * 10 + (*p - '0')) > SPAMD_SCORE_MAX)
	    return -1;
    v *= 10;
    if (*p == '.') {
	p++;
	if (*p >= '0' && *p <= '9')
	    v += *p++ - '0', digits++;
	if (*p >= '5' && *p <= '9')
	    v++;
	while (*p >= '0' && *p <= '9')
	    p++;
    }
    if (digits == 0 || v > SPAMD_SCORE_MAX)
	return -1;
    *out_r = neg ? (int)-v : (int)v;
    *pp = p;
    return 0;
}

/* skip_space - past blanks */
static const char *skip_space(const char *p)
{
    while (*p == ' ' || *p == '\t')
	p++;
    return p;
}

/* parse_spam - "True ; 15.3 / 5.0" (also Yes/No); 0 ok, -1 bad */
static int parse_spam(spamd_reply_t *r, const char *v)
{
    int spam;

    if (strncmp(v, "True", 4) == 0 || strncmp(v, "Yes", 3) == 0)
	spam = 1;
    else if (strncmp(v, "False", 5) == 0 || strncmp(v, "No", 2) == 0)
	spam = 0;
    else
	return -1;
    v += strcspn(v, " ;");
    v = skip_space(v);
    if (*v++ != ';')
	return -1;
    v = skip_space(v);
    if (parse_tenths(&v, &r->result.score) < 0)
	return -1;
    v = skip_space(v);
    if (*v++ != '/')
	return -1;
    v = skip_space(v);
    if (parse_tenths(&v, &r->result.threshold) < 0 || *skip_space(v) != 0)
	return -1;
    r->result.status = spam ? SPAMD_SPAM : SPAMD_HAM;
    r->seen_spam = 1;
    return 0;
}

/* parse_clen - a Content-length value; 0 ok, -1 bad */
static int parse_clen(spamd_reply_t *r, const char *v)
{
    long long n = 0;

    if (*v == 0)
	return -1;
    for (; *v >= '0' && *v <= '9'; v++)
	if ((n = n * 10 + (*v - '0')) > SPAMD_CLEN_MAX)
	    return -1;
    if (*skip_space(v) != 0)
	return -1;
    if (r->command == SPAMD_SYMBOLS && n > SPAMD_BODY_MAX)
	return -1;
    r->clen = n;
    return 0;
}

/* judge_status - "SPAMD/1.1 0 EX_OK"; a non-zero code ends the reply */
static void judge_status(spamd_reply_t *r)
{
    const char *p = r->line;
    int code = 0, digits = 0;

    if (strncmp(p, "SPAMD/", 6) != 0)
	return reply_fail(r, "unexpected reply from spamd: ", r->line, r->len);
    p += 6 + strspn(p + 6, "0123456789.");
    if (*p++ != ' ')
	return reply_fail(r, "unexpected reply from spamd: ", r->line, r->len);
    for (; *p >= '0' && *p <= '9' && digits < 4; p++, digits++)
	code = code * 10 + (*p - '0');
    if (digits == 0 || (*p != ' ' && *p != 0))
	return reply_fail(r, "unexpected reply from spamd: ", r->line, r->len);
    if (code != 0)
	return reply_fail(r, "spamd: ", r->line, r->len);
    r->state = ST_HEADERS;
}

/* headers_end - the empty line: complete, or on to the body */
static void headers_end(spamd_reply_t *r)
{
    if (r->command != SPAMD_TELL && !r->seen_spam)
	return reply_fail(r, "spamd reply without a Spam header", "", 0);
    if (r->command == SPAMD_TELL)
	r->result.status = SPAMD_TOLD;
    if ((r->command == SPAMD_SYMBOLS || r->command == SPAMD_PROCESS) && r->clen > 0) {
	r->state = ST_BODY;
	return;
    }
    r->done = 1;
}

/* judge_header - one "Name: value" line of the reply */
static void judge_header(spamd_reply_t *r)
{
    char *colon, *v;
    int bad = 0;

    if (r->len == 0)
	return headers_end(r);
    if (++r->headers > SPAMD_HEADERS_MAX)
	return reply_fail(r, "too many header lines from spamd", "", 0);
    if ((colon = strchr(r->line, ':')) == NULL || colon == r->line)
	return reply_fail(r, "malformed header line from spamd: ", r->line, r->len);
    *colon = 0;
    v = (char *)skip_space(colon + 1);
    if (strcasecmp(r->line, "Spam") == 0)
	bad = r->seen_spam || parse_spam(r, v) < 0;
    else if (strcasecmp(r->line, "Content-length") == 0)
	bad = r->clen >= 0 || parse_clen(r, v) < 0;
    else if (strcasecmp(r->line, "DidSet") == 0 || strcasecmp(r->line, "DidRemove") == 0)
	r->result.learned |= strstr(v, "local") != NULL;
    if (bad) {
	*colon = ':';
	reply_fail(r, "bad header line from spamd: ", r->line, r->len);
    }
}

/* line_byte - one byte of the status or a header line */
static void line_byte(spamd_reply_t *r, char ch)
{
    if (ch != '\n') {
	if (r->len == SPAMD_LINE_MAX)
	    return reply_fail(r, "line from spamd too long: ", r->line, 64);
	if (ch == 0)
	    return reply_fail(r, "NUL byte in the reply from spamd", "", 0);
	r->line[r->len++] = ch;
	return;
    }
    if (r->len > 0 && r->line[r->len - 1] == '\r')
	r->len--;
    r->line[r->len] = 0;
    if (r->state == ST_STATUS)
	judge_status(r);
    else
	judge_header(r);
    r->len = 0;
}

/* body_bytes - take body bytes, up to Content-length; returns how many */
static size_t body_bytes(spamd_reply_t *r, const char *data, size_t len)
{
    long long left = r->clen - r->body_at;
    size_t n = (long long)len < left ? len : (size_t)left;

    if (r->command == SPAMD_SYMBOLS) {
	memcpy(r->result.symbols + r->symbols_len, data, n);
	r->symbols_len += n;
    } else if (r->body_fn) {
	r->body_fn(r->body_context, data, n);
    }
    r->body_at += (long long)n;
    if (r->body_at == r->clen) {
	r->done = 1;
	if (r->command == SPAMD_SYMBOLS) {
	    while (r->symbols_len > 0 && (r->result.symbols[r->symbols_len - 1] == '\n' ||
					  r->result.symbols[r->symbols_len - 1] == '\r'))
		r->symbols_len--;
	    text_set(r->result.symbols, sizeof(r->result.symbols), "", r->result.symbols,
		     r->symbols_len);
	}
    }
    return n;
}

/* spamd_reply_init - start reading the reply to command */
void spamd_reply_init(spamd_reply_t *r, int command)
{
    memset(r, 0, sizeof(*r));
    r->command = command;
    r->state = ST_STATUS;
    r->clen = -1;
    result_error(&r->result, SPAMD_ERROR, "no reply from spamd", "", 0);
}

/* spamd_reply_feed - run the machine over a piece of the reply */
int spamd_reply_feed(spamd_reply_t *r, const char *data, size_t len, size_t *used_r)
{
    size_t i = 0;

    while (i < len && !r->done) {
	if (r->state == ST_BODY)
	    i += body_bytes(r, data + i, len - i);
	else
	    line_byte(r, data[i++]);
    }
    *used_r = i;
    return r->done ? SPAMD_REPLY_DONE : SPAMD_REPLY_MORE;
}

/* spamd_reply_eof - end of input: an unfinished reply is an error */
const spamd_result_t *spamd_reply_eof(spamd_reply_t *r)
{
    if (r->done)
	return &r->result;
    if (r->state == ST_STATUS && r->len == 0)
	reply_fail(r, "spamd closed the connection without a reply", "", 0);
    else if (r->state == ST_BODY)
	reply_fail(r, "spamd reply body cut short", "", 0);
    else
	reply_fail(r, "spamd reply cut short: ", r->line, r->len);
    return &r->result;
}

/* spamd_status_name - a verdict as a word */
const char *spamd_status_name(int status)
{
    switch (status) {
    case SPAMD_HAM:
	return "ham";
    case SPAMD_SPAM:
	return "spam";
    case SPAMD_TOOLONG:
	return "too long";
    case SPAMD_TOLD:
	return "told";
    default:
	return "error";
    }
}

/* conn_fail - remember the first failure of a request */
static void conn_fail(spamd_conn_t *c, int status, const char *fmt, ...)
{
    char text[SPAMD_TEXT_MAX];
    va_list ap;

    if (c->failed)
	return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    result_error(&c->fail, status, text, "", 0);
    c->failed = 1;
}

/* conn_read_reply - read and judge spamd's reply into res */
static void conn_read_reply(spamd_conn_t *c, spamd_result_t *res)
{
    spamd_reply_t *r = mr_alloc(sizeof(*r));
    char buf[4096];
    ssize_t n;
    size_t used;

    spamd_reply_init(r, c->req.command);
    r->body_fn = c->req.body_fn;
    r->body_context = c->req.body_context;
    while (!r->done) {
	if ((n = stream_read(c->stream, buf, sizeof(buf))) < 0) {
	    const char *why = stream_timedout(c->stream) ? "timeout" : strerror(errno);

	    reply_fail(r, "cannot read the spamd reply: ", why, strlen(why));
	    break;
	}
	if (n == 0) {
	    spamd_reply_eof(r);
	    break;
	}
	spamd_reply_feed(r, buf, (size_t)n, &used);
    }
    *res = r->result;
    mr_free(r);
}

/* conn_write_failed - a write failed: spamd may have said why before it
 * hung up; otherwise report the write error */
static void conn_write_failed(spamd_conn_t *c)
{
    int err = errno, timedout = stream_timedout(c->stream);
    spamd_result_t *said;

    if (c->failed)
	return;
    if (!timedout) {
	said = mr_alloc(sizeof(*said));
	stream_clear_error(c->stream);
	conn_read_reply(c, said);
	if (strncmp(said->text, "spamd: ", 7) == 0) {
	    c->fail = *said;
	    c->failed = 1;
	}
	mr_free(said);
	if (c->failed)
	    return;
    }
    conn_fail(c, SPAMD_ERROR, timedout ? "timeout sending to spamd" : "cannot send to spamd: %s",
	      strerror(err));
}

/* conn_connect - a socket to address; -1 with res filled */
static int conn_connect(const char *address, int timeout, spamd_result_t *res)
{
    const char *error, *path = address;
    char prefix[300];
    int fd;

    if (strncmp(address, "unix:", 5) == 0)
	path = address + 5;
    if (*path == '/')
	fd = sock_connect_unix(path, timeout, &error);
    else
	fd = sock_connect_inet(address, NULL, timeout, &error);
    if (fd < 0) {
	snprintf(prefix, sizeof(prefix), "cannot connect to spamd at %.200s: ", address);
	result_error(res, SPAMD_ERROR, prefix, error, strlen(error));
    }
    return fd;
}

/* request_check - is the request one that can be sent? */
static int request_check(const spamd_request_t *req, spamd_result_t *res)
{
    if (req->max_size > 0 && req->length > req->max_size) {
	char text[100];

	snprintf(text, sizeof(text), "message larger than %lld bytes, not scanned", req->max_size);
	result_error(res, SPAMD_TOOLONG, text, "", 0);
	return -1;
    }
    if (req->user && (req->user[0] == 0 || strpbrk(req->user, "\r\n") || strlen(req->user) > 255)) {
	result_error(res, SPAMD_ERROR, "unusable user name for spamd", "", 0);
	return -1;
    }
    return 0;
}

/* request_write - the command line and the headers */
static void request_write(spamd_conn_t *c)
{
    static const char *names[] = {"CHECK", "SYMBOLS", "PROCESS", "TELL"};
    const spamd_request_t *req = &c->req;
    stream_t *s = c->stream;
    int rc;

    rc = stream_printf(s, "%s SPAMC/1.5\r\nContent-length: %lld\r\n", names[req->command],
		       req->length);
    if (rc >= 0 && req->user)
	rc = stream_printf(s, "User: %s\r\n", req->user);
    if (rc >= 0 && req->command == SPAMD_TELL && req->tell_forget)
	rc = stream_puts(s, "Remove: local\r\n");
    else if (rc >= 0 && req->command == SPAMD_TELL)
	rc = stream_printf(s, "Message-class: %s\r\nSet: local\r\n",
			   req->tell_spam ? "spam" : "ham");
    if (rc >= 0)
	rc = stream_puts(s, "\r\n");
    if (rc < 0)
	conn_write_failed(c);
}

/* spamd_open - connect and send the request head */
spamd_conn_t *spamd_open(const char *address, const spamd_request_t *req, spamd_result_t *res)
{
    spamd_conn_t *c;
    int fd;

    memset(res, 0, sizeof(*res));
    if (req->command < SPAMD_CHECK || req->command > SPAMD_TELL)
	msg_panic("spamd_open: unknown command %d", req->command);
    if (request_check(req, res) < 0)
	return NULL;
    signal(SIGPIPE, SIG_IGN);
    if ((fd = conn_connect(address, req->timeout, res)) < 0)
	return NULL;
    c = mr_alloc(sizeof(*c));
    memset(c, 0, sizeof(*c));
    c->stream = stream_open(fd);
    stream_set_timeout(c->stream, req->timeout);
    c->req = *req;
    request_write(c);
    return c;
}

/* spamd_send - message bytes, never more than announced */
int spamd_send(spamd_conn_t *c, const void *data, size_t len)
{
    if (c->failed)
	return -1;
    if ((long long)len > c->req.length - c->sent) {
	conn_fail(c, SPAMD_ERROR, "message longer than the %lld bytes announced", c->req.length);
	return -1;
    }
    c->sent += (long long)len;
    if (stream_write(c->stream, data, len) < 0) {
	conn_write_failed(c);
	return -1;
    }
    return 0;
}

/* spamd_finish - flush, read the reply, close */
int spamd_finish(spamd_conn_t **cp, spamd_result_t *res)
{
    spamd_conn_t *c = *cp;

    if (!c->failed && c->sent != c->req.length)
	conn_fail(c, SPAMD_ERROR, "message shorter (%lld bytes) than the %lld announced", c->sent,
		  c->req.length);
    if (!c->failed && stream_flush(c->stream) < 0)
	conn_write_failed(c);
    if (c->failed)
	*res = c->fail;
    else
	conn_read_reply(c, res);
    stream_close(&c->stream);
    mr_free(c);
    *cp = NULL;
    return res->status;
}

/* spamd_ask_fd - send what fd holds (its size from fstat) */
int spamd_ask_fd(const char *address, spamd_request_t *req, int fd, spamd_result_t *res)
{
    spamd_conn_t *c;
    struct stat st;
    char buf[65536];
    ssize_t n;

    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
	result_error(res, SPAMD_ERROR, "cannot tell the message size (not a regular file)", "", 0);
	return res->status;
    }
    req->length = (long long)st.st_size;
    if ((c = spamd_open(address, req, res)) == NULL)
	return res->status;
    for (;;) {
	n = read(fd, buf, sizeof(buf));
	if (n < 0 && errno == EINTR)
	    continue;
	if (n < 0)
	    conn_fail(c, SPAMD_ERROR, "cannot read the message: %s", strerror(errno));
	if (n <= 0 || spamd_send(c, buf, (size_t)n) < 0)
	    break;
    }
    return spamd_finish(&c, res);
}
