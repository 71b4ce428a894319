/*
 * fuzz_store_index.c - libFuzzer target for the mailbox index parser:
 * whatever parses must format back to text that parses to the same
 * index (same text again), and nothing may crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "util/mymalloc.h"
#include "util/str.h"

/* reparse - format st, parse the text again, and compare the two texts */
static void reparse(const store_t *st)
{
    store_t again = {0};
    str_t *one = str_new(256), *two = str_new(256);
    char *copy;

    store_index_format(st, one);
    copy = mr_strdup(str_data(one));
    if (store_index_parse(&again, copy) < 0)
	abort();
    store_index_format(&again, two);
    if (strcmp(str_data(one), str_data(two)) != 0)
	abort();
    store_index_clear(&again);
    mr_free(copy);
    str_free(&one);
    str_free(&two);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    store_t st = {0};
    char *text;

    if (memchr(data, 0, len))
	return 0; /* the store refuses a NUL before it parses */
    text = mr_strndup((const char *)data, len);
    if (store_index_parse(&st, text) == 0)
	reparse(&st);
    store_index_clear(&st);
    mr_free(text);
    return 0;
}
