/*
 * test_table_fuzz.c - the table text parsers against hostile input:
 * random bytes biased towards the characters the grammar cares about,
 * over-long lines, NULs, unbalanced braces. Nothing may crash or leak
 * into undefined behaviour (run under make asan); every outcome must be
 * a clean table or a clean "file:line" error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit_helpers.h"
#include "table/table.h"
#include "table/table_priv.h"
#include "util/mymalloc.h"
#include "util/str.h"

static unsigned long fuzz_state = 12345;

/* fuzz_rand - small deterministic PRNG (xorshift) */
static unsigned fuzz_rand(unsigned n)
{
    fuzz_state ^= fuzz_state << 13;
    fuzz_state ^= fuzz_state >> 7;
    fuzz_state ^= fuzz_state << 17;
    return (unsigned)(fuzz_state % n);
}

/* fuzz_text - random text of up to max bytes */
static void fuzz_text(str_t *out, size_t max)
{
    static const char alphabet[] = " \t\n\n\n\r#:{}=,/!$\\()[]*+?.^|abcXYZ019@-";
    size_t len = fuzz_rand((unsigned)max);

    str_reset(out);
    for (size_t i = 0; i < len; i++) {
	unsigned r = fuzz_rand(2000);

	if (r == 0)
	    str_appendc(out, 0);
	else if (r < 20)
	    str_appendc(out, 0x80 + fuzz_rand(128));
	else
	    str_appendc(out, alphabet[fuzz_rand(sizeof(alphabet) - 1)]);
    }
}

/* fuzz_write - write binary content to a file in the temp folder */
static const char *fuzz_write(const char *name, const str_t *text)
{
    static char path[512];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", unit_tmpdir(), name);
    fp = fopen(path, "w");
    assert_non_null(fp);
    assert_int_equal(fwrite(str_data(text), 1, str_len(text), fp), str_len(text));
    fclose(fp);
    return path;
}

/* fuzz_probe - open spec; if it opens, look a few keys up */
static void fuzz_probe(const char *spec, const str_t *text)
{
    const char *error;
    table_t *t = table_open(spec, &error);
    str_t *v = str_new(10);
    const char *keys[] = {"a", "abc", "", "x@y", "#", "{", "$1"};

    if (t == NULL) {
	assert_non_null(error);
	assert_true(strlen(error) > 0);
    } else {
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
	    int r = table_lookup(t, keys[i], v, &error);

	    assert_true(r >= -1 && r <= 1);
	}
	table_close(&t);
    }
    str_free(&v);
}

/* fuzz_lines - random text shaped like table lines */
static void fuzz_lines(str_t *out, int lines)
{
    static const char *pieces[] = {
	"key", "Key2", "/a(b)/", "/(x)/i", "!/y/", "$1",   "${1}", "$$", "$",  "#", ":",
	"  ",  "\t",   "{a=b}",  "value",  "/[/",  "/x/q", "a@b",  "+",  "\\", "(", "x"};

    str_reset(out);
    for (int i = 0; i < lines; i++) {
	int n = fuzz_rand(5);

	if (fuzz_rand(8) == 0)
	    str_appendc(out, ' ');
	for (int j = 0; j < n; j++) {
	    str_appends(out, pieces[fuzz_rand(sizeof(pieces) / sizeof(pieces[0]))]);
	    if (fuzz_rand(2))
		str_appendc(out, " \t:"[fuzz_rand(3)]);
	}
	str_appendc(out, '\n');
    }
}

/* test_fuzz_text - random sources for texthash:, regexp:, pcre:, builds */
static void test_fuzz_text(void **state)
{
    str_t *text = str_new(1000);
    char spec[600];
    const char *path, *error;

    for (int i = 0; i < 3000; i++) {
	if (i % 2)
	    fuzz_lines(text, 1 + fuzz_rand(6));
	else
	    fuzz_text(text, i % 10 == 0 ? 5000 : 200);
	path = fuzz_write("fz", text);
	snprintf(spec, sizeof(spec), "texthash:%s", path);
	fuzz_probe(spec, text);
	snprintf(spec, sizeof(spec), "regexp:%s", path);
	fuzz_probe(spec, text);
	snprintf(spec, sizeof(spec), "pcre:%s", path);
	fuzz_probe(spec, text);
	if (i % 20 == 0) {
	    snprintf(spec, sizeof(spec), "cdb:%s", path);
	    if (table_build(spec, i % 40 ? TABLE_BUILD_ALIAS : 0, &error) >= 0)
		fuzz_probe(spec, text);
	    else
		assert_non_null(strstr(error, "fz"));
	}
    }
    str_free(&text);
}

/* test_fuzz_inline - random inline: specs and table lists */
static void test_fuzz_inline(void **state)
{
    str_t *text = str_new(100);
    str_t *spec = str_new(100);
    const char *error;

    for (int i = 0; i < 5000; i++) {
	fuzz_text(text, 60);
	for (size_t j = 0; j < str_len(text); j++)
	    if (text->data[j] == 0)
		text->data[j] = ' ';
	str_printf(spec, "inline:{%s}", str_data(text));
	fuzz_probe(str_data(spec), text);
	table_list_t *l = table_list_open(str_data(text), &error);
	table_list_close(&l);
    }
    str_free(&text);
    str_free(&spec);
}

/* test_long_lines - the line bound is enforced with a file:line error */
static void test_long_lines(void **state)
{
    str_t *text = str_new(TABLE_MAX_LINE + 100);
    const char *error;
    char spec[600];

    str_appends(text, "ok value\n");
    for (int i = 0; i < TABLE_MAX_LINE + 10; i++)
	str_appendc(text, 'k');
    str_appends(text, " v\n");
    snprintf(spec, sizeof(spec), "texthash:%s", fuzz_write("long", text));
    assert_null(table_open(spec, &error));
    assert_non_null(strstr(error, "long:2: line longer than"));

    /* many short continuation lines adding up past the bound */
    str_reset(text);
    str_appends(text, "k v\n");
    for (int i = 0; i < TABLE_MAX_LINE / 50 + 10; i++)
	str_appends(text, " 0123456789012345678901234567890123456789012345678\n");
    snprintf(spec, sizeof(spec), "texthash:%s", fuzz_write("long", text));
    assert_null(table_open(spec, &error));
    assert_non_null(strstr(error, "long:1: logical line longer"));
    str_free(&text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_fuzz_text),
	cmocka_unit_test(test_fuzz_inline),
	cmocka_unit_test(test_long_lines),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
