/*
 * test_anvil.c - anvil's counters (anvil/anvil_count.c): sessions,
 * rate windows, failed authentications, and forgetting idle entries, on
 * a clock the test turns.
 */
#include <stdio.h>
#include <string.h>

#include "unit_helpers.h"
#include "../../anvil/anvil.h"

#define UNIT 60000LL /* ms: anvil_rate_time_unit = 60s */

/* test_sessions - open sessions go up and down, never below zero */
static void test_sessions(void **state)
{
    anvil_table_t *t = anvil_table_new(UNIT);
    anvil_counts_t c;

    anvil_connect(t, "smtp:192.0.2.1", 1000, &c);
    assert_int_equal(c.count, 1);
    assert_int_equal(c.conn_rate, 1);
    anvil_connect(t, "smtp:192.0.2.1", 2000, &c);
    assert_int_equal(c.count, 2);
    assert_int_equal(c.conn_rate, 2);
    anvil_connect(t, "smtp:192.0.2.2", 2000, &c); /* another client */
    assert_int_equal(c.count, 1);
    anvil_disconnect(t, "smtp:192.0.2.1", 3000);
    assert_int_equal(anvil_lookup(t, "smtp:192.0.2.1", 3000, &c), 1);
    assert_int_equal(c.count, 1);
    assert_int_equal(c.conn_rate, 2); /* the rate does not go down */
    anvil_disconnect(t, "smtp:192.0.2.1", 3000);
    anvil_disconnect(t, "smtp:192.0.2.1", 3000);    /* one too many: ignored */
    anvil_disconnect(t, "smtp:198.51.100.9", 3000); /* unknown: ignored */
    assert_int_equal(anvil_lookup(t, "smtp:192.0.2.1", 3000, &c), 1);
    assert_int_equal(c.count, 0);
    assert_int_equal(anvil_lookup(t, "smtp:198.51.100.9", 3000, &c), 0);
    assert_int_equal(c.count + c.conn_rate + c.mail_rate + c.auth_rate, 0);
    anvil_table_free(&t);
    assert_null(t);
}

/* test_rate_window - a rate counts one window, then starts again */
static void test_rate_window(void **state)
{
    anvil_table_t *t = anvil_table_new(UNIT);
    anvil_counts_t c;

    for (int i = 0; i < 5; i++)
	anvil_connect(t, "smtp:192.0.2.1", 1000 + i, &c);
    assert_int_equal(c.conn_rate, 5);
    anvil_message(t, "smtp:192.0.2.1", 1000 + UNIT - 1, &c);
    anvil_message(t, "smtp:192.0.2.1", 1000 + UNIT - 1, &c);
    assert_int_equal(c.mail_rate, 2);
    assert_int_equal(c.conn_rate, 5);                    /* same window */
    anvil_connect(t, "smtp:192.0.2.1", 1000 + UNIT, &c); /* window over */
    assert_int_equal(c.conn_rate, 1);
    assert_int_equal(c.mail_rate, 0);
    assert_int_equal(c.count, 6); /* sessions are not a rate */
    assert_int_equal(anvil_lookup(t, "smtp:192.0.2.1", 1000 + 3 * UNIT, &c), 1);
    assert_int_equal(c.conn_rate, 0);
    anvil_table_free(&t);
}

/* test_auth_failures - counted per ident across sessions, per window */
static void test_auth_failures(void **state)
{
    anvil_table_t *t = anvil_table_new(UNIT);
    anvil_counts_t c;

    assert_int_equal(anvil_lookup(t, "submission:192.0.2.1", 0, &c), 0);
    assert_int_equal(c.auth_rate, 0);
    anvil_connect(t, "submission:192.0.2.1", 0, &c);
    anvil_auth_failure(t, "submission:192.0.2.1", 10, &c);
    anvil_auth_failure(t, "submission:192.0.2.1", 20, &c);
    anvil_disconnect(t, "submission:192.0.2.1", 30);
    anvil_connect(t, "submission:192.0.2.1", 40, &c); /* a new session */
    anvil_auth_failure(t, "submission:192.0.2.1", 50, &c);
    assert_int_equal(c.auth_rate, 3);
    assert_int_equal(c.mail_rate, 0);
    anvil_auth_failure(t, "smtp:192.0.2.1", 50, &c); /* another service */
    assert_int_equal(c.auth_rate, 1);
    assert_int_equal(anvil_lookup(t, "submission:192.0.2.1", UNIT - 1, &c), 1);
    assert_int_equal(c.auth_rate, 3);
    assert_int_equal(anvil_lookup(t, "submission:192.0.2.1", UNIT, &c), 1);
    assert_int_equal(c.auth_rate, 0); /* window over */
    assert_int_equal(c.count, 1);
    anvil_disconnect(t, "submission:192.0.2.1", UNIT);
    assert_int_equal(anvil_expire(t, 2 * UNIT), 2);
    anvil_table_free(&t);
}

/* test_expire - idle entries go, those with sessions or a live window stay */
static void test_expire(void **state)
{
    anvil_table_t *t = anvil_table_new(UNIT);
    anvil_counts_t c;

    anvil_connect(t, "smtp:busy", 0, &c); /* session stays open */
    anvil_connect(t, "smtp:gone", 0, &c);
    anvil_disconnect(t, "smtp:gone", 10);
    anvil_message(t, "smtp:late", UNIT / 2, &c);
    assert_int_equal(anvil_table_size(t), 3);
    assert_int_equal(anvil_expire(t, UNIT - 1), 0); /* windows still running */
    assert_int_equal(anvil_expire(t, UNIT), 1);     /* "gone" */
    assert_int_equal(anvil_lookup(t, "smtp:gone", UNIT, &c), 0);
    assert_int_equal(anvil_expire(t, UNIT / 2 + UNIT), 1); /* "late" */
    assert_int_equal(anvil_expire(t, 100 * UNIT), 0);      /* "busy" has a session */
    assert_int_equal(anvil_table_size(t), 1);
    anvil_disconnect(t, "smtp:busy", 100 * UNIT);
    assert_int_equal(anvil_expire(t, 100 * UNIT), 1);
    assert_int_equal(anvil_table_size(t), 0);
    anvil_table_free(&t);
}

/* test_many - many clients (an IPv6 scan): the table grows, then empties */
static void test_many(void **state)
{
    anvil_table_t *t = anvil_table_new(UNIT);
    anvil_counts_t c;
    char ident[64];

    for (int i = 0; i < 20000; i++) {
	snprintf(ident, sizeof(ident), "smtp:2001:db8::%x", i);
	anvil_connect(t, ident, i, &c);
	assert_int_equal(c.count, 1);
	anvil_disconnect(t, ident, i);
    }
    assert_int_equal(anvil_table_size(t), 20000);
    snprintf(ident, sizeof(ident), "smtp:2001:db8::%x", 12345);
    assert_int_equal(anvil_lookup(t, ident, 20000, &c), 1);
    assert_int_equal(c.conn_rate, 1);
    assert_int_equal(anvil_expire(t, 20000 + UNIT), 20000);
    assert_int_equal(anvil_table_size(t), 0);
    anvil_table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_sessions),      cmocka_unit_test(test_rate_window),
	cmocka_unit_test(test_auth_failures), cmocka_unit_test(test_expire),
	cmocka_unit_test(test_many),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
