/*
 * qmgr_unlink.c - removing finished queue files off the event loop.
 *
 * Removing a file frees its blocks, and on a file system mounted with
 * "discard" the kernel waits in unlink(2) for the device to discard them:
 * a fraction of a millisecond to several, for every message, during which
 * qmgr's single event loop would serve nothing else. So one helper thread
 * does the unlink. The event loop hands it the file's path and ID; the
 * thread unlinks and writes the ID and the outcome back into a pipe; the
 * event loop reads that, removes the delivery logs and logs "ID: removed"
 * (or the warning) exactly as when it removed the file itself, so the log
 * line still follows the removal.
 *
 * Recycling (queue_recycle_limit > 0): instead of unlink(2) the thread
 * empties the file and renames it to recycle/ID for cleanup to reuse
 * (lib/queue/qfile_recycle.c, which has the steps and the crash argument),
 * as long as recycle/ holds fewer than queue_recycle_limit files (counted
 * again every QMGR_RECOUNT removals);
 * otherwise, or when recycling the file fails, it is unlinked as before.
 * The log line is the same either way: the message is gone.
 *
 * The thread touches only its queue (fixed-size entries under a mutex),
 * unlink(2), the recycling calls and the pipe: no allocation, no logging,
 * no configuration.
 * When the queue is full, or the thread or the pipe could not be made, the
 * event loop unlinks itself, as before. A crash with removals still queued
 * leaves those files in active/ with every recipient marked done: restart
 * recovery takes them up again and removes them without a delivery.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "global/config.h"
#include "global/mail_proto.h"
#include "global/mail_queue.h"
#include "queue/qfile.h"
#include "queue/qlog.h"
#include "util/event.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/str.h"
#include "qmgr.h"

#define QMGR_UNLINK_SLOTS 1024 /* removals waiting for the thread */
#define QMGR_UNLINK_PATH 1024  /* longest path handed over */
#define QMGR_RECOUNT 32        /* recyclings between counts of recycle/ */

typedef struct qmgr_unlink_job {
    char id[QID_BUFSIZE];
    char path[QMGR_UNLINK_PATH];
    char recycle[QMGR_UNLINK_PATH]; /* recycle/ID, or empty */
} qmgr_unlink_job_t;

typedef struct qmgr_unlink_done {
    char id[QID_BUFSIZE];
    int err; /* 0 or errno */
} qmgr_unlink_done_t;

static qmgr_unlink_job_t qmgr_unlink_ring[QMGR_UNLINK_SLOTS];
static size_t qmgr_unlink_head, qmgr_unlink_count;
static pthread_mutex_t qmgr_unlink_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qmgr_unlink_wake = PTHREAD_COND_INITIALIZER;
static int qmgr_unlink_pipe[2] = {-1, -1};
static int qmgr_unlink_ready;
static int qmgr_recycle_limit;                  /* queue_recycle_limit */
static char qmgr_recycle_dir[QMGR_UNLINK_PATH]; /* recycle/, absolute */

/* qmgr_unlink_finish - the file (named by where) is gone or not: then
 * the delivery logs, the log line */
static void qmgr_unlink_finish(const char *id, int err, const char *where)
{
    const char *why;

    if (err != 0 && err != ENOENT) {
	msg_warn("%s: remove %s: %s", id, where, strerror(err));
	return;
    }
    (void)qlog_remove(MAIL_QUEUE_BOUNCE, id, &why);
    (void)qlog_remove(MAIL_QUEUE_DEFER, id, &why);
    msg_info("%s: removed", id);
}

/* qmgr_unlink_or_recycle - the thread's work on one file: recycle it
 * while recycle/ has room, else (or if that fails) unlink it */
static int qmgr_unlink_or_recycle(const qmgr_unlink_job_t *job)
{
    static int room, until_count;

    if (job->recycle[0] == 0)
	return unlink(job->path);
    if (until_count-- <= 0) {
	room = qmgr_recycle_limit - qfile_recycle_count(qmgr_recycle_dir, qmgr_recycle_limit);
	until_count = QMGR_RECOUNT;
    }
    if (room > 0 && qfile_recycle_path(job->path, job->recycle) == 0) {
	room--;
	return 0;
    }
    return unlink(job->path);
}

