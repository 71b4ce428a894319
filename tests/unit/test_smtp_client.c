/*
 * test_smtp_client.c - the SMTP client's reply parser (single and
 * multi-line replies, enhanced status codes, malformed and hostile
 * replies) and the xtext encoder.
 */
#include <string.h>

#include "unit_helpers.h"
#include "global/smtp_client.h"
#include "util/str.h"

/* feed - run lines through the parser; returns the last result */
static int feed(smtp_reply_t *r, const char *const *lines)
{
    smtp_reply_parser_t p;
    int ret = 0;

    smtp_reply_parser_init(&p, r);
    for (; *lines && ret == 0; lines++)
	ret = smtp_reply_feed(&p, r, *lines, strlen(*lines));
    return ret;
}

static void test_single_line(void **state)
{
    smtp_reply_t r;
    const char *const lines[] = {"250 2.0.0 Ok: queued as ABC\r\n", NULL};

    smtp_reply_init(&r);
    assert_int_equal(feed(&r, lines), 1);
    assert_int_equal(r.code, 250);
    assert_string_equal(r.dsn, "2.0.0");
    assert_string_equal(str_data(r.text), "250 2.0.0 Ok: queued as ABC");
    smtp_reply_free(&r);
}

static void test_multi_line(void **state)
{
    smtp_reply_t r;
    const char *const lines[] = {"550-5.1.1 first\r\n", "550-5.1.1 second\r\n",
				 "550 5.1.1 third\r\n", NULL};

    smtp_reply_init(&r);
    assert_int_equal(feed(&r, lines), 1);
    assert_int_equal(r.code, 550);
    assert_string_equal(r.dsn, "5.1.1");
    assert_string_equal(str_data(r.text), "550 5.1.1 first 5.1.1 second 5.1.1 third");
    smtp_reply_free(&r);
}

static void test_dsn_from_class(void **state)
{
    smtp_reply_t r;
    const char *const no_dsn[] = {"451 try later\r\n", NULL};
    const char *const wrong_class[] = {"451 5.1.1 wrong class\r\n", NULL};
    const char *const bare[] = {"250\r\n", NULL};

    smtp_reply_init(&r);
    assert_int_equal(feed(&r, no_dsn), 1);
    assert_string_equal(r.dsn, "4.0.0");
    assert_int_equal(feed(&r, wrong_class), 1);
    assert_string_equal(r.dsn, "4.0.0");
    assert_int_equal(feed(&r, bare), 1);
    assert_int_equal(r.code, 250);
    assert_string_equal(r.dsn, "2.0.0");
    smtp_reply_free(&r);
}

static void test_malformed(void **state)
{
    smtp_reply_t r;
    const char *const bad[][3] = {
	{"hello\r\n", NULL},        {"25\r\n", NULL},
	{"2500 x\r\n", NULL},       {"199 too low\r\n", NULL},
	{"600 too high\r\n", NULL}, {"250-a\r\n", "550 b\r\n", NULL}, /* code changes */
	{"25a ok\r\n", NULL},       {"\r\n", NULL},
    };

    smtp_reply_init(&r);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
	assert_int_equal(feed(&r, bad[i]), -1);
	assert_int_equal(r.code, 0); /* never success */
	assert_string_equal(r.dsn, "4.5.0");
    }
    smtp_reply_free(&r);
}

static void test_hostile_sizes(void **state)
{
    smtp_reply_t r;
    smtp_reply_parser_t p;
    str_t *big = str_new(8192);
    int ret = 0, n;

    /* endless continuation lines stop at the line bound */
    smtp_reply_init(&r);
    smtp_reply_parser_init(&p, &r);
    for (n = 0; n < 1000 && ret == 0; n++)
	ret = smtp_reply_feed(&p, &r, "250-more\r\n", 10);
    assert_int_equal(ret, -1);
    assert_int_equal(n, SMTP_CLIENT_REPLY_LINES + 1);
    /* long lines: the kept text is bounded, non-printables are not kept */
    str_set(big, "250-");
    for (int i = 0; i < 4000; i++)
	str_appendc(big, i % 2 ? 'x' : '\x01');
    smtp_reply_parser_init(&p, &r);
    for (int i = 0; i < 5; i++)
	assert_int_equal(smtp_reply_feed(&p, &r, str_data(big), str_len(big)), 0);
    assert_int_equal(smtp_reply_feed(&p, &r, "250 end", 7), 1);
    assert_true(str_len(r.text) <= SMTP_CLIENT_TEXT_MAX + 2);
    assert_null(memchr(str_data(r.text), '\x01', str_len(r.text)));
    str_free(&big);
    smtp_reply_free(&r);
}

static void test_xtext(void **state)
{
    str_t *out = str_new(64);

    smtp_xtext_encode(out, "a+b=c d\xe9");
    assert_string_equal(str_data(out), "a+2Bb+3Dc+20d+E9");
    str_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_single_line),    cmocka_unit_test(test_multi_line),
	cmocka_unit_test(test_dsn_from_class), cmocka_unit_test(test_malformed),
	cmocka_unit_test(test_hostile_sizes),  cmocka_unit_test(test_xtext),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
