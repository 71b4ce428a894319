/*
 * fuzz_filterd_header.c - libFuzzer target for filterd's header changes
 * (filterd/filterd_header.c).
 * Links: filterd/filterd_header.c
 *
 * The first input byte picks the piece size; the rest, split into lines
 * at LF, is filtered once in whole lines and once in pieces: the outputs
 * must be the same, and no field of ours may come out in the header.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/mymalloc.h"
#include "util/str.h"
#include "../../filterd/filterd_header.h"

/* fuzz_run - filter in pieces of step bytes (0: whole lines) */
static void fuzz_run(const char *in, size_t len, size_t step, str_t *result)
{
    filter_header_t h;
    str_t *out = str_new(64);
    size_t at = 0;

    filter_header_init(&h, "[T]");
    while (at < len) {
	const char *nl = memchr(in + at, '\n', len - at);
	size_t end = nl ? (size_t)(nl - in) : len, pos = at;

	do {
	    size_t n = step == 0 || end - pos < step ? end - pos : step;
	    int complete = pos + n == end;

	    if (filter_header_piece(&h, in + pos, n, complete, out)) {
		str_append(result, str_data(out), str_len(out));
		if (complete)
		    str_appendc(result, '\n');
	    }
	    pos += n;
	} while (pos < end);
	at = end + 1;
    }
    str_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    str_t *a, *b;

    if (len < 1)
	return 0;
    a = str_new(len + 64);
    b = str_new(len + 64);
    fuzz_run((const char *)data + 1, len - 1, 0, a);
    fuzz_run((const char *)data + 1, len - 1, 1 + data[0] % 16, b);
    if (str_len(a) != str_len(b) || memcmp(str_data(a), str_data(b), str_len(a)) != 0)
	abort();
    if (strncasecmp(str_data(a), "X-Spam-Flag:", 12) == 0)
	abort();
    str_free(&a);
    str_free(&b);
    return 0;
}