/* qmgr_unlink_thread - take jobs, unlink, report through the pipe */
static void *qmgr_unlink_thread(void *unused)
{
    qmgr_unlink_job_t job;
    qmgr_unlink_done_t done;

    for (;;) {
	pthread_mutex_lock(&qmgr_unlink_lock);
	while (qmgr_unlink_count == 0)
	    pthread_cond_wait(&qmgr_unlink_wake, &qmgr_unlink_lock);
	job = qmgr_unlink_ring[qmgr_unlink_head];
	qmgr_unlink_head = (qmgr_unlink_head + 1) % QMGR_UNLINK_SLOTS;
	qmgr_unlink_count--;
	pthread_mutex_unlock(&qmgr_unlink_lock);
	memset(&done, 0, sizeof(done));
	memcpy(done.id, job.id, sizeof(done.id));
	done.err = qmgr_unlink_or_recycle(&job) < 0 ? errno : 0;
	while (write(qmgr_unlink_pipe[1], &done, sizeof(done)) < 0 && errno == EINTR)
	    /* again */;
    }
    return NULL;
}

/* qmgr_unlink_event - removals the thread has finished */
static void qmgr_unlink_event(int fd, int event, void *context)
{
    qmgr_unlink_done_t done[32];
    ssize_t n = read(fd, done, sizeof(done));

    for (ssize_t i = 0; n > 0 && i < n / (ssize_t)sizeof(done[0]); i++) {
	done[i].id[QID_LEN] = 0;
	qmgr_unlink_finish(done[i].id, done[i].err, MAIL_QUEUE_ACTIVE);
    }
}

/* qmgr_unlink_init - start the thread; without it removals stay inline */
void qmgr_unlink_init(void)
{
    pthread_t tid;

    qmgr_recycle_limit = (int)config_int("queue_recycle_limit", 0, 100000);
    mr_strlcpy(qmgr_recycle_dir, mail_queue_path(MAIL_QUEUE_RECYCLE), sizeof(qmgr_recycle_dir));
    if (qmgr_recycle_limit > 0 && qfile_recycle_leftovers(MAIL_QUEUE_ACTIVE) > 0)
	msg_info("recycling interrupted by a restart finished");
    if (pipe2(qmgr_unlink_pipe, O_CLOEXEC) < 0) {
	msg_warn("removal thread: pipe: %m");
	return;
    }
    if (pthread_create(&tid, NULL, qmgr_unlink_thread, NULL) != 0) {
	msg_warn("removal thread: cannot start it");
	return;
    }
    (void)pthread_detach(tid);
    event_enable_read(qmgr_unlink_pipe[0], qmgr_unlink_event, NULL);
    qmgr_unlink_ready = 1;
}

/* qmgr_unlink_queue - hand a removal to the thread: 0 queued, -1 not */
static int qmgr_unlink_queue(const char *id, const char *path, const char *recycle)
{
    int ok;

    if (!qmgr_unlink_ready || strlen(path) >= QMGR_UNLINK_PATH ||
	strlen(recycle) >= QMGR_UNLINK_PATH)
	return -1;
    pthread_mutex_lock(&qmgr_unlink_lock);
    if ((ok = qmgr_unlink_count < QMGR_UNLINK_SLOTS) != 0) {
	qmgr_unlink_job_t *job =
	    qmgr_unlink_ring + (qmgr_unlink_head + qmgr_unlink_count) % QMGR_UNLINK_SLOTS;

	mr_strlcpy(job->id, id, sizeof(job->id));
	mr_strlcpy(job->path, path, sizeof(job->path));
	mr_strlcpy(job->recycle, recycle, sizeof(job->recycle));
	qmgr_unlink_count++;
	pthread_cond_signal(&qmgr_unlink_wake);
    }
    pthread_mutex_unlock(&qmgr_unlink_lock);
    return ok ? 0 : -1;
}

/* qmgr_unlink - remove (or recycle) active/ID and then its delivery logs,
 * and log it */
void qmgr_unlink(const char *id)
{
    str_t *path = str_new(100);
    str_t *recycle = str_new(100);

    qfile_abspath(path, MAIL_QUEUE_ACTIVE, id);
    if (qmgr_recycle_limit > 0) {
	str_printf(recycle, "%s/%s", MAIL_QUEUE_RECYCLE, id);
	str_set(recycle, mail_queue_path(str_data(recycle)));
    }
    if (qmgr_unlink_queue(id, str_data(path), str_data(recycle)) < 0)
	qmgr_unlink_finish(id, unlink(str_data(path)) < 0 ? errno : 0, str_data(path));
    str_free(&path);
    str_free(&recycle);
}
