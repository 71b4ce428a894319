/*
 * smtp_client_8bit.c - 8BITMIME downgrade to quoted-printable (see
 * smtp_client_8bit.h for what changes and what does not).
 *
 * The state is explicit: in HEADER, lines gather into the current header
 * field; at the empty line that ends a header block the part's type and
 * encoding decide what its body becomes. In BODY, a line that is a
 * boundary of an enclosing multipart ends the part (and the next header
 * block starts); other lines are copied, or quoted-printable encoded when
 * the part is being converted.
 *
 * The encoder holds back one blank (space or tab) until it knows whether
 * the line ends there (then it is written =20 or =09) and writes a soft
 * line break ("=") before a token that would pass column 75, so no output
 * line is longer than 76 characters and no =XX is split.
 *
 * A part without a label cannot be judged from its header: the caller
 * first runs the same machine over the whole message as a scan (no
 * output), which marks each part, by its number in the order the parts
 * begin, whose body has a byte >= 0x80; the real pass then encodes the
 * marked parts. Header fields go through header_2047.c as they are
 * completed.
 *
 * The weak spot is hostile structure: boundaries are compared only on
 * lines short enough to be boundaries, a header field and the nesting
 * depth are bounded, and whatever exceeds a bound passes through as it
 * is (a peer gets the bytes we were given, never fewer).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "header_2047.h"
#include "mail_header.h"
#include "smtp_client_8bit.h"
#include "util/mymalloc.h"
#include "util/str.h"

enum { ST_HEADER, ST_BODY };
enum { ENC_7BIT, ENC_8BIT, ENC_OTHER };
enum { CT_LEAF, CT_MULTIPART, CT_MESSAGE };

struct smtp_8bit {
    smtp_8bit_emit_fn emit;
    void *ctx;
    int state;
    str_t *line;   /* the current line's first bytes (up to SMTP_8BIT_PEEK) */
    int line_long; /* the current line went past them: handled in pieces */
    /* the header block of the current part */
    str_t *field;    /* the field being gathered (lines joined by '\n') */
    int field_long;  /* it went past SMTP_8BIT_FIELD_MAX: passed through */
    str_t *cte;      /* its Content-Transfer-Encoding field, held back */
    int top;         /* the part is the message itself */
    int mime;        /* the message has MIME-Version */
    int has_ctype;   /* the part has a Content-Type field */
    int opaque;      /* a multipart without a usable boundary */
    int part;        /* its number (0: the message; -1: an epilogue) */
    int parts;       /* parts begun so far */
    int ctype;       /* CT_* (default: CT_LEAF, or CT_MESSAGE in a digest) */
    int digest;      /* Content-Type is multipart/digest */
    int enc;         /* ENC_* */
    str_t *boundary; /* of this part, if multipart */
    /* enclosing multiparts */
    char *bounds[SMTP_8BIT_DEPTH];
    int digests[SMTP_8BIT_DEPTH];
    int depth;
    /* the body */
    int qp;      /* encoding this part's body */
    int col;     /* output column */
    int pend_ws; /* a blank held back, or -1 */
    str_t *out;  /* the output line being built */
    int converted;
    /* what the scan found (smtp_8bit_learn) */
    unsigned char eight[SMTP_8BIT_PARTS / 8]; /* parts with 8-bit body bytes */
    int learned;
    int scan;       /* this pass only looks (emit was NULL) */
    str_t *encoded; /* a header field with its 8-bit text encoded */
};

/* smtp_8bit_discard - the output of a scan */
static void smtp_8bit_discard(void *ctx, const char *data, size_t len, int complete)
{
}

/* smtp_8bit_mark - the current part has 8-bit bytes in its body */
static void smtp_8bit_mark(smtp_8bit_t *m)
{
    if (m->part >= 0 && m->part < SMTP_8BIT_PARTS)
	m->eight[m->part / 8] |= (unsigned char)(1 << (m->part % 8));
}

/* smtp_8bit_marked - the scan found 8-bit bytes in the current part */
static int smtp_8bit_marked(const smtp_8bit_t *m)
{
    return m->learned && m->part >= 0 && m->part < SMTP_8BIT_PARTS &&
	   (m->eight[m->part / 8] & (1 << (m->part % 8)));
}

