/*
 * safe_open.c - link-safe file opening (see safe_open.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "safe_open.h"
#include "str.h"

static char safe_open_err[600];

/* safe_open_fail - error text, close, -1 */
static int safe_open_fail(const char **error_r, int fd, const char *path, const char *why)
{
    snprintf(safe_open_err, sizeof(safe_open_err), "%s: %s", path, why);
    if (fd >= 0)
	close(fd);
    if (error_r)
	*error_r = safe_open_err;
    return -1;
}

/* safe_open_check - verify what we opened is what we expect */
static int safe_open_check(int fd, const char *path, uid_t want_uid, const char **error_r)
{
    struct stat st;

    if (fstat(fd, &st) < 0)
	return safe_open_fail(error_r, fd, path, strerror(errno));
    if (!S_ISREG(st.st_mode)) {
	safe_open_fail(error_r, fd, path, "not a regular file");
	errno = EFTYPE_SAFE;
	return -1;
    }
    if (st.st_nlink != 1) {
	safe_open_fail(error_r, fd, path, "file has more than one hard link");
	errno = EMLINK;
	return -1;
    }
    if (want_uid != (uid_t)-1 && st.st_uid != want_uid) {
	safe_open_fail(error_r, fd, path, "file has the wrong owner");
	errno = EPERM;
	return -1;
    }
    return fd;
}

int safe_open(const char *path, int flags, mode_t mode, uid_t want_uid, const char **error_r)
{
    int may_exist = (flags & SAFE_OPEN_MAY_EXIST) != 0;
    int fd;

    int nonblock = (flags & O_NONBLOCK) != 0;

    flags &= ~SAFE_OPEN_MAY_EXIST;
    /* O_NONBLOCK: opening a FIFO must not wait for a writer; the check
     * below refuses it, and for a regular file the flag changes nothing
     * until it is cleared again. */
    flags |= O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK;
    if ((flags & O_CREAT) && !may_exist)
	flags |= O_EXCL;
    if ((fd = open(path, flags, mode)) < 0)
	return safe_open_fail(error_r, -1, path, strerror(errno));
    if ((fd = safe_open_check(fd, path, want_uid, error_r)) >= 0 && !nonblock &&
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
	int saved = errno;

	safe_open_fail(error_r, fd, path, strerror(errno));
	errno = saved;
	return -1;
    }
    return fd;
}

int safe_open_read(const char *path, const char **error_r)
{
    return safe_open(path, O_RDONLY, 0, (uid_t)-1, error_r);
}

/* safe_stdio - reopen a closed 0, 1 or 2 on /dev/null */
void safe_stdio(void)
{
    static const char why[] = "cannot open /dev/null for a closed standard descriptor\n";
    int fd;

    for (int want = 0; want < 3; want++) {
	if (fcntl(want, F_GETFD) >= 0 || errno != EBADF)
	    continue;
	/* The lowest free descriptor is the closed one: open(2) picks it. */
	if ((fd = open("/dev/null", want == 0 ? O_RDONLY : O_WRONLY)) != want) {
	    if (fcntl(2, F_GETFD) >= 0 && write(2, why, sizeof(why) - 1) < 0) {
		/* nowhere left to say it */
	    }
	    _exit(75);
	}
    }
}

int reopen_read_only(int fd)
{
    char proc[64];

    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    return open(proc, O_RDONLY | O_CLOEXEC);
}

int fsync_dir(const char *path)
{
    char dir[PATH_MAX];
    char *slash;
    int fd, ret;

    if (mr_strlcpy(dir, path, sizeof(dir)) >= sizeof(dir))
	return -1;
    if ((slash = strrchr(dir, '/')) == NULL)
	mr_strlcpy(dir, ".", sizeof(dir));
    else if (slash == dir)
	dir[1] = 0;
    else
	*slash = 0;
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
	return -1;
    ret = fsync(fd);
    close(fd);
    return ret;
}

int write_all(int fd, const void *buf, size_t len)
{
    const char *cp = buf;

    while (len > 0) {
	ssize_t n = write(fd, cp, len);

	if (n < 0) {
	    if (errno == EINTR)
		continue;
	    return -1;
	}
	cp += n;
	len -= (size_t)n;
    }
    return 0;
}

/* pwrite_all - write everything at offset off or fail; 0 ok, -1 error */
int pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
    const char *cp = buf;

    while (len > 0) {
	ssize_t n = pwrite(fd, cp, len, off);

	if (n < 0 && errno == EINTR)
	    continue;
	if (n <= 0)
	    return -1;
	cp += n;
	len -= (size_t)n;
	off += n;
    }
    return 0;
}
