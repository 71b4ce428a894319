/*
 * test_qid.c - queue IDs (charset, ordering, uniqueness across fork),
 * queue file path hashing, and wake-up triggers that name a queue ID.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "global/config.h"
#include "global/mail_proto.h"
#include "queue/mail_trigger.h"
#include "queue/qfile.h"
#include "util/str.h"

/* test_charset - 16 chars of [0-9A-Z], valid, time decodes */
static void test_charset(void **state)
{
    struct timeval tv = {1700000000, 999999};
    char id[QID_BUFSIZE];

    qid_make(id, &tv, 123456789UL);
    assert_int_equal(strlen(id), QID_LEN);
    assert_int_equal(strspn(id, "0123456789BCDFGHJKLMNPQRSTVWXYZ"), QID_LEN);
    assert_true(qid_valid(id));
    assert_int_equal(qid_time(id), 1700000000);
    assert_false(qid_valid(".t123.4"));
    assert_false(qid_valid("0123456789abcdef"));
    assert_false(qid_valid("0123456789ABCDE"));
    assert_false(qid_valid("0000000BBBBA0000")); /* a vowel */
    assert_false(qid_valid("0000000BBBBE0000"));
}

/* test_ordering - later times sort later as strings */
static void test_ordering(void **state)
{
    struct timeval a = {1700000000, 999999}, b = {1700000001, 0}, c = {1700000001, 1};
    char ia[QID_BUFSIZE], ib[QID_BUFSIZE], ic[QID_BUFSIZE];

    qid_make(ia, &a, 99999999UL);
    qid_make(ib, &b, 0);
    qid_make(ic, &c, 0);
    assert_true(strcmp(ia, ib) < 0);
    assert_true(strcmp(ib, ic) < 0);
    /* successive calls in one process are strictly increasing */
    qid_new(ia, 5);
    for (int i = 0; i < 1000; i++) {
	qid_new(ib, 5);
	assert_true(strcmp(ia, ib) < 0);
	memcpy(ia, ib, sizeof(ia));
    }
}

/* queue_setup - a queue directory with the given queues */
static void queue_setup(void)
{
    static int done;
    char path[400];
    const char *queues[] = {"incoming", "maildrop", "deferred", "corrupt"};

    if (done++)
	return;
    config_override("queue_directory", unit_tmpdir());
    for (size_t i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
	snprintf(path, sizeof(path), "%s/%s", unit_tmpdir(), queues[i]);
	assert_int_equal(mkdir(path, 0700), 0);
    }
}

/* make_files - create and commit n small queue files; 0 ok */
static int make_files(const char *queue, int n)
{
    const char *why;

    for (int i = 0; i < n; i++) {
	qfile_out_t *qo = qfile_create(queue, 0600, &why);

	if (qo == NULL)
	    return -1;
	if (stream_puts(qo->stream, "x") < 0 || qfile_commit(qo, &why) < 0) {
	    fprintf(stderr, "%s\n", why);
	    qfile_discard(&qo);
	    return -1;
	}
	qfile_discard(&qo);
    }
    return 0;
}

