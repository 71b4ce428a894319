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

#include <sys/types.h>

/* safe_open - open path; flags as open(2). With O_CREAT, O_EXCL is
 * implied unless SAFE_OPEN_MAY_EXIST is or'ed into flags. Returns fd or
 * -1 with text in *error_r (static storage). */
int     safe_open(const char *path, int flags, mode_t mode, uid_t want_uid,
		  const char **error_r);

#define SAFE_OPEN_MAY_EXIST	0x40000000

/* safe_open_read - read-only open of an existing regular file, any owner */
int     safe_open_read(const char *path, const char **error_r);

/* fsync_dir - fsync the directory that holds path; 0 ok, -1 error */
int     fsync_dir(const char *path);

/* write_all - write everything or fail; 0 ok, -1 error */
int     write_all(int fd, const void *buf, size_t len);

#endif
