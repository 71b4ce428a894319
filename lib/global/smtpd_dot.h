/*
 * smtpd_dot.h - message content splitter for DATA and BDAT, shared by
 * the SMTP servers (smtpd, and filterd's SMTP/LMTP side).
 *
 * A resumable state machine: feed it the bytes the client sent, in any
 * pieces (one byte at a time is fine), and it hands out content lines
 * without their terminators and says when the DATA end-of-data marker
 * was seen. It never looks ahead and never keeps more than one bounded
 * line piece.
 *
 * Line endings (the smuggling defence, see docs/smtpd.md):
 *   <CR><LF>  is a line ending.
 *   bare <LF> is a line ending for the content in modes NO and NORMALIZE;
 *             in mode YES it is an error (SMTPD_DOT_BARE_LF).
 *   bare <CR> is ordinary data and stays in the line.
 *   End of DATA is a line "." that ends in <CR><LF> and follows a line
 *   that ended in <CR><LF> (or the DATA command itself), in modes
 *   NORMALIZE and YES. Mode NO (legacy) also accepts bare <LF> around it.
 *   A "." line that is not the end marker is kept as the content ".".
 *   A line starting with "." followed by more bytes loses that dot
 *   (RFC 5321 section 4.5.2 transparency).
 * In BDAT mode there is no dot processing and no end marker; the caller
 * calls smtpd_dot_flush() after the LAST chunk.
 */
#ifndef MR_SMTPD_DOT_H
#define MR_SMTPD_DOT_H

#include <stddef.h>

/* Bare-newline policies (smtpd_forbid_bare_newline) */
#define SMTPD_DOT_MODE_NO 0        /* legacy: LF alone also ends lines and DATA */
#define SMTPD_DOT_MODE_NORMALIZE 1 /* LF ends lines; only CRLF.CRLF ends DATA */
#define SMTPD_DOT_MODE_YES 2       /* LF alone is a protocol error */

/* Results of smtpd_dot_feed */
#define SMTPD_DOT_MORE 0       /* all bytes used, need more input */
#define SMTPD_DOT_END 1        /* end-of-data seen; see *used */
#define SMTPD_DOT_BARE_LF (-1) /* mode YES and a bare LF arrived */

/* Largest line piece handed out at once; longer lines come in pieces */
#define SMTPD_DOT_PIECE 4096

/* smtpd_dot_line_fn - receives a content piece; complete is 1 at the end
 * of the line, 0 when more of the same line follows */
typedef void (*smtpd_dot_line_fn)(void *ctx, const char *data, size_t len, int complete);

typedef struct smtpd_dot {
    int mode;         /* SMTPD_DOT_MODE_* */
    int bdat;         /* no dot handling, no end marker */
    int state;        /* private */
    int prev_crlf;    /* previous line ended in CRLF */
    int seen_bare_lf; /* a bare LF was accepted */
    int ended;        /* end marker was seen */
    size_t len;       /* bytes in buf */
    char buf[SMTPD_DOT_PIECE];
    smtpd_dot_line_fn line_fn;
    void *ctx;
} smtpd_dot_t;

/* smtpd_dot_init - start a message; bdat selects BDAT mode; prev_crlf
 * says whether the DATA command line itself ended in CRLF */
void smtpd_dot_init(smtpd_dot_t *d, int mode, int bdat, int prev_crlf, smtpd_dot_line_fn fn,
		    void *ctx);
/* smtpd_dot_feed - process len bytes; *used_r gets how many were
 * consumed (all of them unless SMTPD_DOT_END or SMTPD_DOT_BARE_LF) */
int smtpd_dot_feed(smtpd_dot_t *d, const char *data, size_t len, size_t *used_r);
/* smtpd_dot_flush - BDAT LAST: hand out a final unterminated line */
void smtpd_dot_flush(smtpd_dot_t *d);

#endif
