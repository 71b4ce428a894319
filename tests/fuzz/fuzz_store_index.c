/*
 * fuzz_store_index.c - libFuzzer target for the mailbox index parser,
 * snapshot and appended transactions: whatever parses must format back
 * to a snapshot that parses to the same index (same text again), the
 * part up to the last whole transaction must give the same index as the
 * whole text (a torn tail changes nothing), and nothing may crash or
 * leak. Every commit line gets the CRC its transaction needs before the
 * parse, so that mutations reach the parser of the changes; the input is
 * also parsed as it is.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "store/store.h"
#include "util/mymalloc.h"
#include "util/str.h"

/* format_of - the snapshot text of st, mr_alloc'd */
static char *format_of(const store_t *st)
{
    str_t *out = str_new(256);

    store_index_format(st, out);
    return str_steal(&out);
}

/* reparse - format st, parse the text again, and compare the two texts */
static void reparse(const store_t *st)
{
    store_t again = {0};
    char *one = format_of(st), *copy = mr_strdup(one), *two;
    size_t end;

    if (store_index_parse(&again, copy, strlen(copy), &end) < 0 || end != strlen(one))
	abort();
    two = format_of(&again);
    if (strcmp(one, two) != 0)
	abort();
    store_index_clear(&again);
    mr_free(copy);
    mr_free(one);
    mr_free(two);
}

/* check_prefix - the text cut at end parses to the same index as st */
static void check_prefix(const store_t *st, const uint8_t *data, size_t end)
{
    store_t cut = {0};
    char *copy = mr_memdup(data, end), *one, *two;
    size_t end2;

    if (store_index_parse(&cut, copy, end, &end2) < 0 || end2 != end)
	abort();
    one = format_of(st);
    two = format_of(&cut);
    if (strcmp(one, two) != 0)
	abort();
    store_index_clear(&cut);
    mr_free(copy);
    mr_free(one);
    mr_free(two);
}

/* fix_crcs - give each commit line after the "E" line the CRC of its
 * transaction */
static void fix_crcs(char *text, size_t len)
{
    char *end = text + len, *pos = memmem(text, len, "\nE ", 3), *start, *lf;
    char hex[9];

    if (pos == 0 || (lf = memchr(pos + 1, '\n', (size_t)(end - pos - 1))) == 0)
	return;
    start = pos = lf + 1;
    while (pos < end && (lf = memchr(pos, '\n', (size_t)(end - pos))) != 0) {
	if (pos[0] == 'C' && lf - pos >= 13) {
	    uLong crc = crc32(0L, (const Bytef *)start, (uInt)(lf - 8 - start));

	    snprintf(hex, sizeof(hex), "%08lx", crc & 0xffffffffUL);
	    memcpy(lf - 8, hex, 8);
	    start = lf + 1;
	}
	pos = lf + 1;
    }
}

/* check - parse data (len bytes) and check what parsed */
static void check(const uint8_t *data, size_t len)
{
    store_t st = {0};
    char *text = mr_memdup(data, len);
    size_t end;

    if (store_index_parse(&st, text, len, &end) == 0) {
	if (end > len)
	    abort();
	reparse(&st);
	check_prefix(&st, data, end);
    }
    store_index_clear(&st);
    mr_free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    uint8_t *fixed = mr_alloc(len + 1);

    check(data, len);
    memcpy(fixed, data, len);
    fix_crcs((char *)fixed, len);
    check(fixed, len);
    mr_free(fixed);
    return 0;
}
