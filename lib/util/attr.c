/*
 * attr.c - reading and writing attribute lists (grammar in attr.h).
 */
#include <ctype.h>
#include <errno.h>
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

void    attr_list_reset(attr_list_t *l)
{
    for (size_t i = 0; i < l->count; i++) {
	mr_free(l->items[i].name);
	mr_free(l->items[i].value);
    }
    l->count = 0;
}

void    attr_list_free(attr_list_t **lp)
{
    if (*lp == NULL)
	return;
    attr_list_reset(*lp);
    mr_free((*lp)->items);
    mr_free(*lp);
    *lp = NULL;
}

/* attr_add - append one attribute */
void    attr_add(attr_list_t *l, const char *name, const char *value)
{
    if (l->count == l->cap) {
	l->cap = l->cap ? l->cap * 2 : 8;
	l->items = mr_reallocarray(l->items, l->cap, sizeof(attr_t));
    }
    l->items[l->count].name = mr_strdup(name);
    l->items[l->count].value = mr_strdup(value);
    l->count++;
}

void    attr_addf(attr_list_t *l, const char *name, const char *fmt, ...)
{
    str_t  *buf = str_new(64);
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

long    attr_get_long(const attr_list_t *l, const char *name, long def)
{
    const char *v = attr_get(l, name);
    char   *end;
    long    n;

    if (v == NULL || *v == 0)
	return def;
    errno = 0;
    n = strtol(v, &end, 10);
    return (*end || errno) ? def : n;
}

/* attr_escape - escape % CR LF */
void    attr_escape(str_t *out, const char *value, size_t len)
{
    for (size_t i = 0; i < len; i++) {
	unsigned char c = (unsigned char) value[i];

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
long    attr_unescape(char *value)
{
    char   *in = value, *out = value;

    while (*in) {
	if (*in == '%') {
	    int     hi = hexval((unsigned char) in[1]), lo;

	    if (hi < 0 || (lo = hexval((unsigned char) in[2])) < 0)
		return -1;
	    if (hi == 0 && lo == 0)
		return -1;			/* a NUL would cut the value short */
	    *out++ = (char) (hi * 16 + lo);
	    in += 3;
	} else {
	    *out++ = *in++;
	}
    }
    *out = 0;
    return out - value;
}

/* attr_format - append one list in wire form */
void    attr_format(str_t *out, const attr_list_t *l)
{
    for (size_t i = 0; i < l->count; i++) {
	str_appends(out, l->items[i].name);
	str_appendc(out, '=');
	attr_escape(out, l->items[i].value, strlen(l->items[i].value));
	str_appendc(out, '\n');
    }
    str_appendc(out, '\n');
}

/* attr_write - send one list */
int     attr_write(stream_t *s, const attr_list_t *l)
{
    str_t  *buf = str_new(256);
    int     ret;

    attr_format(buf, l);
    ret = stream_write(s, str_data(buf), str_len(buf));
    str_free(&buf);
    if (ret == 0)
	ret = stream_flush(s);
    return ret;
}

/* attr_send - varargs list */
int     attr_send(stream_t *s, ...)
{
    attr_list_t *l = attr_list_new();
    const char *name, *value;
    va_list ap;
    int     ret;

    va_start(ap, s);
    while ((name = va_arg(ap, const char *)) != NULL) {
	value = va_arg(ap, const char *);
	attr_add(l, name, value ? value : "");
    }
    va_end(ap);
    ret = attr_write(s, l);
    attr_list_free(&l);
    return ret;
}

/* attr_name_ok - validate an attribute name */
static int attr_name_ok(const char *name)
{
    if (*name == 0)
	return 0;
    for (; *name; name++)
	if (!isalnum((unsigned char) *name) && !strchr("_-.", *name))
	    return 0;
    return 1;
}

/* attr_read - read one list */
int     attr_read(stream_t *s, attr_list_t *l)
{
    str_t  *line = str_new(256);
    int     ret = -1;

    attr_list_reset(l);
    for (;;) {
	char   *value;
	int     r;

	str_reset(line);
	r = stream_read_line(s, line, ATTR_MAX_LINE);
	if (r == STREAM_EOF && l->count == 0) {
	    ret = 0;
	    break;
	}
	if (r != STREAM_LINE || line->data[line->len - 1] != '\n') {
	    if (r == STREAM_PARTIAL)
		msg_warn("attribute line longer than %d bytes", ATTR_MAX_LINE);
	    break;
	}
	str_truncate(line, line->len - 1);
	if (line->len == 0) {
	    ret = 1;
	    break;
	}
	if ((value = split_at(str_data(line), '=')) == NULL
	    || !attr_name_ok(str_data(line)) || attr_unescape(value) < 0) {
	    msg_warn("malformed attribute \"%.100s\"", str_data(line));
	    break;
	}
	if (l->count >= ATTR_MAX_COUNT) {
	    msg_warn("more than %d attributes in one list", ATTR_MAX_COUNT);
	    break;
	}
	attr_add(l, str_data(line), value);
    }
    str_free(&line);
    return ret;
}

int     attr_send_protocol(stream_t *s, const char *protocol)
{
    return attr_send(s, "protocol", protocol, (char *) 0);
}

/* attr_expect_protocol - verify the server's protocol name */
int     attr_expect_protocol(stream_t *s, const char *protocol, const char **error_r)
{
    attr_list_t *l = attr_list_new();
    const char *got;
    int     ret = -1;

    if (attr_read(s, l) != 1)
	*error_r = "no protocol handshake from server";
    else if ((got = attr_get(l, "protocol")) == NULL || strcmp(got, protocol) != 0)
	*error_r = "unexpected protocol from server";
    else
	ret = 1;
    attr_list_free(&l);
    return ret;
}
