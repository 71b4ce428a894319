/*
 * master_pid.c - the locked pid file of master (see master_pid.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "master_pid.h"

/* master_pid_read - the pid written in an open pid file, 0 if none */
static pid_t master_pid_read(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

    if (n <= 0)
	return 0;
    buf[n] = 0;
    return (pid_t)atol(buf);
}

/* master_pid_open - open dir_fd/name for the lock; -1 with *error_r */
static int master_pid_open(int dir_fd, const char *name, const char **error_r)
{
    static char err[600];
    struct stat st;
    int fd;

    for (int tries = 0; tries < 2; tries++) {
	errno = 0;
	if ((fd = openat(dir_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644)) < 0) {
	    if (errno == ELOOP && unlinkat(dir_fd, name, 0) == 0)
		continue; /* a link: remove it, never follow */
	    break;
	}
	if (fstat(fd, &st) < 0) {
	    close(fd);
	    fd = -1;
	    break;
	}
	if (S_ISREG(st.st_mode) && st.st_nlink == 1 && st.st_uid == geteuid())
	    return fd;
	/* not a file we made: remove the name, never touch what it is */
	close(fd);
	fd = -1;
	if (unlinkat(dir_fd, name, 0) < 0)
	    break;
    }
    snprintf(err, sizeof(err), "%s: %s", name,
	     errno ? strerror(errno) : "not a regular file of ours");
    *error_r = err;
    return -1;
}

int master_pid_lock(int dir_fd, const char *name, pid_t *other_r, const char **error_r)
{
    static char err[600];
    int fd;

    if ((fd = master_pid_open(dir_fd, name, error_r)) < 0)
	return -1;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
	if (errno == EWOULDBLOCK) {
	    *other_r = master_pid_read(fd);
	    close(fd);
	    return -2;
	}
	snprintf(err, sizeof(err), "lock %s: %s", name, strerror(errno));
	*error_r = err;
	close(fd);
	return -1;
    }
    if (master_pid_write(fd) < 0) {
	snprintf(err, sizeof(err), "write %s: %s", name, strerror(errno));
	*error_r = err;
	close(fd);
	return -1;
    }
    return fd;
}

/*
 * The pid is written over the old text and the file cut after it, never
 * emptied first: a reader that finds the lock held always reads a pid
 * (the new one, or the new one followed by the rest of a longer old one,
 * which atol stops before).
 */
int master_pid_write(int fd)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());

    if (pwrite(fd, buf, (size_t)n, 0) != n || ftruncate(fd, n) < 0)
	return -1;
    return 0;
}

int master_pid_running(const char *path, pid_t *pid_r)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    int running = 0;

    *pid_r = 0;
    if (fd < 0)
	return 0;
    if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK)
	running = 1;
    *pid_r = master_pid_read(fd);
    close(fd);
    return running;
}
