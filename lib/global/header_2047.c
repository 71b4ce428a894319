/*
 * header_2047.c - RFC 2047 encoding of 8-bit header text (see
 * header_2047.h for which fields and which parts of them).
 *
 * A field is unfolded (its line joins removed, the blanks kept), its
 * value encoded, and the result folded again: before a word that would
 * pass column 76, a line join is written in place of the blank that
 * separates it from the previous one. Adjacent encoded-words are
 * separated by a blank, which a reader drops (RFC 2047 section 6.2), so
 * the decoded text is the text we were given.
 */
#include <string.h>
#include <strings.h>

#include "header_2047.h"
#include "mail_header.h"

#define H2047_WORD_MAX 75 /* RFC 2047 section 2 */
#define H2047_LINE_MAX 76 /* where we fold */

static const char *const h2047_free_text[] = {"Subject", "Comments", "Content-Description", NULL};
static const char *const h2047_address_fields[] = {"From",
						   "To",
						   "Cc",
						   "Bcc",
						   "Reply-To",
						   "Sender",
						   "Resent-From",
						   "Resent-To",
						   "Resent-Cc",
						   "Resent-Bcc",
						   "Resent-Reply-To",
						   "Resent-Sender",
						   "Mail-Followup-To",
						   "Mail-Reply-To",
						   "Disposition-Notification-To",
						   NULL};

/* An output field being built, with the column of its last line. */
typedef struct h2047_out {
    str_t *str;
    size_t col;
    const char *charset;
    int utf8;
} h2047_out_t;

/* header_2047_has_8bit - any byte >= 0x80 */
int header_2047_has_8bit(const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
	if ((unsigned char)data[i] >= 0x80)
	    return 1;
    return 0;
}

/* h2047_utf8_len - length of the well-formed UTF-8 character at p (no
 * overlong forms, no surrogates, nothing above U+10FFFF), or 0 */
static size_t h2047_utf8_len(const unsigned char *p, size_t len)
{
    size_t n;

    if (p[0] < 0x80)
	return 1;
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
	n = 2;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF)
	n = 3;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4)
	n = 4;
    else
	return 0;
    if (len < n)
	return 0;
    for (size_t i = 1; i < n; i++)
	if ((p[i] & 0xC0) != 0x80)
	    return 0;
    if ((p[0] == 0xE0 && p[1] < 0xA0) || (p[0] == 0xED && p[1] >= 0xA0) ||
	(p[0] == 0xF0 && p[1] < 0x90) || (p[0] == 0xF4 && p[1] >= 0x90))
	return 0;
    return n;
}

/* h2047_is_utf8 - the whole text is well-formed UTF-8 */
static int h2047_is_utf8(const char *p, size_t len)
{
    size_t n;

    for (size_t i = 0; i < len; i += n)
	if ((n = h2047_utf8_len((const unsigned char *)p + i, len - i)) == 0)
	    return 0;
    return 1;
}

/* h2047_q_plain - a byte written as itself in a Q word in a phrase
 * (RFC 2047 section 5 (3)) */
static int h2047_q_plain(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '!' ||
	   c == '*' || c == '+' || c == '-' || c == '/';
}

/* h2047_q_cost - characters a byte takes in a Q word */
static size_t h2047_q_cost(unsigned char c)
{
    return h2047_q_plain(c) || c == ' ' ? 1 : 3;
}

/* h2047_q_put - one byte in Q */
static void h2047_q_put(str_t *s, unsigned char c)
{
    static const char hex[] = "0123456789ABCDEF";

    if (h2047_q_plain(c)) {
	str_appendc(s, (char)c);
    } else if (c == ' ') {
	str_appendc(s, '_');
    } else {
	str_appendc(s, '=');
	str_appendc(s, hex[c >> 4]);
	str_appendc(s, hex[c & 15]);
    }
}

/* h2047_sep - the blank before something of len characters: a line
 * join when it would pass the line limit (never right after the name) */
