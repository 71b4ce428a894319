/*
 * mbox_lock.c - the mbox locks (fcntl and dot-lock) and the journal of a
 * rewrite, shared by local (appends) and the store (pop3d's deletions).
 *
 * Why a journal and an in-place copy rather than a new file renamed over
 * the mbox: other programs (local waiting for the lock, a mail reader)
 * may hold the mbox open, and would go on writing into a file that is no
 * longer the mailbox; the spool file's owner, group and mode stay as the
 * administrator made them; and only the part after the first deleted
 * message needs room on the disk, once, in the journal.
 *
 * The crash argument, step by step (both locks held throughout):
 *   1. NAME.rewrite is created (O_EXCL), filled, fsync'd, the directory
 *      fsync'd. A crash or a full disk here leaves the mbox untouched; an
 *      incomplete journal (shorter than its header says) is removed by
 *      the next writer.
 *   2. The journal's bytes are written over the mbox at FROM and fsync'd.
 *      A crash here leaves a complete journal and a file still OLDSIZE
 *      long: the next writer (local before it appends, pop3d before it
 *      reads or deletes) does step 2 again, then 3 and 4.
 *   3. The mbox is cut at FROM + LEN and fsync'd. A crash after it leaves
 *      a complete journal and a file of FROM + LEN bytes whose end is the
 *      journal: the next writer only does step 4.
 *   4. The journal is removed and the directory fsync'd.
 * Weak spot: a program that honours neither lock, or one that removes a
 * stale dot-lock and appends without knowing the journal, after a crash
 * between steps 1 and 4, makes the file fit neither state: the journal
 * is then left alone, reported, and writers defer until an administrator
 * looks (nothing is lost, nothing is guessed).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "global/mail_params.h"
#include "global/mbox_lock.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/safe_open.h"
#include "util/str.h"

#define JOURNAL_MAGIC "MRJ1"
#define JOURNAL_HEADER_MAX 100
#define COPY_CHUNK 65536
#define DOTLOCK_MAX_SIZE 64 /* bytes of a lock file that names its maker */

/* lock_pause - wait between two lock attempts */
static void lock_pause(void)
{
    long delay = var_deliver_lock_delay;

    sleep((unsigned)(delay > 0 ? delay : 1));
}

/* mbox_lock_fcntl - see mbox_lock.h */
int mbox_lock_fcntl(int fd, int type)
{
    struct flock fl = {.l_type = (short)type, .l_whence = SEEK_SET};
    long tries = var_deliver_lock_attempts > 0 ? var_deliver_lock_attempts : 1;

    for (long i = 0; i < tries; i++) {
	if (fcntl(fd, F_SETLK, &fl) == 0)
	    return 0;
	if (type == F_UNLCK || (errno != EAGAIN && errno != EACCES))
	    return -1;
	if (i + 1 < tries)
	    lock_pause();
    }
    errno = EAGAIN;
    return -1;
}

/* dotlock_stale - remove the lock if it is older than stale_lock_time
 * and looks like one: an empty (or pid-sized) regular file with one link.
 * Anything else of that name is left alone: in a spool directory NAME.lock
 * may be the mailbox of a user called so, which the mailbox's owner (root's
 * local, or pop3d with the spool's group) must never remove. */
static int dotlock_stale(int dirfd, const char *lock)
{
    struct stat st;

    if (fstatat(dirfd, lock, &st, AT_SYMLINK_NOFOLLOW) < 0)
	return errno == ENOENT; /* gone meanwhile: try again */
    if (time(NULL) - st.st_mtime <= var_stale_lock_time)
	return 0;
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_size > DOTLOCK_MAX_SIZE) {
	msg_warn("%s is old but not a lock file (%lld bytes): not removed", lock,
		 (long long)st.st_size);
	return 0;
    }
    if (unlinkat(dirfd, lock, 0) < 0)
	return 0;
    msg_warn("removed stale lock file %s", lock);
    return 1;
}

/* mbox_dotlock_acquire - see mbox_lock.h */
int mbox_dotlock_acquire(int dirfd, const char *name)
{
    char *lock = mr_format("%s" MBOX_DOTLOCK_SUFFIX, name);
    long tries = var_deliver_lock_attempts > 0 ? var_deliver_lock_attempts : 1;
    int fd, err = 0;

    for (long i = 0; i < tries; i++) {
	fd = openat(dirfd, lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
	    close(fd);
	    mr_free(lock);
	    return 0;
	}
	if ((err = errno) != EEXIST)
	    break;
	if (dotlock_stale(dirfd, lock)) {
	    i--;
	    continue;
	}
	if (i + 1 < tries)
	    lock_pause();
    }
    mr_free(lock);
    errno = err;
    return -1;
}

/* mbox_name_ends - does name end in suffix (and have something before)? */
static int mbox_name_ends(const char *name, const char *suffix)
{
    size_t n = strlen(name), k = strlen(suffix);

    return n > k && strcmp(name + n - k, suffix) == 0;
}

