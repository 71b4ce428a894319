/*
 * fuzz_spam_score.c - libFuzzer target for the built-in spam scorer
 * (lib/global/spam_score.c).
 *
 * The first input byte picks the chunk size; the rest is scored once
 * whole and once in chunks: the scores and rules must agree, and GTUBE
 * may only be reported when the input contains it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "global/spam_score.h"

/* fuzz_run - one pass; returns the rules hit */
static int fuzz_run(const uint8_t *in, size_t len, size_t step)
{
    spam_score_t s;
    size_t pos = 0;

    spam_score_init(&s);
    while (pos < len) {
	size_t n = len - pos < step ? len - pos : step;

	spam_score_feed(&s, (const char *)in + pos, n);
	pos += n;
    }
    spam_score_end(&s);
    return s.rules;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    int a, b;

    if (len < 1)
	return 0;
    a = fuzz_run(data + 1, len - 1, len);
    b = fuzz_run(data + 1, len - 1, 1 + data[0] % 16);
    if (a != b)
	abort();
    if ((a & SPAM_RULE_GTUBE) && memmem(data + 1, len - 1, SPAM_GTUBE, SPAM_GTUBE_LEN) == NULL)
	abort();
    return 0;
}