static void h2047_sep(h2047_out_t *o, size_t len, int first)
{
    if (!first && o->col + 1 + len > H2047_LINE_MAX) {
	str_append(o->str, "\n ", 2);
	o->col = 1;
    } else {
	str_appendc(o->str, ' ');
	o->col++;
    }
}

/* h2047_words - text as encoded-words, each after a blank (first: the
 * first one follows the field name) */
static void h2047_words(h2047_out_t *o, const char *text, size_t len, int first)
{
    size_t over = strlen(o->charset) + 7; /* "=?" cs "?Q?" ... "?=" */
    size_t i = 0, j, wlen, n, cost, max;

    while (i < len) {
	max = H2047_WORD_MAX; /* the first word shares its line with the name */
	if (first && o->col + 1 + max > H2047_LINE_MAX && H2047_LINE_MAX >= o->col + 1 + over + 12)
	    max = H2047_LINE_MAX - o->col - 1;
	for (j = i, wlen = over; j < len; j += n, wlen += cost) {
	    n = o->utf8 ? h2047_utf8_len((const unsigned char *)text + j, len - j) : 1;
	    cost = 0;
	    for (size_t k = 0; k < n; k++)
		cost += h2047_q_cost((unsigned char)text[j + k]);
	    if (wlen + cost > max)
		break;
	}
	h2047_sep(o, wlen, first);
	first = 0;
	str_append(o->str, "=?", 2);
	str_append(o->str, o->charset, strlen(o->charset));
	str_append(o->str, "?Q?", 3);
	for (; i < j; i++)
	    h2047_q_put(o->str, (unsigned char)text[i]);
	str_append(o->str, "?=", 2);
	o->col += wlen;
    }
}

/* h2047_unfold - the value without its line joins */
static void h2047_unfold(str_t *val, const char *p, size_t len)
{
    str_reset(val);
    for (size_t i = 0; i < len; i++)
	if (p[i] != '\n' && p[i] != '\r')
	    str_appendc(val, p[i]);
}

/* h2047_trim - *p, *len without blanks at either end */
static void h2047_trim(const char **p, size_t *len)
{
    while (*len > 0 && (**p == ' ' || **p == '\t'))
	(*p)++, (*len)--;
    while (*len > 0 && ((*p)[*len - 1] == ' ' || (*p)[*len - 1] == '\t'))
	(*len)--;
}

/* h2047_start - "Name:" into out, the charset chosen for the value */
static void h2047_start(h2047_out_t *o, str_t *out, const char *field, size_t n, const str_t *val)
{
    o->str = out;
    str_setn(out, field, n + 1);
    o->col = n + 1;
    o->utf8 = h2047_is_utf8(str_data(val), str_len(val));
    o->charset = o->utf8 ? "utf-8" : "unknown-8bit";
}

/* h2047_unstructured - the whole value as encoded-words */
static int h2047_unstructured(str_t *out, const char *field, size_t n, size_t len)
{
    str_t *val = str_new(len);
    const char *p;
    size_t vlen;
    h2047_out_t o;

    h2047_unfold(val, field + n + 1, len - n - 1);
    p = str_data(val);
    vlen = str_len(val);
    h2047_trim(&p, &vlen);
    h2047_start(&o, out, field, n, val);
    h2047_words(&o, p, vlen, 1);
    str_free(&val);
    return 1;
}

/* h2047_scan - the end of the entry starting at p (a top-level ','
 * or the end); *lt_r the top-level '<' or NULL; *odd_r 1 when a comment
 * or a ':' (group) is at top level before it */
static const char *h2047_scan(const char *p, const char *end, const char **lt_r, int *odd_r)
{
    int quote = 0, nest = 0, angle = 0;

    *lt_r = NULL;
    *odd_r = 0;
    for (; p < end; p++) {
	if (*p == '\\' && (quote || nest) && p + 1 < end)
	    p++;
	else if (quote)
	    quote = *p != '"';
	else if (*p == '(')
	    nest++, *odd_r |= *lt_r == NULL;
	else if (nest)
	    nest -= *p == ')';
	else if (*p == '"')
	    quote = 1;
	else if (*p == '<' && !angle)
	    angle = 1, *lt_r = *lt_r ? *lt_r : p;
	else if (*p == '>')
	    angle = 0;
	else if (*p == ':' && !angle && *lt_r == NULL)
	    *odd_r = 1;
	else if (*p == ',' && !angle)
	    break;
    }
    return p;
}

