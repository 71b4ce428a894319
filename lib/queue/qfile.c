/*
 * qfile.c - creating, committing, moving and removing queue files.
 *
 * The commit sequence, and why a crash anywhere in it is safe:
 *
 *   1. create QUEUE/.tPID.N with O_CREAT|O_EXCL; the ID comes from its
 *      inode. Readers (qscan, pickup, qmgr) ignore names that are not a
 *      queue ID, so this file is invisible whatever it holds.
 *   2. write every record, END last, and flush them to the kernel; then
 *      sync_file_range(WAIT_BEFORE|WRITE|WAIT_AFTER): the data blocks are
 *      allocated and written to the device before the file gets a name
 *      a reader looks at. No journal commit and no cache flush happen here.
 *   3. rename(2) to QUEUE/H/ID without replacing anything (RENAME_NOREPLACE).
 *      From now on readers can see the file. What they read comes from the
 *      page cache, which holds the whole file, END included (step 2 wrote
 *      it all before the rename), so a reader never meets a half-written
 *      file that is still being written.
 *   4. fsync the file: its inode and blocks are on disk. On a journaling
 *      file system (ext4, XFS) this commits the running transaction, which
 *      already holds the rename of step 3 (it happened first).
 *   5. fsync the directory that got the name, so the name is on disk on
 *      any file system. On ext4 with a journal the transaction that holds
 *      the rename was committed in step 4, so this costs no second journal
 *      commit (measured on journaled ext4: 0.003 ms, against 0.33 ms
 *      when the rename comes after the file's fsync). Concurrent
 *      cleanups share commits too. Without a journal each of steps 4 and
 *      5 ends in its own device cache flush. Running 5 in a second thread
 *      during 4 did not merge them (still two flushes per message in the
 *      device's counters, no gain in latency), nor did fdatasync in step
 *      4 save anything, so the two run one after the other (figures in
 *      docs/benchmarks.md).
 * Only after step 5 does cleanup answer its client, so smtpd's 250 always
 * refers to a file whose content and name a reboot cannot take back.
 *
 * Crashes: before 3, only an invisible temp file is left (swept, see
 * below); the client got no 250 and sends again. Between 3 and the end of
 * 5 the name may or may not have reached the disk (another process's
 * fsync, or the periodic journal commit, may have carried the rename).
 * After the reboot there is then either no file, the complete file (it
 * is delivered although the client saw no 250: a possible duplicate,
 * exactly as after a crash between step 5 and the answer), or, if the
 * name reached the disk but the inode's new size or blocks did not, a
 * short or empty file without END, which readers move to corrupt/ (the
 * client got no 250 and sends the message again: nothing is lost). A
 * name whose blocks hold other, stale data cannot appear on a file system
 * that writes data before the metadata that points at it (ext4
 * data=ordered, the default, XFS, btrfs), and step 2 has the data on the
 * device before the rename in any case; only a volatile disk cache that
 * reorders writes on a file system without a journal is left, and such a
 * file system makes no promise about unsynced metadata at all.
 *
 * Failure: if the fsync of step 4 or 5 fails, the name is removed from
 * the queue again (the directory fsync'd as far as it goes), qfile_commit
 * returns -1, and cleanup answers 4xx: the client keeps the message. A
 * reader that picked the file up in the meantime (qmgr, once it exists)
 * may deliver it as well: a duplicate, never a loss. One exception: when
 * the directory cannot even be opened for step 5 (postdrop, a member of
 * setgid_group, may write to maildrop/ but not read it), the name stays,
 * committed is set and -1 is returned, as before; the caller decides (on
 * a journaling file system step 4 has already made the rename durable).
 *
 * Temp files of a process killed between 1 and 3 stay behind, invisible
 * and harmless, until qfile_sweep_temps (run by each new cleanup and by
 * pickup) sees that their process is gone and removes them.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "master/mail_server.h"
#include "queue/qfile.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/safe_open.h"

#define QFILE_CREATE_TRIES	100

static char qfile_err[600];

/* qfile_fail - format an error text into static storage, return -1 */
static int qfile_fail(const char **error_r, const char *what, const char *path)
{
    snprintf(qfile_err, sizeof(qfile_err), "%s %s: %s", what, path, strerror(errno));
    *error_r = qfile_err;
    return -1;
}

/* qfile_create - temp file in queue, ID from its inode */
qfile_out_t *qfile_create(const char *queue, mode_t mode, const char **error_r)
{
    static unsigned seq;
    str_t  *path = str_new(100);
    struct stat st;
    int     fd = -1;

    for (int i = 0; fd < 0 && i < QFILE_CREATE_TRIES; i++) {
	str_printf(path, "%s/.t%ld.%u", queue, (long) getpid(), seq++);
	str_set(path, server_queue_path(str_data(path)));
	fd = open(str_data(path), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0 && errno != EEXIST)
	    break;
    }
    if (fd < 0 || fstat(fd, &st) < 0) {
	qfile_fail(error_r, "create", str_data(path));
	if (fd >= 0) {
	    unlink(str_data(path));
	    close(fd);
	}
	str_free(&path);
	return NULL;
    }
    qfile_out_t *qo = mr_calloc(1, sizeof(*qo));

    qo->stream = stream_open(fd);
    qo->queue = mr_strdup(queue);
    qo->tmp_abspath = str_steal(&path);
    qid_new(qo->id, (unsigned long) st.st_ino);
    return qo;
}

