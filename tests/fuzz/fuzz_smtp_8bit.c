/*
 * fuzz_smtp_8bit.c - libFuzzer target for the 8BITMIME downgrade
 * (lib/global/smtp_client_8bit.c).
 *
 * The input is a message with lines ended by LF; the first byte picks a
 * piece size. The message is converted twice, as the smtp client does
 * it (a scan for unlabelled 8-bit parts, then the conversion), by whole
 * lines and in pieces of that size: both outputs and counts must be the
 * same (the converter is resumable), and no output may be lost or read
 * outside the input (ASan). The input is also given to the RFC 2047
 * header encoder (lib/global/header_2047.c) as one field, named Subject:
 * the encoded field must be 7-bit.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "global/header_2047.h"
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

/* feed - the message to m in pieces of step bytes (0: whole lines) */
static void feed(smtp_8bit_t *m, const char *in, size_t size, size_t step)
{
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
}

/* convert - a scan, then the conversion, both in pieces of step bytes */
static str_t *convert(const char *in, size_t size, size_t step, int *conv_r)
{
    str_t *out = str_new(size * 3 + 16);
    smtp_8bit_t *m = smtp_8bit_create(sink, out), *scan = smtp_8bit_create(NULL, NULL);

    feed(scan, in, size, step);
    smtp_8bit_learn(m, scan);
    smtp_8bit_free(&scan);
    feed(m, in, size, step);
    *conv_r = smtp_8bit_converted(m);
    smtp_8bit_free(&m);
    return out;
}

/* subject - the input as the value of a Subject field: what the encoder
 * makes of it has no 8-bit byte */
static void subject(const char *in, size_t size)
{
    str_t *field = str_new(size + 10), *out = str_new(size * 4 + 16);

    str_set(field, "Subject: ");
    str_append(field, in, size);
    if (header_2047_field(out, str_data(field), str_len(field)) &&
	header_2047_has_8bit(str_data(out), str_len(out)))
	abort();
    str_free(&field);
    str_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    str_t *whole, *pieces;
    int c1, c2;

    if (size < 1 || size > 1 << 20)
	return 0;
    subject((const char *)data + 1, size - 1);
    whole = convert((const char *)data + 1, size - 1, 0, &c1);
    pieces = convert((const char *)data + 1, size - 1, 1 + data[0] % 13, &c2);
    if (c1 != c2 || str_len(whole) != str_len(pieces) ||
	memcmp(str_data(whole), str_data(pieces), str_len(whole)) != 0)
	abort();
    str_free(&whole);
    str_free(&pieces);
    return 0;
}