/* h2047_phrase - a display name without its quotes and escapes */
static void h2047_phrase(str_t *text, const char *p, const char *end)
{
    str_reset(text);
    for (; p < end; p++) {
	if (*p == '"')
	    continue;
	if (*p == '\\' && p + 1 < end)
	    p++;
	str_appendc(text, *p);
    }
}

/* h2047_raw - an entry as it is (blanks at its start kept), folded
 * before it when it would pass the line limit */
static void h2047_raw(h2047_out_t *o, const char *p, size_t len, int first)
{
    if (!first && o->col + len > H2047_LINE_MAX) {
	str_appendc(o->str, '\n');
	o->col = 0;
	if (len == 0 || (*p != ' ' && *p != '\t'))
	    str_appendc(o->str, ' '), o->col++;
    }
    str_append(o->str, p, len);
    o->col += len;
}

/* h2047_entry - one "name <addr>" entry with its name encoded: 1, or 0
 * when it has no such form (then nothing is written) */
static int h2047_entry(h2047_out_t *o, const char *p, const char *end, str_t *text, int first)
{
    const char *lt, *name = p;
    size_t nlen, rlen = (size_t)(end - p);
    int odd;

    h2047_scan(p, end, &lt, &odd);
    if (lt == NULL || odd || header_2047_has_8bit(lt, (size_t)(end - lt)))
	return 0;
    nlen = (size_t)(lt - p);
    h2047_trim(&name, &nlen);
    h2047_phrase(text, name, name + nlen);
    if (str_len(text) == 0)
	return 0;
    h2047_words(o, str_data(text), str_len(text), first);
    p = lt;
    rlen = (size_t)(end - lt);
    h2047_trim(&p, &rlen);
    h2047_sep(o, rlen, 0);
    str_append(o->str, p, rlen);
    o->col += rlen;
    return 1;
}

/* h2047_addresses - the display names of an address list */
static int h2047_addresses(str_t *out, const char *field, size_t n, size_t len)
{
    str_t *val = str_new(len), *text = str_new(100);
    const char *p, *end, *next, *lt;
    h2047_out_t o;
    int odd, first = 1, changed = 0;

    h2047_unfold(val, field + n + 1, len - n - 1);
    h2047_start(&o, out, field, n, val);
    for (p = str_data(val), end = p + str_len(val);; p = next + 1, first = 0) {
	next = h2047_scan(p, end, &lt, &odd);
	if (!first)
	    str_appendc(out, ','), o.col++;
	if (header_2047_has_8bit(p, (size_t)(next - p)) && h2047_entry(&o, p, next, text, first))
	    changed = 1;
	else
	    h2047_raw(&o, p, (size_t)(next - p), first);
	if (next == end)
	    break;
    }
    str_free(&val);
    str_free(&text);
    return changed;
}

/* h2047_listed - the n-byte name is in list */
static int h2047_listed(const char *const *list, const char *name, size_t n)
{
    for (int i = 0; list[i]; i++)
	if (header_name_is(name, n, list[i]))
	    return 1;
    return 0;
}

/* header_2047_field - encode what may be encoded */
int header_2047_field(str_t *out, const char *field, size_t len)
{
    size_t n = header_name_len(field, len);

    if (n == 0 || !header_2047_has_8bit(field + n + 1, len - n - 1))
	return 0;
    if (h2047_listed(h2047_free_text, field, n) || (n > 2 && strncasecmp(field, "X-", 2) == 0))
	return h2047_unstructured(out, field, n, len);
    if (h2047_listed(h2047_address_fields, field, n))
	return h2047_addresses(out, field, n, len);
    return 0;
}