/* smtp_8bit_part_reset - a new part's header block begins */
static void smtp_8bit_part_reset(smtp_8bit_t *m, int top, int in_digest)
{
    m->state = ST_HEADER;
    m->top = top;
    m->part = m->parts++;
    m->has_ctype = 0;
    m->opaque = 0;
    m->ctype = in_digest ? CT_MESSAGE : CT_LEAF;
    m->digest = 0;
    m->enc = ENC_7BIT;
    m->qp = 0;
    str_reset(m->field);
    m->field_long = 0;
    str_reset(m->cte);
    str_reset(m->boundary);
}

/* smtp_8bit_create - a converter */
smtp_8bit_t *smtp_8bit_create(smtp_8bit_emit_fn emit, void *ctx)
{
    smtp_8bit_t *m = mr_calloc(1, sizeof(*m));

    m->emit = emit;
    m->ctx = ctx;
    m->line = str_new(256);
    m->field = str_new(256);
    m->cte = str_new(64);
    m->boundary = str_new(64);
    m->out = str_new(80);
    m->encoded = str_new(80);
    m->emit = emit ? emit : smtp_8bit_discard;
    m->scan = emit == NULL;
    m->pend_ws = -1;
    smtp_8bit_part_reset(m, 1, 0);
    return m;
}

/* smtp_8bit_free - release */
void smtp_8bit_free(smtp_8bit_t **mp)
{
    smtp_8bit_t *m = *mp;

    if (m == NULL)
	return;
    for (int i = 0; i < m->depth; i++)
	mr_free(m->bounds[i]);
    str_free(&m->line);
    str_free(&m->field);
    str_free(&m->cte);
    str_free(&m->boundary);
    str_free(&m->out);
    str_free(&m->encoded);
    mr_free(m);
    *mp = NULL;
}

/* smtp_8bit_learn - what a scan of the same message found */
void smtp_8bit_learn(smtp_8bit_t *m, const smtp_8bit_t *scan)
{
    memcpy(m->eight, scan->eight, sizeof(m->eight));
    m->learned = 1;
}

/* smtp_8bit_converted - parts encoded */
int smtp_8bit_converted(const smtp_8bit_t *m)
{
    return m->converted;
}

/* smtp_8bit_emit_lines - text of '\n'-joined lines; the last one ends
 * when complete is 1 */
static void smtp_8bit_emit_lines(smtp_8bit_t *m, const str_t *text, int complete)
{
    const char *p = str_data(text), *end = p + str_len(text), *nl;

    for (;;) {
	nl = memchr(p, '\n', (size_t)(end - p));
	m->emit(m->ctx, p, nl ? (size_t)(nl - p) : (size_t)(end - p), nl ? 1 : complete);
	if (nl == NULL)
	    return;
	p = nl + 1;
    }
}

