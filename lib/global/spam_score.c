/*
 * spam_score.c - the built-in spam scorer (see spam_score.h).
 *
 * Per byte: in the header, the current line goes into a bounded prefix
 * and is judged at its LF (an empty line, or a lone CR, starts the
 * body); in the body, the byte advances a Knuth-Morris-Pratt search for
 * GTUBE, so a string split over any pieces is found and a near miss
 * costs no lookback. A From: or Received: field is also kept, unfolded
 * and bounded, from the first byte of its line to the first byte of the
 * next field, and judged then.
 *
 * The header rules are deliberately plain: an encoded display name
 * (RFC 2047) is not decoded, and a Received: field is judged by its
 * shape only (who added it is not known here).
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "mail_header.h"
#include "spam_score.h"

static const char gtube[] = SPAM_GTUBE;

/* The rules: bit, name, score (in the order names are listed) */
static const struct {
    int bit;
    const char *name;
    int score;
} rule_table[] = {
    {SPAM_RULE_GTUBE, "GTUBE", SPAM_SCORE_GTUBE},
    {SPAM_RULE_MISSING_DATE, "MISSING_DATE", SPAM_SCORE_MISSING_DATE},
    {SPAM_RULE_MISSING_MID, "MISSING_MID", SPAM_SCORE_MISSING_MID},
    {SPAM_RULE_MISSING_FROM, "MISSING_FROM", SPAM_SCORE_MISSING_FROM},
    {SPAM_RULE_FROM_INVALID, "FROM_INVALID", SPAM_SCORE_FROM_INVALID},
    {SPAM_RULE_FROM_DISPLAY_ADDR, "FROM_DISPLAY_ADDR", SPAM_SCORE_FROM_DISPLAY_ADDR},
    {SPAM_RULE_FORGED_RECEIVED, "FORGED_RECEIVED", SPAM_SCORE_FORGED_RECEIVED},
};

/* Kinds of field kept */
#define FIELD_NONE 0
#define FIELD_PENDING 1 /* a new field whose name is not known yet */
#define FIELD_FROM 2
#define FIELD_RECEIVED 3

/* Characters of an address as it appears in a display name */
#define ADDR_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-'"

/* trim - strip blanks at both ends of p[0..*len) in place; returns start */
static char *trim(char *p, size_t *len)
{
    while (*len > 0 && (*p == ' ' || *p == '\t'))
	p++, (*len)--;
    while (*len > 0 && (p[*len - 1] == ' ' || p[*len - 1] == '\t'))
	(*len)--;
    return p;
}

/* addr_ok - one plain address local@domain: no blanks or list commas, a
 * domain with a dot or an address literal */
static int addr_ok(const char *a, size_t len)
{
    const char *at = NULL;

    for (size_t i = 0; i < len; i++) {
	if ((unsigned char)a[i] <= ' ' || strchr(",<>;\"", a[i]))
	    return 0;
	if (a[i] == '@')
	    at = a + i;
    }
    if (at == NULL || at == a || at == a + len - 1)
	return 0;
    return memchr(at, '.', (size_t)(a + len - at)) != NULL || at[1] == '[';
}

/* display_other_addr - does the display name hold an address other than
 * addr (any case)? */
static int display_other_addr(const char *d, size_t dlen, const char *addr, size_t alen)
{
    for (size_t i = 0; i < dlen; i++) {
	size_t a = i, b = i + 1;

	if (d[i] != '@')
	    continue;
	while (a > 0 && strchr(ADDR_CHARS, d[a - 1]) && d[a - 1])
	    a--;
	while (b < dlen && strchr(ADDR_CHARS, d[b]) && d[b])
	    b++;
	while (b > i + 1 && d[b - 1] == '.')
	    b--;
	if (a == i || memchr(d + i, '.', b - i) == NULL)
	    continue;
	if (b - a != alen || strncasecmp(d + a, addr, alen) != 0)
	    return 1;
    }
    return 0;
}

