/*
 * test_smtpd_dot.c - the DATA/BDAT content state machine, fed whole and
 * one byte at a time, including every published SMTP smuggling variant.
 */
#include <string.h>

#include "unit_helpers.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "global/smtpd_dot.h"

typedef struct {
    str_t *out; /* lines, each followed by '|' */
    int pieces; /* incomplete pieces seen */
} sink_t;

/* sink_line - collect lines as "line|" */
static void sink_line(void *ctx, const char *data, size_t len, int complete)
{
    sink_t *s = ctx;

    str_append(s->out, data, len);
    if (complete)
	str_appendc(s->out, '|');
    else
	s->pieces++;
}

/* run - feed input in steps of `step` bytes (0: all at once); returns
 * the result, the bytes used and the collected lines */
static int run(int mode, int bdat, int prev_crlf, const char *in, size_t len, size_t step,
	       size_t *used_r, str_t *out, int *pieces)
{
    smtpd_dot_t d;
    sink_t s = {out, 0};
    size_t pos = 0, used;
    int r = SMTPD_DOT_MORE;

    smtpd_dot_init(&d, mode, bdat, prev_crlf, sink_line, &s);
    while (pos < len && r == SMTPD_DOT_MORE) {
	size_t n = step == 0 || len - pos < step ? len - pos : step;

	r = smtpd_dot_feed(&d, in + pos, n, &used);
	pos += used;
    }
    if (bdat)
	smtpd_dot_flush(&d);
    *used_r = pos;
    if (pieces)
	*pieces = s.pieces;
    return r;
}

/* check - whole and byte-by-byte runs agree with the expectation */
static void check(int mode, int bdat, int prev_crlf, const char *in, int want_r, size_t want_used,
		  const char *want_lines)
{
    size_t steps[] = {0, 1, 2, 3, 7};

    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
	str_t *out = str_new(64);
	size_t used;
	int r = run(mode, bdat, prev_crlf, in, strlen(in), steps[i], &used, out, NULL);

	if (r != want_r || used != want_used || strcmp(str_data(out), want_lines) != 0)
	    fail_msg("input \"%s\" step %zu: got r=%d used=%zu lines \"%s\"; want r=%d used=%zu "
		     "lines \"%s\"",
		     in, steps[i], r, used, str_data(out), want_r, want_used, want_lines);
	str_free(&out);
    }
}

#define N SMTPD_DOT_MODE_NORMALIZE

/* test_plain - ordinary messages, pipelined commands after the end */
static void test_plain(void **state)
{
    check(N, 0, 1, "Subject: x\r\n\r\nbody\r\n.\r\n", SMTPD_DOT_END, 23, "Subject: x||body|");
    check(N, 0, 1, ".\r\n", SMTPD_DOT_END, 3, "");
    check(N, 0, 1, "\r\n.\r\n", SMTPD_DOT_END, 5, "|");
    check(N, 0, 1, "a\r\n.\r\nQUIT\r\n", SMTPD_DOT_END, 6, "a|");
    check(N, 0, 1, "a\r\nb", SMTPD_DOT_MORE, 4, "a|");
}

/* test_stuffing - leading dots are transparency, "." alone is special */
static void test_stuffing(void **state)
{
    check(N, 0, 1, "..a\r\n.\r\n", SMTPD_DOT_END, 8, ".a|");
    check(N, 0, 1, "..\r\n.\r\n", SMTPD_DOT_END, 7, ".|");
    check(N, 0, 1, ".x.\r\n.\r\n", SMTPD_DOT_END, 8, "x.|");
    check(N, 0, 1, "a.\r\n.\r\n", SMTPD_DOT_END, 7, "a.|");
}

/* test_line_endings - bare LF ends a content line, bare CR is data */
static void test_line_endings(void **state)
{
    check(N, 0, 1, "a\nb\r\n.\r\n", SMTPD_DOT_END, 8, "a|b|");
    check(N, 0, 1, "a\rb\r\n.\r\n", SMTPD_DOT_END, 8, "a\rb|");
    check(N, 0, 1, "a\r\r\n.\r\n", SMTPD_DOT_END, 7, "a\r|");
    check(N, 0, 1, "\r\r\r\n.\r\n", SMTPD_DOT_END, 7, "\r\r|");
}

