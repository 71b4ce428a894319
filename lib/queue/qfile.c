/*
 * qfile.c - creating, committing, moving and removing queue files.
 *
 * The commit sequence, and why a crash anywhere in it is safe:
 *
 *   1. create QUEUE/.tPID.N with O_CREAT|O_EXCL; the ID comes from its
 *      inode. Readers (qscan, pickup, qmgr) ignore names that are not a
 *      queue ID, so this file is invisible whatever it holds.
 *   2. write every record, END last; flush; fsync the file. A crash here
 *      leaves only an invisible temp file.
 *   3. rename(2) to QUEUE/H/ID without replacing anything (RENAME_NOREPLACE).
 *      rename is atomic: after a crash the name either does not exist or
 *      names the complete, fsync'd file of step 2.
 *   4. fsync the directory that got the name, so the rename itself is on
 *      disk before anyone is told "accepted".
 * Only after step 4 does cleanup answer its client, so smtpd's 250 always
 * refers to a file that a reboot cannot take back.
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
static int qfile_mkdirs(const char *abspath)
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

/* qfile_commit - flush, fsync, rename, fsync the directory */
int     qfile_commit(qfile_out_t *qo, const char **error_r)
{
    str_t  *final = str_new(100);
    int     ret = -1;

    qfile_abspath(final, qo->queue, qo->id);
    if (stream_flush(qo->stream) < 0 || stream_error(qo->stream)) {
	errno = errno ? errno : EIO;
	qfile_fail(error_r, "write", qo->tmp_abspath);
    } else if (fsync(stream_fd(qo->stream)) < 0)
	qfile_fail(error_r, "fsync", qo->tmp_abspath);
    else if (qfile_rename(qo->tmp_abspath, str_data(final)) < 0)
	qfile_fail(error_r, "rename to", str_data(final));
    else {
	qo->committed = 1;
	if (fsync_dir(str_data(final)) < 0)
	    qfile_fail(error_r, "fsync directory of", str_data(final));
	else
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