/* smtp_8bit_skip - past blanks, line joins and (comments) */
static const char *smtp_8bit_skip(const char *p, const char *end)
{
    int nest = 0;

    for (; p < end; p++) {
	if (*p == '(')
	    nest++;
	else if (*p == ')' && nest > 0)
	    nest--;
	else if (nest == 0 && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
	    break;
    }
    return p;
}

/* smtp_8bit_token - a token (up to blank, ';', '(', '='): its length */
static size_t smtp_8bit_token(const char *p, const char *end)
{
    const char *q = p;

    while (q < end && strchr(" \t\r\n;(=", *q) == NULL)
	q++;
    return (size_t)(q - p);
}

/* smtp_8bit_param - the value of a parameter at p (quoted or not) into
 * val, bounded; returns where it ends */
static const char *smtp_8bit_param(const char *p, const char *end, str_t *val)
{
    str_reset(val);
    if (p < end && *p == '"') {
	for (p++; p < end && *p != '"'; p++) {
	    if (*p == '\\' && p + 1 < end)
		p++;
	    if (*p != '\n' && str_len(val) <= SMTP_8BIT_BOUNDARY_MAX)
		str_appendc(val, *p);
	}
	return p < end ? p + 1 : p;
    }
    for (; p < end && strchr(" \t\r\n;(", *p) == NULL; p++)
	if (str_len(val) <= SMTP_8BIT_BOUNDARY_MAX)
	    str_appendc(val, *p);
    return p;
}

/* smtp_8bit_ctype - Content-Type: the kind of part and its boundary */
static void smtp_8bit_ctype(smtp_8bit_t *m, const char *p, const char *end)
{
    size_t n;

    p = smtp_8bit_skip(p, end);
    n = smtp_8bit_token(p, end);
    if (n >= 10 && strncasecmp(p, "multipart/", 10) == 0) {
	m->ctype = CT_MULTIPART;
	m->digest = n == 16 && strncasecmp(p, "multipart/digest", 16) == 0;
    } else if (n == 14 && strncasecmp(p, "message/rfc822", 14) == 0) {
	m->ctype = CT_MESSAGE;
    } else {
	m->ctype = CT_LEAF;
    }
    for (p += n; p < end;) {
	if ((p = memchr(p, ';', (size_t)(end - p))) == NULL)
	    break;
	p = smtp_8bit_skip(p + 1, end);
	n = smtp_8bit_token(p, end);
	if (n != 8 || strncasecmp(p, "boundary", 8) != 0)
	    continue;
	p = smtp_8bit_skip(p + n, end);
	if (p < end && *p == '=')
	    p = smtp_8bit_param(smtp_8bit_skip(p + 1, end), end, m->boundary);
    }
    if (m->ctype == CT_MULTIPART &&
	(str_len(m->boundary) == 0 || str_len(m->boundary) > SMTP_8BIT_BOUNDARY_MAX))
	m->ctype = CT_LEAF, m->opaque = 1; /* no usable boundary: its body is opaque */
}

/* smtp_8bit_enc - Content-Transfer-Encoding: 8bit and binary matter */
static void smtp_8bit_enc(smtp_8bit_t *m, const char *p, const char *end)
{
    size_t n;

    p = smtp_8bit_skip(p, end);
    n = smtp_8bit_token(p, end);
    if ((n == 4 && strncasecmp(p, "8bit", 4) == 0) || (n == 6 && strncasecmp(p, "binary", 6) == 0))
	m->enc = ENC_8BIT;
    else if (n == 4 && strncasecmp(p, "7bit", 4) == 0)
	m->enc = ENC_7BIT;
    else
	m->enc = ENC_OTHER;
}

/* smtp_8bit_field_done - a whole header field: note what matters, pass
 * it on (a Content-Transfer-Encoding of 8bit or binary waits for the end
 * of the block, where the part's type says what replaces it) */
static void smtp_8bit_field_done(smtp_8bit_t *m)
{
    const char *p = str_data(m->field), *end = p + str_len(m->field);
    size_t n = header_name_len(p, str_len(m->field));

    if (str_len(m->field) == 0 || m->field_long)
	return;
    if (n && header_name_is(p, n, "Content-Type")) {
	m->has_ctype = 1;
	smtp_8bit_ctype(m, p + n + 1, end);
    } else if (n && header_name_is(p, n, "Content-Transfer-Encoding") && str_len(m->cte) == 0) {
	smtp_8bit_enc(m, p + n + 1, end);
	if (m->enc != ENC_OTHER) {
	    str_setn(m->cte, p, str_len(m->field));
	    str_reset(m->field);
	    return;
	}
    } else if (n && m->top && header_name_is(p, n, "MIME-Version")) {
	m->mime = 1;
    }
    if (!m->scan && header_2047_field(m->encoded, p, str_len(m->field)))
	smtp_8bit_emit_lines(m, m->encoded, 1);
    else
	smtp_8bit_emit_lines(m, m->field, 1);
    str_reset(m->field);
}

/* smtp_8bit_push - enter a multipart's body (its preamble) */
static void smtp_8bit_push(smtp_8bit_t *m)
{
    if (m->depth >= SMTP_8BIT_DEPTH)
	return; /* too deep: its parts pass through */
    m->bounds[m->depth] = mr_strdup(str_data(m->boundary));
    m->digests[m->depth++] = m->digest;
}

/* smtp_8bit_encode_body - the body of this part becomes quoted-printable:
 * a leaf labelled 8bit or binary, or one without a label (or labelled
 * 7bit, or in a message without MIME-Version) in which the scan found
 * 8-bit bytes */
static int smtp_8bit_encode_body(const smtp_8bit_t *m, int mime)
{
    if (m->ctype != CT_LEAF || m->opaque || m->enc == ENC_OTHER)
	return 0;
    return (mime && m->enc == ENC_8BIT) || smtp_8bit_marked(m);
}

/* smtp_8bit_label - the fields that say what a converted part is: a
 * message without MIME-Version gets one, a part without Content-Type
 * gets text of an unknown 8-bit charset (RFC 1428) */
static void smtp_8bit_label(smtp_8bit_t *m, int mime)
{
    static const char version[] = "MIME-Version: 1.0";
    static const char ctype[] = "Content-Type: text/plain; charset=unknown-8bit";
    static const char qp[] = "Content-Transfer-Encoding: quoted-printable";

    if (!mime)
	m->emit(m->ctx, version, sizeof(version) - 1, 1);
    if (!m->has_ctype && (!mime || m->enc != ENC_8BIT))
	m->emit(m->ctx, ctype, sizeof(ctype) - 1, 1);
    m->emit(m->ctx, qp, sizeof(qp) - 1, 1);
}

/* smtp_8bit_header_end - the header block is over: decide the body */
static void smtp_8bit_header_end(smtp_8bit_t *m, int blank)
{
    int mime = m->top ? m->mime : 1;

    smtp_8bit_field_done(m);
    if (mime && m->enc == ENC_8BIT && m->ctype != CT_LEAF) {
	m->emit(m->ctx, "Content-Transfer-Encoding: 7bit", 31, 1);
    } else if (smtp_8bit_encode_body(m, mime)) {
	smtp_8bit_label(m, mime);
	m->qp = 1;
	m->converted++;
    } else if (str_len(m->cte)) {
	smtp_8bit_emit_lines(m, m->cte, 1);
    }
    if (blank)
	m->emit(m->ctx, "", 0, 1);
    m->state = ST_BODY;
    if (mime && m->ctype == CT_MULTIPART)
	smtp_8bit_push(m);
    else if (mime && m->ctype == CT_MESSAGE && blank)
	smtp_8bit_part_reset(m, 0, 0); /* the message inside */
}

/* smtp_8bit_header_piece - a piece of a header line */
static void smtp_8bit_header_piece(smtp_8bit_t *m, const char *data, size_t len, int first,
				   int last)
{
    if (first && len == 0 && last) {
	smtp_8bit_header_end(m, 1);
	return;
    }
    if (first && !(str_len(m->field) && header_continues(data, len))) {
	if (!header_name_len(data, len) && !header_continues(data, len)) {
	    smtp_8bit_header_end(m, 0); /* no empty line: the body starts here */
	    return;
	}
	smtp_8bit_field_done(m);
	m->field_long = 0;
    } else if (first && !m->field_long) {
	str_appendc(m->field, '\n');
    }
    if (!m->field_long && str_len(m->field) + len > SMTP_8BIT_FIELD_MAX) {
	if (str_len(m->field))
	    smtp_8bit_emit_lines(m, m->field, 0); /* the line goes on */
	str_reset(m->field);
	m->field_long = 1;
    }
    if (m->field_long)
	m->emit(m->ctx, data, len, last);
    else
	str_append(m->field, data, len);
}

/* smtp_8bit_qp_token - one encoded token, after a soft break if needed */
static void smtp_8bit_qp_token(smtp_8bit_t *m, const char *tok, int n)
{
    if (m->col + n > 75) {
	str_appendc(m->out, '=');
	m->emit(m->ctx, str_data(m->out), str_len(m->out), 1);
	str_reset(m->out);
	m->col = 0;
    }
    str_append(m->out, tok, (size_t)n);
    m->col += n;
}

/* smtp_8bit_qp_byte - one byte as a token */
static void smtp_8bit_qp_byte(smtp_8bit_t *m, unsigned char c, int at_end)
{
    static const char hex[] = "0123456789ABCDEF";
    char tok[3] = {'=', hex[c >> 4], hex[c & 15]};

    if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !at_end))
	smtp_8bit_qp_token(m, (const char *)&c, 1);
    else
	smtp_8bit_qp_token(m, tok, 3);
}

