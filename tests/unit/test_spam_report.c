/*
 * test_spam_report.c - the report spool: finding a message forwarded as
 * an attachment (and not finding one where there is none), writing
 * reports and learning them into a Bayes database, a file that is no
 * report moved to bad/.
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "unit_helpers.h"
#include "util/str.h"
#include "global/bayes.h"
#include "global/config.h"
#include "global/spam_report.h"

#define INNER "From: promo@deals.example\r\nSubject: cheap pills\r\n\r\nbuy now\r\n"

/* unwrap - the attached message of msg, or "" */
static const char *unwrap(const char *msg)
{
    static char out[1024];
    size_t off, len;

    if (!spam_report_unwrap(msg, strlen(msg), &off, &len))
	return "";
    snprintf(out, sizeof(out), "%.*s", (int)len, msg + off);
    return out;
}

/* test_unwrap - forwarded as attachment, in the shapes mail clients use */
static void test_unwrap(void **state)
{
    assert_string_equal(unwrap("From: a@b.example\r\nContent-Type: multipart/mixed;\r\n"
			       "\tboundary=\"XyZ\"\r\n\r\npreamble\r\n--XyZ\r\n"
			       "Content-Type: text/plain\r\n\r\nthis is spam\r\n--XyZ\r\n"
			       "Content-Type: message/rfc822\r\n"
			       "Content-Disposition: attachment\r\n\r\n" INNER "\r\n--XyZ--\r\n"),
			INNER);
    /* LF line ends, an unquoted boundary, any case */
    assert_string_equal(unwrap("content-type: Multipart/Mixed; boundary=b1; x=y\n\n--b1\n"
			       "CONTENT-TYPE: Message/RFC822\n\nSubject: s\n\nbody\n--b1--\n"),
			"Subject: s\n\nbody");
    /* no attachment, not multipart, no boundary, a part without end */
    assert_string_equal(unwrap("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
			       "Content-Type: text/plain\r\n\r\nhi\r\n--b--\r\n"),
			"");
    assert_string_equal(unwrap("Content-Type: text/plain\r\n\r\n--b\r\n"), "");
    assert_string_equal(unwrap("Content-Type: multipart/mixed\r\n\r\n--\r\n"), "");
    assert_string_equal(unwrap("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
			       "Content-Type: message/rfc822\r\n\r\nSubject: cut"),
			"");
    assert_string_equal(unwrap(""), "");
    assert_string_equal(unwrap("Subject: no body"), "");
    /* the Content-Type of the body is not the header's */
    assert_string_equal(unwrap("Subject: x\r\n\r\nContent-Type: multipart/mixed; boundary=b\r\n"
			       "--b\r\nContent-Type: message/rfc822\r\n\r\nx\r\n--b--\r\n"),
			"");
}

/* count - entries of a directory (not . and ..) */
static int count(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;

    if (d == NULL)
	return -1;
    while ((de = readdir(d)) != NULL)
	n += de->d_name[0] != '.';
    closedir(d);
    return n;
}

/* test_spool - write, learn, remove; a bad file to bad/ */
static void test_spool(void **state)
{
    char dir[300], bayes[300], path[400];
    spam_report_stats_t st;
    const char *error;
    bayes_t *b;
    long ns, nh;
    FILE *f;

    snprintf(dir, sizeof(dir), "%s/reports", unit_tmpdir());
    snprintf(bayes, sizeof(bayes), "%s/bayes", unit_tmpdir());
    config_override("filterd_spamd_address", "");
    config_override("spam_bayes_directory", bayes);
    /* nothing there yet: nothing to do */
    assert_int_equal(spam_report_run(dir, 10, &st, &error), 0);
    assert_int_equal(st.learned + st.failed + st.bad, 0);
    assert_int_equal(spam_report_write(dir, "alice@example.org", 1, INNER, strlen(INNER), &error),
		     0);
    assert_int_equal(spam_report_write(dir, NULL, 0, "Subject: hi\r\n\r\nlunch?\r\n", 23, &error),
		     0);
    assert_int_equal(spam_report_write(dir, "a\nb", 0, "x", 1, &error), -1);
    assert_string_equal(error, "unusable user name");
    snprintf(path, sizeof(path), "%s/new", dir);
    assert_int_equal(count(path), 2);
    snprintf(path, sizeof(path), "%s/new/bogus", dir);
    assert_non_null(f = fopen(path, "w"));
    fputs("mailroom-spam-report 1\nverdict=maybe\n\nx", f);
    fclose(f);
    assert_int_equal(spam_report_run(dir, 10, &st, &error), 0);
    assert_int_equal(st.learned, 2);
    assert_int_equal(st.bad, 1);
    assert_int_equal(st.failed, 0);
    snprintf(path, sizeof(path), "%s/new", dir);
    assert_int_equal(count(path), 0);
    snprintf(path, sizeof(path), "%s/bad", dir);
    assert_int_equal(count(path), 1);
    snprintf(path, sizeof(path), "%s/tmp", dir);
    assert_int_equal(count(path), 0);
    /* the global database learned the ham (alice's report went to the
     * global one too: spam_bayes_per_user is off) */
    assert_int_equal(bayes_open(bayes, NULL, 0, &b, &error), 1);
    assert_int_equal(bayes_totals(b, &ns, &nh, &error), 0);
    assert_true(ns == 1 && nh == 1);
    bayes_close(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_unwrap),
	cmocka_unit_test(test_spool),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
