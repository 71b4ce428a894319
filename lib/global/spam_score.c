/*
 * spam_score.c - the built-in spam scorer (see spam_score.h).
 *
 * Per byte: in the header, the current line goes into a bounded prefix
 * and is judged at its LF (an empty line, or a lone CR, starts the
 * body); in the body, the byte advances a Knuth-Morris-Pratt search for
 * GTUBE, so a string split over any pieces is found and a near miss
 * costs no lookback.
 */
#include <string.h>

#include "mail_header.h"
#include "spam_score.h"

static const char gtube[] = SPAM_GTUBE;

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
	s->in_body = 1;
	return;
    }
    if (s->line_bytes == len && s->prefix[len - 1] == '\r')
	len--;
    if (header_continues(s->prefix, len) || (n = header_name_len(s->prefix, len)) == 0)
	return;
    if (header_name_is(s->prefix, n, "Date"))
	s->seen_date = 1;
    else if (header_name_is(s->prefix, n, "Message-ID"))
	s->seen_mid = 1;
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
    s->ended = 1;
    if (!s->seen_date)
	s->rules |= SPAM_RULE_MISSING_DATE;
    if (!s->seen_mid)
	s->rules |= SPAM_RULE_MISSING_MID;
    s->score = 0;
    if (s->rules & SPAM_RULE_GTUBE)
	s->score += SPAM_SCORE_GTUBE;
    if (s->rules & SPAM_RULE_MISSING_DATE)
	s->score += SPAM_SCORE_MISSING_DATE;
    if (s->rules & SPAM_RULE_MISSING_MID)
	s->score += SPAM_SCORE_MISSING_MID;
    return s->score;
}

/* spam_score_rules - the names of the rules hit */
void spam_score_rules(int rules, str_t *out)
{
    static const struct {
	int bit;
	const char *name;
    } names[] = {
	{SPAM_RULE_GTUBE, "GTUBE"},
	{SPAM_RULE_MISSING_DATE, "MISSING_DATE"},
	{SPAM_RULE_MISSING_MID, "MISSING_MID"},
    };
    int first = 1;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
	if (rules & names[i].bit) {
	    if (!first)
		str_appendc(out, ',');
	    str_appends(out, names[i].name);
	    first = 0;
	}
    }
}
