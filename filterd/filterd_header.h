/*
 * filterd_header.h - the header changes the content filter makes on the
 * way out: its own fields go first, fields of the same names that the
 * client sent are removed (a sender must not be able to say "not spam"),
 * and the Subject may get a tag. Every other byte passes unchanged.
 *
 * A resumable state machine over the message's lines as they come from
 * the spool file, in pieces of any size (a long line arrives as several
 * pieces, the last one "complete"). Until the start of a header line
 * shows whether it is a field and which (its ':', a byte that cannot be
 * in a field name, its end, or FILTER_HEADER_HOLD bytes), the bytes are
 * held here and handed out with the piece that decides. The header ends
 * at the first empty line, or at a line that is neither a field nor a
 * continuation (that line is body already).
 */
#ifndef MR_FILTERD_HEADER_H
#define MR_FILTERD_HEADER_H

#include <stddef.h>

#include "util/str.h"

/* Bytes of a line's start held while undecided; a longer name is no
 * field of ours and not the Subject */
#define FILTER_HEADER_HOLD 128

/* filter_header_t - the state between pieces */
typedef struct filter_header {
    int in_body;     /* the header is over */
    int mid_line;    /* the last piece did not end its line */
    int dropping;    /* the current field is one of ours: removed */
    const char *tag; /* Subject tag ("" or NULL: none) */
    size_t held;     /* bytes in hold: the line's start, undecided */
    char hold[FILTER_HEADER_HOLD];
} filter_header_t;

/* filter_header_init - start a message; tag is put in front of the
 * Subject's text (kept by the caller) */
void filter_header_init(filter_header_t *h, const char *tag);
/* filter_header_piece - one piece of a line (without its line end);
 * complete says whether the line ends with it. Returns 1 with the bytes
 * to send in out (replacing its content: held bytes, then the piece,
 * changed), 0 when nothing goes out now (dropped, or held). */
int filter_header_piece(filter_header_t *h, const char *data, size_t len, int complete, str_t *out);
/* filter_header_ours - is the n-byte field name one filterd writes? */
int filter_header_ours(const char *name, size_t n);

#endif