/* smtp_8bit_qp_piece - encode a piece of a body line */
static void smtp_8bit_qp_piece(smtp_8bit_t *m, const char *data, size_t len, int last)
{
    for (size_t i = 0; i < len; i++) {
	unsigned char c = (unsigned char)data[i];

	if (m->pend_ws >= 0) {
	    smtp_8bit_qp_byte(m, (unsigned char)m->pend_ws, 0);
	    m->pend_ws = -1;
	}
	if (c == ' ' || c == '\t')
	    m->pend_ws = c;
	else
	    smtp_8bit_qp_byte(m, c, 0);
    }
    if (!last)
	return;
    if (m->pend_ws >= 0)
	smtp_8bit_qp_byte(m, (unsigned char)m->pend_ws, 1);
    m->pend_ws = -1;
    m->emit(m->ctx, str_data(m->out), str_len(m->out), 1);
    str_reset(m->out);
    m->col = 0;
}

/* smtp_8bit_boundary - the level of the multipart whose boundary the
 * line is (innermost first), or -1; *close_r 1 for the closing one */
static int smtp_8bit_boundary(const smtp_8bit_t *m, const char *data, size_t len, int *close_r)
{
    if (len < 3 || data[0] != '-' || data[1] != '-')
	return -1;
    for (int i = m->depth - 1; i >= 0; i--) {
	size_t n = strlen(m->bounds[i]), rest;

	if (len - 2 < n || memcmp(data + 2, m->bounds[i], n) != 0)
	    continue;
	rest = 2 + n;
	*close_r = len - rest >= 2 && data[rest] == '-' && data[rest + 1] == '-';
	if (*close_r)
	    rest += 2;
	while (rest < len && (data[rest] == ' ' || data[rest] == '\t'))
	    rest++;
	if (rest == len)
	    return i;
    }
    return -1;
}

