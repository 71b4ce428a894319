/*
 * test_queue_seal.c - the END record's seal (queue/qfile.h, "Seal"): its
 * format, the sum rule (a done mark keeps the sum), qfile_open refusing
 * every single flipped bit, another ID, and the mixes of two files a
 * power loss can leave; legacy files without a seal; the content
 * reader's own check at END.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "queue/qfile.h"
#include "queue/record.h"
#include "util/crc32c.h"
#include "util/str.h"

#define BODY_LINES 40

/* make_id - a queue ID from a number */
static void make_id(char id[QID_BUFSIZE], unsigned long n)
{
    struct timeval tv = {.tv_sec = 1700000000, .tv_usec = (long)n};

    qid_make(id, &tv, n);
}

/* add - one record into the image and the running sum */
static void add(str_t *s, uint32_t *sum, int type, const char *value)
{
    rec_encode(s, type, value, strlen(value));
    *sum = rec_sum(*sum, type, value, strlen(value));
}

/* image - a sealed file for id whose body lines say who (same layout for
 * every who of the same length); seal 0: legacy empty END */
static str_t *image(const char *id, const char *who, int seal)
{
    str_t *s = str_new(4096);
    char buf[200], end[QFILE_SEAL_BUFSIZE];
    uint32_t sum = 0;

    add(s, &sum, REC_TYPE_SIZE, "000000000001234");
    add(s, &sum, REC_TYPE_TIME, "1700000000.000042");
    snprintf(buf, sizeof(buf), "%s=%s", QFILE_ID_ATTR, id);
    add(s, &sum, REC_TYPE_ATTR, buf);
    add(s, &sum, REC_TYPE_SENDER, "from@example.com");
    add(s, &sum, REC_TYPE_RCPT, "a@example.com");
    add(s, &sum, REC_TYPE_RCPT, "b@example.com");
    add(s, &sum, REC_TYPE_MESG, "");
    add(s, &sum, REC_TYPE_NORM, "Subject: t");
    add(s, &sum, REC_TYPE_NORM, "");
    for (int i = 0; i < BODY_LINES; i++) {
	snprintf(buf, sizeof(buf), "line %02d of the message for %s", i, who);
	add(s, &sum, REC_TYPE_NORM, buf);
    }
    qfile_seal_format(end, id, sum);
    rec_encode(s, REC_TYPE_END, end, seal ? QFILE_SEAL_LEN : 0);
    return s;
}

/* write_file - bytes into tmpdir/id, marked ready; returns the path */
static const char *write_file(const char *id, const void *data, size_t len)
{
    static char path[400];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", unit_tmpdir(), id);
    assert_true((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0700)) >= 0);
    assert_int_equal(fchmod(fd, 0700), 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return path;
}

/* open_status - qfile_open's verdict on bytes stored as id */
static int open_status(const char *id, const void *data, size_t len, const char **why_r)
{
    qfile_t *qf = NULL;
    int st = qfile_open(write_file(id, data, len), 0, &qf, why_r);

    qfile_close(&qf);
    return st;
}

/* read_all - every content line; the last qfile_line return */
static int read_all(qfile_t *qf, const char **why_r)
{
    str_t *line = str_new(100);
    int complete, ret;

    while ((ret = qfile_line(qf, line, 1000, &complete, why_r)) > 0)
	;
    str_free(&line);
    return ret;
}

