/*
 * test_smtpd_addr.c - MAIL/RCPT argument and ESMTP parameter parsing.
 */
#include <string.h>

#include "unit_helpers.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "global/smtpd_addr.h"

/* split - run smtpd_addr_split on a copy; returns r, fills addr/params */
static int split(const char *in, const char *kw, char *addr, char *params)
{
    char *copy = mr_strdup(in), *a, *p;
    int r = smtpd_addr_split(copy, kw, &a, &p);

    if (r == 0) {
	mr_strlcpy(addr, a, 300);
	mr_strlcpy(params, p, 300);
    }
    mr_free(copy);
    return r;
}

/* test_split - the accepted and refused shapes of FROM:/TO: */
static void test_split(void **state)
{
    char a[300], p[300];

    assert_int_equal(split("FROM:<a@b.c>", "FROM", a, p), 0);
    assert_string_equal(a, "a@b.c");
    assert_string_equal(p, "");
    assert_int_equal(split("from: <a@b> SIZE=10  BODY=8BITMIME", "FROM", a, p), 0);
    assert_string_equal(a, "a@b");
    assert_string_equal(p, "SIZE=10  BODY=8BITMIME");
    assert_int_equal(split("FROM:<>", "FROM", a, p), 0);
    assert_string_equal(a, "");
    assert_int_equal(split("TO:<@x,@y:u@d>", "TO", a, p), 0);
    assert_string_equal(a, "u@d");
    assert_int_equal(split("TO:u@d NOTIFY=NEVER", "TO", a, p), 0);
    assert_string_equal(a, "u@d");
    assert_string_equal(p, "NOTIFY=NEVER");
    assert_int_equal(split("TO:<\"a>b\"@d>", "TO", a, p), 0);
    assert_string_equal(a, "\"a>b\"@d");
    assert_int_equal(split("TO:<u@d", "TO", a, p), -1);
    assert_int_equal(split("TO:<u@d>x", "TO", a, p), -1);
    assert_int_equal(split("TO <u@d>", "TO", a, p), -1);
    assert_int_equal(split("FROM:<u@d>", "TO", a, p), -1);
    assert_int_equal(split("TO:", "TO", a, p), -1);
    assert_int_equal(split("TO:<<u@d>>", "TO", a, p), -1);
}

/* test_check - mailbox syntax */
static void test_check(void **state)
{
    char big[400];

    assert_int_equal(smtpd_addr_check("alice@mailroom.test", 0), SMTPD_ADDR_OK);
    assert_int_equal(smtpd_addr_check("postmaster", 0), SMTPD_ADDR_OK);
    assert_int_equal(smtpd_addr_check("a.b+c@[127.0.0.1]", 0), SMTPD_ADDR_OK);
    assert_int_equal(smtpd_addr_check("\"a b\"@d", 0), SMTPD_ADDR_OK);
    assert_int_equal(smtpd_addr_check("a..b@d", 0), SMTPD_ADDR_BAD);
    assert_int_equal(smtpd_addr_check(".a@d", 0), SMTPD_ADDR_BAD);
    assert_int_equal(smtpd_addr_check("a b@d", 0), SMTPD_ADDR_BAD);
    assert_int_equal(smtpd_addr_check("a@d..e", 0), SMTPD_ADDR_BAD);
    assert_int_equal(smtpd_addr_check("a@-d", 0), SMTPD_ADDR_BAD);
    assert_int_equal(smtpd_addr_check("a@", 0), SMTPD_ADDR_BAD);
    assert_int_equal(smtpd_addr_check("@d", 0), SMTPD_ADDR_BAD);
    assert_int_equal(smtpd_addr_check("a\001@d", 0), SMTPD_ADDR_BAD);
    assert_int_equal(smtpd_addr_check("\"a@d", 0), SMTPD_ADDR_BAD);
    assert_int_equal(smtpd_addr_check("j\xc3\xb6rg@d", 0), SMTPD_ADDR_UTF8);
    assert_int_equal(smtpd_addr_check("j\xc3\xb6rg@d", 1), SMTPD_ADDR_OK);
    /* SMTPUTF8 needs well-formed UTF-8: no stray, truncated or overlong
     * sequences, no surrogates */
    assert_int_equal(smtpd_addr_check("j\xb6rg@d", 1), SMTPD_ADDR_BAD_UTF8);
    assert_int_equal(smtpd_addr_check("j\xc3@d", 1), SMTPD_ADDR_BAD_UTF8);
    assert_int_equal(smtpd_addr_check("j\xc0\xafrg@d", 1), SMTPD_ADDR_BAD_UTF8);
    assert_int_equal(smtpd_addr_check("j\xe0\x80\xafrg@d", 1), SMTPD_ADDR_BAD_UTF8);
    assert_int_equal(smtpd_addr_check("j\xed\xa0\x80@d", 1), SMTPD_ADDR_BAD_UTF8);
    assert_int_equal(smtpd_addr_check("a@d\xff", 1), SMTPD_ADDR_BAD_UTF8);
    assert_int_equal(smtpd_addr_check("j\xc3\xb6rg@\xc3\xa9.d", 1), SMTPD_ADDR_OK);
    memset(big, 'a', sizeof(big) - 3);
    memcpy(big + sizeof(big) - 3, "@d", 3);
    assert_int_equal(smtpd_addr_check(big, 1), SMTPD_ADDR_BAD);
}

