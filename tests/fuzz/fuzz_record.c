/*
 * fuzz_record.c - libFuzzer target for the record parser.
 *
 * The input is parsed twice: in one piece and in chunks whose sizes come
 * from the input's first byte. Both runs must agree on every record and
 * on where (and whether) they fail, and no value may exceed REC_MAX_LEN.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue/record.h"

/* fuzz_walk - parse data in chunks of step; returns a digest of events */
static unsigned long fuzz_walk(const uint8_t *data, size_t len, size_t step, int *failed_r)
{
    rec_parser_t p = {0};
    unsigned long digest = 5381;
    size_t off = 0, used;
    int ret;

    rec_parser_init(&p);
    *failed_r = 0;
    while (off < len) {
	size_t n = len - off < step ? len - off : step;

	if ((ret = rec_parse(&p, data + off, n, &used)) < 0) {
	    *failed_r = 1;
	    digest = digest * 33 + off + used;
	    break;
	}
	if (used > n)
	    abort();
	off += used;
	if (ret == 1) {
	    if (str_len(p.value) > REC_MAX_LEN)
		abort();
	    digest = digest * 33 + (unsigned long)p.type;
	    digest = digest * 33 + str_len(p.value);
	    digest = digest * 33 + off;
	}
    }
    rec_parser_free(&p);
    return digest;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    size_t step = len ? (data[0] % 17) + 1 : 1;
    int f1, f2;
    unsigned long d1 = fuzz_walk(data, len, len ? len : 1, &f1);
    unsigned long d2 = fuzz_walk(data, len, step, &f2);

    /* A failure position is reported per chunk, so only compare success. */
    if (f1 != f2 || (!f1 && d1 != d2))
	abort();
    return 0;
}
