/*
 * sm_message.c - reading one message and copying it to the drop.
 *
 * The header is read into memory first (bounded by header_size_limit)
 * because -t takes the recipients from it and the envelope has to be
 * complete before any content record goes out. Then the header is
 * rewritten - Bcc: and Resent-Bcc: removed (always: the point of a blind
 * copy is that the other recipients never see it), a From: added when
 * there is none - and the body is streamed through without being held.
 *
 * The header ends at the first empty line, or at the first line that is
 * neither a header field nor a continuation; in the second case an empty
 * line is inserted so the message stays well-formed. A first line that
 * starts with "From " (an mbox separator) is dropped.
 */
#include <string.h>

#include "global/config.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "sendmail.h"

#define SM_LINE_MAX 4096              /* read content in pieces of this size */
#define SM_HEADER_LIMIT (1024 * 1024) /* when header_size_limit is unknown */

typedef struct sm_header {
    str_t **fields; /* one field, physical lines joined by \n */
    size_t count;
    size_t bytes;
} sm_header_t;

/* sm_param_size - a size parameter some other part may declare */
static long long sm_param_size(const char *name, long long def)
{
    return config_find(name) ? config_size(name) : def;
}

/* sm_size_limit - message_size_limit, or the built-in default */
long long sm_size_limit(void)
{
    return sm_param_size("message_size_limit", 10240000);
}

/* sm_is_field - does line start a header field "name:"? */
static int sm_is_field(const char *line, size_t len)
{
    size_t i;

    for (i = 0; i < len && line[i] > ' ' && line[i] <= '~' && line[i] != ':'; i++)
	/* void */;
    return i > 0 && i < len && line[i] == ':';
}

/* sm_field_is - is the field named name (case-insensitive)? */
static int sm_field_is(const str_t *field, const char *name)
{
    size_t n = strlen(name);

    return str_len(field) > n && str_data(field)[n] == ':' &&
	   strncasecmp(str_data(field), name, n) == 0;
}

/* sm_header_add - append a new field or a continuation line */
static void sm_header_add(sm_header_t *h, const char *line, size_t len, int cont)
{
    if (cont) {
	str_appendc(h->fields[h->count - 1], '\n');
    } else {
	h->fields = mr_reallocarray(h->fields, h->count + 1, sizeof(*h->fields));
	h->fields[h->count++] = str_new(len + 1);
    }
    str_append(h->fields[h->count - 1], line, len);
    h->bytes += len + 1;
}

/* sm_header_drop - remove field i */
static void sm_header_drop(sm_header_t *h, size_t i)
{
    str_free(&h->fields[i]);
    memmove(h->fields + i, h->fields + i + 1, (h->count - i - 1) * sizeof(*h->fields));
    h->count--;
}

/* sm_header_free - release all fields */
static void sm_header_free(sm_header_t *h)
{
    for (size_t i = 0; i < h->count; i++)
	str_free(&h->fields[i]);
    mr_free(h->fields);
}

typedef struct sm_extract_ctx {
    sm_rcpts_t *rcpts;
    const char *origin;
} sm_extract_ctx_t;

/* sm_extract_one - sm_addr_list callback */
static void sm_extract_one(const char *addr, void *context)
{
    sm_extract_ctx_t *x = context;

    sm_rcpts_add(x->rcpts, addr, x->origin);
}

/* sm_header_extract - -t: recipients from To/Cc/Bcc, or from the
 * Resent- versions when the message has any of those */
static void sm_header_extract(const sm_header_t *h, sm_rcpts_t *rcpts, const char *origin)
{
    static const char *plain[] = {"To", "Cc", "Bcc", NULL};
    static const char *resent[] = {"Resent-To", "Resent-Cc", "Resent-Bcc", NULL};
    const char **names = plain;
    sm_extract_ctx_t x = {rcpts, origin};

    for (size_t i = 0; i < h->count; i++)
	for (int n = 0; resent[n]; n++)
	    if (sm_field_is(h->fields[i], resent[n]))
		names = resent;
    for (size_t i = 0; i < h->count; i++)
	for (int n = 0; names[n]; n++)
	    if (sm_field_is(h->fields[i], names[n]))
		sm_addr_list(str_data(h->fields[i]) + strlen(names[n]) + 1, sm_extract_one, &x);
}

