/*
 * smtpd_dot.c - the DATA/BDAT content state machine (see smtpd_dot.h).
 *
 * States, per byte:
 *   BOL     start of a line, nothing of it seen
 *   DOT     a '.' at the start of a line (DATA mode only)
 *   DOT_CR  '.' then CR at the start of a line
 *   LINE    inside a line
 *   CR      inside a line, the last byte was a CR that may be the first
 *           half of CRLF (held back, not yet part of the line)
 * A held-back CR that is not followed by LF is put back into the line:
 * that is how a bare CR stays data.
 */
#include <string.h>

#include "smtpd_dot.h"

#define ST_BOL 0
#define ST_DOT 1
#define ST_DOT_CR 2
#define ST_LINE 3
#define ST_CR 4

/* smtpd_dot_init - reset for a new message */
void smtpd_dot_init(smtpd_dot_t *d, int mode, int bdat, int prev_crlf, smtpd_dot_line_fn fn,
		    void *ctx)
{
    d->mode = mode;
    d->bdat = bdat;
    d->state = ST_BOL;
    d->prev_crlf = prev_crlf;
    d->seen_bare_lf = 0;
    d->ended = 0;
    d->len = 0;
    d->line_fn = fn;
    d->ctx = ctx;
}

/* dot_put - add one byte to the current line, handing out full pieces */
static void dot_put(smtpd_dot_t *d, int ch)
{
    if (d->len == sizeof(d->buf)) {
	d->line_fn(d->ctx, d->buf, d->len, 0);
	d->len = 0;
    }
    d->buf[d->len++] = (char)ch;
}

/* dot_end_line - finish the current line; -1 if a bare LF is forbidden */
static int dot_end_line(smtpd_dot_t *d, int crlf)
{
    if (!crlf) {
	if (d->mode == SMTPD_DOT_MODE_YES)
	    return -1;
	d->seen_bare_lf = 1;
    }
    d->line_fn(d->ctx, d->buf, d->len, 1);
    d->len = 0;
    d->prev_crlf = crlf;
    d->state = ST_BOL;
    return 0;
}

/* dot_lone_dot - a "." line ended; 1 if it is the end of DATA */
static int dot_lone_dot(smtpd_dot_t *d, int crlf)
{
    if (d->mode == SMTPD_DOT_MODE_NO || (crlf && d->prev_crlf))
	return 1;
    dot_put(d, '.');
    return dot_end_line(d, crlf) < 0 ? -1 : 0;
}

/* dot_byte - advance by one byte; returns MORE, END or BARE_LF */
static int dot_byte(smtpd_dot_t *d, int ch)
{
    int r;

    switch (d->state) {
    case ST_BOL:
	if (ch == '.' && !d->bdat) {
	    d->state = ST_DOT;
	    return SMTPD_DOT_MORE;
	}
	/* FALLTHROUGH */
    case ST_LINE:
	if (ch == '\r')
	    d->state = ST_CR;
	else if (ch == '\n')
	    return dot_end_line(d, 0) < 0 ? SMTPD_DOT_BARE_LF : SMTPD_DOT_MORE;
	else {
	    dot_put(d, ch);
	    d->state = ST_LINE;
	}
	return SMTPD_DOT_MORE;
    case ST_DOT:
	if (ch == '\r') {
	    d->state = ST_DOT_CR;
	    return SMTPD_DOT_MORE;
	}
	if (ch == '\n') {
	    if (d->mode == SMTPD_DOT_MODE_YES)
		return SMTPD_DOT_BARE_LF;
	    r = dot_lone_dot(d, 0);
	    return r < 0 ? SMTPD_DOT_BARE_LF : r ? SMTPD_DOT_END : SMTPD_DOT_MORE;
	}
	/* ".x": the dot was transparency stuffing */
	dot_put(d, ch);
	d->state = ST_LINE;
	return SMTPD_DOT_MORE;
    case ST_DOT_CR:
	if (ch == '\n') {
	    r = dot_lone_dot(d, 1);
	    return r < 0 ? SMTPD_DOT_BARE_LF : r ? SMTPD_DOT_END : SMTPD_DOT_MORE;
	}
	/* ".<CR>x": stuffing dot, then a bare CR that is data */
	dot_put(d, '\r');
	d->state = ST_LINE;
	return dot_byte(d, ch);
    case ST_CR:
	if (ch == '\n')
	    return dot_end_line(d, 1) < 0 ? SMTPD_DOT_BARE_LF : SMTPD_DOT_MORE;
	dot_put(d, '\r');
	d->state = ST_LINE;
	return dot_byte(d, ch);
    }
    return SMTPD_DOT_MORE;
}

/* smtpd_dot_feed - run the machine over a buffer */
int smtpd_dot_feed(smtpd_dot_t *d, const char *data, size_t len, size_t *used_r)
{
    size_t i;
    int r = SMTPD_DOT_MORE;

    for (i = 0; i < len && r == SMTPD_DOT_MORE; i++)
	r = dot_byte(d, (unsigned char)data[i]);
    if (r == SMTPD_DOT_END)
	d->ended = 1;
    *used_r = i;
    return r;
}

/* smtpd_dot_flush - hand out what is left of an unterminated last line */
void smtpd_dot_flush(smtpd_dot_t *d)
{
    if (d->state == ST_CR || d->state == ST_DOT_CR) {
	if (d->state == ST_DOT_CR && !d->bdat)
	    dot_put(d, '.');
	dot_put(d, '\r');
    } else if (d->state == ST_DOT) {
	dot_put(d, '.');
    }
    if (d->state != ST_BOL)
	d->line_fn(d->ctx, d->buf, d->len, 1);
    d->len = 0;
    d->state = ST_BOL;
}