/* mbox_spool_name_ok - see mbox_lock.h */
int mbox_spool_name_ok(const char *name)
{
    return !mbox_name_ends(name, MBOX_DOTLOCK_SUFFIX) && !mbox_name_ends(name, MBOX_JOURNAL_SUFFIX);
}

/* mbox_dotlock_release - see mbox_lock.h */
void mbox_dotlock_release(int dirfd, const char *name)
{
    char *lock = mr_format("%s" MBOX_DOTLOCK_SUFFIX, name);

    if (unlinkat(dirfd, lock, 0) < 0 && errno != ENOENT)
	msg_warn("cannot remove lock file %s: %m", lock);
    mr_free(lock);
}

/* journal_fail - keep an error text, set errno, return -1 */
static int journal_fail(const char **error_r, const char *what, const char *name, int err)
{
    static char buf[512];

    snprintf(buf, sizeof(buf), "%s %s%s: %s", what, name, MBOX_JOURNAL_SUFFIX, strerror(err));
    *error_r = buf;
    errno = err;
    return -1;
}

/* copy_bytes - len bytes from in at ifrom to out at ofrom; 0 or -1 */
static int copy_bytes(int in, off_t ifrom, int out, off_t ofrom, off_t len)
{
    char *buf = mr_alloc(COPY_CHUNK);
    ssize_t n;
    int ret = 0;

    while (len > 0) {
	size_t want = len < COPY_CHUNK ? (size_t)len : COPY_CHUNK;

	if ((n = pread(in, buf, want, ifrom)) <= 0) {
	    if (n == 0)
		errno = EIO; /* shorter than it was a moment ago */
	    ret = -1;
	    break;
	}
	for (ssize_t done = 0, w; done < n; done += w)
	    if ((w = pwrite(out, buf + done, (size_t)(n - done), ofrom + done)) < 0) {
		ret = -1;
		goto out;
	    }
	ifrom += n;
	ofrom += n;
	len -= n;
    }
out:
    mr_free(buf);
    return ret;
}

/* journal_header - parse "MRJ1 FROM OLDSIZE LEN\n"; header length or -1 */
static int journal_header(int jfd, off_t *from, off_t *old, off_t *len)
{
    char buf[JOURNAL_HEADER_MAX + 1], *nl, *end;
    ssize_t n = pread(jfd, buf, JOURNAL_HEADER_MAX, 0);
    long long v[3];
    char *p;

    if (n <= 0)
	return -1;
    buf[n] = 0;
    if ((nl = strchr(buf, '\n')) == NULL || strncmp(buf, JOURNAL_MAGIC " ", 5) != 0)
	return -1;
    p = buf + 5;
    for (int i = 0; i < 3; i++) {
	if (*p < '0' || *p > '9')
	    return -1;
	errno = 0;
	v[i] = strtoll(p, &end, 10);
	if (errno || end == p || (i < 2 && *end != ' ') || (i == 2 && end != nl))
	    return -1;
	p = end + 1;
    }
    *from = (off_t)v[0];
    *old = (off_t)v[1];
    *len = (off_t)v[2];
    return (int)(nl - buf) + 1;
}

/* fd_no_append - clear O_APPEND (pwrite would append on Linux); old flags */
static int fd_no_append(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    if (fl >= 0 && (fl & O_APPEND))
	(void)fcntl(fd, F_SETFL, fl & ~O_APPEND);
    return fl;
}

/* journal_apply - steps 2 and 3: the journal's bytes over the file at
 * from, fsync, cut, fsync; 0 or -1 */
static int journal_apply(int jfd, int hlen, int fd, off_t from, off_t len)
{
    int fl = fd_no_append(fd), ret = -1;

    if (copy_bytes(jfd, hlen, fd, from, len) == 0 && fsync(fd) == 0 &&
	ftruncate(fd, from + len) == 0 && fsync(fd) == 0)
	ret = 0;
    if (fl >= 0 && (fl & O_APPEND)) {
	int err = errno;

	(void)fcntl(fd, F_SETFL, fl);
	errno = err;
    }
    return ret;
}

/* journal_remove - step 4 */
static int journal_remove(int dirfd, const char *jname)
{
    if (unlinkat(dirfd, jname, 0) < 0 && errno != ENOENT)
	return -1;
    return fsync(dirfd) < 0 && errno != EINVAL ? -1 : 0;
}

/* journal_fits - is the file in a state the journal leaves it in? 2 not
 * yet written over (steps 1-2), 1 already cut (step 3), 0 neither */
static int journal_fits(int jfd, int hlen, int fd, off_t from, off_t old, off_t len)
{
    struct stat st;
    char *a, *b;
    int same = 1;

    if (fstat(fd, &st) < 0 || from < 0 || len < 0 || from + len >= old)
	return 0;
    if (st.st_size == old)
	return 2;
    if (st.st_size != from + len)
	return 0;
    a = mr_alloc(COPY_CHUNK);
    b = mr_alloc(COPY_CHUNK);
    for (off_t at = 0; same && at < len; at += COPY_CHUNK) {
	size_t n = len - at < COPY_CHUNK ? (size_t)(len - at) : COPY_CHUNK;

	same = pread(jfd, a, n, hlen + at) == (ssize_t)n &&
	       pread(fd, b, n, from + at) == (ssize_t)n && memcmp(a, b, n) == 0;
    }
    mr_free(a);
    mr_free(b);
    return same;
}

