/*
 * fuzz_smtpd_dot.c - libFuzzer target for the DATA/BDAT content state
 * machine (lib/global/smtpd_dot.c).
 *
 * The first input byte picks the mode and the chunk size; the rest is fed
 * once whole and once in chunks. Both runs must produce the same lines,
 * the same result and the same end position; no line piece may exceed
 * SMTPD_DOT_PIECE; the end marker may only be reported right after a LF.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "global/smtpd_dot.h"

typedef struct {
    unsigned long digest;
    size_t bytes;
} fuzz_sink_t;

/* fuzz_line - hash every piece and its completeness */
static void fuzz_line(void *ctx, const char *data, size_t len, int complete)
{
    fuzz_sink_t *s = ctx;

    if (len > SMTPD_DOT_PIECE)
	abort();
    for (size_t i = 0; i < len; i++)
	s->digest = s->digest * 33 + (unsigned char)data[i];
    s->digest = s->digest * 33 + (complete ? 256 : 257);
    s->bytes += len;
}

/* fuzz_run - one pass; returns the result, *end_r the bytes consumed */
static int fuzz_run(int mode, int bdat, const uint8_t *in, size_t len, size_t step,
		    fuzz_sink_t *sink, size_t *end_r)
{
    smtpd_dot_t d;
    size_t pos = 0, used;
    int r = SMTPD_DOT_MORE;

    smtpd_dot_init(&d, mode, bdat, 1, fuzz_line, sink);
    while (pos < len && r == SMTPD_DOT_MORE) {
	size_t n = len - pos < step ? len - pos : step;

	r = smtpd_dot_feed(&d, (const char *)in + pos, n, &used);
	if (used > n)
	    abort();
	pos += used;
    }
    if (r == SMTPD_DOT_END && (pos == 0 || in[pos - 1] != '\n'))
	abort();
    if (r == SMTPD_DOT_MORE)
	smtpd_dot_flush(&d);
    *end_r = pos;
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    fuzz_sink_t a = {5381, 0}, b = {5381, 0};
    size_t end_a, end_b;
    int mode, bdat, step, ra, rb;

    if (len < 1)
	return 0;
    mode = data[0] % 3;
    bdat = (data[0] >> 2) & 1;
    step = 1 + (data[0] >> 3);
    ra = fuzz_run(mode, bdat, data + 1, len - 1, len, &a, &end_a);
    rb = fuzz_run(mode, bdat, data + 1, len - 1, (size_t)step, &b, &end_b);
    if (ra != rb || end_a != end_b || a.digest != b.digest || a.bytes != b.bytes)
	abort();
    if (a.bytes > len)
	abort();
    return 0;
}
