/*
 * test_filterd_policy.c - the words of a filterd_policy_maps value, good
 * and bad, and policy comparison.
 */
#include <string.h>

#include "unit_helpers.h"
#include "../../filterd/filterd_policy.h"

static const filter_policy_t base = {.tag_level = 50, .kill_level = 200};

/* test_words - each word changes its field, the others stay */
static void test_words(void **state)
{
    filter_policy_t p = base;
    const char *err = NULL;

    assert_int_equal(filter_policy_parse("tag=2.0, kill=8.5 spam=reject", &p, &err), 0);
    assert_int_equal(p.tag_level, 20);
    assert_int_equal(p.kill_level, 85);
    assert_int_equal(p.spam_reject, 1);
    assert_int_equal(p.virus_reject, 0);
    assert_int_equal(p.bypass, 0);
    assert_int_equal(filter_policy_parse("VIRUS=Reject bypass=yes tag=-1.5", &p, &err), 0);
    assert_int_equal(p.virus_reject, 1);
    assert_int_equal(p.bypass, 1);
    assert_int_equal(p.tag_level, -15);
    assert_int_equal(filter_policy_parse("spam=quarantine bypass=no", &p, &err), 0);
    assert_int_equal(p.spam_reject, 0);
    assert_int_equal(p.bypass, 0);
    p = base;
    assert_int_equal(filter_policy_parse("", &p, &err), 0);
    assert_true(filter_policy_same(&p, &base));
}

/* test_bad - every bad word fails, naming the grammar */
static void test_bad(void **state)
{
    const char *bad[] = {"tag",   "tag=",         "tag=x",      "kill=1.2.3", "virus=drop",
			 "spam=", "bypass=maybe", "colour=red", "=5",         "tag=5 nonsense"};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
	filter_policy_t p = base;
	const char *err = NULL;

	if (filter_policy_parse(bad[i], &p, &err) != -1 || err == NULL)
	    fail_msg("\"%s\" was accepted", bad[i]);
    }
}

/* test_same - any field makes a difference */
static void test_same(void **state)
{
    filter_policy_t a = base, b = base;

    assert_true(filter_policy_same(&a, &b));
    b.bypass = 1;
    assert_false(filter_policy_same(&a, &b));
    b = base;
    b.kill_level++;
    assert_false(filter_policy_same(&a, &b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_words),
	cmocka_unit_test(test_bad),
	cmocka_unit_test(test_same),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
