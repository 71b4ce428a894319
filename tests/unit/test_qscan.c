/*
 * test_qscan.c - the queue scanner: every committed file at any hash
 * depth, nothing else (temporary files, strays, non-hex directories,
 * too-deep levels, files not marked ready), and FIFOs named like IDs
 * are listed by name only (so that they are reported):
 * the scanner never opens them (the reader refuses them without
 * blocking, see test_nonregular).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "global/config.h"
#include "queue/qfile.h"
#include "util/mymalloc.h"
#include "util/str.h"

#define ID1 "0TP5Z9T3Y606KRBJ"
#define ID2 "0TP5Z9T3Y606KRBK"
#define ID3 "0TP5Z9T3Y606KRBL"
#define ID4 "0TP5Z9T3Y606KRBM"
#define ID5 "0TP5Z9T3Y606KRBN"

/* make - create a file (dir 0: ready; 2: not ready) or a directory (1)
 * under the temp queue "q" */
static void make(const char *rel, int dir)
{
    char *path = mr_format("%s/q/%s", unit_tmpdir(), rel);
    int fd;

    if (dir == 1)
	assert_int_equal(mkdir(path, 0700), 0);
    else {
	/* 0700: the owner's execute bit marks a queue file ready */
	assert_true((fd = open(path, O_CREAT | O_WRONLY | O_EXCL, dir > 1 ? 0600 : 0700)) >= 0);
	close(fd);
    }
    mr_free(path);
}

/* cmp - for qsort */
static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* test_scan - what the scanner returns, sorted */
static void test_scan(void **state)
{
    const char *want[] = {ID1, ID2, ID3, ID4, ID5};
    char *got[16], id[QID_BUFSIZE], *fifo;
    const char *why;
    qscan_t *qs;
    size_t n = 0;

    config_override("queue_directory", unit_tmpdir());
    make("", 1);
    make(ID1, 0); /* top level */
    make("A", 1);
    make("A/" ID2, 0); /* depth 1 */
    make("A/3", 1);
    make("A/3/" ID3, 0);    /* depth 2 */
    make("A/3/.t123.4", 0); /* temp file */
    make("A/stray", 0);
    make("A/"
	 "0TP5Z9T3Y606KRBX",
	 2); /* not ready yet */
    make("lowercase0tp5z9t", 0);
    make("G", 1); /* not a hash digit */
    make("G/"
	 "0TP5Z9T3Y606KRBZ",
	 0);
    make("1", 1);
    make("1/2", 1);
    make("1/2/3", 1);
    make("1/2/3/4", 1);
    make("1/2/3/4/" ID4, 0); /* depth 4: the deepest */
    make("1/2/3/4/5", 1);
    make("1/2/3/4/5/"
	 "0TP5Z9T3Y606KRBY",
	 0); /* too deep */
    fifo = mr_format("%s/q/B", unit_tmpdir());
    assert_int_equal(mkdir(fifo, 0700), 0);
    mr_free(fifo);
    fifo = mr_format("%s/q/B/%s", unit_tmpdir(), ID5);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    mr_free(fifo);
    assert_non_null(qs = qscan_open("q", &why));
    while (qscan_next(qs, id) && n < 16)
	got[n++] = mr_strdup(id);
    qscan_close(&qs);
    assert_null(qs);
    qsort(got, n, sizeof(got[0]), cmp);
    assert_int_equal(n, 5);
    for (size_t i = 0; i < n; i++) {
	assert_string_equal(got[i], want[i]);
	mr_free(got[i]);
    }
    assert_null(qscan_open("no-such-queue", &why));
}

/* test_nonregular - the reader refuses a FIFO at once, as corrupt */
static void test_nonregular(void **state)
{
    char *path = mr_format("%s/q/B/%s", unit_tmpdir(), ID5);
    const char *why;
    qfile_t *qf = NULL;

    assert_int_equal(qfile_open(path, 0, &qf, &why), QFILE_CORRUPT);
    assert_non_null(strstr(why, "not a regular file"));
    assert_int_equal(qfile_open_from(path, 1, NULL, &qf, &why), QFILE_CORRUPT);
    mr_free(path);
    path = mr_format("%s/q/A", unit_tmpdir());
    assert_int_equal(qfile_open(path, 0, &qf, &why), QFILE_CORRUPT); /* a directory */
    mr_free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_scan),
	cmocka_unit_test(test_nonregular),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
