/*
 * test_util.c - strings, streams over a socketpair, attribute lists.
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "util/attr.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "util/stream.h"

/* test_str_grows - appends past the initial size keep the NUL */
static void test_str_grows(void **state)
{
    str_t *s = str_new(1);

    for (int i = 0; i < 1000; i++)
	str_appendc(s, 'a' + i % 26);
    assert_int_equal(str_len(s), 1000);
    assert_int_equal(str_data(s)[1000], 0);
    str_appendf(s, "%d-%s", 42, "x");
    assert_string_equal(str_data(s) + 1000, "42-x");
    str_truncate(s, 3);
    assert_string_equal(str_data(s), "abc");
    str_free(&s);
    assert_null(s);
}

/* test_tokens - next_token and trim_space */
static void test_tokens(void **state)
{
    char buf[] = "  a, b ,,c  ";
    char *cp = buf, *tok;
    const char *want[] = {"a", "b", "c"};
    int n = 0;

    while ((tok = next_token(&cp, ", ")) != NULL)
	assert_string_equal(tok, want[n++]);
    assert_int_equal(n, 3);
    char t[] = " \t x y \n";
    assert_string_equal(trim_space(t), "x y");
}

/* pair - a connected socketpair wrapped in streams */
static void pair(stream_t **a, stream_t **b)
{
    int sv[2];

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    *a = stream_open(sv[0]);
    *b = stream_open(sv[1]);
}

/* test_stream_lines - whole, partial, and EOF line reads */
static void test_stream_lines(void **state)
{
    stream_t *a, *b;
    str_t *line = str_new(10);

    pair(&a, &b);
    stream_puts(a, "one\r\ntwo-is-long\nlast");
    stream_flush(a);
    stream_close(&a);
    assert_int_equal(stream_read_line(b, line, 100), STREAM_LINE);
    assert_string_equal(str_data(line), "one\r\n");
    str_reset(line);
    assert_int_equal(stream_read_line(b, line, 5), STREAM_PARTIAL);
    assert_string_equal(str_data(line), "two-i");
    assert_int_equal(stream_skip_line(b), 1);
    str_reset(line);
    assert_int_equal(stream_read_line(b, line, 100), STREAM_LINE);
    assert_string_equal(str_data(line), "last");
    str_reset(line);
    assert_int_equal(stream_read_line(b, line, 100), STREAM_EOF);
    stream_close(&b);
    str_free(&line);
}

/* test_stream_timeout - a read with nothing to read times out */
static void test_stream_timeout(void **state)
{
    stream_t *a, *b;
    str_t *line = str_new(10);

    pair(&a, &b);
    stream_set_timeout(b, 1);
    assert_int_equal(stream_read_line(b, line, 100), STREAM_ERROR);
    assert_true(stream_timedout(b));
    stream_close(&a);
    stream_close(&b);
    str_free(&line);
}

/* test_stream_pipe_timeout - the poll-then-read path (not a socket):
 * data, a timeout, then EOF */
static void test_stream_pipe_timeout(void **state)
{
    int fds[2];
    stream_t *r;
    str_t *line = str_new(10);

    assert_int_equal(pipe(fds), 0);
    r = stream_open(fds[0]);
    stream_set_timeout(r, 1);
    assert_int_equal(write(fds[1], "ab\n", 3), 3);
    assert_int_equal(stream_read_line(r, line, 100), STREAM_LINE);
    assert_string_equal(str_data(line), "ab\n");
    str_reset(line);
    assert_int_equal(stream_read_line(r, line, 100), STREAM_ERROR);
    assert_true(stream_timedout(r));
    stream_clear_error(r);
    close(fds[1]);
    assert_int_equal(stream_read_line(r, line, 100), STREAM_EOF);
    stream_close(&r);
    str_free(&line);
}

/* test_stream_autoflush - output waits while input is buffered, and goes
 * out before the stream reads from or waits for the socket */
static void test_stream_autoflush(void **state)
{
    stream_t *a, *b;
    str_t *line = str_new(10);

    pair(&a, &b);
    stream_set_timeout(a, 1);
    stream_set_timeout(b, 1);
    stream_set_autoflush(b, 1);
    stream_puts(a, "x\ny\n");
    stream_flush(a);
    assert_int_equal(stream_read_line(b, line, 100), STREAM_LINE);
    assert_string_equal(str_data(line), "x\n");
    assert_int_equal(stream_pending(b), 2);
    stream_puts(b, "r1\n"); /* "y" is buffered: not sent yet */
    str_reset(line);
    assert_int_equal(stream_read_line(b, line, 100), STREAM_LINE);
    assert_string_equal(str_data(line), "y\n");
    assert_int_equal(stream_wait_readable(a, 0), 0);
    str_reset(line); /* nothing buffered: flush, then wait */
    assert_int_equal(stream_read_line(b, line, 100), STREAM_ERROR);
    assert_true(stream_timedout(b));
    str_reset(line);
    assert_int_equal(stream_read_line(a, line, 100), STREAM_LINE);
    assert_string_equal(str_data(line), "r1\n");
    stream_close(&a);
    stream_close(&b);
    str_free(&line);
}