/* judge_from - the value of a From: field */
static void judge_from(spam_score_t *s, char *v, size_t len)
{
    char *lt, *gt, *addr;
    size_t alen;

    v = trim(v, &len);
    v[len] = 0;
    if ((lt = memchr(v, '<', len)) == NULL) {
	char *paren = memchr(v, '(', len);

	alen = paren ? (size_t)(paren - v) : len;
	addr = trim(v, &alen);
	if (!addr_ok(addr, alen))
	    s->rules |= SPAM_RULE_FROM_INVALID;
	return;
    }
    if ((gt = memchr(lt, '>', len - (size_t)(lt - v))) == NULL ||
	memchr(gt + 1, '<', len - (size_t)(gt + 1 - v)) != NULL ||
	!addr_ok(lt + 1, (size_t)(gt - lt - 1))) {
	s->rules |= SPAM_RULE_FROM_INVALID;
	return;
    }
    if (display_other_addr(v, (size_t)(lt - v), lt + 1, (size_t)(gt - lt - 1)))
	s->rules |= SPAM_RULE_FROM_DISPLAY_ADDR;
}

/* literal_ok - is the text in brackets an IPv4 or IPv6 address? */
static int literal_ok(const char *p, size_t len)
{
    char buf[64];
    unsigned char addr[16];

    if (len >= 5 && strncasecmp(p, "IPv6:", 5) == 0)
	p += 5, len -= 5;
    if (len == 0 || len >= sizeof(buf))
	return 0;
    memcpy(buf, p, len);
    buf[len] = 0;
    return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

/* has_word - is w a blank-separated word of p[0..len) (any case)? */
static int has_word(const char *p, size_t len, const char *w)
{
    size_t n = strlen(w);

    for (size_t i = 0; i + n <= len; i++)
	if ((i == 0 || p[i - 1] == ' ' || p[i - 1] == '\t') && strncasecmp(p + i, w, n) == 0 &&
	    (i + n == len || p[i + n] == ' ' || p[i + n] == '\t'))
	    return 1;
    return 0;
}

/* judge_received - the value of a Received: field, by its shape */
static void judge_received(spam_score_t *s, const char *v, size_t len)
{
    const char *semi = memchr(v, ';', len), *p, *end;
    size_t head = semi ? (size_t)(semi - v) : len;
    int dated = 0;

    for (p = semi; p && p < v + len; p++)
	dated |= *p >= '0' && *p <= '9';
    if (!dated || !has_word(v, head, "by")) {
	s->rules |= SPAM_RULE_FORGED_RECEIVED;
	return;
    }
    for (p = v; (p = memchr(p, '[', head - (size_t)(p - v))) != NULL; p = end) {
	if ((end = memchr(p, ']', head - (size_t)(p - v))) == NULL ||
	    !literal_ok(p + 1, (size_t)(end - p - 1))) {
	    s->rules |= SPAM_RULE_FORGED_RECEIVED;
	    return;
	}
    }
}

/* field_finish - judge the field kept so far, and forget it */
static void field_finish(spam_score_t *s)
{
    size_t n = header_name_len(s->field, s->field_len);

    if (s->field_kind == FIELD_FROM && n > 0)
	judge_from(s, s->field + n + 1, s->field_len - n - 1);
    else if (s->field_kind == FIELD_RECEIVED && n > 0)
	judge_received(s, s->field + n + 1, s->field_len - n - 1);
    s->field_kind = FIELD_NONE;
    s->field_len = 0;
}

/* field_byte - keep a byte of the field (white space as a blank) */
static void field_byte(spam_score_t *s, char ch)
{
    if (s->line_bytes == 0 && ch != ' ' && ch != '\t') {
	field_finish(s);
	s->field_kind = FIELD_PENDING;
    }
    if (s->field_kind == FIELD_NONE || s->field_len == SPAM_FIELD_MAX)
	return;
    s->field[s->field_len++] = ch == '\r' || ch == '\t' ? ' ' : ch;
}

/* spam_score_init - reset, and build the failure table of the search */
void spam_score_init(spam_score_t *s)
{
    size_t k = 0;

    memset(s, 0, sizeof(*s));
    s->gtube_next[0] = 0;
    s->gtube_next[1] = 0;
    for (size_t i = 1; i < SPAM_GTUBE_LEN; i++) {
	while (k > 0 && gtube[i] != gtube[k])
	    k = s->gtube_next[k];
	if (gtube[i] == gtube[k])
	    k++;
	s->gtube_next[i + 1] = k;
    }
}

/* score_header_line - judge a finished header line (its kept prefix) */
static void score_header_line(spam_score_t *s)
{
    size_t len = s->prefix_len, n;

    if (s->line_bytes == 0 || (s->line_bytes == 1 && s->prefix[0] == '\r')) {
	field_finish(s);
	s->in_body = 1;
	return;
    }
    if (s->line_bytes == len && s->prefix[len - 1] == '\r')
	len--;
    if (header_continues(s->prefix, len))
	return;
    if (s->field_kind == FIELD_PENDING)
	s->field_kind = FIELD_NONE;
    if ((n = header_name_len(s->prefix, len)) == 0) {
	s->field_len = 0;
	return;
    }
    if (header_name_is(s->prefix, n, "Date"))
	s->seen_date = 1;
    else if (header_name_is(s->prefix, n, "Message-ID"))
	s->seen_mid = 1;
    else if (header_name_is(s->prefix, n, "From"))
	s->seen_from++, s->field_kind = FIELD_FROM;
    else if (header_name_is(s->prefix, n, "Received"))
	s->field_kind = FIELD_RECEIVED;
    if (s->field_kind == FIELD_NONE)
	s->field_len = 0;
}

/* score_header_byte - one byte of the header section */
static void score_header_byte(spam_score_t *s, char ch)
{
    if (ch == '\n') {
	score_header_line(s);
	s->line_bytes = 0;
	s->prefix_len = 0;
	return;
    }
    field_byte(s, ch);
    if (s->prefix_len < sizeof(s->prefix))
	s->prefix[s->prefix_len++] = ch;
    s->line_bytes++;
}

/* score_body_byte - advance the GTUBE search by one byte */
static void score_body_byte(spam_score_t *s, char ch)
{
    if (s->rules & SPAM_RULE_GTUBE)
	return;
    while (s->gtube_at > 0 && ch != gtube[s->gtube_at])
	s->gtube_at = s->gtube_next[s->gtube_at];
    if (ch == gtube[s->gtube_at])
	s->gtube_at++;
    if (s->gtube_at == SPAM_GTUBE_LEN)
	s->rules |= SPAM_RULE_GTUBE;
}

/* spam_score_feed - run the machine over a piece of the message */
void spam_score_feed(spam_score_t *s, const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
	if (s->in_body)
	    score_body_byte(s, data[i]);
	else
	    score_header_byte(s, data[i]);
    }
}