/* test_smuggling - none of these is an end of DATA in NORMALIZE mode;
 * the text behind them stays content until the real CRLF.CRLF */
static void test_smuggling(void **state)
{
    check(N, 0, 1, "x\n.\nMAIL FROM:<a@b>\r\n.\r\n", SMTPD_DOT_END, 24, "x|.|MAIL FROM:<a@b>|");
    check(N, 0, 1, "x\r\n.\nMAIL\r\n.\r\n", SMTPD_DOT_END, 14, "x|.|MAIL|");
    check(N, 0, 1, "x\n.\r\nMAIL\r\n.\r\n", SMTPD_DOT_END, 14, "x|.|MAIL|");
    check(N, 0, 1, "x\r.\rMAIL\r\n.\r\n", SMTPD_DOT_END, 13, "x\r.\rMAIL|");
    check(N, 0, 1, "x\r\n.\rMAIL\r\n.\r\n", SMTPD_DOT_END, 14, "x|\rMAIL|");
    check(N, 0, 1, "x\r.\r\nMAIL\r\n.\r\n", SMTPD_DOT_END, 14, "x\r.|MAIL|");
    check(N, 0, 1, "x\r\n.\r\r\nMAIL\r\n.\r\n", SMTPD_DOT_END, 16, "x|\r|MAIL|");
    check(N, 0, 1, "x\n.\n", SMTPD_DOT_MORE, 4, "x|.|");
    /* the DATA command itself ended in a bare LF */
    check(N, 0, 0, ".\r\n", SMTPD_DOT_MORE, 3, ".|");
    check(N, 0, 0, ".\r\n.\r\n", SMTPD_DOT_END, 6, ".|");
}

/* test_modes - "yes" refuses bare LF; "no" is the legacy behaviour */
static void test_modes(void **state)
{
    size_t used;
    str_t *out = str_new(16);

    assert_int_equal(run(SMTPD_DOT_MODE_YES, 0, 1, "ab\nc", 4, 1, &used, out, NULL),
		     SMTPD_DOT_BARE_LF);
    assert_int_equal(used, 3);
    str_reset(out);
    assert_int_equal(run(SMTPD_DOT_MODE_YES, 0, 1, "a\r\n.\n", 5, 0, &used, out, NULL),
		     SMTPD_DOT_BARE_LF);
    str_free(&out);
    check(SMTPD_DOT_MODE_YES, 0, 1, "a\rb\r\n.\r\n", SMTPD_DOT_END, 8, "a\rb|");
    check(SMTPD_DOT_MODE_NO, 0, 1, "a\n.\nMAIL\r\n", SMTPD_DOT_END, 4, "a|");
    check(SMTPD_DOT_MODE_NO, 0, 1, "a\r\n.\nMAIL\r\n", SMTPD_DOT_END, 5, "a|");
}

/* test_bdat - no dot handling, unterminated last line flushed */
static void test_bdat(void **state)
{
    check(N, 1, 1, "a\r\n.\r\n..b\r\nc", SMTPD_DOT_MORE, 12, "a|.|..b|c|");
    check(N, 1, 1, "a\r\n", SMTPD_DOT_MORE, 3, "a|");
    check(N, 1, 1, "a\r", SMTPD_DOT_MORE, 2, "a\r|");
    check(N, 1, 1, "", SMTPD_DOT_MORE, 0, "");
}

/* test_long_line - long lines come out in bounded pieces */
static void test_long_line(void **state)
{
    size_t n = 3 * SMTPD_DOT_PIECE + 17, used;
    char *in = mr_alloc(n + 5);
    str_t *out = str_new(n);
    int pieces;

    memset(in, 'x', n);
    memcpy(in + n, "\r\n.\r\n", 5);
    assert_int_equal(run(N, 0, 1, in, n + 5, 1, &used, out, &pieces), SMTPD_DOT_END);
    assert_int_equal(used, n + 5);
    assert_int_equal(pieces, 3);
    assert_int_equal(str_len(out), n + 1);
    str_free(&out);
    mr_free(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_plain),        cmocka_unit_test(test_stuffing),
	cmocka_unit_test(test_line_endings), cmocka_unit_test(test_smuggling),
	cmocka_unit_test(test_modes),        cmocka_unit_test(test_bdat),
	cmocka_unit_test(test_long_line),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
