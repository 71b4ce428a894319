/*
 * local_mbox.c - appending to mbox files: the mail spool and "/file".
 *
 * Locking: both an fcntl write lock on the whole file and a dot-lock
 * (FILE.lock), with the waits and the stale-lock rule of
 * global/mbox_lock.c, the one implementation pop3d's deletions use too.
 * Still locked: a temporary failure (4.2.0), so a delivery never
 * interleaves with another writer; qmgr tries again later. A deletion
 * that pop3d left half done (its journal, FILE.rewrite) is finished
 * before anything is appended.
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
#include <unistd.h>

#include "global/config.h"
#include "global/mail_params.h"
#include "global/mbox_lock.h"
#include "local.h"
#include "util/msg.h"
#include "util/mymalloc.h"

/* mbox_finish_rewrite - finish a deletion cut short (pop3d's journal)
 * before appending: 0 ok, -1 deferred (*r set) */
int mbox_finish_rewrite(int dirfd, const char *name, int fd, const char *what, local_result_t *r)
{
    const char *err = NULL;
    int ret;

    if (mbox_lock_fcntl(fd, F_WRLCK) < 0) {
	local_result_set(r, LOCAL_DEFER, "4.2.0", "cannot lock %s: %s", what,
			 errno == EAGAIN ? "locked by another process" : strerror(errno));
	return -1;
    }
    ret = mbox_journal_finish(dirfd, name, fd, &err);
    (void)mbox_lock_fcntl(fd, F_UNLCK);
    if (ret < 0) {
	msg_warn("%s: %s", what, err);
	local_result_set(r, LOCAL_DEFER, "4.2.0", "cannot finish an earlier rewrite of %s: %s",
			 what, err);
	return -1;
    }
    return 0;
}

/* mbox_deliver_fd - append one message under an fcntl lock */
void mbox_deliver_fd(int fd, const char *what, const local_msg_t *msg, const char *rcpt,
		     local_result_t *r)
{
    const char *why;
    struct stat st;
    int err;

    if (mbox_lock_fcntl(fd, F_WRLCK) < 0) {
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
    (void)mbox_lock_fcntl(fd, F_UNLCK);
}

/* mbox_open_file - open or create a "/file" without following links */
static int mbox_open_file(const char *path, local_result_t *r)
{
    struct stat st;
    int fd;

    fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
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
	if (mbox_dotlock_acquire(dfd, base) == 0)
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
	if (!dotlocked || mbox_finish_rewrite(dfd, base, fd, what, r) == 0)
	    mbox_deliver_fd(fd, what, msg, rcpt, r);
	mr_free(what);
	close(fd);
    }
    if (dotlocked)
	mbox_dotlock_release(dfd, base);
    if (dfd >= 0)
	close(dfd);
}
