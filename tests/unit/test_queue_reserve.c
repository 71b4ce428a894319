/*
 * test_queue_reserve.c - queue files reserved ahead of use: the batch in
 * one hash directory, the one-fsync commit, the readers' ready rule
 * (qscan and qfile_open skip files not marked ready), and the sweep of
 * what a dead writer left (unused reservations removed, unfinished files
 * moved to corrupt/, live writers' files and committed files untouched).
 */
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "unit_helpers.h"
#include "global/config.h"
#include "queue/qfile.h"
#include "queue/record.h"
#include "util/mymalloc.h"
#include "util/str.h"

/* queue_setup - a queue directory with incoming, hold, corrupt */
static void queue_setup(void)
{
    static int done;
    char path[400];
    const char *queues[] = {"incoming", "hold", "corrupt"};

    if (done++)
	return;
    config_override("queue_directory", unit_tmpdir());
    for (size_t i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
	snprintf(path, sizeof(path), "%s/%s", unit_tmpdir(), queues[i]);
	assert_int_equal(mkdir(path, 0700), 0);
    }
}

/* put_message - a small complete queue file image on the writer's stream */
static void put_message(qfile_out_t *qo)
{
    assert_int_equal(rec_put(qo->stream, REC_TYPE_SENDER, "s@example.org", 13), 0);
    assert_int_equal(rec_put(qo->stream, REC_TYPE_RCPT, "r@example.org", 13), 0);
    assert_int_equal(rec_put(qo->stream, REC_TYPE_MESG, "", 0), 0);
    assert_int_equal(rec_put(qo->stream, REC_TYPE_NORM, "Subject: x", 10), 0);
    assert_int_equal(rec_put(qo->stream, REC_TYPE_END, "", 0), 0);
}

/* scan_count - how many IDs qscan lists in queue */
static int scan_count(const char *queue)
{
    const char *why;
    char id[QID_BUFSIZE];
    qscan_t *qs;
    int n = 0;

    assert_non_null(qs = qscan_open(queue, &why));
    while (qscan_next(qs, id))
	n++;
    qscan_close(&qs);
    return n;
}

/* name_count - every name in queue, temp files and reservations too */
static int name_count(const char *queue)
{
    const char *why, *dir, *name;
    qscan_t *qs;
    int n = 0;

    assert_non_null(qs = qscan_open(queue, &why));
    while (qscan_next_name(qs, &dir, &name))
	n += strcmp(name, ".sweep") != 0;
    qscan_close(&qs);
    return n;
}

/* file_mode - st_mode of the queue file id, or 0 if there is none */
static mode_t file_mode(const char *queue, const char *id, off_t *size_r)
{
    str_t *path = str_new(100);
    struct stat st;
    mode_t mode = 0;

    if (stat(qfile_abspath(path, queue, id), &st) == 0) {
	mode = st.st_mode;
	if (size_r)
	    *size_r = st.st_size;
    }
    str_free(&path);
    return mode;
}

/* test_batch_in_one_directory - a batch shares one hash directory */
static void test_batch_in_one_directory(void **state)
{
    str_t *a = str_new(100), *b = str_new(100);
    qfile_out_t *qo[4];
    const char *why;
    qfile_pool_t *pool;
    off_t size = -1;

    queue_setup();
    pool = qfile_pool_create("incoming", 0600, 4, 60);
    for (int i = 0; i < 4; i++) {
	assert_non_null(qo[i] = qfile_pool_take(pool, &why));
	assert_true(qid_valid(qo[i]->id));
	assert_int_equal(file_mode("incoming", qo[i]->id, &size) & 07777, 0600);
	assert_int_equal(size, 0);
    }
    qfile_path(a, "incoming", qo[0]->id);
    for (int i = 1; i < 4; i++) {
	qfile_path(b, "incoming", qo[i]->id);
	assert_string_equal(dirname(str_data(a)), dirname(str_data(b)));
	qfile_path(a, "incoming", qo[0]->id);
	assert_true(strcmp(qo[i - 1]->id, qo[i]->id) < 0); /* time-ordered */
    }
    assert_int_equal(scan_count("incoming"), 0); /* none ready */
    for (int i = 0; i < 4; i++)
	qfile_discard(&qo[i]);
    assert_int_equal(name_count("incoming"), 0);
    qfile_pool_free(&pool);
    assert_null(pool);
    str_free(&a);
    str_free(&b);
}

