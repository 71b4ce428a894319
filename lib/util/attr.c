/*
 * attr.c - reading and writing attribute lists (grammar in attr.h): the
 * one parser (resumable, bounded), the stream reader on top of it, and
 * the writers.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "attr.h"
#include "msg.h"
#include "mymalloc.h"

attr_list_t *attr_list_new(void)
{
    return mr_calloc(1, sizeof(attr_list_t));
}

void attr_list_reset(attr_list_t *l)
{
    for (size_t i = 0; i < l->count; i++) {
	mr_free(l->items[i].name);
	mr_free(l->items[i].value);
    }
    l->count = 0;
}

void attr_list_free(attr_list_t **lp)
{
    if (*lp == NULL)
	return;
    attr_list_reset(*lp);
    mr_free((*lp)->items);
    mr_free(*lp);
    *lp = NULL;
}

/* attr_add - append one attribute */
void attr_add(attr_list_t *l, const char *name, const char *value)
{
    if (l->count == l->cap) {
	l->cap = l->cap ? l->cap * 2 : 8;
	l->items = mr_reallocarray(l->items, l->cap, sizeof(attr_t));
    }
    l->items[l->count].name = mr_strdup(name);
    l->items[l->count].value = mr_strdup(value);
    l->count++;
}

void attr_addf(attr_list_t *l, const char *name, const char *fmt, ...)
{
    str_t *buf = str_new(64);
    va_list ap;

    va_start(ap, fmt);
    str_vappendf(buf, fmt, ap);
    va_end(ap);
    attr_add(l, name, str_data(buf));
    str_free(&buf);
}

const char *attr_get(const attr_list_t *l, const char *name)
{
    for (size_t i = 0; i < l->count; i++)
	if (strcmp(l->items[i].name, name) == 0)
	    return l->items[i].value;
    return NULL;
}

long attr_get_long(const attr_list_t *l, const char *name, long def)
{
    const char *v = attr_get(l, name);
    char *end;
    long n;

    if (v == NULL || *v == 0)
	return def;
    errno = 0;
    n = strtol(v, &end, 10);
    return (*end || errno) ? def : n;
}

/* attr_escape - escape % CR LF */
void attr_escape(str_t *out, const char *value, size_t len)
{
    for (size_t i = 0; i < len; i++) {
	unsigned char c = (unsigned char)value[i];

	if (c == '%' || c == '\r' || c == '\n' || c == 0)
	    str_appendf(out, "%%%02X", c);
	else
	    str_appendc(out, c);
    }
}

/* hexval - one hex digit or -1 */
static int hexval(int c)
{
    if (c >= '0' && c <= '9')
	return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f')
	return c - 'a' + 10;
    return -1;
}

/* attr_unescape - decode %XX in place */
long attr_unescape(char *value)
{
    char *in = value, *out = value;

    while (*in) {
	if (*in == '%') {
	    int hi = hexval((unsigned char)in[1]), lo;

	    if (hi < 0 || (lo = hexval((unsigned char)in[2])) < 0)
		return -1;
	    if (hi == 0 && lo == 0)
		return -1; /* a NUL would cut the value short */
	    *out++ = (char)(hi * 16 + lo);
	    in += 3;
	} else {
	    *out++ = *in++;
	}
    }
    *out = 0;
    return out - value;
}

/* attr_format_one - append name=value and its LF */
static void attr_format_one(str_t *out, const char *name, const char *value)
{
    str_appends(out, name);
    str_appendc(out, '=');
    attr_escape(out, value, strlen(value));
    str_appendc(out, '\n');
}

void attr_format(str_t *out, const attr_list_t *l)
{
    for (size_t i = 0; i < l->count; i++)
	attr_format_one(out, l->items[i].name, l->items[i].value);
    str_appendc(out, '\n');
}

/* attr_format_va - name, value, ..., NULL */
static void attr_format_va(str_t *out, va_list ap)
{
    const char *name, *value;

    while ((name = va_arg(ap, const char *)) != NULL) {
	value = va_arg(ap, const char *);
	attr_format_one(out, name, value ? value : "");
    }
    str_appendc(out, '\n');
}

void attr_format_args(str_t *out, ...)
{
    va_list ap;

    va_start(ap, out);
    attr_format_va(out, ap);
    va_end(ap);
}

/* attr_send_str - write formatted lists and flush; frees buf */
static int attr_send_str(stream_t *s, str_t *buf)
{
    int ret = stream_write(s, str_data(buf), str_len(buf));

    str_free(&buf);
    return ret == 0 ? stream_flush(s) : ret;
}

/* attr_write - send one list */
int attr_write(stream_t *s, const attr_list_t *l)
{
    str_t *buf = str_new(256);

    attr_format(buf, l);
    return attr_send_str(s, buf);
}

/* attr_send - varargs list */
int attr_send(stream_t *s, ...)
{
    str_t *buf = str_new(256);
    va_list ap;

    va_start(ap, s);
    attr_format_va(buf, ap);
    va_end(ap);
    return attr_send_str(s, buf);
}

/* attr_name_ok - validate an attribute name */
static int attr_name_ok(const char *name)
{
    if (*name == 0)
	return 0;
    for (; *name; name++)
	if (!isalnum((unsigned char)*name) && !strchr("_-.", *name))
	    return 0;
    return 1;
}

