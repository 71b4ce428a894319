/*
 * qfile.c - committing, moving and removing queue files.
 *
 * A file is committed when it holds every record, END last, and carries
 * the ready bit (QFILE_READY_BIT, owner-execute), and both have reached
 * the disk, and so has its name. Readers (qscan, qfile_open: qmgr,
 * pickup, mailroom-queue, showq) look only at files whose name is a queue
 * ID and that are marked ready; qfile_open also checks every record. The
 * ready bit is set only after END was written and the blocks were written
 * out, so a reader never meets a file that is still being written.
 *
 * A. Reserved files (cleanup: one device flush per message). The name
 *    was made durable before the message arrived (qfile_pool.c: a batch
 *    of empty, locked, not-ready files in one hash directory, then one
 *    fsync of that directory). The commit is:
 *   A1. write every record, END last, and flush them to the kernel; then
 *       sync_file_range(WAIT_BEFORE|WRITE|WAIT_AFTER): the data blocks
 *       are allocated and on their way to the device before anything
 *       marks the file ready. No cache flush here.
 *   A2. fchmod: set the ready bit. From now on readers take the file
 *       (from the page cache, which holds all of it, END included).
 *   A3. fsync the file: data and inode (size, blocks, mode) are on disk.
 *       This is the one cache flush of the message; the name needs none
 *       because it was on disk before A1.
 *   Only after A3 does cleanup answer, so a 250 refers to a file whose
 *   name, content and ready bit a reboot cannot take back.
 *   Crashes: before A2 the file is not ready: invisible, and the client
 *   got no 250; a live cleanup removes it (qfile_discard), a dead one's
 *   lock is gone and qfile_sweep moves it to corrupt/ (or removes it if
 *   it is still empty). Between A2 and the end of A3 the ready bit may
 *   or may not be on disk after a reboot (the periodic write-back can
 *   carry the inode): either not ready (swept as above), or ready with
 *   the data written in A1 (a complete file: delivered although the
 *   client saw no 250, a possible duplicate, exactly as after a crash
 *   between A3 and the answer), or ready but short (the inode's new size
 *   came through, some blocks did not): qfile_open finds no END or a bad
 *   record and readers move it to corrupt/; it was never answered 250,
 *   so nothing accepted is lost and nothing half-written is delivered.
 *   A name whose blocks hold stale data cannot appear on a file system
 *   that writes data before the metadata pointing at it (ext4
 *   data=ordered, XFS, btrfs), and A1 has the data on the device before
 *   A2 in any case; what remains is a volatile disk cache that reorders
 *   writes on a file system without a journal, which promises nothing
 *   about unsynced metadata at all.
 *   Failure: if A3 fails, the name is removed (the directory fsync'd as
 *   far as it goes) and -1 returned; cleanup answers 4xx and the client
 *   keeps the message. A reader that took the file meanwhile may deliver
 *   it too: a duplicate, never a loss.
 *   To another queue (hold): the reserved name is in incoming/, so the
 *   commit renames the not-ready file to its final name first (A1, then
 *   rename, fsync both directories: a crash leaves a not-ready file in
 *   one of them, swept), then A2 and A3. Three flushes, for hold only.
 *
 * B. One file at a time (qfile_create: postdrop, and any writer without
 *    a pool):
 *   B1. create QUEUE/.tPID.N with O_CREAT|O_EXCL; the ID comes from its
 *       inode. Readers ignore names that are not a queue ID.
 *   B2. as A1, then set the ready bit (still under the temp name).
 *   B3. rename(2) to QUEUE/H/ID without replacing anything
 *       (RENAME_NOREPLACE): readers can see the file from now on.
 *   B4. fsync the file. On a journaling file system (ext4, XFS) this
 *       commits the running transaction, which holds the rename of B3.
 *   B5. fsync the directory that got the name, so the name is on disk
 *       on any file system (free on ext4 with a journal: B4 committed it).
 *   Crashes: before B3 only an invisible temp file is left (swept by
 *   qfile_sweep_temps once its process is gone). Between B3 and the end
 *   of B5, after a reboot there is no file, or the complete file (a
 *   possible duplicate, as above), or a not-ready one (swept), or a
 *   short one (corrupt/), never a half-written file delivered.
 *   Failure: if B4 or B5 fails the name is removed again and -1
 *   returned. One exception: when the directory cannot even be opened for
 *   B5 (postdrop, a member of setgid_group, may write to maildrop/ but
 *   not read it), the name stays, committed is set and -1 is returned;
 *   the caller decides (on a journaling file system B4 has already made
 *   the rename durable).
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "global/mail_proto.h"
#include "global/mail_queue.h"
#include "queue/qfile.h"
#include "queue/qfile_int.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/safe_open.h"

#define QFILE_CREATE_TRIES 100

static char qfile_err[600];

/* qfile_fail - format an error text into static storage, return -1 */
int qfile_fail(const char **error_r, const char *what, const char *path)
{
    snprintf(qfile_err, sizeof(qfile_err), "%s %s: %s", what, path, strerror(errno));
    *error_r = qfile_err;
    return -1;
}