/* test_commit_marks_ready - the commit makes the file visible */
static void test_commit_marks_ready(void **state)
{
    qfile_pool_t *pool;
    qfile_out_t *qo;
    qfile_t *qf;
    const char *why;
    str_t *path = str_new(100);
    char id[QID_BUFSIZE];

    queue_setup();
    pool = qfile_pool_create("incoming", 0600, 16, 60);
    assert_non_null(qo = qfile_pool_take(pool, &why));
    put_message(qo);
    assert_int_equal(stream_flush(qo->stream), 0);
    /* complete on disk but not marked ready: no reader sees it */
    qfile_abspath(path, "incoming", qo->id);
    assert_int_equal(qfile_open(str_data(path), 0, &qf, &why), QFILE_MISSING);
    assert_int_equal(scan_count("incoming"), 0);
    assert_int_equal(qfile_commit(qo, &why), 0);
    assert_int_equal(file_mode("incoming", qo->id, NULL) & 07777, 0700);
    assert_int_equal(qfile_open(str_data(path), 0, &qf, &why), QFILE_OK);
    assert_string_equal(qf->sender, "s@example.org");
    qfile_close(&qf);
    memcpy(id, qo->id, sizeof(id));
    qfile_discard(&qo);
    assert_int_equal(scan_count("incoming"), 1);
    /* the first batch had 4 files: 3 reservations wait, then are removed */
    assert_int_equal(name_count("incoming"), 4);
    qfile_pool_free(&pool);
    assert_int_equal(name_count("incoming"), 1);
    assert_int_equal(qfile_remove("incoming", id, &why), 0);
    str_free(&path);
}

/* test_commit_to_hold - a reservation committed to another queue */
static void test_commit_to_hold(void **state)
{
    qfile_pool_t *pool;
    qfile_out_t *qo;
    const char *why;
    char id[QID_BUFSIZE];

    queue_setup();
    pool = qfile_pool_create("incoming", 0600, 1, 60);
    assert_non_null(qo = qfile_pool_take(pool, &why));
    put_message(qo);
    mr_free(qo->queue);
    qo->queue = mr_strdup("hold");
    assert_int_equal(qfile_commit(qo, &why), 0);
    memcpy(id, qo->id, sizeof(id));
    qfile_discard(&qo);
    assert_int_equal(file_mode("incoming", id, NULL), 0);
    assert_int_equal(file_mode("hold", id, NULL) & 07777, 0700);
    assert_int_equal(scan_count("hold"), 1);
    assert_int_equal(qfile_remove("hold", id, &why), 0);
    qfile_pool_free(&pool);
    assert_int_equal(name_count("incoming"), 0);
}

/* test_discard_removes - a reservation given up is removed */
static void test_discard_removes(void **state)
{
    qfile_pool_t *pool;
    qfile_out_t *qo;
    const char *why;

    queue_setup();
    pool = qfile_pool_create("incoming", 0600, 1, 60);
    assert_non_null(qo = qfile_pool_take(pool, &why));
    assert_int_equal(stream_puts(qo->stream, "half"), 0);
    assert_int_equal(stream_flush(qo->stream), 0);
    qfile_discard(&qo);
    qfile_pool_free(&pool);
    assert_int_equal(name_count("incoming"), 0);
}

/* dead_writer - a child reserves 4 files, half-writes one and dies */
static void dead_writer(char id[QID_BUFSIZE])
{
    int fds[2], status;
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    assert_true((pid = fork()) >= 0);
    if (pid == 0) {
	const char *why;
	qfile_pool_t *pool = qfile_pool_create("incoming", 0600, 4, 60);
	qfile_out_t *qo = qfile_pool_take(pool, &why);

	if (qo == NULL || rec_put(qo->stream, REC_TYPE_SENDER, "s@x", 3) < 0 ||
	    stream_flush(qo->stream) < 0 || write(fds[1], qo->id, QID_LEN) != QID_LEN)
	    _exit(1);
	_exit(0); /* no clean-up: as if killed */
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], id, QID_LEN), QID_LEN);
    id[QID_LEN] = 0;
    close(fds[0]);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/* test_sweep - what dead writers left goes, the rest stays */
