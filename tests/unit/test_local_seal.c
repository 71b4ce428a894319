/*
 * test_local_seal.c - local's deliveries from a sealed queue file whose
 * content no longer matches its END record (changed after the open):
 * the Maildir delivery is deferred, its tmp/ file removed and nothing
 * renamed into new/; an mbox is cut back to what it held. The reader is
 * the real one (qfile_line on a real file), as local uses it.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "queue/qfile.h"
#include "queue/record.h"
#include "util/str.h"
#include "../../local/local.h"

/* sealed_file - a ready, sealed queue file of a few lines; opened, and
 * then one byte of its body changed on disk */
static qfile_t *sealed_file(const char *name)
{
    const char *lines[] = {"Subject: seal", "", "first body line", "second body line"};
    char id[QID_BUFSIZE], path[400], end[QFILE_SEAL_BUFSIZE];
    struct timeval tv = {.tv_sec = 1700000000, .tv_usec = 1};
    str_t *s = str_new(200);
    uint32_t sum = 0;
    const char *why;
    qfile_t *qf;
    int fd;

    qid_make(id, &tv, 77);
    rec_encode(s, REC_TYPE_SENDER, "s@example.com", 13);
    rec_encode(s, REC_TYPE_RCPT, "r@example.com", 13);
    rec_encode(s, REC_TYPE_MESG, "", 0);
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
	rec_encode(s, REC_TYPE_NORM, lines[i], strlen(lines[i]));
    for (size_t off = 0; off < str_len(s);) {
	rec_parser_t p = {0};
	size_t used;

	rec_parser_init(&p);
	assert_int_equal(rec_parse(&p, str_data(s) + off, str_len(s) - off, &used), 1);
	sum = rec_sum(sum, p.type, str_data(p.value), str_len(p.value));
	off += used;
	rec_parser_free(&p);
    }
    rec_encode(s, REC_TYPE_END, qfile_seal_format(end, id, sum), QFILE_SEAL_LEN);
    snprintf(path, sizeof(path), "%s/%s-%s", unit_tmpdir(), name, id);
    assert_true((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0700)) >= 0);
    assert_int_equal(write(fd, str_data(s), str_len(s)), (ssize_t)str_len(s));
    close(fd);
    assert_int_equal(qfile_open(path, 1, &qf, &why), QFILE_OK);
    assert_true(qf->seal.sealed);
    fd = (int)((const char *)memmem(str_data(s), str_len(s), "second", 6) - str_data(s));
    assert_int_equal(pwrite(qf->fd, "S", 1, fd), 1);
    str_free(&s);
    return qf;
}

/* qf_line, qf_rewind - local's content reader over the queue file */
static int qf_line(void *ctx, str_t *line, int *complete_r, const char **error_r)
{
    return qfile_line(ctx, line, 4096, complete_r, error_r);
}

static void qf_rewind(void *ctx)
{
    qfile_rewind(ctx);
}

/* entries - names in dir, "." ones left out */
static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
	n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* test_maildir_refuses - deferred, tmp/ and new/ empty */
static void test_maildir_refuses(void **state)
{
    qfile_t *qf = sealed_file("md");
    local_msg_t msg = {"QID", "s@example.com", 0, qf_line, qf_rewind, qf};
    char dir[400], sub[450];
    local_result_t r;

    snprintf(dir, sizeof(dir), "%s/Maildir/", unit_tmpdir());
    maildir_deliver(dir, &msg, "r@example.com", &r);
    assert_int_equal(r.status, LOCAL_DEFER);
    assert_non_null(strstr(r.text, "checksum"));
    assert_true(qf->damaged);
    snprintf(sub, sizeof(sub), "%stmp", dir);
    assert_int_equal(entries(sub), 0);
    snprintf(sub, sizeof(sub), "%snew", dir);
    assert_int_equal(entries(sub), 0);
    qfile_close(&qf);
}

/* test_mbox_cut_back - deferred, the mailbox as it was */
static void test_mbox_cut_back(void **state)
{
    qfile_t *qf = sealed_file("mbox");
    local_msg_t msg = {"QID", "s@example.com", 0, qf_line, qf_rewind, qf};
    const char *before = "From a@b Sat Nov 28 05:00:00 2026\nSubject: old\n\nold\n\n";
    const char *path = unit_write_file("box", before);
    local_result_t r;
    struct stat st;
    int fd = open(path, O_RDWR | O_APPEND);

    assert_true(fd >= 0);
    mbox_deliver_fd(fd, "mailbox", &msg, "r@example.com", &r);
    assert_int_equal(r.status, LOCAL_DEFER);
    assert_int_equal(fstat(fd, &st), 0);
    assert_int_equal(st.st_size, (off_t)strlen(before));
    close(fd);
    qfile_close(&qf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_maildir_refuses),
	cmocka_unit_test(test_mbox_cut_back),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
