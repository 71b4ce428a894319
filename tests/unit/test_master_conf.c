/*
 * test_master_conf.c - the master.conf parser: fields, defaults,
 * continuation lines, and one "file:line: problem" per mistake.
 */
#include <string.h>

#include "unit_helpers.h"
#include "../../master/master_conf.h"
#include <stdlib.h>

#include "util/msg.h"
#include "util/str.h"

/* parse - parse text as "m.conf"; returns the problem count */
static int parse(const char *text, master_conf_t **conf_r, str_t *errors)
{
    str_reset(errors);
    return master_conf_parse_text("m.conf", text, conf_r, errors);
}

/* test_good - every column, defaults, continuation, comments */
static void test_good(void **state)
{
    str_t *err = str_new(100);
    master_conf_t *conf;
    master_ent_t *e;

    assert_int_equal(parse("# comment\n"
			   "127.0.0.1:2525 inet n y n - 100 smtpd\n"
			   "\n"
			   "cleanup unix - - - - 0 cleanup\n"
			   "pickup  fifo n y y 60? 1 pickup\n"
			   "  -o max_use=5\n"
			   "    # indented comment\n"
			   "  -v\n",
			   &conf, err),
		     0);
    assert_string_equal(str_data(err), "");
    assert_int_equal(conf->count, 3);
    e = &conf->ents[0];
    assert_string_equal(e->service, "127.0.0.1:2525");
    assert_int_equal(e->type, MASTER_TYPE_INET);
    assert_int_equal(e->private_flag, 0);
    assert_int_equal(e->unpriv_flag, 1);
    assert_int_equal(e->wakeup, 0);
    assert_int_equal(e->maxproc, 100);
    assert_int_equal(e->line, 2);
    e = &conf->ents[1];
    assert_int_equal(e->private_flag, MASTER_FLAG_DEFAULT);
    assert_int_equal(e->maxproc, 0);
    e = &conf->ents[2];
    assert_int_equal(e->type, MASTER_TYPE_FIFO);
    assert_int_equal(e->wakeup, 60);
    assert_int_equal(e->line, 5);
    assert_int_equal(e->argc, 4);
    assert_string_equal(e->argv[0], "pickup");
    assert_string_equal(e->argv[1], "-o");
    assert_string_equal(e->argv[2], "max_use=5");
    assert_string_equal(e->argv[3], "-v");
    assert_null(e->argv[4]);
    master_conf_free(&conf);
    assert_null(conf);
    str_free(&err);
}

/* test_address - where each kind of service listens */
static void test_address(void **state)
{
    str_t *err = str_new(100);
    master_conf_t *conf;
    char *a;

    assert_int_equal(parse("2525 inet n y n - - smtpd\n"
			   "[::1]:25 inet n y n - - smtpd\n"
			   "cleanup unix y y n - - cleanup\n"
			   "qmgr unix n y n 300 1 qmgr\n"
			   "tabled unix - y n - - tabled\n",
			   &conf, err),
		     0);
    const char *want[] = {":2525", "[::1]:25", "/q/private/cleanup", "/q/public/qmgr",
			  "/q/private/tabled"};

    for (int i = 0; i < 5; i++) {
	a = master_ent_address(&conf->ents[i], "/q");
	assert_string_equal(a, want[i]);
	free(a);
    }
    master_conf_free(&conf);
    str_free(&err);
}

/* test_problems - each mistake is one line naming file and line */
static void test_problems(void **state)
{
    str_t *err = str_new(100);
    master_conf_t *conf;

    assert_int_equal(parse("smtp inet n y n - 100\n"                /* 1: 7 fields */
			   "x tcp n y n - 1 smtpd\n"                /* 2: type */
			   "99999 inet n y n - 1 smtpd\n"           /* 3: port */
			   "a/b unix n y n - 1 cleanup\n"           /* 4: name */
			   "c unix yes y n - 1 cleanup\n"           /* 5: flag */
			   "d unix n y n soon 1 cleanup\n"          /* 6: wakeup */
			   "e unix n y n - many cleanup\n"          /* 7: maxproc */
			   "f unix n y n - 1 /bin/sh\n"             /* 8: path */
			   "g unix n y n - 1 cleanup -o nosuch=1\n" /* 9 */
			   "h unix n y n - 1 cleanup -o\n"          /* 10 */
			   "i unix n y n - 1 cleanup --debug\n"     /* 11 */
			   "j unix n y n - 1 cleanup\n"             /* 12: ok */
			   "j unix n y n - 1 cleanup\n",            /* 13: dup */
			   &conf, err),
		     12);
    const char *want =
	"m.conf:1: expected at least 8 fields (service type private unpriv chroot wakeup "
	"maxproc command), found 7\n"
	"m.conf:2: unknown service type \"tcp\" (expected inet, unix or fifo)\n"
	"m.conf:3: bad port \"99999\" in \"99999\"\n"
	"m.conf:4: bad socket name \"a/b\" (a plain name of at most 64 characters, "
	"without '/')\n"
	"m.conf:5: private column must be y, n or - (found \"yes\")\n"
	"m.conf:6: wakeup column must be a number or - (found \"soon\")\n"
	"m.conf:7: maxproc column must be a number or - (found \"many\")\n"
	"m.conf:8: command \"/bin/sh\" must be a program name in daemon_directory, "
	"not a path\n"
	"m.conf:9: unknown parameter \"nosuch\" in -o nosuch=1\n"
	"m.conf:10: -o needs a name=value argument\n"
	"m.conf:11: unexpected argument \"--debug\" (only -o name=value and -v are allowed)\n"
	"m.conf:13: service \"j\" (unix) is already defined at line 12\n";

    assert_string_equal(str_data(err), want);
    master_conf_free(&conf);
    str_free(&err);
}

/* test_missing_file - cannot open: -1 and the reason */
static void test_missing_file(void **state)
{
    str_t *err = str_new(100);
    master_conf_t *conf = NULL;

    assert_int_equal(master_conf_read("/nonexistent/master.conf", &conf, err), -1);
    assert_null(conf);
    assert_string_equal(str_data(err), "/nonexistent/master.conf: No such file or directory\n");
    str_free(&err);
}

/* test_hostile - long lines and many fields do not break the parser */
static void test_hostile(void **state)
{
    str_t *err = str_new(100), *text = str_new(100000);
    master_conf_t *conf;

    str_appends(text, "x unix n y n - 1 cleanup");
    for (int i = 0; i < 5000; i++)
	str_appends(text, " -v");
    str_appends(text, "\n");
    for (int i = 0; i < 3000; i++)
	str_appendc(text, 'a');
    str_appends(text, " inet n y n - 1 smtpd\n\n\n\r\n");
    assert_int_equal(parse(str_data(text), &conf, err), 2);
    assert_non_null(strstr(str_data(err), "m.conf:1: too many fields"));
    assert_non_null(strstr(str_data(err), "m.conf:2: bad inet service"));
    assert_int_equal(conf->count, 0);
    master_conf_free(&conf);
    str_free(&text);
    str_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_good),     cmocka_unit_test(test_address),
	cmocka_unit_test(test_problems), cmocka_unit_test(test_missing_file),
	cmocka_unit_test(test_hostile),
    };

    msg_init("test_master_conf");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
