/*
 * test_attr_parse.c - the resumable attribute-list parser (util/attr.c),
 * fed whole and in 1, 2, 3 and 7-byte steps, with hostile sizes, and
 * the stream reader (attr_read) that runs on top of it.
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "util/attr.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "util/stream.h"

/* show - append a list as "name=value|...;" */
static void show(str_t *out, const attr_list_t *l)
{
    for (size_t i = 0; i < l->count; i++)
	str_appendf(out, "%s=%s|", l->items[i].name, l->items[i].value);
    str_appendc(out, ';');
}

/* run - feed len bytes in steps of `step` (0: all at once), collecting
 * every finished list; returns the last result, *used_r the bytes used */
static int run(const char *in, size_t len, size_t step, str_t *out, size_t *used_r)
{
    attr_parser_t p;
    attr_list_t *l = attr_list_new();
    size_t pos = 0, used;
    int r = ATTR_PARSE_MORE;

    attr_parser_init(&p);
    while (pos < len) {
	size_t n = step == 0 || len - pos < step ? len - pos : step;

	r = attr_parse(&p, l, in + pos, n, &used);
	assert_true(used <= n);
	pos += used;
	if (r == ATTR_PARSE_ERROR) {
	    str_appends(out, p.error);
	    assert_int_equal(attr_parse(&p, l, "\n", 1, &used), ATTR_PARSE_ERROR);
	    break;
	}
	if (r == ATTR_PARSE_DONE)
	    show(out, l);
	else
	    assert_int_equal(used, n); /* MORE: all of it taken */
    }
    *used_r = pos;
    attr_parser_done(&p);
    attr_list_free(&l);
    return r;
}

#define ANY ((size_t)-1) /* where an error stops depends on the steps */

/* check - every step size gives the same result */
static void check_len(const char *in, size_t len, int want_r, size_t want_used,
		      const char *want_out)
{
    size_t steps[] = {0, 1, 2, 3, 7};

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
	str_t *out = str_new(64);
	size_t used;
	int r = run(in, len, steps[i], out, &used);

	if (r != want_r || (want_used != ANY && used != want_used) ||
	    strcmp(str_data(out), want_out) != 0)
	    fail_msg("input \"%.60s\" step %zu: got r=%d used=%zu out \"%.200s\"; "
		     "want r=%d used=%zu out \"%.200s\"",
		     in, steps[i], r, used, str_data(out), want_r, want_used, want_out);
	str_free(&out);
    }
}

#define check(in, r, used, out) check_len((in), strlen(in), (r), (used), (out))
#define DONE ATTR_PARSE_DONE
#define MORE ATTR_PARSE_MORE
#define ERR ATTR_PARSE_ERROR

/* test_lists - whole lists, pipelined lists, partial input */
static void test_lists(void **state)
{
    check("\n", DONE, 1, ";");
    check("a=1\n\n", DONE, 5, "a=1|;");
    check("a=1\nb=\nrcpt=x@y\nrcpt=z@y\n\n", DONE, 26, "a=1|b=|rcpt=x@y|rcpt=z@y|;");
    check("a=1\n\nb=2\n\n", DONE, 10, "a=1|;b=2|;");
    check("a=1\n\nb=2\nc", MORE, 10, "a=1|;");
    check("a=1\n", MORE, 4, "");
    check("name.x-y_Z9=v=w\n\n", DONE, 17, "name.x-y_Z9=v=w|;");
    check("unknown=kept\n\n", DONE, 14, "unknown=kept|;");
}

/* test_escapes - %XX decoding, CR stays data as before */
static void test_escapes(void **state)
{
    check("v=a%25b%0D%0Ac%0a\n\n", DONE, 19, "v=a%b\r\nc\n|;");
    check("v=a\rb\n\n", DONE, 7, "v=a\rb|;");
    check("v=%41%7e\n\n", DONE, 10, "v=A~|;");
}

/* test_malformed - bad names, escapes, NUL: an error, sticky */
static void test_malformed(void **state)
{
    check("=x\n\n", ERR, 3, "malformed attribute \"=x\"");
    check("a b=1\n\n", ERR, 6, "malformed attribute \"a b=1\"");
    check("noequals\n\n", ERR, 9, "malformed attribute \"noequals\"");
    check("a=%zz\n", ERR, 6, "malformed attribute \"a=%zz\"");
    check("a=%4\n", ERR, 5, "malformed attribute \"a=%4\"");
    check("a=%00\n", ERR, 6, "malformed attribute \"a=%00\"");
    check("ok=1\n\nb=%\n\n", ERR, 10, "ok=1|;malformed attribute \"b=%\"");
    check_len("a=x\0y\n\n", 7, ERR, ANY, "NUL byte in attribute list");
}

/* big - a list of n lines "aN=<width x's>" */
static str_t *big(size_t n, size_t width)
{
    str_t *s = str_new(n * (width + 10));

    for (size_t i = 0; i < n; i++) {
	str_appendf(s, "a%zu=", i);
	for (size_t j = 0; j < width; j++)
	    str_appendc(s, 'x');
	str_appendc(s, '\n');
    }
    str_appendc(s, '\n');
    return s;
}

