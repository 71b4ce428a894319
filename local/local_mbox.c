/*
 * local_mbox.c - appending to mbox files: the mail spool and "/file".
 *
 * Locking: both an fcntl write lock on the whole file and a dot-lock
 * (FILE.lock, created with O_EXCL), because mail readers differ in which
 * one they honour. Each is tried deliver_lock_attempts times,
 * deliver_lock_delay apart; a dot-lock older than stale_lock_time is
 * taken to be left by a killed process and removed (logged). Still
 * locked after that: a temporary failure (4.2.0), so a delivery never
 * interleaves with another writer; qmgr tries again later.
 *
 * Spool mailboxes (mail_spool_directory) live in a directory only root
 * (or group mail) can write: the dot-lock and the file are made there by
 * the root parent (local_resolve.c), through the directory descriptor;
 * the data is written by the child running as the user, through the
 * descriptor the parent opened. "/file" destinations are opened by the
 * child itself, as the owner of the alias or .forward; the dot-lock is
 * then made only where the owner may create files (else fcntl alone).
 *
 * A failed write cuts the file back to its old size, so a reader never
 * sees half a message followed by the next one. Success is reported only
 * after fsync.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "global/config.h"
#include "global/mail_params.h"
#include "local.h"
#include "util/msg.h"
#include "util/mymalloc.h"

/* mbox_lock_pause - wait between two lock attempts */
static void mbox_lock_pause(void)
{
    long delay = var_deliver_lock_delay;

    sleep((unsigned)(delay > 0 ? delay : 1));
}

/* mbox_fcntl_lock - whole-file write lock, waiting politely: 0 or -1 */
static int mbox_fcntl_lock(int fd, int type)
{
    struct flock fl = {.l_type = (short)type, .l_whence = SEEK_SET};
    long tries = var_deliver_lock_attempts;

    for (long i = 0; i < tries; i++) {
	if (fcntl(fd, F_SETLK, &fl) == 0)
	    return 0;
	if (type == F_UNLCK || (errno != EAGAIN && errno != EACCES))
	    return -1;
	if (i + 1 < tries)
	    mbox_lock_pause();
    }
    errno = EAGAIN;
    return -1;
}

/* dotlock_stale - remove the lock if it is older than stale_lock_time */
static int dotlock_stale(int dirfd, const char *lock)
{
    struct stat st;

    if (fstatat(dirfd, lock, &st, AT_SYMLINK_NOFOLLOW) < 0)
	return errno == ENOENT; /* gone meanwhile: try again */
    if (time(NULL) - st.st_mtime <= var_stale_lock_time)
	return 0;
    if (unlinkat(dirfd, lock, 0) < 0)
	return 0;
    msg_warn("removed stale lock file %s", lock);
    return 1;
}

/* dotlock_acquire - NAME.lock with O_EXCL */
int dotlock_acquire(int dirfd, const char *name)
{
    char *lock = mr_format("%s.lock", name);
    long tries = var_deliver_lock_attempts;
    int fd;

    for (long i = 0; i < tries; i++) {
	fd = openat(dirfd, lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
	    close(fd);
	    mr_free(lock);
	    return 0;
	}
	if (errno != EEXIST)
	    break;
	if (dotlock_stale(dirfd, lock)) {
	    i--;
	    continue;
	}
	if (i + 1 < tries)
	    mbox_lock_pause();
    }
    mr_free(lock);
    return -1;
}

/* dotlock_release - remove NAME.lock */
void dotlock_release(int dirfd, const char *name)
{
    char *lock = mr_format("%s.lock", name);

    if (unlinkat(dirfd, lock, 0) < 0 && errno != ENOENT)
	msg_warn("cannot remove lock file %s: %m", lock);
    mr_free(lock);
}

/* mbox_deliver_fd - append one message under an fcntl lock */
void mbox_deliver_fd(int fd, const char *what, const local_msg_t *msg, const char *rcpt,
		     local_result_t *r)
{
    const char *why;
    struct stat st;
    int err;

    if (mbox_fcntl_lock(fd, F_WRLCK) < 0) {
	local_result_set(r, LOCAL_DEFER, "4.2.0", "cannot lock %s: %s", what,
			 errno == EAGAIN ? "locked by another process" : strerror(errno));
	return;
    }
    if (fstat(fd, &st) < 0 || lseek(fd, 0, SEEK_END) < 0) {
	local_result_set(r, LOCAL_DEFER, "4.2.0", "cannot seek %s: %s", what, strerror(errno));
    } else if (local_msg_write(fd, msg, rcpt, LOCAL_MSG_MBOX, &why) < 0 || fsync(fd) < 0) {
	err = errno;
	if (ftruncate(fd, st.st_size) < 0)
	    msg_warn("cannot cut %s back to %lld bytes: %m", what, (long long)st.st_size);
	local_result_set(r, LOCAL_DEFER, err == ENOSPC || err == EDQUOT ? "4.2.2" : "4.2.0",
			 "cannot append to %s: %s", what, strerror(err));
    } else {
	local_result_set(r, LOCAL_SENT, "2.0.0", "delivered to %s", what);
    }
    (void)mbox_fcntl_lock(fd, F_UNLCK);
}

/* mbox_open_file - open or create a "/file" without following links */
static int mbox_open_file(const char *path, local_result_t *r)
{
    struct stat st;
    int fd;

    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
	local_result_set(r, errno == ELOOP ? LOCAL_BOUNCE : LOCAL_DEFER,
			 errno == ELOOP ? "5.2.0" : "4.2.0", "cannot open file %s: %s", path,
			 errno == ELOOP ? "it is a symbolic link" : strerror(errno));
	return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
	local_result_set(r, LOCAL_BOUNCE, "5.2.0",
			 "cannot deliver to file %s: not a regular file with one link", path);
	close(fd);
	return -1;
    }
    return fd;
}

/* mbox_split_path - directory descriptor and base name of path */
static int mbox_split_path(const char *path, const char **base_r)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    int dfd;

    *base_r = slash ? slash + 1 : path;
    dir = slash == NULL   ? mr_strdup(".")
	  : slash == path ? mr_strdup("/")
			  : mr_strndup(path, (size_t)(slash - path));
    dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    mr_free(dir);
    return dfd;
}

/* mbox_deliver_file - "/file" delivery as the calling user */
void mbox_deliver_file(const char *path, const local_msg_t *msg, const char *rcpt,
		       local_result_t *r)
{
    const char *base;
    int fd, dfd, dotlocked = 0;
    char *what;

    if (strcmp(path, "/dev/null") == 0) {
	local_result_set(r, LOCAL_SENT, "2.0.0", "delivered to file: /dev/null");
	return;
    }
    if ((dfd = mbox_split_path(path, &base)) >= 0) {
	if (dotlock_acquire(dfd, base) == 0)
	    dotlocked = 1;
	else if (errno == EEXIST) {
	    local_result_set(r, LOCAL_DEFER, "4.2.0", "cannot lock file %s: %s.lock exists", path,
			     base);
	    close(dfd);
	    return;
	} /* no right to create the lock: fcntl only */
    }
    if ((fd = mbox_open_file(path, r)) >= 0) {
	what = mr_format("file: %s", path);
	mbox_deliver_fd(fd, what, msg, rcpt, r);
	mr_free(what);
	close(fd);
    }
    if (dotlocked)
	dotlock_release(dfd, base);
    if (dfd >= 0)
	close(dfd);
}