/* sm_header_rewrite - drop Bcc, add From: when missing */
static void sm_header_rewrite(sm_header_t *h, const sm_envelope_t *env)
{
    int have_from = 0;

    for (size_t i = h->count; i-- > 0;) {
	if (sm_field_is(h->fields[i], "Bcc") || sm_field_is(h->fields[i], "Resent-Bcc"))
	    sm_header_drop(h, i);
	else if (sm_field_is(h->fields[i], "From"))
	    have_from = 1;
    }
    if (have_from || *env->sender == 0)
	return;
    str_t *from = str_new(100);

    if (env->fullname && *env->fullname && !sm_addr_needs_quote(env->fullname))
	str_printf(from, "From: %s <%s>", env->fullname, env->sender);
    else if (env->fullname && *env->fullname) {
	str_set(from, "From: \"");
	for (const char *cp = env->fullname; *cp; cp++) {
	    if (*cp == '"' || *cp == '\\')
		str_appendc(from, '\\');
	    if (*cp != '\r' && *cp != '\n')
		str_appendc(from, *cp);
	}
	str_appendf(from, "\" <%s>", env->sender);
    } else
	str_printf(from, "From: %s", env->sender);
    sm_header_add(h, str_data(from), str_len(from), 0);
    str_free(&from);
}

/* sm_header_send - write every field, one physical line at a time */
static void sm_header_send(sm_drop_t *d, const sm_header_t *h)
{
    for (size_t i = 0; i < h->count; i++) {
	const char *cp = str_data(h->fields[i]);
	const char *end = cp + str_len(h->fields[i]);

	while (cp <= end) {
	    const char *nl = memchr(cp, '\n', (size_t)(end - cp));
	    size_t len = nl ? (size_t)(nl - cp) : (size_t)(end - cp);

	    sm_drop_line(d, cp, len, 1);
	    cp += len + 1;
	}
    }
}

typedef struct sm_reading {
    sm_line_fn src;
    void *ctx;
    str_t *line;
    int complete;
    int state; /* 1 line held, 0 end, -1 error */
    const char *error;
} sm_reading_t;

/* sm_next - read the next line or piece */
static int sm_next(sm_reading_t *r)
{
    str_reset(r->line);
    r->state = r->src(r->ctx, r->line, &r->complete, &r->error);
    return r->state;
}

/* sm_read_header - collect header fields; leaves the first body line
 * (or end) in r. Returns 0, or -1 when the header is too big. Sets
 * *insert_blank when a body follows: the empty line that ended the
 * header was consumed, or the body started without one. */
static int sm_read_header(sm_reading_t *r, sm_header_t *h, int *insert_blank)
{
    long long limit = sm_param_size("header_size_limit", SM_HEADER_LIMIT);
    int first = 1;

    *insert_blank = 0;
    while (sm_next(r) > 0) {
	const char *data = str_data(r->line);
	size_t len = str_len(r->line);

	if (first && len >= 5 && strncmp(data, "From ", 5) == 0 && r->complete) {
	    first = 0;
	    continue;
	}
	first = 0;
	if (len == 0 && r->complete) {
	    *insert_blank = 1; /* the empty line itself: sent later */
	    sm_next(r);
	    return 0;
	}
	if (!r->complete ||
	    !(sm_is_field(data, len) || (h->count > 0 && (*data == ' ' || *data == '\t')))) {
	    *insert_blank = 1;
	    return 0;
	}
	sm_header_add(h, data, len, !sm_is_field(data, len));
	if ((long long)h->bytes > limit)
	    return -1;
    }
    return 0;
}

