/*
 * mbox_lock.h - locking an mbox file, and finishing a rewrite that was
 * cut short: the one protocol of every Mailroom program that writes an
 * mbox (local appends, pop3d deletes).
 *
 * A writer holds both locks: a dot-lock (NAME.lock, created with O_EXCL
 * in the mbox's directory) and an fcntl write lock on the whole file,
 * because mail readers differ in which one they honour. Each is tried
 * deliver_lock_attempts times, deliver_lock_delay apart; a dot-lock
 * older than stale_lock_time is taken to be left by a killed process and
 * removed (logged). A reader (a scan) takes an fcntl read lock only.
 *
 * A rewrite (deleting messages) goes through a journal, NAME.rewrite in
 * the same directory: "MRJ1 FROM OLDSIZE LEN\n" then LEN bytes, the new
 * content of the file from offset FROM on. Once the journal is complete
 * and fsync'd, the bytes are copied over the file at FROM and the file is
 * cut at FROM + LEN; then the journal is removed. Every writer finishes a
 * journal it finds (mbox_journal_finish) before it changes the file, so
 * a rewrite killed half way is completed, never appended to.
 */
#ifndef MR_MBOX_LOCK_H
#define MR_MBOX_LOCK_H

#include <sys/types.h>

#define MBOX_JOURNAL_SUFFIX ".rewrite"
#define MBOX_DOTLOCK_SUFFIX ".lock"

/* mbox_spool_name_ok - may a user called name have an mbox named so in a
 * directory of many users' mboxes (mail_spool_directory)? 0 when the
 * name ends in MBOX_DOTLOCK_SUFFIX or MBOX_JOURNAL_SUFFIX: that file would
 * be the dot-lock or the journal of another user's mbox, so each user's
 * mail would block or disturb the other's. 1 otherwise. */
int mbox_spool_name_ok(const char *name);

/* mbox_lock_fcntl - an fcntl lock of type (F_RDLCK, F_WRLCK, F_UNLCK) on
 * the whole file, tried deliver_lock_attempts times deliver_lock_delay
 * apart: 0 ok, -1 with errno (EAGAIN: still locked by another process) */
int mbox_lock_fcntl(int fd, int type);

/* mbox_dotlock_acquire - create NAME.lock in dirfd (O_EXCL, no links),
 * removing a lock older than stale_lock_time, retrying as above: 0 ok,
 * -1 with errno (EEXIST: still locked after all attempts) */
int mbox_dotlock_acquire(int dirfd, const char *name);

/* mbox_dotlock_release - remove NAME.lock */
void mbox_dotlock_release(int dirfd, const char *name);

/* mbox_journal_finish - with both locks held, complete the rewrite that
 * NAME.rewrite in dirfd describes on the mbox open on fd (read-write),
 * then remove the journal; an incomplete journal (the rewrite never
 * touched the file) is only removed. A journal that is not a regular file
 * with one link owned by the mbox's owner, or that does not fit the file
 * as it is (something else changed it), is left alone and reported.
 * Returns 0 (nothing to do), 1 (finished), -1 error (*error_r, static). */
int mbox_journal_finish(int dirfd, const char *name, int fd, const char **error_r);

/* a part of the old file that the rewrite keeps: bytes start..end-1 */
typedef struct mbox_range {
    off_t start, end;
} mbox_range_t;

/* mbox_rewrite - the rewrite itself, with both locks held and no journal
 * left (mbox_journal_finish first): the file from offset from on becomes
 * the n ranges of its old content, in order (each at or after from). The
 * journal is written and fsync'd (and the directory), copied over the
 * file, the file cut, the journal removed. On an error before the file
 * was touched (a full disk) the journal is removed and the file is as it
 * was. 0 ok, -1 error (*error_r, static). */
int mbox_rewrite(int dirfd, const char *name, int fd, off_t from, const mbox_range_t *keep,
		 size_t n, const char **error_r);

#endif
