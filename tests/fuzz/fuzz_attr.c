/*
 * fuzz_attr.c - libFuzzer target for the resumable attribute-list parser
 * (lib/util/attr.c).
 *
 * The first input byte picks a chunk size; the rest is fed once whole and
 * once in chunks. Both runs must give the same lists, the same result and
 * the same end position (unless an error stopped them). Every list parsed
 * must survive attr_format and a second parse unchanged, and respect the
 * count bound.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/attr.h"
#include "util/str.h"

/* fuzz_show - append a list, unambiguously */
static void fuzz_show(str_t *out, const attr_list_t *l)
{
    if (l->count > ATTR_MAX_COUNT)
	abort();
    for (size_t i = 0; i < l->count; i++) {
	str_appendf(out, "%zu:", strlen(l->items[i].name));
	str_appends(out, l->items[i].name);
	str_appendf(out, "%zu:", strlen(l->items[i].value));
	str_appends(out, l->items[i].value);
    }
    str_appendc(out, ';');
}

/* fuzz_roundtrip - format l, parse it again, compare */
static void fuzz_roundtrip(const attr_list_t *l)
{
    str_t *text = str_new(256), *a = str_new(256), *b = str_new(256);
    attr_list_t *again = attr_list_new();
    attr_parser_t p;
    size_t used;

    attr_format(text, l);
    attr_parser_init(&p);
    if (attr_parse(&p, again, str_data(text), str_len(text), &used) != ATTR_PARSE_DONE ||
	used != str_len(text))
	abort();
    fuzz_show(a, l);
    fuzz_show(b, again);
    if (strcmp(str_data(a), str_data(b)) != 0)
	abort();
    attr_parser_done(&p);
    attr_list_free(&again);
    str_free(&text);
    str_free(&a);
    str_free(&b);
}

/* fuzz_run - one pass; returns the last result, *end_r the bytes used */
static int fuzz_run(const uint8_t *in, size_t len, size_t step, str_t *out, size_t *end_r)
{
    attr_parser_t p;
    attr_list_t *l = attr_list_new();
    size_t pos = 0, used;
    int r = ATTR_PARSE_MORE;

    attr_parser_init(&p);
    while (pos < len) {
	size_t n = len - pos < step ? len - pos : step;

	r = attr_parse(&p, l, (const char *)in + pos, n, &used);
	if (used > n || (r == ATTR_PARSE_MORE && used != n))
	    abort();
	pos += used;
	if (r == ATTR_PARSE_ERROR)
	    break;
	if (r == ATTR_PARSE_DONE) {
	    if (in[pos - 1] != '\n')
		abort();
	    fuzz_show(out, l);
	    fuzz_roundtrip(l);
	}
    }
    attr_parser_done(&p);
    attr_list_free(&l);
    *end_r = pos;
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    str_t *a, *b;
    size_t end_a, end_b;
    int ra, rb;

    if (len < 1)
	return 0;
    a = str_new(256);
    b = str_new(256);
    ra = fuzz_run(data + 1, len - 1, len, a, &end_a);
    rb = fuzz_run(data + 1, len - 1, 1 + data[0] % 16, b, &end_b);
    if (ra != rb || strcmp(str_data(a), str_data(b)) != 0 ||
	(ra != ATTR_PARSE_ERROR && end_a != end_b))
	abort();
    str_free(&a);
    str_free(&b);
    return 0;
}
