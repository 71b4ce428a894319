/*
 * test_queue_recycle.c - finished queue files kept for reuse: qmgr's
 * side empties a file and puts it in recycle/ (or refuses while an agent
 * holds its lock), cleanup's reservations take that inode under a new ID
 * and put unused ones back, a recycled file that is not empty is moved to
 * corrupt/ and never reused, a not-ready file left in active/ is finished,
 * and a reader refuses a file whose recorded queue ID is not its name.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "global/config.h"
#include "global/mail_queue.h"
#include "queue/qfile.h"
#include "queue/record.h"
#include "util/mymalloc.h"
#include "util/str.h"

/* queue_setup - a queue directory with the queues used here */
static void queue_setup(void)
{
    static int done;
    char path[400];
    const char *queues[] = {"incoming", "active", "corrupt", "recycle"};

    if (done++)
	return;
    config_override("queue_directory", unit_tmpdir());
    for (size_t i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
	snprintf(path, sizeof(path), "%s/%s", unit_tmpdir(), queues[i]);
	assert_int_equal(mkdir(path, 0700), 0);
    }
}

/* put_message - a small complete message, with or without a queue_id */
static void put_message(qfile_out_t *qo, const char *recorded_id)
{
    char attr[64];

    if (recorded_id) {
	snprintf(attr, sizeof(attr), "%s=%s", QFILE_ID_ATTR, recorded_id);
	assert_int_equal(rec_put(qo->stream, REC_TYPE_ATTR, attr, strlen(attr)), 0);
    }
    assert_int_equal(rec_put(qo->stream, REC_TYPE_SENDER, "s@example.org", 13), 0);
    assert_int_equal(rec_put(qo->stream, REC_TYPE_RCPT, "r@example.org", 13), 0);
    assert_int_equal(rec_put(qo->stream, REC_TYPE_MESG, "", 0), 0);
    assert_int_equal(rec_put(qo->stream, REC_TYPE_NORM, "Subject: x", 10), 0);
    assert_int_equal(rec_put(qo->stream, REC_TYPE_END, "", 0), 0);
}

/* committed - a committed file in queue (its own ID recorded); its ID */
static void committed(const char *queue, char id[QID_BUFSIZE])
{
    qfile_out_t *qo;
    const char *why;

    assert_non_null(qo = qfile_create(queue, 0600, &why));
    put_message(qo, qo->id);
    assert_int_equal(qfile_commit(qo, &why), 0);
    memcpy(id, qo->id, QID_BUFSIZE);
    qfile_discard(&qo);
}

/* recycle_path - the absolute path of recycle/name */
static const char *recycle_path(str_t *out, const char *name)
{
    str_printf(out, "%s/recycle/%s", unit_tmpdir(), name);
    return str_data(out);
}

/* entries - names in a flat queue directory */
static int entries(const char *queue)
{
    str_t *dir = str_new(100);
    int n;

    str_printf(dir, "%s/%s", unit_tmpdir(), queue);
    n = qfile_recycle_count(str_data(dir), 1000);
    str_free(&dir);
    return n;
}

/* empty_recycle - remove whatever recycle/ holds */
static void empty_recycle(void)
{
    str_t *path = str_new(100);
    struct dirent *de;
    DIR *dir;

    str_printf(path, "%s/recycle", unit_tmpdir());
    assert_non_null(dir = opendir(str_data(path)));
    while ((de = readdir(dir)) != NULL)
	if (de->d_name[0] != '.')
	    assert_int_equal(unlinkat(dirfd(dir), de->d_name, 0), 0);
    closedir(dir);
    str_free(&path);
}

