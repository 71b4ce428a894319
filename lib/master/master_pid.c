/*
 * master_pid.c - the locked pid file of master (see master_pid.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "master/master_pid.h"
#include "util/safe_open.h"

/* master_pid_read - the pid written in an open pid file, 0 if none */
static pid_t master_pid_read(int fd)
{
    char    buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

    if (n <= 0)
	return 0;
    buf[n] = 0;
    return (pid_t) atol(buf);
}

int     master_pid_lock(const char *path, pid_t *other_r, const char **error_r)
{
    static char err[600];
    int     fd;

    fd = safe_open(path, O_RDWR | O_CREAT | SAFE_OPEN_MAY_EXIST, 0644, (uid_t) -1, error_r);
    if (fd < 0)
	return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
	if (errno == EWOULDBLOCK) {
	    *other_r = master_pid_read(fd);
	    close(fd);
	    return -2;
	}
	snprintf(err, sizeof(err), "lock %s: %s", path, strerror(errno));
	*error_r = err;
	close(fd);
	return -1;
    }
    return fd;
}

int     master_pid_write(int fd)
{
    char    buf[32];
    int     n = snprintf(buf, sizeof(buf), "%ld\n", (long) getpid());

    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t) n, 0) != n)
	return -1;
    return 0;
}

int     master_pid_running(const char *path, pid_t *pid_r)
{
    int     fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    int     running = 0;

    *pid_r = 0;
    if (fd < 0)
	return 0;
    if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
	running = 1;
	*pid_r = master_pid_read(fd);
    }
    close(fd);
    return running;
}
