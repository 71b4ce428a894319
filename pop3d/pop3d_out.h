/*
 * pop3d_out.h - a stored message as POP3 sends it (RETR and TOP).
 *
 * A resumable converter fed the message file in any pieces: every line
 * leaves with CRLF whatever the Maildir holds (a bare LF gets its CR; a
 * CR LF stays as it is), a line that starts with '.' gets one more '.'
 * (RFC 1939 byte-stuffing), and for TOP it stops after the header, the
 * empty line that ends it, and N lines of body. pop3d_out_end finishes an
 * unterminated last line with CRLF and adds the ".CRLF" terminator.
 */
#ifndef MR_POP3D_OUT_H
#define MR_POP3D_OUT_H

#include <stddef.h>

#include "util/str.h"

typedef struct pop3d_out {
    int bol;         /* at the beginning of a line */
    int prev_cr;     /* the last byte was a CR */
    int line_empty;  /* the line so far holds nothing but CRs */
    int in_body;     /* the empty line after the header was seen */
    long body_lines; /* body lines still to send; -1: all */
    int stop;        /* TOP: the rest is not sent */
} pop3d_out_t;

/* pop3d_out_init - start a message; body_lines -1 sends it all */
void pop3d_out_init(pop3d_out_t *o, long body_lines);

/* pop3d_out_feed - convert len bytes of the message, appending to out */
void pop3d_out_feed(pop3d_out_t *o, const char *data, size_t len, str_t *out);

/* pop3d_out_end - the end of the message: CRLF if needed, then ".CRLF" */
void pop3d_out_end(pop3d_out_t *o, str_t *out);

#endif