/* smtp_8bit_body_piece - a piece of a body line */
static void smtp_8bit_body_piece(smtp_8bit_t *m, const char *data, size_t len, int first, int last)
{
    int level, close = 0;

    if (first && last && (level = smtp_8bit_boundary(m, data, len, &close)) >= 0) {
	int digest = m->digests[level];

	while (m->depth > level + 1)
	    mr_free(m->bounds[--m->depth]);
	m->emit(m->ctx, data, len, 1);
	if (close) {
	    mr_free(m->bounds[--m->depth]);
	    m->state = ST_BODY; /* the epilogue, as it is */
	    m->qp = 0;
	    m->part = -1;
	} else {
	    smtp_8bit_part_reset(m, 0, digest);
	}
	return;
    }
    if (m->scan) { /* only look: nothing is written */
	if (header_2047_has_8bit(data, len))
	    smtp_8bit_mark(m);
	return;
    }
    if (m->qp)
	smtp_8bit_qp_piece(m, data, len, last);
    else
	m->emit(m->ctx, data, len, last);
}

/* smtp_8bit_piece - a piece of a line to the current state */
static void smtp_8bit_piece(smtp_8bit_t *m, const char *data, size_t len, int first, int last)
{
    if (m->state == ST_HEADER) {
	smtp_8bit_header_piece(m, data, len, first, last);
	if (m->state == ST_HEADER || !first || (len == 0 && last))
	    return;
	/* a header block ended by a body line: that line is body */
    }
    smtp_8bit_body_piece(m, data, len, first, last);
}

/* smtp_8bit_line - the next piece of the current line */
void smtp_8bit_line(smtp_8bit_t *m, const char *data, size_t len, int complete)
{
    if (!m->line_long && str_len(m->line) + len <= SMTP_8BIT_PEEK) {
	str_append(m->line, data, len);
	if (!complete)
	    return;
	smtp_8bit_piece(m, str_data(m->line), str_len(m->line), 1, 1);
	str_reset(m->line);
	return;
    }
    if (!m->line_long) { /* the first piece is always the first PEEK bytes */
	size_t fill = SMTP_8BIT_PEEK - str_len(m->line);

	str_append(m->line, data, fill);
	data += fill;
	len -= fill;
	m->line_long = 1;
	smtp_8bit_piece(m, str_data(m->line), str_len(m->line), 1, 0);
	str_reset(m->line);
    }
    smtp_8bit_piece(m, data, len, 0, complete);
    if (complete)
	m->line_long = 0;
}

/* smtp_8bit_finish - the end of the message */
void smtp_8bit_finish(smtp_8bit_t *m)
{
    if (str_len(m->line) || m->line_long)
	smtp_8bit_line(m, "", 0, 1); /* a last line without its end */
    if (m->state == ST_HEADER && str_len(m->field))
	smtp_8bit_field_done(m);
    if (m->state == ST_HEADER && str_len(m->cte))
	smtp_8bit_emit_lines(m, m->cte, 1);
    str_reset(m->cte);
}