/* sm_copy_body - stream the held line and the rest; enforce the size */
static int sm_copy_body(sm_reading_t *r, sm_drop_t *d, str_t *why)
{
    long long limit = sm_size_limit();

    for (; r->state > 0; sm_next(r)) {
	sm_drop_line(d, str_data(r->line), str_len(r->line), r->complete);
	if (limit > 0 && sm_drop_content_size(d) > limit) {
	    str_printf(why, "message is larger than the limit of %lld bytes", limit);
	    return EX_DATAERR;
	}
    }
    if (r->state < 0) {
	str_printf(why, "reading the message: %s", r->error);
	return EX_IOERR;
    }
    return 0;
}

/* sm_message_copy - header, envelope, then body, into postdrop */
int sm_message_copy(sm_line_fn src, void *src_ctx, sm_envelope_t *env, int extract,
		    const char *origin, str_t *qid, str_t *why)
{
    sm_reading_t r = {src, src_ctx, str_new(SM_LINE_MAX + 2), 1, 0, NULL};
    sm_header_t h = {NULL, 0, 0};
    sm_drop_t *d = NULL;
    int insert_blank, ret;

    if (sm_read_header(&r, &h, &insert_blank) < 0) {
	str_set(why, "message header is larger than header_size_limit");
	ret = EX_DATAERR;
    } else if (r.state < 0) {
	str_printf(why, "reading the message: %s", r.error);
	ret = EX_IOERR;
    } else {
	if (extract)
	    sm_header_extract(&h, &env->rcpts, origin);
	sm_header_rewrite(&h, env);
	if (env->rcpts.count == 0) {
	    str_set(why, extract ? "no recipient addresses found in the message header"
				 : "no recipients");
	    ret = extract ? EX_DATAERR : EX_USAGE;
	} else if ((d = sm_drop_open(env, why)) == NULL) {
	    ret = EX_TEMPFAIL;
	} else {
	    sm_header_send(d, &h);
	    if (insert_blank)
		sm_drop_line(d, "", 0, 1);
	    if ((ret = sm_copy_body(&r, d, why)) != 0)
		sm_drop_abort(&d);
	    else
		ret = sm_drop_close(&d, qid, why);
	}
    }
    sm_header_free(&h);
    str_free(&r.line);
    return ret;
}

/* sm_stdin_line - sendmail -bm input (LF or CRLF, optional lone dot) */
int sm_stdin_line(void *context, str_t *line, int *complete_r, const char **error_r)
{
    sm_stdin_reader_t *rd = context;
    int st, at_start = !rd->mid_line;

    if (rd->pending_cr)
	str_appendc(line, '\r');
    st = stream_read_line(rd->in, line, SM_LINE_MAX);
    if (st == STREAM_ERROR) {
	*error_r = stream_timedout(rd->in) ? "timeout reading input" : "read error on input";
	return -1;
    }
    if (st == STREAM_EOF && !rd->pending_cr)
	return 0;
    rd->pending_cr = 0;
    *complete_r = 1;
    if (st == STREAM_PARTIAL) {
	*complete_r = 0;
	/* a CR at a piece boundary may be half of a CRLF */
	if (str_len(line) > 0 && str_data(line)[str_len(line) - 1] == '\r') {
	    str_truncate(line, str_len(line) - 1);
	    rd->pending_cr = 1;
	}
    } else if (str_len(line) > 0 && str_data(line)[str_len(line) - 1] == '\n') {
	str_truncate(line, str_len(line) - 1);
	if (str_len(line) > 0 && str_data(line)[str_len(line) - 1] == '\r')
	    str_truncate(line, str_len(line) - 1);
    }
    rd->mid_line = !*complete_r;
    if (at_start && !rd->ignore_dots && *complete_r && str_len(line) == 1 &&
	str_data(line)[0] == '.')
	return 0;
    return 1;
}
