/*
 * pop3d_line.c - the POP3 command line reader (see pop3d_line.h).
 *
 * A CR is held back until the next byte shows whether it ends the line
 * (CR LF) or is data: so a line split between CR and LF in two reads is
 * still seen as one line without its CR, and the state between calls is
 * the buffer, its length and the two flags.
 */
#include <string.h>

#include "pop3d_line.h"

/* line_reset - start a new line, keeping the bound */
static void line_reset(pop3d_line_t *p)
{
    p->len = 0;
    p->cr = 0;
    p->nul = 0;
    p->done = 0;
    p->text[0] = 0;
}

/* pop3d_line_init - start reading lines */
void pop3d_line_init(pop3d_line_t *p)
{
    p->max = POP3D_LINE_MAX;
    line_reset(p);
}

/* pop3d_line_set_max - the bound for the lines from now on */
void pop3d_line_set_max(pop3d_line_t *p, size_t max)
{
    p->max = max < POP3D_LINE_AUTH_MAX ? max : POP3D_LINE_AUTH_MAX;
}

/* line_keep - add one byte of text; 0 ok, -1 over the bound */
static int line_keep(pop3d_line_t *p, char c)
{
    if (p->len >= p->max)
	return -1;
    p->text[p->len++] = c;
    p->nul |= c == 0;
    return 0;
}

/* line_end - finish a line: the result for the caller */
static int line_end(pop3d_line_t *p)
{
    int bad = p->nul;

    p->text[p->len] = 0;
    p->cr = 0;
    p->nul = 0;
    p->done = 1;
    return bad ? POP3D_LINE_BAD : POP3D_LINE_DONE;
}

/* pop3d_line_feed - see pop3d_line.h */
int pop3d_line_feed(pop3d_line_t *p, const char *data, size_t len, size_t *used_r)
{
    if (p->done)
	line_reset(p);
    for (size_t i = 0; i < len; i++) {
	char c = data[i];

	if (c == '\n') {
	    *used_r = i + 1;
	    return line_end(p);
	}
	if (p->cr && line_keep(p, '\r') < 0)
	    goto toolong;
	p->cr = c == '\r';
	if (!p->cr && line_keep(p, c) < 0)
	    goto toolong;
	continue;
    toolong:
	*used_r = i + 1;
	line_reset(p);
	return POP3D_LINE_TOOLONG;
    }
    *used_r = len;
    return POP3D_LINE_MORE;
}