/* qfile_ready - a regular file with the ready bit */
int qfile_ready(const struct stat *st)
{
    return S_ISREG(st->st_mode) && (st->st_mode & QFILE_READY_BIT) != 0;
}

/* qfile_temp_name - ".tPID.N", unique within this process */
void qfile_temp_name(str_t *out)
{
    static unsigned seq;

    str_printf(out, ".t%ld.%u", (long)getpid(), seq++);
}

/* qfile_out_new - the writer's handle on an open file */
qfile_out_t *qfile_out_new(int fd, const char *queue, const char *abspath)
{
    qfile_out_t *qo = mr_calloc(1, sizeof(*qo));

    qo->stream = stream_open_file(fd);
    qo->queue = mr_strdup(queue);
    qo->tmp_abspath = mr_strdup(abspath);
    return qo;
}

/* qfile_create - temp file in queue, ID from its inode */
qfile_out_t *qfile_create(const char *queue, mode_t mode, const char **error_r)
{
    str_t *path = str_new(100);
    str_t *name = str_new(32);
    struct stat st;
    qfile_out_t *qo;
    int fd = -1;

    for (int i = 0; fd < 0 && i < QFILE_CREATE_TRIES; i++) {
	qfile_temp_name(name);
	str_printf(path, "%s/%s", queue, str_data(name));
	str_set(path, mail_queue_path(str_data(path)));
	fd = open(str_data(path), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0 && errno != EEXIST)
	    break;
    }
    str_free(&name);
    if (fd < 0 || fstat(fd, &st) < 0) {
	qfile_fail(error_r, "create", str_data(path));
	if (fd >= 0) {
	    unlink(str_data(path));
	    close(fd);
	}
	str_free(&path);
	return NULL;
    }
    qo = qfile_out_new(fd, queue, str_data(path));
    qo->mode = st.st_mode & 07777;
    qid_new(qo->id, (unsigned long)st.st_ino);
    str_free(&path);
    return qo;
}

/* qfile_mkdirs - create the hash directories leading to abspath */
int qfile_mkdirs(const char *abspath)
{
    char *dir = mr_strdup(abspath);
    char *slash = strrchr(dir, '/');
    int ret = 0;

    if (slash && slash != dir) {
	*slash = 0;
	if (mkdir(dir, 0700) < 0) {
	    if (errno == ENOENT && qfile_mkdirs(dir) == 0)
		ret = mkdir(dir, 0700) < 0 && errno != EEXIST ? -1 : 0;
	    else
		ret = errno == EEXIST ? 0 : -1;
	} else
	    (void)fsync_dir(dir);
    }
    mr_free(dir);
    return ret;
}

/* qfile_rename - no-replace rename that creates missing hash dirs */
static int qfile_rename(const char *from, const char *to)
{
    int ret = renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);

    if (ret < 0 && errno == ENOENT && access(from, F_OK) == 0) {
	if (qfile_mkdirs(to) < 0)
	    return -1;
	ret = renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
    }
    if (ret < 0 && errno == EINVAL) {
	/* File system without RENAME_NOREPLACE: link refuses to replace. */
	if ((ret = link(from, to)) == 0)
	    ret = unlink(from);
    }
    return ret;
}

