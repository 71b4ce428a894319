/*
 * pop3d_out.c - a stored message as POP3 sends it (see pop3d_out.h).
 */
#include "pop3d_out.h"

/* pop3d_out_init - start a message */
void pop3d_out_init(pop3d_out_t *o, long body_lines)
{
    o->bol = 1;
    o->prev_cr = 0;
    o->line_empty = 1;
    o->in_body = 0;
    o->body_lines = body_lines;
    o->stop = 0;
}

/* out_line_done - bookkeeping at the end of a line */
static void out_line_done(pop3d_out_t *o)
{
    if (!o->in_body && o->line_empty)
	o->in_body = 1;
    else if (o->in_body && o->body_lines > 0)
	o->body_lines--;
    o->bol = 1;
    o->line_empty = 1;
}

/* out_byte - convert one byte; 0 go on, -1 stop (TOP limit reached) */
static int out_byte(pop3d_out_t *o, char c, str_t *out)
{
    if (o->bol) {
	if (o->in_body && o->body_lines == 0)
	    return -1;
	if (c == '.')
	    str_appendc(out, '.');
    }
    if (c == '\n') {
	if (!o->prev_cr)
	    str_appendc(out, '\r');
	str_appendc(out, '\n');
	out_line_done(o);
    } else {
	str_appendc(out, c);
	o->bol = 0;
	o->line_empty &= c == '\r';
    }
    o->prev_cr = c == '\r';
    return 0;
}

/* pop3d_out_feed - convert len bytes of the message */
void pop3d_out_feed(pop3d_out_t *o, const char *data, size_t len, str_t *out)
{
    for (size_t i = 0; i < len && !o->stop; i++)
	if (out_byte(o, data[i], out) < 0)
	    o->stop = 1;
}

/* pop3d_out_end - CRLF if needed, then ".CRLF" */
void pop3d_out_end(pop3d_out_t *o, str_t *out)
{
    if (!o->bol && !o->stop)
	str_appends(out, "\r\n");
    str_appends(out, ".\r\n");
}