/* test_seal_format - "ID SUM"; anything else is malformed */
static void test_seal_format(void **state)
{
    char id[QID_BUFSIZE], got[QID_BUFSIZE], buf[QFILE_SEAL_BUFSIZE], bad[QFILE_SEAL_BUFSIZE];
    uint32_t sum = 0;

    make_id(id, 7);
    assert_int_equal(strlen(qfile_seal_format(buf, id, 0x0badcafe)), QFILE_SEAL_LEN);
    assert_int_equal(memcmp(buf + QID_LEN, " 0badcafe", 9), 0);
    assert_int_equal(qfile_seal_parse(buf, QFILE_SEAL_LEN, got, &sum), 1);
    assert_string_equal(got, id);
    assert_int_equal(sum, 0x0badcafe);
    assert_int_equal(qfile_seal_parse("", 0, got, &sum), 0);
    assert_int_equal(qfile_seal_parse(buf, QFILE_SEAL_LEN - 1, got, &sum), -1);
    memcpy(bad, buf, sizeof(bad));
    bad[QID_LEN] = '_';
    assert_int_equal(qfile_seal_parse(bad, QFILE_SEAL_LEN, got, &sum), -1);
    memcpy(bad, buf, sizeof(bad));
    bad[QFILE_SEAL_LEN - 1] = 'E'; /* upper case */
    assert_int_equal(qfile_seal_parse(bad, QFILE_SEAL_LEN, got, &sum), -1);
    memcpy(bad, buf, sizeof(bad));
    bad[0] = 'a'; /* not an ID */
    assert_int_equal(qfile_seal_parse(bad, QFILE_SEAL_LEN, got, &sum), -1);
}

/* test_sum_rule - a record's sum is that of its bytes, DONE counts as
 * RCPT */
static void test_sum_rule(void **state)
{
    str_t *s = str_new(100);

    rec_encode(s, REC_TYPE_RCPT, "a@example.com", 13);
    assert_int_equal(rec_sum(0, REC_TYPE_RCPT, "a@example.com", 13),
		     crc32c_update(0, str_data(s), str_len(s)));
    assert_int_equal(rec_sum(0, REC_TYPE_DONE, "a@example.com", 13),
		     rec_sum(0, REC_TYPE_RCPT, "a@example.com", 13));
    assert_int_not_equal(rec_sum(0, REC_TYPE_ATTR, "a@example.com", 13),
			 rec_sum(0, REC_TYPE_RCPT, "a@example.com", 13));
    str_free(&s);
}

/* test_sealed_reads_and_done_mark - read whole; a done mark in place
 * keeps the file valid */
static void test_sealed_reads_and_done_mark(void **state)
{
    char id[QID_BUFSIZE];
    str_t *s;
    const char *path, *why;
    qfile_t *qf;

    make_id(id, 1);
    s = image(id, "alice", 1);
    path = write_file(id, str_data(s), str_len(s));
    assert_int_equal(qfile_open(path, 1, &qf, &why), QFILE_OK);
    assert_true(qf->seal.sealed);
    assert_int_equal(read_all(qf, &why), 0);
    assert_false(qf->damaged);
    assert_int_equal(qfile_rcpt_done(qf, 1, &why), 0);
    qfile_close(&qf);
    assert_int_equal(qfile_open(path, 0, &qf, &why), QFILE_OK);
    assert_true(qf->rcpts[1].done);
    assert_int_equal(read_all(qf, &why), 0);
    qfile_close(&qf);
    str_free(&s);
}

/* test_every_flipped_bit - one bit changed anywhere is refused */
static void test_every_flipped_bit(void **state)
{
    char id[QID_BUFSIZE];
    str_t *s;
    const char *why;

    make_id(id, 2);
    s = image(id, "alice", 1);
    for (size_t i = 0; i < str_len(s); i++)
	for (int bit = 0; bit < 8; bit += 3) {
	    char *p = (char *)str_data(s) + i;

	    *p ^= (char)(1 << bit);
	    assert_int_not_equal(open_status(id, str_data(s), str_len(s), &why), QFILE_OK);
	    *p ^= (char)(1 << bit);
	}
    assert_int_equal(open_status(id, str_data(s), str_len(s), &why), QFILE_OK);
    str_free(&s);
}

/* test_other_id - a sealed file under another name is refused */
static void test_other_id(void **state)
{
    char x[QID_BUFSIZE], y[QID_BUFSIZE];
    str_t *s;
    const char *why;

    make_id(x, 3);
    make_id(y, 4);
    s = image(x, "alice", 1);
    assert_int_equal(open_status(y, str_data(s), str_len(s), &why), QFILE_CORRUPT);
    str_free(&s);
}

