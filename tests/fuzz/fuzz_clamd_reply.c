/*
 * fuzz_clamd_reply.c - libFuzzer target for the clamd reply parser
 * (lib/global/clamd_client.c).
 *
 * The first input byte picks the chunk size and (its top bit) a reply to
 * INSTREAM or to FILDES; the rest is fed once whole and once in chunks. Both runs must reach the
 * same verdict with the same text after consuming the same bytes; the text must be printable and
 * bounded; CLAMD_CLEAN only for exactly "stream: OK" (or "fd[N]: OK") and a NUL.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "global/clamd_client.h"

/* fuzz_run - one pass; returns the verdict, *end_r the bytes consumed */
static clamd_result_t fuzz_run(const uint8_t *in, size_t len, size_t step, int fildes,
			       size_t *end_r)
{
    clamd_reply_t r;
    size_t pos = 0, used;
    int rc = CLAMD_REPLY_MORE;

    if (fildes)
	clamd_reply_init_fd(&r);
    else
	clamd_reply_init(&r);
    while (pos < len && rc == CLAMD_REPLY_MORE) {
	size_t n = len - pos < step ? len - pos : step;

	rc = clamd_reply_feed(&r, (const char *)in + pos, n, &used);
	if (used > n)
	    abort();
	pos += used;
    }
    *end_r = pos;
    return *clamd_reply_eof(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    clamd_result_t a, b;
    size_t end_a, end_b, n;
    int fildes;

    if (len < 1)
	return 0;
    fildes = data[0] & 0x80;
    a = fuzz_run(data + 1, len - 1, len, fildes, &end_a);
    b = fuzz_run(data + 1, len - 1, 1 + data[0] % 16, fildes, &end_b);
    if (a.status != b.status || end_a != end_b || strcmp(a.text, b.text) != 0)
	abort();
    n = strnlen(a.text, sizeof(a.text));
    if (n == sizeof(a.text))
	abort();
    for (size_t i = 0; i < n; i++)
	if (a.text[i] < 0x20 || a.text[i] >= 0x7f)
	    abort();
    if (a.status == CLAMD_CLEAN && !fildes &&
	(end_a != 11 || memcmp(data + 1, "stream: OK", 11) != 0))
	abort();
    if (a.status == CLAMD_CLEAN && fildes &&
	(end_a < 9 || memcmp(data + 1, "fd[", 3) != 0 || memcmp(data + end_a - 5, "]: OK", 6) != 0))
	abort();
    return 0;
}
