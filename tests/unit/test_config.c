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
#include "global/mail_params.h"
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
    assert_string_equal(config_str("myorigin"), "mx.example.com"); /* default $myhostname */
    config_override("myhostname", "other.example");
    assert_string_equal(config_str("myorigin"), "other.example");
}

/* test_loop_is_fatal - a = $b, b = $a ends the process with exit 1 */
static void test_loop_is_fatal(void **state)
{
    int status;
    pid_t pid;

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
    str_t *out = str_new(100);
    char want[600];

    load("myhostname = x\n\nmyhostnmae = typo\nmydomain = d\n");
    assert_int_equal(config_problems(out, NULL), 1);
    snprintf(want, sizeof(want), "%s/%s:3: unknown parameter \"myhostnmae\"\n", unit_tmpdir(),
	     CONFIG_FILE);
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
    int status;
    pid_t pid;

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
    str_t *problems = str_new(100), *notes = str_new(100);

    load("myhostname = x\n"); /* no compatibility_level: 0 */
    assert_false(config_bool("default_chroot") == 0);
    config_problems(problems, notes);
    assert_non_null(strstr(str_data(notes), "default_chroot: using backwards-compatible "
					    "default \"yes\"; at compatibility_level 1"));
    str_reset(notes);
    load("compatibility_level = 2\n");
    assert_false(config_bool("default_chroot"));
    config_problems(problems, notes);
    assert_null(strstr(str_data(notes), "default_chroot"));
    load("default_chroot = yes\n"); /* explicit: no note */
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
	(*(int *)ctx)++;
}

/* test_walk - config_walk marks exactly the file's values as non-default */
static void test_walk(void **state)
{
    int n = 0;

    load("max_use = 5\nmyhostname = h\n");
    config_walk(walk_count, &n);
    assert_int_equal(n, 2);
}

/* test_validate_types - check reports every bad value with file:line */
static void test_validate_types(void **state)
{
    str_t *out = str_new(100);
    char want[900];

    load("myhostname = x\nsmtpd_timeout = 5x\nmax_use = 2000000\n"
	 "default_chroot = perhaps\nmessage_size_limit = 10q\nmax_idle = 2m\n");
    assert_int_equal(config_validate(out), 4);
    snprintf(want, sizeof(want),
	     "%s/%s:2: smtpd_timeout = 5x: bad time value (expected a "
	     "number of seconds with an optional unit s, m, h, d or w)\n",
	     unit_tmpdir(), CONFIG_FILE);
    assert_non_null(strstr(str_data(out), want));
    assert_non_null(strstr(str_data(out), ":3: max_use = 2000000: out of range: the int "
					  "must be in [0..1000000]\n"));
    assert_non_null(strstr(str_data(out), ":4: default_chroot = perhaps: bad bool value "
					  "(expected yes or no)\n"));
    assert_non_null(strstr(str_data(out), ":5: message_size_limit = 10q: bad size value"));
    config_override("smtpd_timeout", "0");
    str_reset(out);
    config_validate(out);
    assert_non_null(strstr(str_data(out), "-o smtpd_timeout=0: out of range: the time must "
					  "be in [1..2147483647]\n"));
    str_free(&out);
}

/* test_value_syntax - the shared parser, unit by unit */
static void test_value_syntax(void **state)
{
    const param_def_t time_def = PARAM_TIME("t", "1", 0, 0, NULL);
    const param_def_t size_def = PARAM_SIZE("s", "1", 0, 0, NULL);
    const param_def_t bool_def = PARAM_BOOL("b", "no", NULL);
    const char *problem;
    long long n;

    assert_int_equal(config_value_check(&time_def, "2w", &n, &problem), 0);
    assert_int_equal(n, 2 * 604800);
    assert_int_equal(config_value_check(&time_def, "99999999999999999w", &n, &problem), -1);
    assert_int_equal(config_value_check(&time_def, "-1s", &n, &problem), -1);
    assert_int_equal(config_value_check(&time_def, "1ss", &n, &problem), -1);
    assert_int_equal(config_value_check(&time_def, "", &n, &problem), -1);
    assert_int_equal(config_value_check(&time_def, " 1", &n, &problem), -1);
    assert_int_equal(config_value_check(&size_def, "3GB", &n, &problem), 0);
    assert_int_equal(n, 3LL << 30);
    assert_int_equal(config_value_check(&size_def, "3kx", &n, &problem), -1);
    assert_int_equal(config_value_check(&bool_def, "TRUE", &n, &problem), 0);
    assert_int_equal(n, 1);
    assert_string_equal(config_type_name(PARAM_T_TABLE), "table");
}

/* test_fill - config_fill sets the declared variables, or says why not */
static void test_fill(void **state)
{
    const char *error = NULL;

    load("max_use = 7\nipc_timeout = 2m\n");
    assert_int_equal(config_fill(&error), 0);
    assert_int_equal(var_max_use, 7);
    assert_int_equal(var_ipc_timeout, 120);
    assert_int_equal(var_max_idle, 100);
    load("max_use = 8\nmax_idle = soon\n");
    assert_int_equal(config_fill(&error), -1);
    assert_non_null(strstr(error, "mailroom.conf:2: max_idle = soon: bad time value"));
    assert_int_equal(var_max_use, 8); /* the valid ones are set anyway */
}

/* test_untyped_entry - an entry in the old four-field form is a string */
static void test_untyped_entry(void **state)
{
    static const param_def_t old_style[] = {
	{"some_parameter", "value", 0, 0},
	{0, 0, 0, 0},
    };
    const char *problem;
    long long n;

    assert_int_equal(old_style[0].type, PARAM_T_STR);
    assert_null(old_style[0].str_var);
    assert_int_equal(config_value_check(&old_style[0], "anything at all", &n, &problem), 0);
}