/* journal_owner_ok - a regular file with one link, owned as the mbox is */
static int journal_owner_ok(int jfd, int fd, struct stat *js)
{
    struct stat ms;

    return fstat(jfd, js) == 0 && fstat(fd, &ms) == 0 && S_ISREG(js->st_mode) &&
	   js->st_nlink == 1 && js->st_uid == ms.st_uid;
}

/* mbox_journal_finish - see mbox_lock.h */
int mbox_journal_finish(int dirfd, const char *name, int fd, const char **error_r)
{
    char *jname = mr_format("%s%s", name, MBOX_JOURNAL_SUFFIX);
    off_t from, old, len;
    struct stat js;
    int jfd, hlen, fits, ret = -1;

    if ((jfd = openat(dirfd, jname, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0) {
	ret = errno == ENOENT ? 0 : journal_fail(error_r, "open", name, errno);
	mr_free(jname);
	return ret;
    }
    if (!journal_owner_ok(jfd, fd, &js)) {
	journal_fail(error_r,
		     "not a regular file with one link owned by the mailbox's owner:", name, EPERM);
    } else if ((hlen = journal_header(jfd, &from, &old, &len)) < 0 || js.st_size != hlen + len) {
	/* cut short in step 1: the mbox was never touched */
	msg_info("%s%s: incomplete, the mailbox was not changed: removed", name,
		 MBOX_JOURNAL_SUFFIX);
	ret = journal_remove(dirfd, jname) < 0 ? journal_fail(error_r, "remove", name, errno) : 0;
    } else if ((fits = journal_fits(jfd, hlen, fd, from, old, len)) == 0) {
	journal_fail(error_r,
		     "does not fit the mailbox as it is now, left for the administrator:", name,
		     EUCLEAN);
    } else if (fits == 2 && journal_apply(jfd, hlen, fd, from, len) < 0) {
	journal_fail(error_r, "finish the rewrite of", name, errno);
    } else if (journal_remove(dirfd, jname) < 0) {
	journal_fail(error_r, "remove", name, errno);
    } else {
	msg_warn("%s: a rewrite cut short was finished from %s%s", name, name, MBOX_JOURNAL_SUFFIX);
	ret = 1;
    }
    close(jfd);
    mr_free(jname);
    return ret;
}

/* journal_fill - step 1: the header and the kept ranges, fsync'd */
static int journal_fill(int jfd, int fd, off_t from, const mbox_range_t *keep, size_t n,
			off_t *hlen_r, off_t *len_r)
{
    struct stat st;
    off_t len = 0, at;
    char head[JOURNAL_HEADER_MAX];
    int hlen;

    for (size_t i = 0; i < n; i++)
	len += keep[i].end - keep[i].start;
    if (fstat(fd, &st) < 0)
	return -1;
    hlen = snprintf(head, sizeof(head), "%s %lld %lld %lld\n", JOURNAL_MAGIC, (long long)from,
		    (long long)st.st_size, (long long)len);
    if (write_all(jfd, head, (size_t)hlen) < 0)
	return -1;
    at = hlen;
    for (size_t i = 0; i < n; i++) {
	if (copy_bytes(fd, keep[i].start, jfd, at, keep[i].end - keep[i].start) < 0)
	    return -1;
	at += keep[i].end - keep[i].start;
    }
    *hlen_r = hlen;
    *len_r = len;
    return fsync(jfd);
}

/* mbox_rewrite - see mbox_lock.h */
int mbox_rewrite(int dirfd, const char *name, int fd, off_t from, const mbox_range_t *keep,
		 size_t n, const char **error_r)
{
    char *jname = mr_format("%s%s", name, MBOX_JOURNAL_SUFFIX);
    off_t hlen = 0, len = 0;
    int jfd, ret = -1, err;

    jfd = openat(dirfd, jname, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (jfd < 0) {
	ret = journal_fail(error_r, "create", name, errno);
    } else if (journal_fill(jfd, fd, from, keep, n, &hlen, &len) < 0 ||
	       (fsync(dirfd) < 0 && errno != EINVAL)) {
	err = errno;
	(void)journal_remove(dirfd, jname); /* step 1 failed: the mbox is untouched */
	ret = journal_fail(error_r, "write", name, err);
    } else if (journal_apply(jfd, (int)hlen, fd, from, len) < 0) {
	/* the journal stays: the next writer finishes the rewrite */
	ret = journal_fail(error_r, "rewrite the mailbox from", name, errno);
    } else {
	if (journal_remove(dirfd, jname) < 0) /* done; the next writer removes it */
	    msg_warn("cannot remove %s%s: %m", name, MBOX_JOURNAL_SUFFIX);
	ret = 0;
    }
    if (jfd >= 0)
	close(jfd);
    mr_free(jname);
    return ret;
}
