/*
 * test_pop3d_line.c - the POP3 command line reader and the RETR/TOP
 * converter, each fed whole and in 1, 2, 3 and 7-byte steps, with
 * hostile sizes.
 */
#include <string.h>

#include "unit_helpers.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "../../pop3d/pop3d_line.h"
#include "../../pop3d/pop3d_out.h"

static const size_t steps[] = {0, 1, 2, 3, 7};

/* run_lines - feed in steps; each result is appended to out as
 * "D:text|", "B|" (bad) or "L|" (too long); bytes left unread are
 * appended as "M:n" */
static void run_lines(const char *in, size_t len, size_t step, str_t *out)
{
    pop3d_line_t p;
    size_t pos = 0, used;

    pop3d_line_init(&p);
    while (pos < len) {
	size_t n = step == 0 || len - pos < step ? len - pos : step;
	int r = pop3d_line_feed(&p, in + pos, n, &used);

	assert_true(used <= n);
	pos += used;
	if (r == POP3D_LINE_DONE)
	    str_appendf(out, "D:%s|", p.text);
	else if (r == POP3D_LINE_BAD)
	    str_appends(out, "B|");
	else if (r == POP3D_LINE_TOOLONG)
	    str_appends(out, "L|");
	else
	    assert_int_equal(used, n);
    }
    if (!p.done && (p.len || p.cr))
	str_appendf(out, "M:%zu", p.len + p.cr);
}

/* check_lines - every step size gives want */
static void check_lines(const char *in, size_t len, const char *want)
{
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
	str_t *out = str_new(100);

	run_lines(in, len, steps[i], out);
	assert_string_equal(str_data(out), want);
	str_free(&out);
    }
}

#define CHECK_LINES(in, want) check_lines((in), sizeof(in) - 1, (want))

/* test_lines - CRLF, bare LF, pipelining, a CR inside, partial input */
static void test_lines(void **state)
{
    CHECK_LINES("USER alice\r\n", "D:USER alice|");
    CHECK_LINES("USER alice\n", "D:USER alice|");
    CHECK_LINES("STAT\r\nLIST\r\nUIDL 1\r\n", "D:STAT|D:LIST|D:UIDL 1|");
    CHECK_LINES("\r\n\n", "D:|D:|");
    CHECK_LINES("PASS a\rb\r\n", "D:PASS a\rb|");
    CHECK_LINES("NOOP\r\r\n", "D:NOOP\r|");
    CHECK_LINES("RETR 1", "M:6");
    CHECK_LINES("RETR 1\r", "M:7");
    CHECK_LINES("A\0B\r\nNOOP\r\n", "B|D:NOOP|");
}

/* test_bounds - exactly the limit passes, one more is refused at once,
 * and the next line after it is read normally */
static void test_bounds(void **state)
{
    char in[2 * POP3D_LINE_MAX + 16], want[POP3D_LINE_MAX + 16];

    memset(in, 'x', POP3D_LINE_MAX);
    memcpy(in + POP3D_LINE_MAX, "\r\n", 2);
    memcpy(want, "D:", 2);
    memset(want + 2, 'x', POP3D_LINE_MAX);
    memcpy(want + 2 + POP3D_LINE_MAX, "|", 2);
    check_lines(in, POP3D_LINE_MAX + 2, want);

    /* 254 bytes, then "QUIT": the reader stops at byte 254 */
    memset(in, 'y', POP3D_LINE_MAX + 1);
    memcpy(in + POP3D_LINE_MAX + 1, "QUIT\r\n", 6);
    check_lines(in, POP3D_LINE_MAX + 7, "L|D:QUIT|");
    /* a CR held back at the limit is text that does not fit: the byte
     * after it shows that, and is used */
    memset(in, 'z', POP3D_LINE_MAX);
    memcpy(in + POP3D_LINE_MAX, "\rA\n", 3);
    check_lines(in, POP3D_LINE_MAX + 3, "L|D:|"); /* the A overflowed */
}

