/*
 * fuzz_smtp_8bit.c - libFuzzer target for the 8BITMIME downgrade
 * (lib/global/smtp_client_8bit.c).
 *
 * The input is a message with lines ended by LF; the first byte picks a
 * piece size. The message is converted twice, by whole lines and in
 * pieces of that size: both outputs and counts must be the same (the
 * converter is resumable), and no output may be lost or read outside the
 * input (ASan).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "global/smtp_client_8bit.h"
#include "util/str.h"

/* sink - collect output lines ended by '\n' */
static void sink(void *ctx, const char *data, size_t len, int complete)
{
    str_t *out = ctx;

    str_append(out, data, len);
    if (complete)
	str_appendc(out, '\n');
}

/* convert - the message in pieces of step bytes (0: whole lines) */
static str_t *convert(const char *in, size_t size, size_t step, int *conv_r)
{
    str_t *out = str_new(size * 3 + 16);
    smtp_8bit_t *m = smtp_8bit_create(sink, out);
    const char *end = in + size;

    while (in < end) {
	const char *nl = memchr(in, '\n', (size_t)(end - in));
	size_t n = nl ? (size_t)(nl - in) : (size_t)(end - in), pos = 0;

	do {
	    size_t k = step == 0 || n - pos < step ? n - pos : step;

	    smtp_8bit_line(m, in + pos, k, nl != NULL && pos + k == n);
	    pos += k;
	} while (pos < n);
	in += n + (nl != NULL);
    }
    smtp_8bit_finish(m);
    *conv_r = smtp_8bit_converted(m);
    smtp_8bit_free(&m);
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    str_t *whole, *pieces;
    int c1, c2;

    if (size < 1 || size > 1 << 20)
	return 0;
    whole = convert((const char *)data + 1, size - 1, 0, &c1);
    pieces = convert((const char *)data + 1, size - 1, 1 + data[0] % 13, &c2);
    if (c1 != c2 || str_len(whole) != str_len(pieces) ||
	memcmp(str_data(whole), str_data(pieces), str_len(whole)) != 0)
	abort();
    str_free(&whole);
    str_free(&pieces);
    return 0;
}
