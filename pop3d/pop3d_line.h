/*
 * pop3d_line.h - the POP3 command line reader.
 *
 * A resumable state machine: feed it whatever bytes the client sent, in
 * any pieces (one byte at a time is fine); it says when a command line is
 * complete and how many bytes it used, and never looks past that line, so
 * pipelined commands (RFC 2449) stay in the caller's buffer for the next
 * call. A line ends in LF (CRLF or a bare LF; the CR is dropped). It is
 * bounded: RFC 2449 allows 255 octets including CRLF, so the text of a
 * line may hold POP3D_LINE_MAX bytes; a longer line is reported as soon
 * as the limit is passed (the caller then answers -ERR and hangs up, so
 * an endless line costs no memory and no time). A NUL byte makes the line
 * bad, reported at its end.
 */
#ifndef MR_POP3D_LINE_H
#define MR_POP3D_LINE_H

#include <stddef.h>

#define POP3D_LINE_MAX 253       /* bytes of a command line, without CRLF */
#define POP3D_LINE_AUTH_MAX 8190 /* bytes of an AUTH response line (RFC 5034) */

/* Results of pop3d_line_feed */
#define POP3D_LINE_MORE 0       /* all bytes used, no complete line yet */
#define POP3D_LINE_DONE 1       /* p->text holds a line (p->len bytes, NUL-terminated) */
#define POP3D_LINE_TOOLONG (-1) /* more than POP3D_LINE_MAX bytes before LF */
#define POP3D_LINE_BAD (-2)     /* a complete line held a NUL byte */

typedef struct pop3d_line {
    size_t max; /* the bound in force (POP3D_LINE_MAX unless set) */
    size_t len; /* bytes in text */
    int cr;     /* the last byte kept was a CR (held back) */
    int nul;    /* a NUL byte was seen in this line */
    int done;   /* text is a finished line; the next feed starts anew */
    char text[POP3D_LINE_AUTH_MAX + 1];
} pop3d_line_t;

/* pop3d_line_init - start reading lines, bounded by POP3D_LINE_MAX */
void pop3d_line_init(pop3d_line_t *p);

/* pop3d_line_set_max - the bound for the lines from now on (at most
 * POP3D_LINE_AUTH_MAX): SASL responses may be longer than commands */
void pop3d_line_set_max(pop3d_line_t *p, size_t max);

/* pop3d_line_feed - use bytes of data[0..len) up to the end of one line;
 * *used_r gets how many. Returns a POP3D_LINE_ result; after DONE, BAD
 * or TOOLONG the next call starts a new line. */
int pop3d_line_feed(pop3d_line_t *p, const char *data, size_t len, size_t *used_r);

#endif