/* qfile_mkdirs - create the hash directories leading to abspath */
int     qfile_mkdirs(const char *abspath)
{
    char   *dir = mr_strdup(abspath);
    char   *slash = strrchr(dir, '/');
    int     ret = 0;

    if (slash && slash != dir) {
	*slash = 0;
	if (mkdir(dir, 0700) < 0) {
	    if (errno == ENOENT && qfile_mkdirs(dir) == 0)
		ret = mkdir(dir, 0700) < 0 && errno != EEXIST ? -1 : 0;
	    else
		ret = errno == EEXIST ? 0 : -1;
	} else
	    (void) fsync_dir(dir);
    }
    mr_free(dir);
    return ret;
}

/* qfile_rename - no-replace rename that creates missing hash dirs */
static int qfile_rename(const char *from, const char *to)
{
    int     ret = renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);

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
    char   *dir = mr_strdup(path);
    char   *slash = strrchr(dir, '/');
    int     fd, ret;

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
    int     saved = errno;

    if (unlink(final) < 0 && errno != ENOENT)
	msg_warn("remove %s after a failed commit: %m", final);
    else
	(void) qfile_fsync_dir(final);
    errno = saved;
}

/* qfile_commit - flush, write out, rename, fsync file and directory */
int     qfile_commit(qfile_out_t *qo, const char **error_r)
{
    str_t  *final = str_new(100);
    int     fd = stream_fd(qo->stream);
    int     ret = -1, dir_ret;

    qfile_abspath(final, qo->queue, qo->id);
    if (stream_flush(qo->stream) < 0 || stream_error(qo->stream)) {
	errno = errno ? errno : EIO;
	qfile_fail(error_r, "write", qo->tmp_abspath);
    } else if (sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WAIT_BEFORE
			       | SYNC_FILE_RANGE_WRITE
			       | SYNC_FILE_RANGE_WAIT_AFTER) < 0
	       && errno != ENOSYS && errno != EINVAL && errno != ESPIPE)
	qfile_fail(error_r, "write", qo->tmp_abspath);
    else if (qfile_rename(qo->tmp_abspath, str_data(final)) < 0)
	qfile_fail(error_r, "rename to", str_data(final));
    else if (fsync(fd) < 0) {
	qfile_fail(error_r, "fsync", str_data(final));
	qfile_unname(str_data(final));	/* committed stays 0 */
    } else if ((dir_ret = qfile_fsync_dir(str_data(final))) == -2) {
	qfile_fail(error_r, "open directory of", str_data(final));
	qo->committed = 1;			/* the name stays: see the top */
    } else if (dir_ret < 0) {
	qfile_fail(error_r, "fsync directory of", str_data(final));
	qfile_unname(str_data(final));
    } else {
	qo->committed = 1;
	ret = 0;
    }
    str_free(&final);
    return ret;
}

/* qfile_discard - close; remove the temp file unless committed */
void    qfile_discard(qfile_out_t **qop)
{
    qfile_out_t *qo = *qop;

    if (qo == NULL)
	return;
    if (!qo->committed && unlink(qo->tmp_abspath) < 0 && errno != ENOENT)
	msg_warn("remove %s: %m", qo->tmp_abspath);
    if (qo->stream) {
	int     fd = stream_release(&qo->stream);

	close(fd);
    }
    mr_free(qo->queue);
    mr_free(qo->tmp_abspath);
    mr_free(qo);
    *qop = NULL;
}

/* qfile_move - rename between queues */
int     qfile_move(const char *id, const char *from_queue, const char *to_queue,
		   const char **error_r)
{
    str_t  *from = str_new(100);
    str_t  *to = str_new(100);
    int     ret;

    qfile_abspath(from, from_queue, id);
    qfile_abspath(to, to_queue, id);
    if ((ret = qfile_rename(str_data(from), str_data(to))) < 0)
	qfile_fail(error_r, "rename", str_data(from));
    else if ((ret = fsync_dir(str_data(to))) < 0)
	qfile_fail(error_r, "fsync directory of", str_data(to));
    str_free(&from);
    str_free(&to);
    return ret;
}

/* qfile_remove - unlink a queue file */
int     qfile_remove(const char *queue, const char *id, const char **error_r)
{
    str_t  *path = str_new(100);
    int     ret;

    qfile_abspath(path, queue, id);
    if ((ret = unlink(str_data(path))) < 0)
	qfile_fail(error_r, "remove", str_data(path));
    str_free(&path);
    return ret;
}

/* qfile_temp_owner - the pid in a ".tPID.N" name, or 0 if not such a name */
static long qfile_temp_owner(const char *name)
{
    char   *end;
    long    pid;

    if (name[0] != '.' || name[1] != 't')
	return 0;
    pid = strtol(name + 2, &end, 10);
    return (pid > 0 && *end == '.') ? pid : 0;
}

/* qfile_sweep_temps - remove temp files whose writer is gone */
int     qfile_sweep_temps(const char *queue)
{
    str_t  *path = str_new(100);
    struct dirent *de;
    DIR    *dir;
    int     removed = 0;

    str_set(path, server_queue_path(queue));
    if ((dir = opendir(str_data(path))) == NULL) {
	str_free(&path);
	return 0;
    }
    while ((de = readdir(dir)) != NULL) {
	long    pid = qfile_temp_owner(de->d_name);

	if (pid == 0 || kill((pid_t) pid, 0) == 0 || errno != ESRCH)
	    continue;
	str_printf(path, "%s/%s", queue, de->d_name);
	str_set(path, server_queue_path(str_data(path)));
	if (unlink(str_data(path)) == 0) {
	    msg_warn("removed %s: left by process %ld that no longer exists",
		     str_data(path), pid);
	    removed++;
	}
    }
    closedir(dir);
    str_free(&path);
    return removed;
}