/* spam_score_end - judge a last unterminated header line, add up */
int spam_score_end(spam_score_t *s)
{
    if (!s->ended && !s->in_body && s->line_bytes > 0)
	score_header_line(s);
    if (!s->ended && !s->in_body)
	field_finish(s);
    s->ended = 1;
    if (!s->seen_date)
	s->rules |= SPAM_RULE_MISSING_DATE;
    if (!s->seen_mid)
	s->rules |= SPAM_RULE_MISSING_MID;
    if (!s->seen_from)
	s->rules |= SPAM_RULE_MISSING_FROM;
    if (s->seen_from > 1)
	s->rules |= SPAM_RULE_FROM_INVALID;
    s->score = 0;
    for (size_t i = 0; i < sizeof(rule_table) / sizeof(rule_table[0]); i++)
	if (s->rules & rule_table[i].bit)
	    s->score += rule_table[i].score;
    return s->score;
}

/* spam_score_rules - the names of the rules hit */
void spam_score_rules(int rules, str_t *out)
{
    int first = 1;

    for (size_t i = 0; i < sizeof(rule_table) / sizeof(rule_table[0]); i++) {
	if (rules & rule_table[i].bit) {
	    if (!first)
		str_appendc(out, ',');
	    str_appends(out, rule_table[i].name);
	    first = 0;
	}
    }
}
