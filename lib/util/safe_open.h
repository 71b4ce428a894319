/*
 * safe_open.h - opening files without being tricked by links.
 *
 * An existing file is opened with O_NOFOLLOW and then checked through the
 * open descriptor (fstat): it must be a regular file with one hard link,
 * and, when want_uid is not -1, owned by that user. A new file is created
 * with O_CREAT|O_EXCL so that nothing already there is reused. Checking
 * the descriptor rather than the path leaves no window between check and
 * use.
 */
#ifndef MR_SAFE_OPEN_H
#define MR_SAFE_OPEN_H

#include <errno.h>
#include <sys/types.h>

/* safe_open - open path; flags as open(2). With O_CREAT, O_EXCL is
 * implied unless SAFE_OPEN_MAY_EXIST is or'ed into flags. Returns fd or
 * -1 with text in *error_r (static storage). */
int safe_open(const char *path, int flags, mode_t mode, uid_t want_uid, const char **error_r);

#define SAFE_OPEN_MAY_EXIST 0x40000000

/*
 * errno after a refused file: ELOOP (a symbolic link), EFTYPE_SAFE (not a
 * regular file: directory, FIFO, socket, device), EMLINK (more than one
 * hard link), EPERM (wrong owner). A FIFO never blocks the open: every
 * open is non-blocking until the descriptor has passed the checks (it
 * stays non-blocking only if the caller asked for O_NONBLOCK).
 */
#define EFTYPE_SAFE EINVAL

/* safe_open_read - read-only open of an existing regular file, any owner */
int safe_open_read(const char *path, const char **error_r);

/* fsync_dir - fsync the directory that holds path; 0 ok, -1 error */
int fsync_dir(const char *path);

/* safe_stdio - make sure descriptors 0, 1 and 2 are open, reopening a
 * closed one on /dev/null. A set-gid program calls it first thing in
 * main: started with, say, stdout closed, the next file it opens would
 * get descriptor 1, and whatever it prints would land in that file.
 * Fatal (exit 75, EX_TEMPFAIL) if /dev/null cannot be opened. */
void safe_stdio(void);

/* reopen_read_only - a new read-only descriptor (close-on-exec, its own
 * offset) of the file open on fd, opened afresh through /proc/self/fd, to
 * hand to a less trusted process instead of a writable one; -1 (errno) */
int reopen_read_only(int fd);

/* write_all - write everything or fail; 0 ok, -1 error */
int write_all(int fd, const void *buf, size_t len);

/* pwrite_all - write everything at offset off or fail; 0 ok, -1 error */
int pwrite_all(int fd, const void *buf, size_t len, off_t off);

#endif
