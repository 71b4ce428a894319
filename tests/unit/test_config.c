/*
 * test_config.c - mailroom.conf: syntax, expansion, typed values,
 * unknown names, overrides, reset, compatibility_level.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "global/config.h"
#include "util/msg.h"
#include "util/str.h"

/* load - write mailroom.conf with text and load it fresh */
static void load(const char *text)
{
    const char *error = NULL;

    unit_write_file(CONFIG_FILE, text);
    config_reset();
    assert_int_equal(config_load(unit_tmpdir(), &error), 0);
}

/* test_syntax - comments, blank lines, continuation lines */
static void test_syntax(void **state)
{
    load("# comment\n\nmyhostname = mx.example.com\n"
	 "mydestination = a.example,\n  b.example,\n\tc.example\n"
	 "  # not a continuation: comment lines are skipped\n"
	 "mynetworks=10.0.0.0/8\n");
    assert_string_equal(config_str("myhostname"), "mx.example.com");
    assert_string_equal(config_str("mydestination"), "a.example, b.example, c.example");
    assert_string_equal(config_str("mynetworks"), "10.0.0.0/8");
    assert_int_equal(config_line("myhostname"), 3);
    assert_int_equal(config_line("mydestination"), 4);
    assert_int_equal(config_line("mydomain"), 0);
}

/* test_expansion - $name, ${name}, defaults that refer to others */
static void test_expansion(void **state)
{
    load("myhostname = mx.example.com\nmydomain = example.com\n"
	 "mydestination = $myhostname, ${mydomain}x, localhost.$mydomain\n");
    assert_string_equal(config_str("mydestination"),
			"mx.example.com, example.comx, localhost.example.com");
    assert_string_equal(config_str("myorigin"), "mx.example.com");	/* default $myhostname */
    config_override("myhostname", "other.example");
    assert_string_equal(config_str("myorigin"), "other.example");
}

/* test_loop_is_fatal - a = $b, b = $a ends the process with exit 1 */
static void test_loop_is_fatal(void **state)
{
    int     status;
    pid_t   pid;

    load("myhostname = $mydomain\nmydomain = $myhostname\n");
    if ((pid = fork()) == 0) {
	msg_target(unit_write_file("loop.log", ""));
	config_str("myhostname");
	_exit(0);
    }
    assert_true(waitpid(pid, &status, 0) == pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 1);
}

/* test_unknown_reported - unknown names come back with file:line */
static void test_unknown_reported(void **state)
{
    str_t  *out = str_new(100);
    char    want[600];

    load("myhostname = x\n\nmyhostnmae = typo\nmydomain = d\n");
    assert_int_equal(config_problems(out, NULL), 1);
    snprintf(want, sizeof(want), "%s/%s:3: unknown parameter \"myhostnmae\"\n",
	     unit_tmpdir(), CONFIG_FILE);
    assert_string_equal(str_data(out), want);
    config_reset();
    str_reset(out);
    assert_int_equal(config_problems(out, NULL), 0);
    str_free(&out);
}

/* test_syntax_errors - a line without '=' is an error with file:line */
static void test_syntax_errors(void **state)
{
    const char *error = NULL;

    unit_write_file(CONFIG_FILE, "myhostname = x\nthis line has no equals\n");
    config_reset();
    assert_int_equal(config_load(unit_tmpdir(), &error), -1);
    assert_non_null(strstr(error, "mailroom.conf:2: missing '='"));
    assert_int_equal(config_load("/nonexistent-dir", &error), -1);
    assert_non_null(strstr(error, "/nonexistent-dir/mailroom.conf"));
}

/* test_typed - numbers, times, sizes, booleans with their units */
static void test_typed(void **state)
{
    load("max_idle = 2m\nservice_throttle_time = 1h\nmaster_stop_timeout = 7\n"
	 "max_use = 42\ndefault_chroot = YES\n");
    assert_int_equal(config_time("max_idle"), 120);
    assert_int_equal(config_time("service_throttle_time"), 3600);
    assert_int_equal(config_time("master_stop_timeout"), 7);
    assert_int_equal(config_int("max_use", 0, 100), 42);
    assert_true(config_bool("default_chroot"));
    config_override("max_use", "10k");
    assert_int_equal(config_size("max_use"), 10240);
    config_override("max_use", "3MB");
    assert_int_equal(config_size("max_use"), 3 * 1024 * 1024);
}

/* test_typed_bad_is_fatal - a bad time value ends the process */
static void test_typed_bad_is_fatal(void **state)
{
    int     status;
    pid_t   pid;

    load("max_idle = 5 fortnights\n");
    if ((pid = fork()) == 0) {
	msg_target(unit_write_file("bad.log", ""));
	config_time("max_idle");
	_exit(0);
    }
    assert_true(waitpid(pid, &status, 0) == pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
}

/* test_overrides - "-o name=value" on top of the file */
static void test_overrides(void **state)
{
    load("max_use = 5\n");
    assert_int_equal(config_parse_override("max_use = 7"), 0);
    assert_int_equal(config_int("max_use", 0, 100), 7);
    assert_int_equal(config_parse_override("no_such_parameter=1"), -1);
    assert_int_equal(config_parse_override("max_use"), -1);
    assert_int_equal(config_parse_override("=3"), -1);
}

/* test_reset - a value removed from the file falls back to its default */
static void test_reset(void **state)
{
    load("max_use = 5\n");
    assert_string_equal(config_str("max_use"), "5");
    load("\n");
    assert_string_equal(config_str("max_use"), "100");
}

/* test_compat_level - old default below the level, a note about it */
static void test_compat_level(void **state)
{
    str_t  *problems = str_new(100), *notes = str_new(100);

    load("myhostname = x\n");			/* no compatibility_level: 0 */
    assert_false(config_bool("default_chroot") == 0);
    config_problems(problems, notes);
    assert_non_null(strstr(str_data(notes), "default_chroot: using backwards-compatible "
			   "default \"yes\"; at compatibility_level 1"));
    str_reset(notes);
    load("compatibility_level = 2\n");
    assert_false(config_bool("default_chroot"));
    config_problems(problems, notes);
    assert_null(strstr(str_data(notes), "default_chroot"));
    load("default_chroot = yes\n");		/* explicit: no note */
    str_reset(notes);
    config_problems(problems, notes);
    assert_null(strstr(str_data(notes), "default_chroot"));
    str_free(&problems);
    str_free(&notes);
}

/* walk_count - config_walk callback counting non-defaults */
static void walk_count(const param_def_t *def, const char *value, int is_default, void *ctx)
{
    if (!is_default)
	(*(int *) ctx)++;
}

/* test_walk - config_walk marks exactly the file's values as non-default */
static void test_walk(void **state)
{
    int     n = 0;

    load("max_use = 5\nmyhostname = h\n");
    config_walk(walk_count, &n);
    assert_int_equal(n, 2);
}

int     main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_syntax),
	cmocka_unit_test(test_expansion),
	cmocka_unit_test(test_loop_is_fatal),
	cmocka_unit_test(test_unknown_reported),
	cmocka_unit_test(test_syntax_errors),
	cmocka_unit_test(test_typed),
	cmocka_unit_test(test_typed_bad_is_fatal),
	cmocka_unit_test(test_overrides),
	cmocka_unit_test(test_reset),
	cmocka_unit_test(test_compat_level),
	cmocka_unit_test(test_walk),
    };

    msg_init("test_config");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