/* test_params - ESMTP parameters, xtext, SIZE, NOTIFY */
static void test_params(void **state)
{
    char buf[] = " SIZE=100 SMTPUTF8  RET=HDRS bad_name=x";
    char *cp = buf, *n, *v;
    str_t *s = str_new(10);
    long long size;

    assert_int_equal(smtpd_param_next(&cp, &n, &v), 1);
    assert_string_equal(n, "SIZE");
    assert_string_equal(v, "100");
    assert_int_equal(smtpd_param_next(&cp, &n, &v), 1);
    assert_string_equal(n, "SMTPUTF8");
    assert_null(v);
    assert_int_equal(smtpd_param_next(&cp, &n, &v), 1);
    assert_int_equal(smtpd_param_next(&cp, &n, &v), -1);
    assert_int_equal(smtpd_param_next(&cp, &n, &v), 0);
    assert_int_equal(smtpd_xtext_decode("a+2Bb+3D", s), 0);
    assert_string_equal(str_data(s), "a+b=");
    assert_int_equal(smtpd_xtext_decode("a+2", s), -1);
    assert_int_equal(smtpd_xtext_decode("a+2b", s), -1);
    assert_int_equal(smtpd_xtext_decode("a+0A", s), -1);
    assert_int_equal(smtpd_size_parse("12345", &size), 0);
    assert_true(size == 12345);
    assert_int_equal(smtpd_size_parse("99999999999999999999999", &size), 0);
    assert_true(size > 1000000000000LL);
    assert_int_equal(smtpd_size_parse("-1", &size), -1);
    assert_int_equal(smtpd_size_parse("", &size), -1);
    assert_int_equal(smtpd_notify_check("NEVER"), 0);
    assert_int_equal(smtpd_notify_check("success,FAILURE,delay"), 0);
    assert_int_equal(smtpd_notify_check("SUCCESS,"), -1);
    assert_int_equal(smtpd_notify_check("NEVER,SUCCESS"), -1);
    assert_int_equal(smtpd_notify_check(""), -1);
    str_free(&s);
}

/* rcpt_dsn - run smtpd_rcpt_dsn_param on copies of name and value */
static int rcpt_dsn(const char *name, const char *value, char **notify, char **orcpt)
{
    char *n = mr_strdup(name), *v = value ? mr_strdup(value) : NULL;
    str_t *tmp = str_new(16);
    int r = smtpd_rcpt_dsn_param(n, v, notify, orcpt, tmp);

    str_free(&tmp);
    mr_free(v);
    mr_free(n);
    return r;
}

/* test_rcpt_dsn - NOTIFY= and ORCPT= of RCPT, each once, nothing else */
static void test_rcpt_dsn(void **state)
{
    char *notify = NULL, *orcpt = NULL;

    (void)state;
    assert_int_equal(rcpt_dsn("notify", "SUCCESS,DELAY", &notify, &orcpt), 0);
    assert_string_equal(notify, "SUCCESS,DELAY");
    assert_int_equal(rcpt_dsn("NOTIFY", "NEVER", &notify, &orcpt), -1);
    assert_int_equal(rcpt_dsn("ORCPT", "rfc822;a+2Bb@example.org", &notify, &orcpt), 0);
    assert_string_equal(orcpt, "rfc822;a+b@example.org");
    assert_int_equal(rcpt_dsn("ORCPT", "rfc822;c@example.org", &notify, &orcpt), -1);
    mr_free(notify);
    mr_free(orcpt);
    notify = orcpt = NULL;
    assert_int_equal(rcpt_dsn("NOTIFY", "SOMETIMES", &notify, &orcpt), -1);
    assert_int_equal(rcpt_dsn("NOTIFY", NULL, &notify, &orcpt), -1);
    assert_int_equal(rcpt_dsn("ORCPT", ";a@b", &notify, &orcpt), -1);
    assert_int_equal(rcpt_dsn("ORCPT", "rfc822", &notify, &orcpt), -1);
    assert_int_equal(rcpt_dsn("ORCPT", "rfc822;", &notify, &orcpt), -1);
    assert_int_equal(rcpt_dsn("ORCPT", "rfc822;a+ZZb", &notify, &orcpt), -1);
    assert_int_equal(rcpt_dsn("SIZE", "10", &notify, &orcpt), -1);
    assert_null(notify);
    assert_null(orcpt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_split),
	cmocka_unit_test(test_check),
	cmocka_unit_test(test_params),
	cmocka_unit_test(test_rcpt_dsn),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