static void test_sweep(void **state)
{
    qfile_pool_t *live;
    qfile_out_t *mine, *done;
    const char *why;
    char dead_id[QID_BUFSIZE], done_id[QID_BUFSIZE];
    str_t *stale = str_new(100);
    off_t size = -1;
    int fd;

    queue_setup();
    dead_writer(dead_id);
    /* a live writer's reservations and its half-written file */
    live = qfile_pool_create("incoming", 0600, 4, 60);
    assert_non_null(mine = qfile_pool_take(live, &why));
    assert_int_equal(rec_put(mine->stream, REC_TYPE_SENDER, "s@x", 3), 0);
    assert_int_equal(stream_flush(mine->stream), 0);
    assert_non_null(done = qfile_pool_take(live, &why));
    put_message(done);
    assert_int_equal(qfile_commit(done, &why), 0);
    memcpy(done_id, done->id, sizeof(done_id));
    qfile_discard(&done);
    /* a temp file of a process that is gone, in a hash directory */
    str_printf(stale, "%s/incoming/0", unit_tmpdir());
    (void)mkdir(str_data(stale), 0700);
    str_appendf(stale, "/.t999999999.1");
    assert_true((fd = open(str_data(stale), O_CREAT | O_WRONLY, 0600)) >= 0);
    close(fd);

    assert_int_equal(name_count("incoming"), 4 + 4 + 1);
    /* 3 unused reservations and the unfinished file of the dead writer,
     * and the stale temp file */
    assert_int_equal(qfile_sweep("incoming"), 5);
    assert_int_equal(file_mode("incoming", dead_id, NULL), 0);
    assert_int_equal(file_mode("corrupt", dead_id, &size) & 07777, 0600);
    assert_true(size > 0);
    assert_int_equal(access(str_data(stale), F_OK), -1);
    /* the live writer's files and the committed one are still there */
    assert_int_equal(name_count("incoming"), 4);
    assert_int_equal(file_mode("incoming", mine->id, NULL) & 07777, 0600);
    assert_int_equal(file_mode("incoming", done_id, NULL) & 07777, 0700);
    assert_int_equal(qfile_sweep("incoming"), 0);
    /* a sweep is due once per master (parent) and then per interval */
    assert_int_equal(qfile_sweep_due("incoming", 3600), 0); /* nothing to do */
    qfile_discard(&mine);
    qfile_pool_free(&live);
    assert_int_equal(name_count("incoming"), 1);
    assert_int_equal(qfile_remove("incoming", done_id, &why), 0);
    assert_int_equal(qfile_remove("corrupt", dead_id, &why), 0);
    str_free(&stale);
}

/* test_sweep_due - the stamp decides when a sweep runs */
static void test_sweep_due(void **state)
{
    char id[QID_BUFSIZE];

    queue_setup();
    unlink(unit_write_file("incoming/.sweep", ""));
    dead_writer(id);
    assert_int_equal(qfile_sweep_due("incoming", 3600), 4); /* no stamp yet */
    dead_writer(id);
    assert_int_equal(qfile_sweep_due("incoming", 3600), 0); /* stamped, same master */
    unit_write_file("incoming/.sweep", "1\n");              /* another master */
    assert_int_equal(qfile_sweep_due("incoming", 3600), 4);
    dead_writer(id);
    assert_int_equal(qfile_sweep_due("incoming", 0), 4); /* interval over */
    assert_int_equal(name_count("corrupt"), 3);
}

/* test_new_in - IDs made to land in the hash directory of another */
static void test_new_in(void **state)
{
    str_t *a = str_new(100), *b = str_new(100);
    char model[QID_BUFSIZE], id[QID_BUFSIZE];

    queue_setup();
    config_override("hash_queue_depth", "2");
    qid_new(model, 7);
    for (int i = 0; i < 50; i++) {
	qid_new_in(id, 12345, "incoming", model);
	assert_true(qid_valid(id));
	qfile_path(a, "incoming", model);
	qfile_path(b, "incoming", id);
	assert_int_equal(memcmp(str_data(a), str_data(b), strlen("incoming/X/Y/")), 0);
    }
    config_override("hash_queue_depth", "1");
    str_free(&a);
    str_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_batch_in_one_directory),
	cmocka_unit_test(test_commit_marks_ready),
	cmocka_unit_test(test_commit_to_hold),
	cmocka_unit_test(test_discard_removes),
	cmocka_unit_test(test_sweep),
	cmocka_unit_test(test_sweep_due),
	cmocka_unit_test(test_new_in),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
