/*
 * str.c - growable strings and a few C-string helpers.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

#include "mymalloc.h"
#include "msg.h"
#include "str.h"

/* str_new - allocate an empty string */
str_t *str_new(size_t hint)
{
    str_t *s = mr_alloc(sizeof(*s));

    s->cap = hint < 16 ? 16 : hint + 1;
    s->data = mr_alloc(s->cap);
    s->len = 0;
    s->data[0] = 0;
    return s;
}

/* str_free - destroy and clear the caller's pointer */
void str_free(str_t **sp)
{
    if (*sp == NULL)
	return;
    mr_free((*sp)->data);
    mr_free(*sp);
    *sp = NULL;
}

/* str_reset - empty the string */
void str_reset(str_t *s)
{
    s->len = 0;
    s->data[0] = 0;
}

/* str_truncate - shorten */
void str_truncate(str_t *s, size_t len)
{
    if (len < s->len) {
	s->len = len;
	s->data[len] = 0;
    }
}

/* str_reserve - grow geometrically so appends are amortised O(1) */
void str_reserve(str_t *s, size_t extra)
{
    size_t need;

    if (extra > SIZE_MAX / 2 - s->len)
	msg_panic("str_reserve: length overflow");
    need = s->len + extra + 1;
    if (need <= s->cap)
	return;
    while (s->cap < need)
	s->cap *= 2;
    s->data = mr_realloc(s->data, s->cap);
}

/* str_append - append bytes */
void str_append(str_t *s, const void *p, size_t len)
{
    str_reserve(s, len);
    memcpy(s->data + s->len, p, len);
    s->len += len;
    s->data[s->len] = 0;
}

/* str_appends - append a C string */
void str_appends(str_t *s, const char *cstr)
{
    str_append(s, cstr, strlen(cstr));
}

/* str_appendc - append one byte */
void str_appendc(str_t *s, int c)
{
    if (s->len + 1 >= s->cap)
	str_reserve(s, 1);
    s->data[s->len++] = (char)c;
    s->data[s->len] = 0;
}

/* str_set - replace content */
void str_set(str_t *s, const char *cstr)
{
    str_reset(s);
    str_appends(s, cstr);
}

/* str_setn - replace content with bytes */
void str_setn(str_t *s, const void *p, size_t len)
{
    str_reset(s);
    str_append(s, p, len);
}

/* str_vappendf - formatted append */
void str_vappendf(str_t *s, const char *fmt, va_list ap)
{
    va_list ap2;
    int n;

    va_copy(ap2, ap);
    n = vsnprintf(s->data + s->len, s->cap - s->len, fmt, ap2);
    va_end(ap2);
    if (n < 0)
	msg_panic("str_vappendf: bad format \"%s\"", fmt);
    if ((size_t)n >= s->cap - s->len) {
	str_reserve(s, (size_t)n);
	va_copy(ap2, ap);
	n = vsnprintf(s->data + s->len, s->cap - s->len, fmt, ap2);
	va_end(ap2);
    }
    s->len += (size_t)n;
}

/* str_appendf - formatted append */
void str_appendf(str_t *s, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    str_vappendf(s, fmt, ap);
    va_end(ap);
}

/* str_printf - formatted replace */
void str_printf(str_t *s, const char *fmt, ...)
{
    va_list ap;

    str_reset(s);
    va_start(ap, fmt);
    str_vappendf(s, fmt, ap);
    va_end(ap);
}

/* str_steal - take the buffer */
char *str_steal(str_t **sp)
{
    char *data = (*sp)->data;

    mr_free(*sp);
    *sp = NULL;
    return data;
}

/* lowercase - fold a C string */
char *lowercase(char *cstr)
{
    for (char *cp = cstr; *cp; cp++)
	*cp = (char)tolower((unsigned char)*cp);
    return cstr;
}

/* trim_space - strip white space at both ends */
char *trim_space(char *cstr)
{
    char *end;

    while (isspace((unsigned char)*cstr))
	cstr++;
    end = cstr + strlen(cstr);
    while (end > cstr && isspace((unsigned char)end[-1]))
	*--end = 0;
    return cstr;
}

/* mr_strlcpy - bounded copy */
size_t mr_strlcpy(char *dst, const char *src, size_t size)
{
    size_t len = strlen(src);

    if (size > 0) {
	size_t n = len < size - 1 ? len : size - 1;

	memcpy(dst, src, n);
	dst[n] = 0;
    }
    return len;
}

/* mr_format - allocate a formatted string */
char *mr_format(const char *fmt, ...)
{
    str_t *s = str_new(64);
    va_list ap;

    va_start(ap, fmt);
    str_vappendf(s, fmt, ap);
    va_end(ap);
    return str_steal(&s);
}

/* mr_strcaseeq - case-insensitive compare */
int mr_strcaseeq(const char *a, const char *b)
{
    while (*a && tolower((unsigned char)*a) == tolower((unsigned char)*b))
	a++, b++;
    return tolower((unsigned char)*a) == tolower((unsigned char)*b);
}

/* split_at - cut at delimiter */
char *split_at(char *s, int delim)
{
    char *cp = strchr(s, delim);

    if (cp == NULL)
	return NULL;
    *cp = 0;
    return cp + 1;
}

/* next_token - strtok_r-like, but the state is the caller's pointer */
char *next_token(char **sp, const char *delims)
{
    char *start = *sp, *end;

    if (start == NULL)
	return NULL;
    start += strspn(start, delims);
    if (*start == 0) {
	*sp = NULL;
	return NULL;
    }
    end = start + strcspn(start, delims);
    if (*end) {
	*end = 0;
	*sp = end + 1;
    } else {
	*sp = NULL;
    }
    return start;
}

/* str_utf8_len - length of the well-formed UTF-8 sequence at p (2..4
 * bytes; no overlong forms, no surrogates, nothing above U+10FFFF), or 0 */
static size_t str_utf8_len(const unsigned char *p, size_t len)
{
    size_t n = p[0] >= 0xf0 ? 4 : p[0] >= 0xe0 ? 3 : 2;
    unsigned long cp;

    if (p[0] < 0xc2 || p[0] > 0xf4 || n > len)
	return 0;
    cp = p[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++) {
	if ((p[i] & 0xc0) != 0x80)
	    return 0;
	cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
	(cp >= 0xd800 && cp <= 0xdfff))
	return 0;
    return n;
}

int utf8_valid(const char *p, size_t len)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t n;

    for (size_t i = 0; i < len; i += n) {
	n = 1;
	if (u[i] >= 0x80 && (n = str_utf8_len(u + i, len - i)) == 0)
	    return 0;
    }
    return 1;
}

size_t utf8_char_len(const char *p, size_t len)
{
    return str_utf8_len((const unsigned char *)p, len);
}

/* str_append_printable - escape what a terminal or a log must not see */
size_t str_append_printable(str_t *s, const char *p, size_t len)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t escaped = 0, n;

    for (size_t i = 0; i < len; i += n) {
	n = 1;
	if (u[i] >= 0x20 && u[i] < 0x7f) {
	    if (u[i] == '\\')
		str_appendc(s, '\\');
	    str_appendc(s, u[i]);
	} else if (u[i] >= 0x80 && (n = str_utf8_len(u + i, len - i)) > 0 &&
		   !(u[i] == 0xc2 && u[i + 1] < 0xa0)) { /* C1 controls */
	    str_append(s, u + i, n);
	} else {
	    n = 1;
	    str_appendf(s, "\\x%02x", u[i]);
	    escaped++;
	}
    }
    return escaped;
}
