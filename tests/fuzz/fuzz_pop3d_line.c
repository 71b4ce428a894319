/*
 * fuzz_pop3d_line.c - libFuzzer target for the POP3 command line reader
 * (pop3d/pop3d_line.c) and the RETR/TOP converter (pop3d/pop3d_out.c).
 *
 * The first input byte picks the chunk size and the TOP line count; the
 * rest is fed once whole and once in chunks. Both runs must give the same
 * lines and results; no line may exceed POP3D_LINE_MAX. The converter's
 * output, for both runs the same, must have only CRLF line ends, end in
 * ".\r\n", and contain no line "." before its end.
 *
 * Links: pop3d/pop3d_line.c pop3d/pop3d_out.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../pop3d/pop3d_line.h"
#include "../../pop3d/pop3d_out.h"
#include "util/str.h"

/* lines - feed in chunks of step (0: whole); a digest of the results */
static void lines(const char *in, size_t len, size_t step, str_t *out)
{
    pop3d_line_t p;
    size_t pos = 0, used;

    pop3d_line_init(&p);
    while (pos < len) {
	size_t n = step == 0 || len - pos < step ? len - pos : step;
	int r = pop3d_line_feed(&p, in + pos, n, &used);

	if (used > n || (r == POP3D_LINE_MORE && used != n) || p.len > POP3D_LINE_MAX)
	    abort();
	pos += used;
	if (r != POP3D_LINE_MORE)
	    str_appendf(out, "%d:", r);
	if (r == POP3D_LINE_DONE) {
	    if (strlen(p.text) != p.len)
		abort();
	    str_append(out, p.text, p.len);
	}
    }
}

/* convert - the converter in chunks of step */
static void convert(const char *in, size_t len, size_t step, long top, str_t *out)
{
    pop3d_out_t o;

    pop3d_out_init(&o, top);
    for (size_t pos = 0; pos < len;) {
	size_t n = step == 0 || len - pos < step ? len - pos : step;

	pop3d_out_feed(&o, in + pos, n, out);
	pos += n;
    }
    pop3d_out_end(&o, out);
}

/* check_wire - CRLF only, ends in ".\r\n", no early end marker */
static void check_wire(const str_t *s)
{
    const char *d = str_data(s);
    size_t len = str_len(s);

    if (len < 3 || memcmp(d + len - 3, ".\r\n", 3) != 0)
	abort();
    for (size_t i = 0; i < len; i++) {
	if (d[i] == '\n' && (i == 0 || d[i - 1] != '\r'))
	    abort();
	if (d[i] == '.' && (i == 0 || d[i - 1] == '\n') && i + 3 < len && d[i + 1] == '\r' &&
	    d[i + 2] == '\n')
	    abort();
    }
}

/* unequal - do two strings differ? */
static int unequal(const str_t *a, const str_t *b)
{
    return str_len(a) != str_len(b) || memcmp(str_data(a), str_data(b), str_len(a)) != 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    str_t *a, *b;
    size_t step;
    long top;

    if (size < 1)
	return 0;
    step = data[0] % 11 + 1;
    top = data[0] >= 128 ? -1 : data[0] % 5;
    a = str_new(size * 2 + 16);
    b = str_new(size * 2 + 16);
    lines((const char *)data + 1, size - 1, 0, a);
    lines((const char *)data + 1, size - 1, step, b);
    if (unequal(a, b))
	abort();
    str_reset(a);
    str_reset(b);
    convert((const char *)data + 1, size - 1, 0, top, a);
    convert((const char *)data + 1, size - 1, step, top, b);
    if (unequal(a, b))
	abort();
    check_wire(a);
    str_free(&a);
    str_free(&b);
    return 0;
}
