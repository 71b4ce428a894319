/*
 * fuzz_local.c - libFuzzer target for the local agent's parsers:
 * destination lists (aliases, :include:, .forward; local/local_expand.c)
 * and the Delivered-To header scan (local/local_msg.c). Every step of a
 * list must consume input, every destination must be shorter than the
 * input, and the scan must end.
 *
 * Links: local/local_expand.c local/local_msg.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/mymalloc.h"
#include "../../local/local.h"

typedef struct {
    const char *data;
    size_t len, pos;
} fuzz_src_t;

/* fuzz_line - the input as lines (split at LF) */
static int fuzz_line(void *ctx, str_t *line, int *complete_r, const char **error_r)
{
    fuzz_src_t *s = ctx;
    const char *nl;
    size_t n;

    if (s->pos >= s->len)
	return 0;
    nl = memchr(s->data + s->pos, '\n', s->len - s->pos);
    n = nl ? (size_t)(nl - (s->data + s->pos)) : s->len - s->pos;
    str_setn(line, s->data + s->pos, n > 64 ? 64 : n); /* long lines in pieces */
    *complete_r = n <= 64;
    s->pos += (n > 64 ? 64 : n + (nl != NULL));
    return 1;
}

/* fuzz_rewind - start over */
static void fuzz_rewind(void *ctx)
{
    ((fuzz_src_t *)ctx)->pos = 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    char *buf = mr_memdup(data, len);
    const char *cp = buf, *prev, *err;
    str_t *dest = str_new(16);
    fuzz_src_t src = {buf, len, 0};
    local_msg_t msg = {"QID", "", 0, fuzz_line, fuzz_rewind, &src};
    int type;

    for (;;) {
	prev = cp;
	if ((type = expand_next(&cp, dest)) == 0)
	    break;
	if (cp <= prev || cp > buf + strlen(buf) || str_len(dest) > strlen(prev) ||
	    type < EXPAND_ADDRESS || type > EXPAND_INCLUDE)
	    abort();
    }
    if (local_msg_loop(&msg, "alice@example.com", &err) < 0)
	abort();
    str_free(&dest);
    mr_free(buf);
    return 0;
}
