/*
 * lline.h - the one reader of logical lines in configuration text.
 *
 * mailroom.conf, master.conf and the text form of lookup tables share
 * one line grammar, read here:
 *   - a line whose first non-blank byte is '#' is a comment, and a line
 *     of white space is blank; both are skipped, also in the middle of
 *     a continued line;
 *   - a line that starts with white space continues the previous
 *     logical line: it is joined with one space, without its leading
 *     white space. A continuation with nothing to continue is an error;
 *   - the line ending (LF or CRLF) and trailing white space are dropped.
 * Every physical line and every logical line is bounded by the max given
 * at open: a longer one is an error "path:LINE: line longer than N
 * bytes", never split into two lines (the rest of a long value must not
 * become a line of its own). A NUL byte is an error too.
 *
 * Nothing here knows what a line means; the callers split it.
 */
#ifndef MR_LLINE_H
#define MR_LLINE_H

#include <stddef.h>

#include "str.h"

typedef struct lline lline_t;

/* lline_open - open a regular file; NULL with the reason in err */
lline_t *lline_open(const char *path, size_t max, str_t *err);
/* lline_fd - read an open descriptor (the reader owns it) */
lline_t *lline_fd(int fd, const char *path, size_t max);
/* lline_text - read NUL-terminated text that outlives the reader */
lline_t *lline_text(const char *text, const char *path, size_t max);
/* lline_next - the next logical line into line (replacing its content)
 * and the number of its first physical line into *lineno_r. Returns 1,
 * 0 at the end, -1 with "path:LINE: problem" in err. */
int lline_next(lline_t *lr, str_t *line, int *lineno_r, str_t *err);
/* lline_path - the file name given at open, for messages */
const char *lline_path(const lline_t *lr);
/* lline_close - release (closing the descriptor) and clear the pointer */
void lline_close(lline_t **lrp);

#endif