/* test_fork_unique - several processes committing at once never collide */
static void test_fork_unique(void **state)
{
    const int kids = 4, per = 250;
    qscan_t *qs;
    const char *why;
    char id[QID_BUFSIZE];
    int status, count = 0;

    queue_setup();
    for (int k = 0; k < kids; k++) {
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
	    _exit(make_files("deferred", per) == 0 ? 0 : 1);
    }
    for (int k = 0; k < kids; k++) {
	assert_true(wait(&status) > 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    }
    assert_non_null(qs = qscan_open("deferred", &why));
    while (qscan_next(qs, id))
	count++;
    qscan_close(&qs);
    assert_null(qs);
    assert_int_equal(count, kids * per);
}

/* test_hash_path - hashed queues get depth levels of one hex digit */
static void test_hash_path(void **state)
{
    str_t *p = str_new(10);
    const char *id = "0ABCDEFGHIJKLMNO";

    queue_setup();
    qfile_path(p, "maildrop", id);
    assert_string_equal(str_data(p), "maildrop/0ABCDEFGHIJKLMNO");
    qfile_path(p, "incoming", id);
    assert_int_equal(str_len(p), strlen("incoming/X/") + QID_LEN);
    assert_true(strchr("0123456789ABCDEF", str_data(p)[9]) != NULL);
    assert_int_equal(str_data(p)[10], '/');
    config_override("hash_queue_depth", "2");
    qfile_path(p, "deferred", id);
    assert_int_equal(str_len(p), strlen("deferred/X/Y/") + QID_LEN);
    config_override("hash_queue_depth", "0");
    qfile_path(p, "deferred", id);
    assert_string_equal(str_data(p), "deferred/0ABCDEFGHIJKLMNO");
    config_override("hash_queue_depth", "1");
    config_override("hash_queue_names", "deferred");
    qfile_path(p, "incoming", id);
    assert_string_equal(str_data(p), "incoming/0ABCDEFGHIJKLMNO");
    config_override("hash_queue_names", "incoming, active, deferred, hold, defer, bounce");
    qfile_abspath(p, "incoming", id);
    assert_true(strncmp(str_data(p), unit_tmpdir(), strlen(unit_tmpdir())) == 0);
    str_free(&p);
}

/* test_scan_skips_temp - temp files and strays are not queue files */
static void test_scan_skips_temp(void **state)
{
    const char *why;
    qfile_out_t *qo;
    qscan_t *qs;
    char id[QID_BUFSIZE];
    int count = 0;

    queue_setup();
    assert_non_null(qo = qfile_create("incoming", 0600, &why));
    unit_write_file("incoming/README", "stray");
    assert_non_null(qs = qscan_open("incoming", &why));
    while (qscan_next(qs, id))
	count++;
    qscan_close(&qs);
    assert_int_equal(count, 0);
    assert_int_equal(qfile_commit(qo, &why), 0);
    assert_non_null(qs = qscan_open("incoming", &why));
    assert_int_equal(qscan_next(qs, id), 1);
    assert_string_equal(id, qo->id);
    assert_int_equal(qscan_next(qs, id), 0);
    qscan_close(&qs);
    /* move to another queue and remove */
    assert_int_equal(qfile_move(qo->id, "incoming", "deferred", &why), 0);
    assert_int_equal(qfile_remove("deferred", qo->id, &why), 0);
    assert_int_equal(qfile_remove("deferred", qo->id, &why), -1);
    qfile_discard(&qo);
}

/* trigger_words - the requests of buf as text: "W" plain wake-up,
 * "W:ID" named one, "F" flush, "?" anything else */
static void trigger_words(str_t *out, const char *buf, size_t len)
{
    char id[QID_BUFSIZE];
    size_t pos = 0, last = 0;
    int req;

    str_set(out, "");
    while ((req = mail_trigger_next(buf, len, &pos, id)) >= 0) {
	assert_true(pos > last && pos <= len); /* progress, in bounds */
	last = pos;
	if (str_len(out))
	    str_appendc(out, ' ');
	if (req == TRIGGER_WAKEUP && *id)
	    str_appendf(out, "W:%s", id);
	else if (req == TRIGGER_WAKEUP || req == TRIGGER_FLUSH)
	    str_appendc(out, (char)req);
	else
	    str_appendc(out, '?');
    }
    assert_int_equal(pos, len);
}

/* test_trigger_named - named wake-ups, plain bytes, garbled names */
static void test_trigger_named(void **state)
{
    struct timeval tv = {1700000000, 5};
    char id[QID_BUFSIZE], want[200];
    str_t *buf = str_new(64), *out = str_new(64), *two = str_new(64);

    qid_make(id, &tv, 77);
    mail_trigger_named(buf, id);
    assert_int_equal(str_len(buf), QID_LEN + 2);
    trigger_words(out, str_data(buf), str_len(buf));
    snprintf(want, sizeof(want), "W:%s", id);
    assert_string_equal(str_data(out), want);
    /* two named wake-ups and a flush in one read; plain bytes as before */
    str_printf(two, "%sF%sW", str_data(buf), str_data(buf));
    trigger_words(out, str_data(two), str_len(two));
    snprintf(want, sizeof(want), "W:%s F W:%s W", id, id);
    assert_string_equal(str_data(out), want);
    trigger_words(out, "WWF", 3);
    assert_string_equal(str_data(out), "W W F");
    /* cut short: every byte on its own, nothing read past the end */
    trigger_words(out, str_data(buf), QID_LEN + 1);
    assert_int_equal(str_len(out), 2 * (QID_LEN + 1) - 1);
    assert_int_equal(str_data(out)[0], 'W');
    /* not an ID (a vowel, a NUL inside), or no newline: byte by byte */
    trigger_words(out, "WAAAAAAAAAAAAAAAA\n", QID_LEN + 2);
    assert_int_equal(strncmp(str_data(out), "W ?", 3), 0);
    memcpy(want, str_data(buf), QID_LEN + 2);
    want[5] = 0;
    trigger_words(out, want, QID_LEN + 2);
    assert_int_equal(strncmp(str_data(out), "W ", 2), 0);
    assert_null(strchr(str_data(out), ':'));
    want[5] = str_data(buf)[5];
    want[QID_LEN + 1] = 'x';
    trigger_words(out, want, QID_LEN + 2);
    assert_null(strchr(str_data(out), ':'));
    trigger_words(out, "", 0);
    assert_string_equal(str_data(out), "");
    str_free(&buf);
    str_free(&out);
    str_free(&two);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_charset),         cmocka_unit_test(test_ordering),
	cmocka_unit_test(test_fork_unique),     cmocka_unit_test(test_hash_path),
	cmocka_unit_test(test_scan_skips_temp), cmocka_unit_test(test_trigger_named),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