/* qfile_fsync_dir - fsync the directory holding path: 0 ok, -1 the fsync
 * failed, -2 the directory cannot be opened (errno set either way) */
static int qfile_fsync_dir(const char *path)
{
    char *dir = mr_strdup(path);
    char *slash = strrchr(dir, '/');
    int fd, ret;

    if (slash == NULL)
	dir[0] = '.', dir[1] = 0;
    else if (slash == dir)
	dir[1] = 0;
    else
	*slash = 0;
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    mr_free(dir);
    if (fd < 0)
	return -2;
    ret = fsync(fd);
    if (close(fd) < 0 && ret == 0)
	ret = -1;
    return ret;
}

/* qfile_unname - a commit failed after the rename: take the name away */
static void qfile_unname(const char *final)
{
    int saved = errno;

    if (unlink(final) < 0 && errno != ENOENT)
	msg_warn("remove %s after a failed commit: %m", final);
    else
	(void)qfile_fsync_dir(final);
    errno = saved;
}

/* qfile_write_out - records to the kernel, blocks on their way to disk */
static int qfile_write_out(qfile_out_t *qo, const char **error_r)
{
    int fd = stream_fd(qo->stream);

    if (stream_flush(qo->stream) < 0 || stream_error(qo->stream)) {
	errno = errno ? errno : EIO;
	return qfile_fail(error_r, "write", qo->tmp_abspath);
    }
    if (sync_file_range(fd, 0, 0,
			SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
			    SYNC_FILE_RANGE_WAIT_AFTER) < 0 &&
	errno != ENOSYS && errno != EINVAL && errno != ESPIPE)
	return qfile_fail(error_r, "write", qo->tmp_abspath);
    return 0;
}

/* qfile_mark_ready - set the ready bit on the open file (its mode as
 * the writer made it, looked up only when not known) */
static int qfile_mark_ready(qfile_out_t *qo, const char **error_r)
{
    int fd = stream_fd(qo->stream);
    struct stat st;

    if (qo->mode == 0) {
	if (fstat(fd, &st) < 0)
	    return qfile_fail(error_r, "mark ready", qo->tmp_abspath);
	qo->mode = st.st_mode & 07777 & ~(mode_t)QFILE_READY_BIT;
    }
    if (fchmod(fd, qo->mode | QFILE_READY_BIT) < 0)
	return qfile_fail(error_r, "mark ready", qo->tmp_abspath);
    return 0;
}

/* qfile_sync - fsync the file; on failure take the name away again */
static int qfile_sync(qfile_out_t *qo, const char *final, const char **error_r)
{
    if (fsync(stream_fd(qo->stream)) == 0)
	return 0;
    qfile_fail(error_r, "fsync", final);
    qfile_unname(final);
    return -1;
}

/* qfile_commit_reserved - A1-A3 at the top: write out, ready, fsync */
static int qfile_commit_reserved(qfile_out_t *qo, const char **error_r)
{
    if (qfile_write_out(qo, error_r) < 0 || qfile_mark_ready(qo, error_r) < 0 ||
	qfile_sync(qo, qo->tmp_abspath, error_r) < 0)
	return -1;
    qo->committed = 1;
    return 0;
}

/* qfile_commit_moved - a reservation committed to another queue (hold) */
static int qfile_commit_moved(qfile_out_t *qo, const char *final, const char **error_r)
{
    if (qfile_write_out(qo, error_r) < 0)
	return -1;
    if (qfile_rename(qo->tmp_abspath, final) < 0)
	return qfile_fail(error_r, "rename to", final);
    if (qfile_fsync_dir(qo->tmp_abspath) < 0 || qfile_fsync_dir(final) < 0) {
	qfile_fail(error_r, "fsync directory of", final);
	qfile_unname(final);
	return -1;
    }
    if (qfile_mark_ready(qo, error_r) < 0) {
	qfile_unname(final);
	return -1;
    }
    if (qfile_sync(qo, final, error_r) < 0)
	return -1;
    qo->committed = 1;
    return 0;
}

