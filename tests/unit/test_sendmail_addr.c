/*
 * test_sendmail_addr.c - sendmail's address-list scanner and command line.
 *
 * The code belongs to the sendmail program, not to the library: the test
 * links its objects (test_sendmail_addr_OBJS in tools/sendmail/Module.mk).
 */
#include <string.h>

#include "unit_helpers.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "../../tools/sendmail/sendmail.h"

/* collect - sm_addr_list callback: "a|b|c" */
static void collect(const char *addr, void *context)
{
    str_t *out = context;

    if (str_len(out))
	str_appendc(out, '|');
    str_appends(out, addr);
}

/* scan - the addresses of text, joined with | */
static char *scan(const char *text)
{
    static char buf[1000];
    str_t *out = str_new(100);

    sm_addr_list(text, collect, out);
    mr_strlcpy(buf, str_data(out), sizeof(buf));
    str_free(&out);
    return buf;
}

/* test_addr_forms - the shapes found in real To:/Cc: headers */
static void test_addr_forms(void **state)
{
    assert_string_equal(scan("a@x.test"), "a@x.test");
    assert_string_equal(scan(" A <a@x.test>, b@y.test "), "a@x.test|b@y.test");
    assert_string_equal(scan("\"Doe, John\" <j@x.test>"), "j@x.test");
    assert_string_equal(scan("j@x.test (John (the) Doe), k@x.test"), "j@x.test|k@x.test");
    assert_string_equal(scan("team: a@x.test, b@x.test;, c@x.test"), "a@x.test|b@x.test|c@x.test");
    assert_string_equal(scan("undisclosed-recipients:;"), "");
    assert_string_equal(scan("<@relay.test:u@x.test>"), "u@x.test");
    assert_string_equal(scan("\"odd user\"@x.test"), "\"odd user\"@x.test");
    assert_string_equal(scan("a@x.test,\n\tb@y.test"), "a@x.test|b@y.test");
    assert_string_equal(scan("root"), "root");
    assert_string_equal(scan("<>"), "");
    assert_string_equal(scan("unterminated <a@x.test"), "a@x.test");
    assert_string_equal(scan("(never closed a@x.test"), "");
}

/* test_rcpts_qualify_and_dedupe - bare names get the origin; no repeats */
static void test_rcpts_qualify_and_dedupe(void **state)
{
    sm_rcpts_t r = {0};

    sm_rcpts_add(&r, "bob", "origin.test");
    sm_rcpts_add(&r, "Bob@Origin.test", "origin.test");
    sm_rcpts_add(&r, "", "origin.test");
    sm_rcpts_add(&r, "c@x.test", "origin.test");
    assert_int_equal(r.count, 2);
    assert_string_equal(r.items[0], "bob@origin.test");
    assert_string_equal(r.items[1], "c@x.test");
    sm_rcpts_free(&r);
}

/* parse - run sm_opts_parse on a NULL-terminated list */
static int parse(sm_opts_t *o, const char **args)
{
    int argc = 0;

    while (args[argc])
	argc++;
    return sm_opts_parse(argc, (char **)args, o);
}

/* test_opts - the flags programs really pass */
static void test_opts(void **state)
{
    sm_opts_t o;
    const char *a1[] = {"sendmail", "-oi", "-t", "-fme@x.test", "-F", "Me", NULL};
    const char *a2[] = {"/usr/sbin/mailq", NULL};
    const char *a3[] = {"sendmail", "-q", NULL};
    const char *a4[] = {"sendmail", "-bd", NULL};
    const char *a5[] = {"sendmail", "-X", "/tmp/log", "-o", "A", "/etc/aliases", "-bi", NULL};
    const char *a6[] = {"sendmail", "-N", "Success,DELAY", "-R", "hdrs", "--", "-x@y", NULL};
    const char *a7[] = {"sendmail", "-q30m", NULL};
    const char *a8[] = {"sendmail", "-f", NULL};

    assert_int_equal(parse(&o, a1), 0);
    assert_true(o.ignore_dots && o.extract);
    assert_string_equal(o.sender, "me@x.test");
    assert_string_equal(o.fullname, "Me");
    assert_int_equal(parse(&o, a2), 0);
    assert_int_equal(o.mode, SM_MODE_MAILQ);
    assert_int_equal(parse(&o, a3), 0);
    assert_int_equal(o.mode, SM_MODE_FLUSH);
    assert_int_equal(parse(&o, a4), EX_USAGE);
    assert_int_equal(parse(&o, a5), 0);
    assert_int_equal(o.mode, SM_MODE_ALIASES);
    assert_string_equal(o.alias_file, "/etc/aliases");
    assert_int_equal(parse(&o, a6), 0);
    assert_string_equal(o.notify, "SUCCESS,DELAY");
    mr_free((void *)o.notify); /* the program keeps it for its lifetime */
    assert_string_equal(o.ret, "HDRS");
    assert_int_equal(o.rcpt_count, 1);
    assert_string_equal(o.rcpts[0], "-x@y");
    assert_int_equal(parse(&o, a7), 0); /* a daemon's interval: nothing to do */
    assert_int_equal(o.mode, SM_MODE_NOOP);
    assert_int_equal(parse(&o, a8), EX_USAGE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_addr_forms),
	cmocka_unit_test(test_rcpts_qualify_and_dedupe),
	cmocka_unit_test(test_opts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
