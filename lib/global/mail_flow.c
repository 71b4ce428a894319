/*
 * mail_flow.c - flow tokens in master's pipe (mail_flow.h).
 *
 * Why a pipe: its byte count is the token count, readable with FIONREAD;
 * any number of cleanup processes can wait on it with poll() and the
 * kernel hands each byte to exactly one reader; it lives in master, so
 * the tokens outlast a qmgr that dies or restarts, and a process that
 * dies holding none loses nothing. A token is only a hint to slow down:
 * a lost one costs at most one wait of in_flow_delay, a spare one lets
 * one message through early.
 *
 * Waking one waiter per token: a cleanup that waits for a token watches
 * the pipe through an epoll instance of its own, registered
 * EPOLLEXCLUSIVE, and qmgr writes one byte per write(), so each token
 * wakes one waiting cleanup instead of all of them (poll() woke every
 * waiting cleanup for each token, and all but one went back to sleep). A
 * cleanup that wakes and finds the token gone only waits again.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail_flow.h"
#include "mail_proto.h"
#include "util/event.h"

static int mail_flow_on;
static int mail_flow_epoll = -1; /* this process's exclusive watch of the pipe */

/* mail_flow_is_fifo - is fd an open pipe? */
static int mail_flow_is_fifo(int fd)
{
    struct stat st;

    return fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
}

/* mail_flow_probe - find the pipe master passed, keep it from programs
 * this process runs */
int mail_flow_probe(void)
{
    mail_flow_on =
	mail_flow_is_fifo(MASTER_FLOW_READ_FD) && mail_flow_is_fifo(MASTER_FLOW_WRITE_FD);
    if (mail_flow_on) {
	(void)fcntl(MASTER_FLOW_READ_FD, F_SETFD, FD_CLOEXEC);
	(void)fcntl(MASTER_FLOW_WRITE_FD, F_SETFD, FD_CLOEXEC);
    }
    return mail_flow_on;
}

/* mail_flow_enabled - was the pipe there at start? */
int mail_flow_enabled(void)
{
    return mail_flow_on;
}

/* mail_flow_count - bytes waiting in the pipe */
long mail_flow_count(void)
{
    int n;

    if (!mail_flow_on || ioctl(MASTER_FLOW_READ_FD, FIONREAD, &n) < 0)
	return -1;
    return n;
}

/* mail_flow_put - write n bytes, one per write (one wake-up each); a
 * full pipe takes fewer */
long mail_flow_put(long n)
{
    const char token = 0;
    long done = 0;
    ssize_t w;

    if (!mail_flow_on)
	return -1;
    while (done < n) {
	if ((w = write(MASTER_FLOW_WRITE_FD, &token, 1)) < 0 && errno == EINTR)
	    continue;
	if (w <= 0)
	    break;
	done++;
    }
    return done;
}

/* mail_flow_watch - the epoll instance that waits for a token (made at
 * the first wait); -1 if none can be made */
static int mail_flow_watch(void)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE};

    if (mail_flow_epoll >= 0)
	return mail_flow_epoll;
    if ((mail_flow_epoll = epoll_create1(EPOLL_CLOEXEC)) < 0)
	return -1;
    if (epoll_ctl(mail_flow_epoll, EPOLL_CTL_ADD, MASTER_FLOW_READ_FD, &ev) < 0) {
	(void)close(mail_flow_epoll);
	mail_flow_epoll = -1;
    }
    return mail_flow_epoll;
}

/* mail_flow_get - read one byte; while there is none, wait for the pipe
 * until the time is up (other readers may take a byte first) */
int mail_flow_get(long timeout_ms)
{
    long long deadline = event_now_ms() + timeout_ms;
    struct epoll_event ev;
    char token;
    long long left;
    ssize_t n;

    if (!mail_flow_on)
	return -1;
    for (;;) {
	if ((n = read(MASTER_FLOW_READ_FD, &token, 1)) == 1)
	    return 1;
	if (n == 0 || (errno != EAGAIN && errno != EINTR))
	    return -1;
	if ((left = deadline - event_now_ms()) <= 0)
	    return 0;
	if (mail_flow_watch() < 0)
	    return -1;
	(void)epoll_wait(mail_flow_epoll, &ev, 1, (int)left);
    }
}