/* qfile_commit_new - B2-B5 at the top: write out, ready, rename, fsyncs */
static int qfile_commit_new(qfile_out_t *qo, const char *final, const char **error_r)
{
    int dir_ret;

    if (qfile_write_out(qo, error_r) < 0 || qfile_mark_ready(qo, error_r) < 0)
	return -1;
    if (qfile_rename(qo->tmp_abspath, final) < 0)
	return qfile_fail(error_r, "rename to", final);
    if (qfile_sync(qo, final, error_r) < 0)
	return -1; /* committed stays 0 */
    if ((dir_ret = qfile_fsync_dir(final)) == -2) {
	qo->committed = 1; /* the name stays: see the top */
	return qfile_fail(error_r, "open directory of", final);
    }
    if (dir_ret < 0) {
	qfile_fail(error_r, "fsync directory of", final);
	qfile_unname(final);
	return -1;
    }
    qo->committed = 1;
    return 0;
}

/* qfile_commit - commit a reserved or a new file (see the top) */
int qfile_commit(qfile_out_t *qo, const char **error_r)
{
    str_t *final = str_new(100);
    int ret;

    if (qo->home && strcmp(qo->home, qo->queue) == 0) {
	ret = qfile_commit_reserved(qo, error_r);
    } else {
	qfile_abspath(final, qo->queue, qo->id);
	ret = qo->home ? qfile_commit_moved(qo, str_data(final), error_r)
		       : qfile_commit_new(qo, str_data(final), error_r);
    }
    str_free(&final);
    return ret;
}

/* qfile_discard - close; remove the temp file unless committed */
void qfile_discard(qfile_out_t **qop)
{
    qfile_out_t *qo = *qop;

    if (qo == NULL)
	return;
    if (!qo->committed && unlink(qo->tmp_abspath) < 0 && errno != ENOENT)
	msg_warn("remove %s: %m", qo->tmp_abspath);
    if (qo->stream) {
	int fd = stream_release(&qo->stream);

	close(fd);
    }
    mr_free(qo->queue);
    mr_free(qo->tmp_abspath);
    mr_free(qo->home);
    mr_free(qo);
    *qop = NULL;
}

/* qfile_move_sync - rename between queues, fsync the new directory if
 * asked */
static int qfile_move_sync(const char *id, const char *from_queue, const char *to_queue, int sync,
			   const char **error_r)
{
    str_t *from = str_new(100);
    str_t *to = str_new(100);
    int ret;

    qfile_abspath(from, from_queue, id);
    qfile_abspath(to, to_queue, id);
    if ((ret = qfile_rename(str_data(from), str_data(to))) < 0)
	qfile_fail(error_r, "rename", str_data(from));
    else if (sync && (ret = fsync_dir(str_data(to))) < 0)
	qfile_fail(error_r, "fsync directory of", str_data(to));
    str_free(&from);
    str_free(&to);
    return ret;
}

/* qfile_move - rename between queues, the new name durable */
int qfile_move(const char *id, const char *from_queue, const char *to_queue, const char **error_r)
{
    return qfile_move_sync(id, from_queue, to_queue, 1, error_r);
}

/* qfile_move_unsynced - rename between queues, no directory fsync */
int qfile_move_unsynced(const char *id, const char *from_queue, const char *to_queue,
			const char **error_r)
{
    return qfile_move_sync(id, from_queue, to_queue, 0, error_r);
}

/* qfile_remove - unlink a queue file */
int qfile_remove(const char *queue, const char *id, const char **error_r)
{
    str_t *path = str_new(100);
    int ret;

    qfile_abspath(path, queue, id);
    if ((ret = unlink(str_data(path))) < 0)
	qfile_fail(error_r, "remove", str_data(path));
    str_free(&path);
    return ret;
}

/* qfile_temp_owner - the pid in a ".tPID.N" name, or 0 if not such a name */
static long qfile_temp_owner(const char *name)
{
    char *end;
    long pid;

    if (name[0] != '.' || name[1] != 't')
	return 0;
    pid = strtol(name + 2, &end, 10);
    return (pid > 0 && *end == '.') ? pid : 0;
}

/* qfile_writer_alive - does another open file hold a lock on fd's file?
 * A writer locks its file (F_OFD_SETLK) before the file gets its name
 * and keeps the lock until it closes it, so "no lock" means "no writer". */
