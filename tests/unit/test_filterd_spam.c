/*
 * test_filterd_spam.c - the content filter's scoring users and groups:
 * distinct users in order, a recipient without a user (bypass), the
 * limit (then one score for all), per-user scoring off, and groups of
 * equal keys with NULL keys.
 */
#include <string.h>

#include "unit_helpers.h"
#include "../../filterd/filterd_spam.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* test_group - groups numbered in order of first appearance */
static void test_group(void **state)
{
    const char *keys[] = {"b", "a", "b", NULL, "c", "a", NULL, "b"};
    size_t group[N(keys)], want[] = {0, 1, 0, 2, 3, 1, 2, 0};

    assert_int_equal(filter_group(keys, N(keys), group), 4);
    for (size_t i = 0; i < N(keys); i++)
	assert_int_equal(group[i], want[i]);
    assert_int_equal(filter_group(keys, 0, group), 0);
    {
	const char *one[] = {"x"};

	assert_int_equal(filter_group(one, 1, group), 1);
	assert_int_equal(group[0], 0);
    }
}

/* test_users - one user per distinct recipient, in order; NULL is none */
static void test_users(void **state)
{
    const char *rcpts[] = {"a@x", "b@x", NULL, "a@x", "c@x"};
    const char *users[N(rcpts)];
    size_t of[N(rcpts)], want[] = {0, 1, 0, 0, 2};
    int over = -1;

    assert_int_equal(filter_spam_users(rcpts, N(rcpts), 1, 5, users, of, &over), 3);
    assert_int_equal(over, 0);
    assert_string_equal(users[0], "a@x");
    assert_string_equal(users[1], "b@x");
    assert_string_equal(users[2], "c@x");
    for (size_t i = 0; i < N(rcpts); i++)
	assert_int_equal(of[i], want[i]);
    /* exactly the limit is still per user */
    assert_int_equal(filter_spam_users(rcpts, N(rcpts), 1, 3, users, of, &over), 3);
    assert_int_equal(over, 0);
}

/* test_one_for_all - above the limit, per user off, or nobody with a
 * user: one score, user NULL, for every recipient */
static void test_one_for_all(void **state)
{
    const char *rcpts[] = {"a@x", "b@x", "c@x", "a@x"};
    const char *none[] = {NULL, NULL};
    const char *users[N(rcpts)];
    size_t of[N(rcpts)];
    int over = -1;

    assert_int_equal(filter_spam_users(rcpts, N(rcpts), 1, 2, users, of, &over), 1);
    assert_int_equal(over, 1);
    assert_null(users[0]);
    for (size_t i = 0; i < N(rcpts); i++)
	assert_int_equal(of[i], 0);
    assert_int_equal(filter_spam_users(rcpts, N(rcpts), 0, 5, users, of, &over), 1);
    assert_int_equal(over, 0);
    assert_null(users[0]);
    assert_int_equal(filter_spam_users(none, N(none), 1, 5, users, of, &over), 1);
    assert_int_equal(over, 0);
    assert_null(users[0]);
    assert_int_equal(of[0] + of[1], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_group),
	cmocka_unit_test(test_users),
	cmocka_unit_test(test_one_for_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