/* test_power_loss_mixes - X's first bytes with Y's later ones, and X
 * with a piece of Y inside, at every cut: each parses as records (same
 * layout), none is accepted */
static void test_power_loss_mixes(void **state)
{
    char x[QID_BUFSIZE], y[QID_BUFSIZE];
    str_t *sx, *sy, *mix = str_new(4096);
    const char *why;

    make_id(x, 5);
    make_id(y, 6);
    sx = image(x, "alice", 1);
    sy = image(y, "carol", 1);
    assert_int_equal(str_len(sx), str_len(sy));
    for (size_t cut = 1; cut < str_len(sx); cut += 7) {
	str_reset(mix);
	str_append(mix, str_data(sx), cut);
	str_append(mix, str_data(sy) + cut, str_len(sy) - cut);
	if (memcmp(str_data(mix), str_data(sx), str_len(sx)) != 0)
	    assert_int_equal(open_status(x, str_data(mix), str_len(mix), &why), QFILE_CORRUPT);
	if (cut + 64 < str_len(sx)) {
	    str_reset(mix);
	    str_append(mix, str_data(sx), str_len(sx));
	    memcpy((char *)str_data(mix) + cut, str_data(sy) + cut, 64);
	    if (memcmp(str_data(mix), str_data(sx), str_len(sx)) != 0)
		assert_int_equal(open_status(x, str_data(mix), str_len(mix), &why), QFILE_CORRUPT);
	}
    }
    str_free(&mix);
    str_free(&sx);
    str_free(&sy);
}

/* test_legacy - an empty END is read as before, unverified */
static void test_legacy(void **state)
{
    char id[QID_BUFSIZE];
    str_t *s;
    const char *path, *why;
    qfile_t *qf;

    make_id(id, 8);
    s = image(id, "alice", 0);
    path = write_file(id, str_data(s), str_len(s));
    assert_int_equal(qfile_open(path, 0, &qf, &why), QFILE_OK);
    assert_false(qf->seal.sealed);
    assert_int_equal(read_all(qf, &why), 0);
    qfile_close(&qf);
    str_free(&s);
}

/* test_content_reader_checks - content changed after the open fails at
 * END (damaged), also for a reader built by hand from the seal */
static void test_content_reader_checks(void **state)
{
    char id[QID_BUFSIZE];
    str_t *s;
    const char *path, *why = NULL;
    qfile_t *qf, copy;
    char *hit;

    make_id(id, 9);
    s = image(id, "alice", 1);
    path = write_file(id, str_data(s), str_len(s));
    assert_int_equal(qfile_open(path, 1, &qf, &why), QFILE_OK);
    hit = memmem(str_data(s), str_len(s), "line 17", 7);
    assert_non_null(hit);
    assert_int_equal(pwrite(qf->fd, "LINE", 4, hit - str_data(s)), 4);
    assert_int_equal(read_all(qf, &why), -1);
    assert_true(qf->damaged);
    assert_non_null(strstr(why, "checksum"));
    /* a reader of the content only, as local's kept child builds one */
    memset(&copy, 0, sizeof(copy));
    copy.fd = qf->fd;
    copy.content_offset = qf->content_offset;
    copy.seal = qf->seal;
    assert_int_equal(read_all(&copy, &why), -1);
    assert_true(copy.damaged);
    qfile_rewind(&copy);
    qfile_close(&qf);
    str_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_seal_format),
	cmocka_unit_test(test_sum_rule),
	cmocka_unit_test(test_sealed_reads_and_done_mark),
	cmocka_unit_test(test_every_flipped_bit),
	cmocka_unit_test(test_other_id),
	cmocka_unit_test(test_power_loss_mixes),
	cmocka_unit_test(test_legacy),
	cmocka_unit_test(test_content_reader_checks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