/* test_stream_spin - a short busy-wait sees input, or gives up */
static void test_stream_spin(void **state)
{
    stream_t *a, *b;

    pair(&a, &b);
    assert_int_equal(stream_spin_readable(b, 200), 0);
    stream_puts(a, "x\n");
    stream_flush(a);
    assert_int_equal(stream_spin_readable(b, 200), 1);
    assert_int_equal(stream_getc(b), 'x');
    stream_close(&a);
    stream_close(&b);
}

/* test_attr_roundtrip - escaping survives %, CR, LF; unknown names kept */
static void test_attr_roundtrip(void **state)
{
    stream_t *a, *b;
    attr_list_t *out = attr_list_new(), *in = attr_list_new();

    pair(&a, &b);
    attr_add(out, "sender", "a%b\r\nc@x");
    attr_add(out, "rcpt", "one@x");
    attr_add(out, "rcpt", "two@x");
    attr_add(out, "empty", "");
    assert_int_equal(attr_write(a, out), 0);
    assert_int_equal(attr_read(b, in), 1);
    assert_int_equal(in->count, 4);
    assert_string_equal(attr_get(in, "sender"), "a%b\r\nc@x");
    assert_string_equal(attr_get(in, "rcpt"), "one@x");
    assert_string_equal(attr_get(in, "empty"), "");
    assert_null(attr_get(in, "nothere"));
    stream_close(&a);
    assert_int_equal(attr_read(b, in), 0);
    stream_close(&b);
    attr_list_free(&out);
    attr_list_free(&in);
}

/* test_attr_malformed - bad escapes and bad names are rejected */
static void test_attr_malformed(void **state)
{
    const char *bad[] = {"x=%zz\n\n", "x=a%00b\n\n", "=v\n\n", "a b=c\n\n", "novalue\n\n", "x=1\n"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
	stream_t *a, *b;
	attr_list_t *in = attr_list_new();

	pair(&a, &b);
	stream_puts(a, bad[i]);
	stream_close(&a);
	assert_int_equal(attr_read(b, in), -1);
	stream_close(&b);
	attr_list_free(&in);
    }
}

/* test_attr_protocol - handshake accepts the right name only */
static void test_attr_protocol(void **state)
{
    stream_t *a, *b;
    const char *err = NULL;

    pair(&a, &b);
    attr_send_protocol(a, "cleanup");
    attr_send_protocol(a, "cleanup");
    assert_int_equal(attr_expect_protocol(b, "cleanup", &err), 1);
    assert_int_equal(attr_expect_protocol(b, "qmgr", &err), -1);
    assert_non_null(err);
    stream_close(&a);
    stream_close(&b);
}

/* test_printable - what may reach a terminal, as a table */
static void test_printable(void **state)
{
    static const struct {
	const char *in, *out;
	size_t escaped;
    } t[] = {
	{"plain@example.org", "plain@example.org", 0},
	{"a\\b", "a\\\\b", 0},
	{"cr\rlf\n", "cr\\x0dlf\\x0a", 2},
	{"\x1b[31mred", "\\x1b[31mred", 1},
	{"del\x7f", "del\\x7f", 1},
	{"j\xc3\xb6ran", "j\xc3\xb6ran", 0}, /* U+00F6 */
	{"\xe2\x82\xac \xf0\x9f\x93\xa7", "\xe2\x82\xac \xf0\x9f\x93\xa7", 0},
	{"c1\xc2\x9b", "c1\\xc2\\x9b", 2},   /* U+009B CSI */
	{"nbsp\xc2\xa0", "nbsp\xc2\xa0", 0}, /* U+00A0 */
	{"cut\xc3", "cut\\xc3", 1},
	{"overlong\xc0\xaf", "overlong\\xc0\\xaf", 2},
	{"surrogate\xed\xa0\x80", "surrogate\\xed\\xa0\\x80", 3},
	{"toobig\xf4\x90\x80\x80", "toobig\\xf4\\x90\\x80\\x80", 4},
	{"\xff", "\\xff", 1},
    };
    str_t *s = str_new(10);

    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
	str_reset(s);
	assert_int_equal(str_append_printable(s, t[i].in, strlen(t[i].in)), t[i].escaped);
	assert_string_equal(str_data(s), t[i].out);
    }
    str_reset(s);
    assert_int_equal(str_append_printable(s, "a\0b", 3), 1);
    assert_string_equal(str_data(s), "a\\x00b");
    str_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_str_grows),
	cmocka_unit_test(test_printable),
	cmocka_unit_test(test_tokens),
	cmocka_unit_test(test_stream_lines),
	cmocka_unit_test(test_stream_timeout),
	cmocka_unit_test(test_stream_spin),
	cmocka_unit_test(test_stream_pipe_timeout),
	cmocka_unit_test(test_stream_autoflush),
	cmocka_unit_test(test_attr_roundtrip),
	cmocka_unit_test(test_attr_malformed),
	cmocka_unit_test(test_attr_protocol),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