static int qfile_writer_alive(int fd)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};

    if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
	return 1; /* cannot tell: leave it */
    return fl.l_type != F_UNLCK;
}

/* qfile_sweep_one - handle a queue ID that is not ready; 1 if handled */
static int qfile_sweep_one(const char *queue, const char *dir, const char *id)
{
    str_t *path = str_new(100);
    str_t *to = str_new(100);
    struct stat st;
    int fd, ret = 0;

    str_printf(path, "%s/%s", dir, id);
    fd = open(str_data(path), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0 && !qfile_writer_alive(fd) && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
	!qfile_ready(&st)) {
	if (st.st_size == 0 && unlink(str_data(path)) == 0) {
	    if (msg_verbose)
		msg_info("%s: removed unused reservation in %s", id, queue);
	    ret = 1;
	} else if (st.st_size > 0 &&
		   qfile_rename(str_data(path), qfile_abspath(to, MAIL_QUEUE_CORRUPT, id)) == 0) {
	    (void)fsync_dir(str_data(to));
	    msg_warn("%s: unfinished %s file of a writer that is gone moved to %s", id, queue,
		     MAIL_QUEUE_CORRUPT);
	    ret = 1;
	}
    }
    if (fd >= 0)
	close(fd);
    str_free(&path);
    str_free(&to);
    return ret;
}

/* qfile_sweep_temp - remove dir/name if it is the temp file of a dead process */
static int qfile_sweep_temp(const char *dir, const char *name)
{
    long pid = qfile_temp_owner(name);
    str_t *path;
    int ret = 0;

    if (pid == 0 || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
	return 0;
    path = str_new(100);
    str_printf(path, "%s/%s", dir, name);
    if (unlink(str_data(path)) == 0) {
	msg_warn("removed %s: left by process %ld that no longer exists", str_data(path), pid);
	ret = 1;
    }
    str_free(&path);
    return ret;
}

/* qfile_sweep - temp files, unused reservations, unfinished files */
int qfile_sweep(const char *queue)
{
    const char *dir, *name, *why;
    struct stat st;
    qscan_t *qs;
    int n = 0;

    if ((qs = qscan_open(queue, &why)) == NULL)
	return 0;
    while (qscan_next_name(qs, &dir, &name)) {
	if (qid_valid(name)) {
	    str_t *path = str_new(100);

	    str_printf(path, "%s/%s", dir, name);
	    if (lstat(str_data(path), &st) == 0 && S_ISREG(st.st_mode) && !qfile_ready(&st))
		n += qfile_sweep_one(queue, dir, name);
	    str_free(&path);
	} else
	    n += qfile_sweep_temp(dir, name);
    }
    qscan_close(&qs);
    return n;
}

/* qfile_sweep_due - sweep when master changed or interval passed */
int qfile_sweep_due(const char *queue, long interval)
{
    str_t *path = str_new(100);
    char buf[32], want[32];
    struct stat st;
    ssize_t len;
    int fd, n = 0;

    str_printf(path, "%s/.sweep", queue);
    fd = open(mail_queue_path(str_data(path)), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    str_free(&path);
    if (fd < 0)
	return 0;
    snprintf(want, sizeof(want), "%ld\n", (long)getppid());
    if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0 &&
	(len = pread(fd, buf, sizeof(buf) - 1, 0)) >= 0) {
	buf[len] = 0;
	if (strcmp(buf, want) != 0 || time(NULL) - st.st_mtime >= interval) {
	    n = qfile_sweep(queue);
	    if (ftruncate(fd, 0) < 0 || pwrite(fd, want, strlen(want), 0) < 0)
		msg_warn("update %s/.sweep: %m", queue);
	}
    }
    close(fd);
    return n;
}

/* qfile_sweep_temps - remove temp files (top level) whose writer is gone */
int qfile_sweep_temps(const char *queue)
{
    str_t *path = str_new(100);
    struct dirent *de;
    DIR *dir;
    int removed = 0;

    str_set(path, mail_queue_path(queue));
    if ((dir = opendir(str_data(path))) != NULL) {
	while ((de = readdir(dir)) != NULL)
	    removed += qfile_sweep_temp(str_data(path), de->d_name);
	closedir(dir);
    }
    str_free(&path);
    return removed;
}