/* run_big - feed whole and in 7-byte steps: result and bytes used */
static void run_big(const str_t *in, int want_r, const char *want_error)
{
    size_t steps[] = {0, 7, 4096};

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
	str_t *out = str_new(64);
	size_t used;
	int r = run(str_data(in), str_len(in), steps[i], out, &used);

	assert_int_equal(r, want_r);
	if (want_error)
	    assert_non_null(strstr(str_data(out), want_error));
	else
	    assert_int_equal(used, str_len(in));
	str_free(&out);
    }
}

/* test_hostile_sizes - the line, count and list bounds hold, exactly */
static void test_hostile_sizes(void **state)
{
    str_t *s = str_new(ATTR_MAX_LINE + 10);
    size_t used;
    int r;

    /* longest line allowed: ATTR_MAX_LINE bytes with its LF */
    str_appends(s, "a=");
    while (str_len(s) < ATTR_MAX_LINE - 1)
	str_appendc(s, 'x');
    str_appends(s, "\n\n");
    run_big(s, DONE, NULL);
    /* one byte more: refused as soon as the line is too long, LF or not */
    str_truncate(s, ATTR_MAX_LINE - 1);
    str_appendc(s, 'x');
    {
	str_t *out = str_new(64);

	r = run(str_data(s), str_len(s), 1, out, &used);
	assert_int_equal(r, ERR);
	assert_int_equal(used, ATTR_MAX_LINE - 1);
	assert_string_equal(str_data(out), "attribute line longer than 65536 bytes");
	str_free(&out);
    }
    str_free(&s);

    s = big(ATTR_MAX_COUNT, 1);
    run_big(s, DONE, NULL);
    str_free(&s);
    s = big(ATTR_MAX_COUNT + 1, 1);
    run_big(s, ERR, "more than 1024 attributes in one list");
    str_free(&s);
    s = big(20, 60000);
    run_big(s, ERR, "attribute list longer than 1048576 bytes");
    str_free(&s);
}

/* test_reset - a parser is reusable after an error once reset */
static void test_reset(void **state)
{
    attr_parser_t p;
    attr_list_t *l = attr_list_new();
    size_t used;

    attr_parser_init(&p);
    assert_int_equal(attr_parser_busy(&p), 0);
    assert_int_equal(attr_parse(&p, l, "a=1\nb", 5, &used), MORE);
    assert_int_equal(attr_parser_busy(&p), 1);
    assert_int_equal(attr_parse(&p, l, "%\n", 2, &used), ERR);
    attr_parser_reset(&p);
    assert_null(p.error);
    assert_int_equal(attr_parse(&p, l, "c=3\n\nd", 6, &used), DONE);
    assert_int_equal(used, 5);
    assert_int_equal(l->count, 1);
    assert_string_equal(attr_get(l, "c"), "3");
    assert_int_equal(attr_parser_busy(&p), 0);
    attr_parser_done(&p);
    attr_list_free(&l);
}

/* read_from - attr_read of text written to a socketpair, then EOF */
static int read_from(const char *text, size_t len, attr_list_t *l, str_t *rest)
{
    int sv[2];
    stream_t *s;
    int r;
    char buf[100];
    ssize_t n;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(write(sv[0], text, len), (ssize_t)len);
    close(sv[0]);
    s = stream_open(sv[1]);
    r = attr_read(s, l);
    while ((n = stream_read(s, buf, sizeof(buf))) > 0)
	str_append(rest, buf, (size_t)n);
    stream_close(&s);
    return r;
}

/* test_attr_read - the stream reader stops at the list's end */
static void test_attr_read(void **state)
{
    attr_list_t *l = attr_list_new();
    str_t *rest = str_new(100);
    str_t *s;

    assert_int_equal(read_from("a=1\n\nRECORDS", 13, l, rest), 1);
    assert_string_equal(attr_get(l, "a"), "1");
    assert_string_equal(str_data(rest), "RECORDS");
    str_reset(rest);
    assert_int_equal(read_from("", 0, l, rest), 0);
    assert_int_equal(read_from("a=1\n", 4, l, rest), -1); /* EOF in a list */
    assert_int_equal(read_from("a=1", 3, l, rest), -1);   /* EOF in a line */
    assert_int_equal(read_from("a b\n\n", 5, l, rest), -1);
    s = str_new(ATTR_MAX_LINE + 10);
    str_appends(s, "a=");
    while (str_len(s) < ATTR_MAX_LINE)
	str_appendc(s, 'x');
    str_appends(s, "\n\n");
    assert_int_equal(read_from(str_data(s), str_len(s), l, rest), -1);
    str_free(&s);
    str_free(&rest);
    attr_list_free(&l);
}

/* test_format - attr_format and attr_format_args escape and terminate */
static void test_format(void **state)
{
    str_t *out = str_new(64);
    attr_list_t *l = attr_list_new();

    attr_add(l, "a", "x%\r\n");
    attr_format(out, l);
    attr_format_args(out, "b", "1", "c", (char *)0, (char *)0);
    assert_string_equal(str_data(out), "a=x%25%0D%0A\n\nb=1\nc=\n\n");
    attr_list_free(&l);
    str_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_lists),     cmocka_unit_test(test_escapes),
	cmocka_unit_test(test_malformed), cmocka_unit_test(test_hostile_sizes),
	cmocka_unit_test(test_reset),     cmocka_unit_test(test_attr_read),
	cmocka_unit_test(test_format),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
