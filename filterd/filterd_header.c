/*
 * filterd_header.c - header changes on the way out (see filterd_header.h).
 *
 * Field names are recognised by lib/global/mail_header, the one
 * implementation of that grammar. Only the first piece of a line can
 * start a field; later pieces of the same line follow its fate.
 */
#include <string.h>

#include "filterd_header.h"
#include "global/mail_header.h"

/* The fields filterd writes, removed from what the client sent */
static const char *const filter_header_names[] = {
    "X-Virus-Scanned", "X-Spam-Flag", "X-Spam-Score", "X-Spam-Level", "X-Spam-Status", NULL,
};

/* filter_header_init - see filterd_header.h */
void filter_header_init(filter_header_t *h, const char *tag)
{
    memset(h, 0, sizeof(*h));
    h->tag = tag;
}

/* filter_header_ours - see filterd_header.h */
int filter_header_ours(const char *name, size_t n)
{
    for (int i = 0; filter_header_names[i]; i++)
	if (header_name_is(name, n, filter_header_names[i]))
	    return 1;
    return 0;
}

/* filter_header_start - the first piece of a header line: decide */
static int filter_header_start(filter_header_t *h, const char *data, size_t len, str_t *out)
{
    size_t n;

    if (len == 0) {
	h->in_body = 1;
	str_reset(out);
	return 1;
    }
    if (header_continues(data, len)) {
	if (h->dropping)
	    return 0;
	str_setn(out, data, len);
	return 1;
    }
    if ((n = header_name_len(data, len)) == 0) {
	h->in_body = 1;
	str_setn(out, data, len);
	return 1;
    }
    h->dropping = filter_header_ours(data, n);
    if (h->dropping)
	return 0;
    str_reset(out);
    if (h->tag && *h->tag && header_name_is(data, n, "Subject")) {
	/* "Subject:", a blank and the tag, then the text as sent */
	str_append(out, data, n + 1);
	str_appendc(out, ' ');
	str_appends(out, h->tag);
	str_append(out, data + n + 1, len - n - 1);
	return 1;
    }
    str_setn(out, data, len);
    return 1;
}

/* filter_header_name_only - is everything held field-name bytes (no ':'
 * yet, nothing a name cannot hold)? */
static int filter_header_name_only(const filter_header_t *h)
{
    for (size_t i = 0; i < h->held; i++)
	if (h->hold[i] == ':' || h->hold[i] <= ' ' || h->hold[i] > '~')
	    return 0;
    return 1;
}

/* filter_header_piece - see filterd_header.h */
int filter_header_piece(filter_header_t *h, const char *data, size_t len, int complete, str_t *out)
{
    size_t take;
    int keep;

    if (h->in_body) {
	str_setn(out, data, len);
	return 1;
    }
    if (h->mid_line && h->held == 0) {
	h->mid_line = !complete;
	if (h->dropping)
	    return 0;
	str_setn(out, data, len);
	return 1;
    }
    /* the start of a line: hold bytes until they decide */
    take = len < FILTER_HEADER_HOLD - h->held ? len : FILTER_HEADER_HOLD - h->held;
    memcpy(h->hold + h->held, data, take);
    h->held += take;
    h->mid_line = !complete;
    if (!complete && take == len && h->held < FILTER_HEADER_HOLD && filter_header_name_only(h))
	return 0;
    if (h->held == FILTER_HEADER_HOLD && filter_header_name_only(h)) {
	/* a field with a name longer than any of ours: kept, and the
	 * header goes on (a sender cannot end our header early with it) */
	h->dropping = 0;
	str_setn(out, h->hold, h->held);
	keep = 1;
    } else {
	keep = filter_header_start(h, h->hold, h->held, out);
    }
    if (keep && take < len)
	str_append(out, data + take, len - take);
    h->held = 0;
    return keep;
}
