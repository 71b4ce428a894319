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
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mail_flow.h"
#include "mail_proto.h"
#include "util/event.h"

static int mail_flow_on;

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

/* mail_flow_put - write n bytes; a full pipe takes fewer */
long mail_flow_put(long n)
{
    static const char tokens[256] = {0};
    long done = 0;
    ssize_t w;

    if (!mail_flow_on)
	return -1;
    while (done < n) {
	size_t chunk = (size_t)(n - done) < sizeof(tokens) ? (size_t)(n - done) : sizeof(tokens);

	if ((w = write(MASTER_FLOW_WRITE_FD, tokens, chunk)) < 0 && errno == EINTR)
	    continue;
	if (w <= 0)
	    break;
	done += w;
    }
    return done;
}

/* mail_flow_get - read one byte; while there is none, poll the pipe
 * until the time is up (other readers may take a byte first) */
int mail_flow_get(long timeout_ms)
{
    long long deadline = event_now_ms() + timeout_ms;
    struct pollfd pfd = {.fd = MASTER_FLOW_READ_FD, .events = POLLIN};
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
	(void)poll(&pfd, 1, (int)left);
    }
}