void attr_parser_init(attr_parser_t *p)
{
    p->line = str_new(128);
    p->total = 0;
    p->started = 0;
    p->error = NULL;
}

void attr_parser_done(attr_parser_t *p)
{
    str_free(&p->line);
}

void attr_parser_reset(attr_parser_t *p)
{
    str_reset(p->line);
    p->total = 0;
    p->started = 0;
    p->error = NULL;
}

int attr_parser_busy(const attr_parser_t *p)
{
    return p->started;
}

/* attr_parse_fail - record why the input is refused */
static int __attribute__((format(printf, 2, 3)))
attr_parse_fail(attr_parser_t *p, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(p->errbuf, sizeof(p->errbuf), fmt, ap);
    va_end(ap);
    p->error = p->errbuf;
    return ATTR_PARSE_ERROR;
}

/* attr_parse_line - one whole line: 1 end of list, 0 attribute, -1 bad */
static int attr_parse_line(attr_parser_t *p, attr_list_t *l)
{
    char *name = str_data(p->line), *value;

    if (str_len(p->line) == 0)
	return 1;
    if (l->count >= ATTR_MAX_COUNT)
	return attr_parse_fail(p, "more than %d attributes in one list", ATTR_MAX_COUNT);
    if ((value = split_at(name, '=')) == NULL || !attr_name_ok(name) || attr_unescape(value) < 0) {
	if (value)
	    value[-1] = '='; /* the whole line, for the log */
	return attr_parse_fail(p, "malformed attribute \"%.100s\"", str_data(p->line));
    }
    attr_add(l, name, value);
    str_reset(p->line);
    return 0;
}

/* attr_parse_take - add the n bytes before a LF (or the end) to the line */
static int attr_parse_take(attr_parser_t *p, const char *buf, size_t n, int lf)
{
    if (str_len(p->line) + n > ATTR_MAX_LINE - 1)
	return attr_parse_fail(p, "attribute line longer than %d bytes", ATTR_MAX_LINE);
    if (p->total + n + lf > ATTR_MAX_LIST)
	return attr_parse_fail(p, "attribute list longer than %d bytes", ATTR_MAX_LIST);
    if (memchr(buf, 0, n) != NULL)
	return attr_parse_fail(p, "NUL byte in attribute list");
    str_append(p->line, buf, n);
    p->total += n + lf;
    return 0;
}

int attr_parse(attr_parser_t *p, attr_list_t *l, const char *buf, size_t len, size_t *used_r)
{
    size_t pos = 0;
    int r = ATTR_PARSE_MORE;

    while (p->error == NULL && pos < len && r == ATTR_PARSE_MORE) {
	const char *nl = memchr(buf + pos, '\n', len - pos);
	size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;

	if (!p->started) {
	    attr_list_reset(l);
	    p->started = 1;
	}
	if (attr_parse_take(p, buf + pos, n, nl != NULL) < 0)
	    break;
	pos += n;
	if (nl == NULL)
	    break;
	pos++;
	if ((r = attr_parse_line(p, l)) == 1) {
	    attr_parser_reset(p);
	    r = ATTR_PARSE_DONE;
	}
    }
    *used_r = pos;
    return p->error ? ATTR_PARSE_ERROR : r;
}

/* attr_read - read one list, line by line, through the parser (so that
 * nothing beyond the list's end is consumed from the stream) */
int attr_read(stream_t *s, attr_list_t *l)
{
    attr_parser_t p;
    str_t *line = str_new(256);
    size_t used;
    int r, ret = -1;

    attr_parser_init(&p);
    attr_list_reset(l);
    for (;;) {
	str_reset(line);
	r = stream_read_line(s, line, ATTR_MAX_LINE);
	if (r == STREAM_EOF && !attr_parser_busy(&p))
	    ret = 0;
	if (r == STREAM_EOF || r == STREAM_ERROR)
	    break;
	if ((r = attr_parse(&p, l, str_data(line), str_len(line), &used)) != ATTR_PARSE_MORE) {
	    if (r == ATTR_PARSE_ERROR)
		msg_warn("%s", p.error);
	    ret = r == ATTR_PARSE_DONE ? 1 : -1;
	    break;
	}
	if (str_data(line)[str_len(line) - 1] != '\n')
	    break; /* EOF in mid-line */
    }
    attr_parser_done(&p);
    str_free(&line);
    return ret;
}

int attr_send_protocol(stream_t *s, const char *protocol)
{
    return attr_send(s, "protocol", protocol, (char *)0);
}

/* attr_expect_protocol - verify the server's protocol name */
int attr_expect_protocol(stream_t *s, const char *protocol, const char **error_r)
{
    attr_list_t *l = attr_list_new();
    const char *got;
    int ret = -1;

    if (attr_read(s, l) != 1)
	*error_r = "no protocol handshake from server";
    else if ((got = attr_get(l, "protocol")) == NULL || strcmp(got, protocol) != 0)
	*error_r = "unexpected protocol from server";
    else
	ret = 1;
    attr_list_free(&l);
    return ret;
}
