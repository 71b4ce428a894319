/*
 * fuzz_spamd_reply.c - libFuzzer target for the spamd reply parser
 * (lib/global/spamd_client.c).
 *
 * The first input byte picks the command and the chunk size; the rest is
 * parsed once whole and once in chunks: verdict, score, symbols and the
 * bytes consumed must agree, and a verdict other than an error needs a
 * "SPAMD/" status line (and, but for TELL, a Spam header).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "global/spamd_client.h"

/* fuzz_run - one pass; the result, *used_r the bytes consumed */
static spamd_result_t fuzz_run(int cmd, const uint8_t *in, size_t len, size_t step, size_t *used_r)
{
    spamd_reply_t r;
    size_t pos = 0, used;
    int rc = SPAMD_REPLY_MORE;

    spamd_reply_init(&r, cmd);
    while (pos < len && rc == SPAMD_REPLY_MORE) {
	size_t n = len - pos < step ? len - pos : step;

	rc = spamd_reply_feed(&r, (const char *)in + pos, n, &used);
	if (used > n)
	    abort();
	pos += used;
    }
    *used_r = pos;
    return *spamd_reply_eof(&r);
}

/* has_spam_header - does the input hold "spam:" in any case? */
static int has_spam_header(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i + 5 <= len; i++)
	if (strncasecmp((const char *)p + i, "spam:", 5) == 0)
	    return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static spamd_result_t a, b;
    size_t ua, ub;
    int cmd;

    if (len < 1)
	return 0;
    cmd = data[0] % 4;
    a = fuzz_run(cmd, data + 1, len - 1, len, &ua);
    b = fuzz_run(cmd, data + 1, len - 1, 1 + (data[0] >> 2) % 16, &ub);
    if (a.status != b.status || ua != ub || strcmp(a.text, b.text) != 0 ||
	strcmp(a.symbols, b.symbols) != 0 || a.score != b.score || a.learned != b.learned)
	abort();
    if (a.status != SPAMD_ERROR && (len < 7 || memcmp(data + 1, "SPAMD/", 6) != 0))
	abort();
    if ((a.status == SPAMD_HAM || a.status == SPAMD_SPAM) && !has_spam_header(data + 1, len - 1))
	abort();
    if (a.status == SPAMD_TOLD && cmd != SPAMD_TELL)
	abort();
    return 0;
}