/* test_endless - a megabyte without LF is refused after the limit */
static void test_endless(void **state)
{
    size_t len = 1 << 20;
    char *in = mr_alloc(len);
    pop3d_line_t p;
    size_t used;

    memset(in, 'A', len);
    pop3d_line_init(&p);
    assert_int_equal(pop3d_line_feed(&p, in, len, &used), POP3D_LINE_TOOLONG);
    assert_int_equal(used, POP3D_LINE_MAX + 1);
    mr_free(in);
}

/* test_auth_bound - an AUTH response may be longer than a command, up
 * to POP3D_LINE_AUTH_MAX; the bound stays after a line, and after an
 * over-long one */
static void test_auth_bound(void **state)
{
    size_t len = POP3D_LINE_AUTH_MAX + 10;
    char *in = mr_alloc(len);
    pop3d_line_t p;
    size_t used;

    memset(in, 'A', len);
    in[POP3D_LINE_AUTH_MAX] = '\n';
    pop3d_line_init(&p);
    pop3d_line_set_max(&p, 1 << 20); /* clamped */
    assert_int_equal(pop3d_line_feed(&p, in, len, &used), POP3D_LINE_DONE);
    assert_int_equal(used, POP3D_LINE_AUTH_MAX + 1);
    assert_int_equal(p.len, POP3D_LINE_AUTH_MAX);
    in[POP3D_LINE_AUTH_MAX] = 'A';
    assert_int_equal(pop3d_line_feed(&p, in, len, &used), POP3D_LINE_TOOLONG);
    assert_int_equal(used, POP3D_LINE_AUTH_MAX + 1);
    pop3d_line_set_max(&p, POP3D_LINE_MAX);
    assert_int_equal(pop3d_line_feed(&p, in, len, &used), POP3D_LINE_TOOLONG);
    assert_int_equal(used, POP3D_LINE_MAX + 1);
    mr_free(in);
}

/* run_out - convert in steps */
static void run_out(const char *in, size_t len, size_t step, long lines, str_t *out)
{
    pop3d_out_t o;

    pop3d_out_init(&o, lines);
    for (size_t pos = 0; pos < len;) {
	size_t n = step == 0 || len - pos < step ? len - pos : step;

	pop3d_out_feed(&o, in + pos, n, out);
	pos += n;
    }
    pop3d_out_end(&o, out);
}

/* check_out - every step size gives want */
static void check_out(const char *in, long lines, const char *want)
{
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
	str_t *out = str_new(100);

	run_out(in, strlen(in), steps[i], lines, out);
	assert_string_equal(str_data(out), want);
	str_free(&out);
    }
}

/* test_out - CRLF on the wire, byte-stuffing, TOP */
static void test_out(void **state)
{
    check_out("A: 1\n\nbody\n", -1, "A: 1\r\n\r\nbody\r\n.\r\n");
    check_out("A: 1\r\n\r\nbody\r\n", -1, "A: 1\r\n\r\nbody\r\n.\r\n");
    check_out("A: 1\n\n.\n..x\n.\r\n", -1, "A: 1\r\n\r\n..\r\n...x\r\n..\r\n.\r\n");
    check_out("A: 1\n\nno newline", -1, "A: 1\r\n\r\nno newline\r\n.\r\n");
    check_out("", -1, ".\r\n");
    check_out("A: 1\nB: 2\n\nl1\nl2\nl3\n", 0, "A: 1\r\nB: 2\r\n\r\n.\r\n");
    check_out("A: 1\nB: 2\n\nl1\nl2\nl3\n", 2, "A: 1\r\nB: 2\r\n\r\nl1\r\nl2\r\n.\r\n");
    check_out("A: 1\r\n\r\n.l1\r\nl2\r\n", 1, "A: 1\r\n\r\n..l1\r\n.\r\n");
    check_out("A: 1\n\nl1\n", 10, "A: 1\r\n\r\nl1\r\n.\r\n");
    check_out("A: only header\n", 0, "A: only header\r\n.\r\n");
    check_out("x\ry\n", -1, "x\ry\r\n.\r\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_lines),   cmocka_unit_test(test_bounds),
	cmocka_unit_test(test_endless), cmocka_unit_test(test_auth_bound),
	cmocka_unit_test(test_out),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