/* test_defaults - config_default follows compatibility_level, ignores the file */
static void test_defaults(void **state)
{
    load("smtpd_timeout = 10s\n");
    assert_string_equal(config_default(config_find("smtpd_timeout")), "300s");
    assert_string_equal(config_default(config_find("default_chroot")), "yes");
    assert_string_equal(config_default(config_find("myorigin")), "$myhostname");
    load("compatibility_level = 2\n");
    assert_string_equal(config_default(config_find("default_chroot")), "no");
}

/* test_expansion_loop_reported - a loop is a check error, not a hang */
static void test_expansion_loop_reported(void **state)
{
    str_t *out = str_new(100);

    load("myhostname = a$mydomain\nmydomain = b${myorigin}\nmyorigin = $myhostname\n");
    assert_true(config_validate(out) >= 3);
    assert_non_null(strstr(str_data(out), ":1: myhostname = a$mydomain: parameter expansion "
					  "loop through $myhostname\n"));
    str_free(&out);
}

/* test_expansion_bomb - ten levels of ten references stop at the limit */
static void test_expansion_bomb(void **state)
{
    static const char *names[] = {
	"myhostname",
	"mydomain",
	"myorigin",
	"smtpd_banner",
	"recipient_delimiter",
	"virtual_mailbox_base",
	"command_directory",
	"daemon_directory",
	"data_directory",
	"mail_owner",
	"setgid_group",
    };
    str_t *text = str_new(1000), *out = str_new(100);
    int status;
    pid_t pid;

    for (int i = 0; i < 10; i++) {
	str_appendf(text, "%s =", names[i]);
	for (int j = 0; j < 10; j++)
	    str_appendf(text, " $%s", names[i + 1]);
	str_appendc(text, '\n');
    }
    str_appendf(text, "%s = 0123456789\n", names[10]);
    load(str_data(text));
    assert_true(config_validate(out) >= 1);
    assert_non_null(strstr(str_data(out), ":1: myhostname = $mydomain $mydomain"));
    assert_non_null(strstr(str_data(out), "makes the value longer than 1048576 bytes\n"));
    if ((pid = fork()) == 0) {
	msg_target(unit_write_file("bomb.log", ""));
	config_str("myhostname");
	_exit(0);
    }
    assert_true(waitpid(pid, &status, 0) == pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 1);
    str_free(&text);
    str_free(&out);
}

/* test_empty_fanout - references to empty values cost once each */
static void test_empty_fanout(void **state)
{
    static const char *names[] = {
	"myhostname",
	"mydomain",
	"myorigin",
	"smtpd_banner",
	"recipient_delimiter",
	"virtual_mailbox_base",
	"command_directory",
	"daemon_directory",
	"data_directory",
	"mail_owner",
	"setgid_group",
    };
    str_t *text = str_new(1000);

    for (int i = 0; i < 10; i++) {
	str_appendf(text, "%s =", names[i]);
	for (int j = 0; j < 1000; j++)
	    str_appendf(text, "$%s", names[i + 1]);
	str_appendc(text, '\n');
    }
    str_appendf(text, "%s =\n", names[10]);
    load(str_data(text));
    assert_string_equal(config_str("myhostname"), ""); /* 1000^10 references if uncached */
    str_free(&text);
}

/* test_long_line_is_whole - a value past any old buffer size stays one
 * value: the tail of a long banner must not become a parameter */
static void test_long_line_is_whole(void **state)
{
    str_t *text = str_new(20000);
    str_t *want = str_new(20000);

    str_appends(text, "smtpd_banner = ");
    for (int i = 0; i < 8192 - 1 - 15; i++) /* where an 8 KiB buffer would cut */
	str_appendc(want, 'a');
    str_appends(want, "mynetworks = 0.0.0.0/0 then");
    for (int i = 0; i < 9000; i++)
	str_appendc(want, 'b');
    str_appends(text, str_data(want));
    str_appends(text, "\nmyhostname = h\n");
    load(str_data(text));
    assert_string_equal(config_str("smtpd_banner"), str_data(want));
    assert_string_equal(config_str("mynetworks"), "127.0.0.0/8 [::1]/128");
    assert_int_equal(config_line("myhostname"), 2);
    str_free(&text);
    str_free(&want);
}

/* test_too_long_line - past CONFIG_VALUE_MAX: an error at its line */
static void test_too_long_line(void **state)
{
    str_t *text = str_new(CONFIG_VALUE_MAX + 100);
    const char *error = NULL;
    char want[600];

    str_appends(text, "myhostname = h\nsmtpd_banner = ");
    for (int i = 0; i < CONFIG_VALUE_MAX; i++)
	str_appendc(text, 'x');
    str_appends(text, "\n");
    unit_write_file(CONFIG_FILE, str_data(text));
    config_reset();
    assert_int_equal(config_load(unit_tmpdir(), &error), -1);
    snprintf(want, sizeof(want), "%s/%s:2: line longer than %d bytes", unit_tmpdir(), CONFIG_FILE,
	     CONFIG_VALUE_MAX);
    assert_string_equal(error, want);
    str_free(&text);
}

int main(void)
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
	cmocka_unit_test(test_validate_types),
	cmocka_unit_test(test_value_syntax),
	cmocka_unit_test(test_fill),
	cmocka_unit_test(test_untyped_entry),
	cmocka_unit_test(test_defaults),
	cmocka_unit_test(test_expansion_loop_reported),
	cmocka_unit_test(test_expansion_bomb),
	cmocka_unit_test(test_empty_fanout),
	cmocka_unit_test(test_long_line_is_whole),
	cmocka_unit_test(test_too_long_line),
    };

    msg_init("test_config");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
