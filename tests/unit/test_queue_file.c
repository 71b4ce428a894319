/*
 * test_queue_file.c - writing, committing, reading queue files; done
 * marks; every truncation and structural error is QFILE_CORRUPT.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "global/config.h"
#include "queue/qfile.h"
#include "queue/record.h"
#include "util/str.h"

/* image - a valid file with two recipients and a long line */
static str_t *image(void)
{
    str_t *s = str_new(100);

    rec_encode(s, REC_TYPE_TIME, "1700000000.000042", 17);
    rec_encode(s, REC_TYPE_SIZE, "000000000000031", 15);
    rec_encode(s, REC_TYPE_SENDER, "from@example.com", 16);
    rec_encode(s, REC_TYPE_RCPT, "a@example.com", 13);
    rec_encode(s, REC_TYPE_ORCPT, "rfc822;A@example.com", 20);
    rec_encode(s, REC_TYPE_NOTIFY, "FAILURE", 7);
    rec_encode(s, REC_TYPE_RCPT, "b@example.com", 13);
    rec_encode(s, REC_TYPE_ATTR, "client_addr=127.0.0.1", 21);
    rec_encode(s, REC_TYPE_MESG, "", 0);
    rec_encode(s, REC_TYPE_NORM, "Subject: t", 10);
    rec_encode(s, REC_TYPE_NORM, "", 0);
    rec_encode(s, REC_TYPE_CONT, "abc", 3);
    rec_encode(s, REC_TYPE_CONT, "def", 3);
    rec_encode(s, REC_TYPE_NORM, "gh", 2);
    rec_encode(s, REC_TYPE_END, "", 0);
    return s;
}

/* write_image - put bytes in a file; returns its path */
static const char *write_image(const char *name, const void *data, size_t len)
{
    static char path[400];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", unit_tmpdir(), name);
    assert_true((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0700)) >= 0);
    assert_int_equal(fchmod(fd, 0700), 0); /* marked ready */
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

/* test_read_envelope - all envelope fields and the content lines */
static void test_read_envelope(void **state)
{
    str_t *s = image(), *line = str_new(10);
    const char *path = write_image("good", str_data(s), str_len(s)), *why;
    qfile_t *qf;
    int complete;

    assert_int_equal(qfile_open(path, 1, &qf, &why), QFILE_OK);
    assert_int_equal(qf->arrival_sec, 1700000000);
    assert_int_equal(qf->arrival_usec, 42);
    assert_int_equal(qf->size, 31);
    assert_string_equal(qf->sender, "from@example.com");
    assert_int_equal(qf->rcpt_count, 2);
    assert_string_equal(qf->rcpts[0].address, "a@example.com");
    assert_string_equal(qf->rcpts[0].orcpt, "rfc822;A@example.com");
    assert_string_equal(qf->rcpts[0].notify, "FAILURE");
    assert_null(qf->rcpts[1].orcpt);
    assert_string_equal(attr_get(qf->attrs, "client_addr"), "127.0.0.1");
    assert_int_equal(qfile_line(qf, line, 1000, &complete, &why), 1);
    assert_string_equal(str_data(line), "Subject: t");
    assert_int_equal(qfile_line(qf, line, 1000, &complete, &why), 1);
    assert_string_equal(str_data(line), "");
    assert_int_equal(qfile_line(qf, line, 4, &complete, &why), 1);
    assert_string_equal(str_data(line), "abcdef");
    assert_false(complete);
    assert_int_equal(qfile_line(qf, line, 1000, &complete, &why), 1);
    assert_string_equal(str_data(line), "gh");
    assert_true(complete);
    assert_int_equal(qfile_line(qf, line, 1000, &complete, &why), 0);
    /* mark the second recipient done: only its type byte changes */
    assert_int_equal(qfile_rcpt_done(qf, 1, &why), 0);
    qfile_close(&qf);
    assert_int_equal(qfile_open(path, 0, &qf, &why), QFILE_OK);
    assert_false(qf->rcpts[0].done);
    assert_true(qf->rcpts[1].done);
    qfile_close(&qf);
    str_free(&line);
    str_free(&s);
}

/* test_truncated - every proper prefix is corrupt */
static void test_truncated(void **state)
{
    str_t *s = image();
    const char *why;
    qfile_t *qf = NULL;

    for (size_t cut = 0; cut < str_len(s); cut++) {
	const char *path = write_image("trunc", str_data(s), cut);

	assert_int_equal(qfile_open(path, 0, &qf, &why), QFILE_CORRUPT);
	assert_non_null(why);
    }
    assert_int_equal(qfile_open("/nonexistent/x", 0, &qf, &why), QFILE_MISSING);
    str_free(&s);
}

/* expect_corrupt - a file made of these records is rejected */
static void expect_corrupt(const char *what, const int *types, const char **values, int n)
{
    str_t *s = str_new(10);
    const char *why, *path;
    qfile_t *qf = NULL;

    for (int i = 0; i < n; i++)
	rec_encode(s, types[i], values[i], strlen(values[i]));
    path = write_image("bad", str_data(s), str_len(s));
    if (qfile_open(path, 0, &qf, &why) != QFILE_CORRUPT)
	fail_msg("not rejected: %s", what);
    str_free(&s);
}

/* test_structure - misplaced records */
static void test_structure(void **state)
{
    const int after_end[] = {'F', 'M', 'E', 'L'};
    const char *v4[] = {"", "", "", "x"};
    const int cont_end[] = {'F', 'M', 'C', 'E'};
    const int orcpt_first[] = {'O', 'F', 'M', 'E'};
    const char *v4o[] = {"x", "", "", ""};
    const int env_late[] = {'F', 'M', 'R', 'E'};
    const char *v4r[] = {"", "", "r", ""};
    const int no_mesg[] = {'F', 'L', 'E'};
    const char *v3[] = {"", "x", ""};
    const int bad_time[] = {'T', 'M', 'E'};
    const char *v3t[] = {"12x", "", ""};
    const int bad_attr[] = {'A', 'M', 'E'};
    const char *v3a[] = {"=x", "", ""};

    expect_corrupt("data after end", after_end, v4, 4);
    expect_corrupt("cont then end", cont_end, v4, 4);
    expect_corrupt("orcpt first", orcpt_first, v4o, 4);
    expect_corrupt("rcpt in content", env_late, v4r, 4);
    expect_corrupt("content without mesg", no_mesg, v3, 3);
    expect_corrupt("bad time", bad_time, v3t, 3);
    expect_corrupt("bad attr", bad_attr, v3a, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_read_envelope),
	cmocka_unit_test(test_truncated),
	cmocka_unit_test(test_structure),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
