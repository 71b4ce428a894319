/*
 * qfile_recycle.c - finished queue files kept for reuse instead of removed.
 *
 * Creating a file and removing one are the dearest file-system operations
 * of a message on the queue's path (on ext4 without a journal an inode
 * allocation walks past every inode of its group deleted in the last
 * minute, and a removal frees the inode and waits for the discard of its
 * blocks). So qmgr does not remove a finished file: it empties it and
 * puts it in recycle/ (qfile_recycle_path), and cleanup's reservations
 * take their files from there before they create any (qfile_pool.c). A
 * steady flow of mail then allocates and frees no inodes at all.
 *
 * The steps on qmgr's side, for a file every recipient of which is done:
 *   C1. open active/H/ID; flock it exclusively without waiting (a
 *       delivery agent that still holds its shared lock means "not now":
 *       the caller removes the file instead, as before).
 *   C2. one link, regular: else refuse (the caller removes the name).
 *   C3. fchmod: clear the ready bit. Readers stop taking the file.
 *   C4. ftruncate to 0: the message is gone (it was delivered).
 *   C5. rename to recycle/ID (no replace). Only now can cleanup take it,
 *       so what cleanup takes is always empty and not ready: qmgr never
 *       touches a file once it is in recycle/.
 * Nothing is flushed: the file was delivered, and every state a crash can
 * leave is handled (docs/queue.md, "Recycled queue files"). A process
 * crash between C3 and C5 leaves a not-ready file in active/: only
 * recycling makes one there, so qmgr's restart recovery finishes the job
 * (qfile_recycle_leftovers).
 *
 * The queue ID a file gets when it is reused is a new one (its inode and
 * the time of the new reservation), and cleanup writes it into the file
 * (the queue_id attribute); a reader refuses a file whose recorded ID is
 * not its name (qfile_read.c), which is what keeps a name that a power
 * loss left behind from standing for another message.
 *
 * qfile_recycle_path and qfile_recycle_count allocate nothing and log
 * nothing: qmgr calls them from its removal thread.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/mail_proto.h"
#include "global/mail_queue.h"
#include "queue/qfile.h"
#include "util/msg.h"
#include "util/str.h"

/* qfile_recycle_path - C1-C5 on the finished file at from */
int qfile_recycle_path(const char *from, const char *to)
{
    struct stat st;
    int fd, ret = -1, saved;

    if ((fd = open(from, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
	return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, &st) == 0) {
	if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
	    errno = EMLINK;
	else if (fchmod(fd, st.st_mode & 07777 & ~(mode_t)QFILE_READY_BIT) == 0 &&
		 ftruncate(fd, 0) == 0)
	    ret = renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
    }
    saved = errno;
    close(fd);
    errno = saved;
    return ret;
}

/* qfile_recycle_count - names in dir (not "." and ".."), up to max */
int qfile_recycle_count(const char *dir, int max)
{
    char buf[4096];
    ssize_t len;
    int fd, n = 0;

    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
	return max;
    while (n < max && (len = getdents64(fd, buf, sizeof(buf))) > 0) {
	for (ssize_t off = 0; off < len;) {
	    struct dirent64 *de = (struct dirent64 *)(buf + off);

	    if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
		n++;
	    off += de->d_reclen;
	}
    }
    close(fd);
    return n < max ? n : max;
}

/* qfile_recycle_leftovers - finish what a killed qmgr left in queue
 * (active/): a file there that is not ready was being recycled (C3-C5),
 * so it was delivered; recycle it, or remove it. Returns how many. */
int qfile_recycle_leftovers(const char *queue)
{
    const char *dir, *name, *why;
    str_t *path, *to;
    struct stat st;
    qscan_t *qs;
    int n = 0;

    if ((qs = qscan_open(queue, &why)) == NULL)
	return 0;
    path = str_new(100);
    to = str_new(100);
    while (qscan_next_name(qs, &dir, &name)) {
	str_printf(path, "%s/%s", dir, name);
	if (!qid_valid(name) || lstat(str_data(path), &st) < 0 || !S_ISREG(st.st_mode) ||
	    qfile_ready(&st))
	    continue;
	str_printf(to, "%s/%s", MAIL_QUEUE_RECYCLE, name);
	str_set(to, mail_queue_path(str_data(to)));
	if (qfile_recycle_path(str_data(path), str_data(to)) == 0 || unlink(str_data(path)) == 0) {
	    msg_info("%s: removed (its recycling was interrupted)", name);
	    n++;
	}
    }
    str_free(&path);
    str_free(&to);
    qscan_close(&qs);
    return n;
}