/* test_recycle_then_reuse - the inode comes back under a new ID */
static void test_recycle_then_reuse(void **state)
{
    str_t *from = str_new(100), *to = str_new(100);
    char id[QID_BUFSIZE];
    qfile_pool_t *pool;
    qfile_out_t *qo, *more;
    const char *why;
    struct stat st;
    ino_t ino;

    queue_setup();
    committed("active", id);
    qfile_abspath(from, "active", id);
    assert_int_equal(stat(str_data(from), &st), 0);
    ino = st.st_ino;
    assert_int_equal(qfile_recycle_path(str_data(from), recycle_path(to, id)), 0);
    assert_int_equal(stat(str_data(from), &st), -1);
    assert_int_equal(stat(str_data(to), &st), 0);
    assert_int_equal(st.st_size, 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(entries("recycle"), 1);

    pool = qfile_pool_create("incoming", 0600, 2, 60);
    qfile_pool_recycle(pool, 1);
    assert_non_null(qo = qfile_pool_take(pool, &why));
    assert_int_equal(fstat(stream_fd(qo->stream), &st), 0);
    assert_int_equal(st.st_ino, ino);
    assert_string_not_equal(qo->id, id);
    assert_int_equal(entries("recycle"), 0);
    assert_non_null(more = qfile_pool_take(pool, &why)); /* recycle/ empty: a new one */
    assert_int_not_equal(strcmp(more->id, qo->id), 0);
    qfile_discard(&more);

    /* the unused rest of a batch goes back to recycle/, not away */
    qfile_pool_free(&pool);
    pool = qfile_pool_create("incoming", 0600, 4, 60);
    qfile_pool_recycle(pool, 1);
    qfile_discard(&qo);
    assert_non_null(qo = qfile_pool_take(pool, &why));
    qfile_discard(&qo);
    qfile_pool_free(&pool);
    assert_int_equal(entries("recycle"), 3);
    str_free(&from);
    str_free(&to);
}

/* test_agent_lock_refuses - an agent's shared lock: not recycled */
static void test_agent_lock_refuses(void **state)
{
    str_t *from = str_new(100), *to = str_new(100);
    char id[QID_BUFSIZE];
    struct stat st;
    int fd;

    queue_setup();
    committed("active", id);
    qfile_abspath(from, "active", id);
    assert_true((fd = open(str_data(from), O_RDONLY)) >= 0);
    assert_int_equal(flock(fd, LOCK_SH), 0);
    assert_int_equal(qfile_recycle_path(str_data(from), recycle_path(to, id)), -1);
    assert_int_equal(stat(str_data(from), &st), 0);
    assert_true(qfile_ready(&st) && st.st_size > 0);
    close(fd);
    assert_int_equal(unlink(str_data(from)), 0);
    str_free(&from);
    str_free(&to);
}

/* test_unfit_goes_to_corrupt - a recycled file with content is never
 * reused or emptied by cleanup */
static void test_unfit_goes_to_corrupt(void **state)
{
    str_t *path = str_new(100), *bad = str_new(100);
    char id[QID_BUFSIZE];
    qfile_pool_t *pool;
    qfile_out_t *qo;
    const char *why;
    struct stat st;
    int fd;

    queue_setup();
    empty_recycle();
    qid_new(id, 4242);
    assert_true((fd = open(recycle_path(bad, id), O_CREAT | O_EXCL | O_WRONLY, 0700)) >= 0);
    assert_int_equal(write(fd, "left by a power loss", 20), 20);
    close(fd);
    pool = qfile_pool_create("incoming", 0600, 1, 60);
    qfile_pool_recycle(pool, 1);
    assert_non_null(qo = qfile_pool_take(pool, &why));
    assert_int_equal(stat(qfile_abspath(path, "corrupt", id), &st), 0);
    assert_int_equal(st.st_size, 20);
    assert_int_equal(entries("recycle"), 0);
    qfile_discard(&qo);
    qfile_pool_free(&pool);
    assert_int_equal(unlink(str_data(path)), 0);
    str_free(&path);
    str_free(&bad);
}

/* test_leftover_in_active - a recycling cut short is finished at start */
static void test_leftover_in_active(void **state)
{
    str_t *path = str_new(100);
    char id[QID_BUFSIZE], keep[QID_BUFSIZE];
    int before = entries("recycle");

    queue_setup();
    committed("active", id);
    committed("active", keep);
    qfile_abspath(path, "active", id);
    assert_int_equal(chmod(str_data(path), 0600), 0); /* killed after C3 */
    assert_int_equal(qfile_recycle_leftovers("active"), 1);
    assert_int_equal(entries("recycle"), before + 1);
    assert_int_equal(qfile_remove("active", keep, &(const char *){0}), 0);
    str_free(&path);
}

/* test_recorded_id_must_match - a name that is not the recorded ID */
static void test_recorded_id_must_match(void **state)
{
    str_t *path = str_new(100), *other = str_new(100);
    char id[QID_BUFSIZE], stale[QID_BUFSIZE];
    qfile_t *qf = NULL;
    const char *why;

    queue_setup();
    committed("incoming", id);
    assert_int_equal(qfile_open(qfile_abspath(path, "incoming", id), 0, &qf, &why), QFILE_OK);
    qfile_close(&qf);
    qid_new(stale, 99);
    assert_int_equal(qfile_mkdirs(qfile_abspath(other, "active", stale)), 0);
    assert_int_equal(link(str_data(path), qfile_abspath(other, "active", stale)), 0);
    assert_int_equal(unlink(str_data(path)), 0); /* one link again */
    assert_int_equal(qfile_open(str_data(other), 0, &qf, &why), QFILE_CORRUPT);
    assert_non_null(strstr(why, "another queue ID"));
    assert_int_equal(unlink(str_data(other)), 0);
    str_free(&path);
    str_free(&other);
}

/* test_two_names_stale_one_goes - both names of a file a power loss left
 * linked twice: the stale name is refused as corrupt, the recorded one
 * waits (a temporary error) until the stale one is gone, then opens */
static void test_two_names_stale_one_goes(void **state)
{
    str_t *path = str_new(100), *other = str_new(100);
    char id[QID_BUFSIZE], stale[QID_BUFSIZE];
    qfile_t *qf = NULL;
    const char *why;

    (void)state;
    queue_setup();
    committed("incoming", id);
    qid_new(stale, 98);
    assert_int_equal(qfile_mkdirs(qfile_abspath(other, "active", stale)), 0);
    assert_int_equal(link(qfile_abspath(path, "incoming", id), str_data(other)), 0);
    assert_int_equal(qfile_open(str_data(path), 0, &qf, &why), QFILE_ERROR);
    assert_non_null(strstr(why, "another name links to this file"));
    assert_null(qf);
    assert_int_equal(qfile_open(str_data(other), 0, &qf, &why), QFILE_CORRUPT);
    assert_int_equal(unlink(str_data(other)), 0); /* set aside */
    assert_int_equal(qfile_open(str_data(path), 0, &qf, &why), QFILE_OK);
    qfile_close(&qf);
    assert_int_equal(unlink(str_data(path)), 0);
    str_free(&path);
    str_free(&other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_recycle_then_reuse),
	cmocka_unit_test(test_agent_lock_refuses),
	cmocka_unit_test(test_unfit_goes_to_corrupt),
	cmocka_unit_test(test_leftover_in_active),
	cmocka_unit_test(test_recorded_id_must_match),
	cmocka_unit_test(test_two_names_stale_one_goes),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
