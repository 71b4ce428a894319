/*
 * test_spam_filter.c - the content filter's spam scanner with the
 * built-in scorer: fed in pieces of 1, 2, 3 and 7 bytes, a threshold from
 * the policy or the parameter, a spamd that is not there (an error, never
 * ham), the X-Spam header lines, the points syntax.
 */
#include <stdio.h>
#include <string.h>

#include "unit_helpers.h"
#include "util/str.h"
#include "global/config.h"
#include "global/bayes.h"
#include "global/spam_filter.h"
#include "global/spam_score.h"

#define MSG                                                                                        \
    "From: \"pay@bank.example\" <x@evil.example>\r\nDate: x\r\nMessage-ID: "                       \
    "<y>\r\n\r\nhello " SPAM_GTUBE "\r\n"

/* scan_steps - score MSG fed in steps */
static spam_verdict_t scan_steps(const char *msg, size_t step, int threshold)
{
    spam_policy_t policy = {.user = "alice@example.org", .threshold = threshold};
    size_t len = strlen(msg), pos = 0;
    spam_scan_t *s = spam_scan_start(&policy, (long long)len);
    spam_verdict_t v;

    while (pos < len) {
	size_t n = len - pos < step ? len - pos : step;

	spam_scan_feed(s, msg + pos, n);
	pos += n;
    }
    spam_scan_finish(&s, &v);
    assert_null(s);
    return v;
}

/* test_builtin - the same verdict for every step size */
static void test_builtin(void **state)
{
    size_t steps[] = {1, 2, 3, 7, 100000};

    config_override("spam_bayes", "no");
    config_override("filterd_spamd_address", "");
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
	spam_verdict_t v = scan_steps(MSG, steps[i], SPAM_POLICY_THRESHOLD_DEFAULT);

	assert_int_equal(v.status, SPAM_VERDICT_SPAM);
	assert_int_equal(v.score, 10020);
	assert_int_equal(v.threshold, 50);
	assert_string_equal(v.rules, "GTUBE,FROM_DISPLAY_ADDR");
	assert_string_equal(v.scanner, "builtin");
    }
    /* the policy's threshold, then the parameter's */
    assert_int_equal(scan_steps(MSG, 7, 10021).status, SPAM_VERDICT_HAM);
    config_override("spam_threshold", "1002");
    assert_int_equal(scan_steps(MSG, 7, SPAM_POLICY_THRESHOLD_DEFAULT).status, SPAM_VERDICT_SPAM);
    config_override("spam_threshold", "1002.1");
    assert_int_equal(scan_steps(MSG, 7, SPAM_POLICY_THRESHOLD_DEFAULT).status, SPAM_VERDICT_HAM);
    config_override("spam_threshold", "five");
    {
	spam_verdict_t v = scan_steps(MSG, 7, SPAM_POLICY_THRESHOLD_DEFAULT);

	assert_int_equal(v.status, SPAM_VERDICT_ERROR);
	assert_string_equal(v.reason, "spam_threshold is not a number of points");
    }
    config_override("spam_threshold", "5.0");
}

/* test_no_spamd - nobody at the address: an error with the reason */
static void test_no_spamd(void **state)
{
    char addr[300];
    spam_verdict_t v;

    snprintf(addr, sizeof(addr), "%s/no-spamd.sock", unit_tmpdir());
    config_override("filterd_spamd_address", addr);
    v = scan_steps(MSG, 3, SPAM_POLICY_THRESHOLD_DEFAULT);
    assert_int_equal(v.status, SPAM_VERDICT_ERROR);
    assert_string_equal(v.scanner, "spamd");
    assert_non_null(strstr(v.reason, "cannot connect to spamd at "));
    /* a size not known is an error with spamd */
    {
	spam_policy_t policy = {.threshold = SPAM_POLICY_THRESHOLD_DEFAULT};
	spam_scan_t *s = spam_scan_start(&policy, -1);

	spam_scan_feed(s, "x", 1);
	assert_int_equal(spam_scan_finish(&s, &v), SPAM_VERDICT_ERROR);
	assert_string_equal(v.reason, "cannot tell the message size");
    }
    config_override("spamd_max_size", "10");
    v = scan_steps(MSG, 3, SPAM_POLICY_THRESHOLD_DEFAULT);
    assert_int_equal(v.status, SPAM_VERDICT_UNSCANNED);
    assert_string_equal(v.reason, "message larger than 10 bytes, not scanned");
    config_override("filterd_spamd_address", "");
}

/* learn - teach user's Bayes database msg as spam or ham */
static void learn(const char *user, const char *msg, int spam)
{
    bayes_tokens_t t;
    bayes_t *b = NULL;
    const char *err = NULL;

    bayes_tokens_init(&t, 3000);
    bayes_tokens_feed(&t, msg, strlen(msg));
    bayes_tokens_end(&t);
    assert_int_equal(bayes_open(config_str("spam_bayes_directory"), user, 1, &b, &err), 1);
    assert_int_equal(bayes_learn(b, &t, spam, 0, &err), 1);
    bayes_close(&b);
    bayes_tokens_free(&t);
}

#define LETTER(word)                                                                               \
    "From: a@example.org\r\nDate: x\r\nMessage-ID: <z>\r\n\r\n" word " " word " " word "\r\n"

/* test_per_user - one pass over the message, then each user's Bayes
 * vote added to the rules found: the user who learned it as spam and the
 * one who learned it as ham differ; a user without a database gets the
 * rules alone */
static void test_per_user(void **state)
{
    const char *msg = LETTER("casino jackpot bonanza");
    spam_policy_t policy = {.user = "ham@example.org", .threshold = SPAM_POLICY_THRESHOLD_DEFAULT};
    spam_verdict_t v;
    spam_scan_t *s;
    char dir[300];

    snprintf(dir, sizeof(dir), "%s/bayes-per-user", unit_tmpdir());
    config_override("spam_bayes_directory", dir);
    config_override("spam_bayes", "yes");
    config_override("spam_bayes_per_user", "yes");
    config_override("spam_bayes_min_learned", "1");
    config_override("filterd_spamd_address", "");
    learn("spam@example.org", msg, 1);
    learn("spam@example.org", LETTER("minutes agenda review"), 0);
    learn("ham@example.org", msg, 0);
    learn("ham@example.org", LETTER("pills offer winner"), 1);
    assert_int_equal(spam_filter_per_user(), 1);
    s = spam_scan_start(&policy, (long long)strlen(msg));
    spam_scan_feed(s, msg, strlen(msg));
    assert_int_equal(spam_scan_end(s, &v), SPAM_VERDICT_HAM);
    assert_string_equal(v.rules, "BAYES_20");
    assert_int_equal(v.score, -2);
    assert_int_equal(spam_scan_other(s, "spam@example.org", -1, &v), SPAM_VERDICT_HAM);
    assert_string_equal(v.rules, "BAYES_80");
    assert_int_equal(v.score, 20);
    assert_int_equal(spam_scan_other(s, "nobody@example.org", -1, &v), SPAM_VERDICT_HAM);
    assert_string_equal(v.rules, "");
    assert_int_equal(v.score, 0);
    spam_scan_free(&s);
    assert_null(s);
    /* per-user scoring needs Bayes on and per user; spamd its own switch */
    config_override("spam_bayes", "no");
    assert_int_equal(spam_filter_per_user(), 0);
    config_override("filterd_spamd_address", "/nowhere.sock");
    assert_int_equal(spam_filter_per_user(), 0);
    config_override("filterd_spamd_per_user", "yes");
    assert_int_equal(spam_filter_per_user(), 1);
    config_override("filterd_spamd_per_user", "no");
    config_override("filterd_spamd_address", "");
    config_override("spam_bayes_per_user", "no");
}

/* test_headers - X-Spam lines, long rule lists folded */
static void test_headers(void **state)
{
    spam_verdict_t v = {
	.status = SPAM_VERDICT_SPAM, .score = 10033, .threshold = 50, .scanner = "spamd"};
    str_t *out = str_new(256);

    snprintf(v.rules, sizeof(v.rules), "GTUBE,MISSING_DATE");
    spam_filter_headers(&v, out);
    assert_string_equal(str_data(out), "X-Spam-Flag: YES\r\nX-Spam-Score: 1003.3\r\n"
				       "X-Spam-Status: Yes, score=1003.3 required=5.0 scanner=spamd"
				       " tests=GTUBE,\r\n\tMISSING_DATE\r\n");
    str_reset(out);
    v.status = SPAM_VERDICT_HAM;
    v.score = -5;
    v.rules[0] = 0;
    spam_filter_headers(&v, out);
    assert_string_equal(str_data(out), "X-Spam-Score: -0.5\r\nX-Spam-Status: No, score=-0.5"
				       " required=5.0 scanner=spamd tests=\r\n");
    str_reset(out);
    v.status = SPAM_VERDICT_UNSCANNED;
    spam_filter_headers(&v, out);
    assert_string_equal(str_data(out), "X-Spam-Status: Unscanned (too large)\r\n");
    str_free(&out);
}

/* test_points - the syntax of thresholds */
static void test_points(void **state)
{
    int t;

    assert_int_equal(spam_parse_points("5", &t), 0);
    assert_int_equal(t, 50);
    assert_int_equal(spam_parse_points("-1.5", &t), 0);
    assert_int_equal(t, -15);
    assert_int_equal(spam_parse_points("12.3", &t), 0);
    assert_int_equal(t, 123);
    assert_int_equal(spam_parse_points("1.25", &t), -1);
    assert_int_equal(spam_parse_points("", &t), -1);
    assert_int_equal(spam_parse_points("1.", &t), -1);
    assert_int_equal(spam_parse_points("9999999", &t), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_builtin),  cmocka_unit_test(test_no_spamd),
	cmocka_unit_test(test_per_user), cmocka_unit_test(test_headers),
	cmocka_unit_test(test_points),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
