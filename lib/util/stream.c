/*
 * stream.c - buffered streams with timeouts and bounded line reads.
 *
 * Reads go through a fixed-size input buffer; writes through an output
 * buffer that stream_flush() empties. Both go through the stream_io_t
 * transport, which by default is plain I/O that tries first and polls
 * only when it must wait (so the timeout costs nothing while data flows),
 * and can be swapped for TLS. With stream_set_autoflush, buffered output
 * goes out before the stream waits for input: a server that answers a
 * batch of pipelined commands sends all the replies in one write, and
 * never sits on a reply while waiting for the client.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "mymalloc.h"
#include "msg.h"
#include "stream.h"

#define STREAM_BUFSIZE 16384

struct stream {
    int fd;
    int wfd; /* where output goes: fd, or a second one */
    int timeout_ms;
    const stream_io_t *io;
    void *io_ctx;
    unsigned char rbuf[STREAM_BUFSIZE];
    size_t rpos, rlen; /* unread bytes are rbuf[rpos..rlen) */
    str_t *wbuf;
    int error, timedout, eof;
    int notsock;             /* plain transport: not a socket */
    int autoflush;           /* flush output before reading */
    long long flushed;       /* bytes written out through the transport */
    long long deadline_base; /* ms (monotonic) the deadline counts from, 0: none */
    long long deadline_len;  /* ms after deadline_base */
};

static int stream_stress_ms; /* deadline length under stress, 0: none */
static volatile sig_atomic_t stream_stressed;

/* stream_now_ms - monotonic clock in ms */
static long long stream_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* plain_remaining - ms left until deadline (set on first use), >= 0 */
static int plain_remaining(int timeout_ms, struct timespec *deadline)
{
    struct timespec now;
    long long left;

    clock_gettime(CLOCK_MONOTONIC, &now);
    if (deadline->tv_sec == 0 && deadline->tv_nsec == 0) {
	*deadline = now;
	deadline->tv_sec += timeout_ms / 1000;
	deadline->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline->tv_nsec >= 1000000000L)
	    deadline->tv_sec++, deadline->tv_nsec -= 1000000000L;
    }
    left = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
	   (deadline->tv_nsec - now.tv_nsec + 999999) / 1000000;
    return left > 0 ? (int)left : 0;
}

/* plain_wait - poll for one event until the deadline; 1 ready, -1 error
 * (ETIMEDOUT when the time is up) */
static int plain_wait(int fd, short events, int timeout_ms, struct timespec *deadline)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    int n;

    if (timeout_ms < 0)
	return 1;
    /* EINTR goes back to the stream, which may shorten the wait (stress) */
    n = poll(&pfd, 1, plain_remaining(timeout_ms, deadline));
    if (n == 0)
	errno = ETIMEDOUT;
    return n > 0 ? 1 : -1;
}

/* plain_wait_any - like plain_wait, but waits without a limit too */
static int plain_wait_any(int fd, short events, int timeout_ms, struct timespec *deadline)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    int n;

    if (timeout_ms >= 0)
	return plain_wait(fd, events, timeout_ms, deadline);
    n = poll(&pfd, 1, -1);
    return n > 0 ? 1 : -1;
}

/*
 * plain_transfer - read (POLLIN) or write (POLLOUT) with timeout. On a
 * socket the I/O is tried first (recv/send with MSG_DONTWAIT, which leaves
 * the descriptor's own flags alone) and poll(2) runs only when it would
 * block; other descriptors (files, pipes: ENOTSOCK) poll first and then
 * read(2)/write(2), as they always did.
 */
static ssize_t plain_transfer(stream_t *s, int fd, void *buf, size_t len, int timeout_ms,
			      short events)
{
    struct timespec deadline = {0, 0};
    ssize_t n;

    for (;;) {
	if (!s->notsock) {
	    n = events == POLLIN ? recv(fd, buf, len, MSG_DONTWAIT)
				 : send(fd, buf, len, MSG_DONTWAIT);
	    if (n >= 0)
		return n;
	    if (errno == ENOTSOCK)
		s->notsock = 1;
	    else if (errno == EINTR)
		continue;
	    else if (errno != EAGAIN && errno != EWOULDBLOCK)
		return -1;
	    else if (plain_wait_any(fd, events, timeout_ms, &deadline) < 0)
		return -1;
	    continue;
	}
	if (plain_wait(fd, events, timeout_ms, &deadline) < 0)
	    return -1;
	n = events == POLLIN ? read(fd, buf, len) : write(fd, buf, len);
	if (n >= 0 || (errno != EINTR && errno != EAGAIN))
	    return n;
    }
}

/* plain_read - the default transport's read */
static ssize_t plain_read(void *ctx, int fd, void *buf, size_t len, int timeout_ms)
{
    return plain_transfer(ctx, fd, buf, len, timeout_ms, POLLIN);
}

/* plain_write - the default transport's write */
static ssize_t plain_write(void *ctx, int fd, const void *buf, size_t len, int timeout_ms)
{
    return plain_transfer(ctx, fd, (void *)buf, len, timeout_ms, POLLOUT);
}

static const stream_io_t plain_io = {plain_read, plain_write, NULL};

/* stream_io_arg - what the transport gets as ctx: the stream itself for
 * the plain transport, the transport's own context otherwise */
static void *stream_io_arg(stream_t *s)
{
    return s->io == &plain_io ? (void *)s : s->io_ctx;
}

/* stream_open - wrap a descriptor */
stream_t *stream_open(int fd)
{
    stream_t *s = mr_calloc(1, sizeof(*s));

    s->fd = fd;
    s->wfd = fd;
    s->timeout_ms = -1;
    s->io = &plain_io;
    s->wbuf = str_new(1024);
    return s;
}

/* stream_open_file - a stream on a file: no socket calls tried first */
stream_t *stream_open_file(int fd)
{
    stream_t *s = stream_open(fd);

    s->notsock = 1;
    return s;
}

/* stream_open_pair - read from rfd, write to wfd */
stream_t *stream_open_pair(int rfd, int wfd)
{
    stream_t *s = stream_open(rfd);

    s->wfd = wfd;
    return s;
}

/* stream_release - free the stream, keep the fd */
int stream_release(stream_t **sp)
{
    stream_t *s = *sp;
    int fd = s->fd;

    if (s->io->close)
	s->io->close(s->io_ctx);
    str_free(&s->wbuf);
    mr_free(s);
    *sp = NULL;
    return fd;
}

/* stream_close - flush, close, free */
int stream_close(stream_t **sp)
{
    int ret = 0;

    if (*sp == NULL)
	return 0;
    if (str_len((*sp)->wbuf) > 0 && stream_flush(*sp) < 0)
	ret = -1;
    if (close(stream_release(sp)) < 0)
	ret = -1;
    return ret;
}

void stream_set_timeout(stream_t *s, int seconds)
{
    s->timeout_ms = seconds > 0 ? seconds * 1000 : -1;
}

void stream_set_autoflush(stream_t *s, int on)
{
    s->autoflush = on;
}

void stream_set_io(stream_t *s, const stream_io_t *io, void *ctx)
{
    s->io = io ? io : &plain_io;
    s->io_ctx = ctx;
}

static int stream_op_timeout(stream_t *s);

int stream_timeout_ms(stream_t *s)
{
    return stream_op_timeout(s);
}

void stream_set_deadline(stream_t *s, int seconds)
{
    s->deadline_base = seconds > 0 ? stream_now_ms() : 0;
    s->deadline_len = seconds > 0 ? seconds * 1000LL : 0;
}

void stream_extend_deadline(stream_t *s, long long ms)
{
    if (s->deadline_base > 0)
	s->deadline_base += ms;
}

void stream_set_stress_deadline(int seconds)
{
    stream_stress_ms = seconds > 0 ? seconds * 1000 : 0;
}

void stream_stress(void)
{
    stream_stressed = 1;
}

/*
 * stream_op_timeout - the time one transfer may wait: the per-operation
 * timeout, cut to what is left of the deadline (shorter under stress).
 * 0 means the deadline has passed.
 */
static int stream_op_timeout(stream_t *s)
{
    long long len = s->deadline_len, left;

    if (s->deadline_base == 0)
	return s->timeout_ms;
    if (stream_stressed && stream_stress_ms > 0 && stream_stress_ms < len)
	len = stream_stress_ms;
    left = s->deadline_base + len - stream_now_ms();
    if (left <= 0)
	return 0;
    return s->timeout_ms < 0 || left < s->timeout_ms ? (int)left : s->timeout_ms;
}

/*
 * stream_io - one transfer through the transport, within the timeout and
 * the deadline. A wait the transport gave up on a signal (EINTR) is
 * tried again with the time recomputed, so a stress signal takes effect
 * in the middle of a wait.
 */
static ssize_t stream_io(stream_t *s, int writing, void *buf, size_t len)
{
    ssize_t n;
    int timeout;

    for (;;) {
	if ((timeout = stream_op_timeout(s)) == 0) {
	    errno = ETIMEDOUT;
	    return -1;
	}
	n = writing ? s->io->write(stream_io_arg(s), s->wfd, buf, len, timeout)
		    : s->io->read(stream_io_arg(s), s->fd, buf, len, timeout);
	if (n >= 0 || errno != EINTR)
	    return n;
    }
}

/* stream_discard_input - forget what was read but not consumed */
size_t stream_discard_input(stream_t *s)
{
    size_t n = s->rlen - s->rpos;

    s->rpos = s->rlen = 0;
    return n;
}

int stream_fd(stream_t *s)
{
    return s->fd;
}

int stream_error(stream_t *s)
{
    return s->error;
}

int stream_timedout(stream_t *s)
{
    return s->timedout;
}

int stream_eof(stream_t *s)
{
    return s->eof;
}

void stream_clear_error(stream_t *s)
{
    s->error = s->timedout = s->eof = 0;
}

size_t stream_pending(stream_t *s)
{
    return s->rlen - s->rpos;
}

/* stream_fill - refill the input buffer; 1 data, 0 EOF, -1 error */
static int stream_fill(stream_t *s)
{
    ssize_t n;

    if (s->rpos < s->rlen)
	return 1;
    if (s->error)
	return -1;
    if (s->eof)
	return 0;
    if (s->autoflush && str_len(s->wbuf) > 0 && stream_flush(s) < 0)
	return -1;
    s->rpos = s->rlen = 0;
    n = stream_io(s, 0, s->rbuf, sizeof(s->rbuf));
    if (n < 0) {
	s->error = 1;
	s->timedout = (errno == ETIMEDOUT);
	return -1;
    }
    if (n == 0) {
	s->eof = 1;
	return 0;
    }
    s->rlen = (size_t)n;
    return 1;
}

/* stream_spin_readable - poll without sleeping for a short while */
int stream_spin_readable(stream_t *s, long spin_us)
{
    struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
    struct timespec start, now;
    int n;

    if (stream_pending(s) > 0)
	return 1;
    if (s->autoflush && str_len(s->wbuf) > 0 && stream_flush(s) < 0)
	return -1;
    clock_gettime(CLOCK_MONOTONIC, &start);
    do {
	if ((n = poll(&pfd, 1, 0)) != 0)
	    return n < 0 && errno != EINTR ? -1 : n > 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
    } while ((now.tv_sec - start.tv_sec) * 1000000L + (now.tv_nsec - start.tv_nsec) / 1000 <
	     spin_us);
    return 0;
}

/* stream_wait_readable - is input there (buffered or on the wire)? */
int stream_wait_readable(stream_t *s, int ms)
{
    struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
    int n;

    if (stream_pending(s) > 0)
	return 1;
    if (s->autoflush && str_len(s->wbuf) > 0 && stream_flush(s) < 0)
	return -1;
    do {
	n = poll(&pfd, 1, ms);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -1 : n > 0;
}

/* stream_wait_input - wait (within the stream's timeout) until input is
 * there, before the read that would otherwise be tried first */
int stream_wait_input(stream_t *s)
{
    int timeout = stream_op_timeout(s), n;

    if (s->io != &plain_io || s->notsock)
	return 1; /* a transport's own buffers (TLS): its read knows */
    n = timeout == 0 ? 0 : stream_wait_readable(s, timeout);
    if (n > 0)
	return 1;
    s->error = 1;
    s->timedout = (n == 0);
    return -1;
}

/* stream_read_line - bounded line read */
int stream_read_line(stream_t *s, str_t *line, size_t max)
{
    size_t got = 0;

    for (;;) {
	int r = stream_fill(s);
	unsigned char *start, *nl;
	size_t avail, take;

	if (r <= 0) {
	    if (got > 0 && r == 0)
		return STREAM_LINE;
	    return r < 0 ? STREAM_ERROR : STREAM_EOF;
	}
	start = s->rbuf + s->rpos;
	avail = s->rlen - s->rpos;
	if (avail > max - got)
	    avail = max - got;
	nl = memchr(start, '\n', avail);
	take = nl ? (size_t)(nl - start) + 1 : avail;
	str_append(line, start, take);
	s->rpos += take;
	got += take;
	if (nl)
	    return STREAM_LINE;
	if (got >= max)
	    return STREAM_PARTIAL;
    }
}

/* stream_skip_line - discard the rest of a line */
int stream_skip_line(stream_t *s)
{
    for (;;) {
	int r = stream_fill(s);
	unsigned char *nl;

	if (r <= 0)
	    return r < 0 ? STREAM_ERROR : STREAM_EOF;
	nl = memchr(s->rbuf + s->rpos, '\n', s->rlen - s->rpos);
	if (nl) {
	    s->rpos = (size_t)(nl - s->rbuf) + 1;
	    return 1;
	}
	s->rpos = s->rlen;
    }
}

/* stream_getc - one byte */
int stream_getc(stream_t *s)
{
    if (stream_fill(s) <= 0)
	return -1;
    return s->rbuf[s->rpos++];
}

/* stream_read - whatever is available, up to len */
ssize_t stream_read(stream_t *s, void *buf, size_t len)
{
    int r = stream_fill(s);
    size_t take;

    if (r <= 0)
	return r;
    take = s->rlen - s->rpos;
    if (take > len)
	take = len;
    memcpy(buf, s->rbuf + s->rpos, take);
    s->rpos += take;
    return (ssize_t)take;
}

/* stream_read_str - exact read into a string, which grows only with the
 * bytes that arrive (never by len at once: len may come from the peer) */
int stream_read_str(stream_t *s, str_t *out, size_t len)
{
    while (len > 0) {
	int r = stream_fill(s);
	size_t take;

	if (r <= 0)
	    return r;
	take = s->rlen - s->rpos;
	if (take > len)
	    take = len;
	str_append(out, s->rbuf + s->rpos, take);
	s->rpos += take;
	len -= take;
    }
    return 1;
}

/* stream_write - buffer output, flushing when the buffer is large */
int stream_write(stream_t *s, const void *buf, size_t len)
{
    if (s->error)
	return -1;
    str_append(s->wbuf, buf, len);
    if (str_len(s->wbuf) >= STREAM_BUFSIZE)
	return stream_flush(s);
    return 0;
}

int stream_puts(stream_t *s, const char *cstr)
{
    return stream_write(s, cstr, strlen(cstr));
}

/* stream_printf - formatted output */
int stream_printf(stream_t *s, const char *fmt, ...)
{
    va_list ap;

    if (s->error)
	return -1;
    va_start(ap, fmt);
    str_vappendf(s->wbuf, fmt, ap);
    va_end(ap);
    if (str_len(s->wbuf) >= STREAM_BUFSIZE)
	return stream_flush(s);
    return 0;
}

/* stream_flush - write everything buffered */
int stream_flush(stream_t *s)
{
    size_t done = 0;

    if (s->error)
	return -1;
    while (done < str_len(s->wbuf)) {
	ssize_t n = stream_io(s, 1, str_data(s->wbuf) + done, str_len(s->wbuf) - done);

	if (n <= 0) {
	    s->error = 1;
	    s->timedout = (n < 0 && errno == ETIMEDOUT);
	    return -1;
	}
	done += (size_t)n;
    }
    s->flushed += (long long)done;
    str_reset(s->wbuf);
    return 0;
}

/* stream_patch_buffered - overwrite output not yet written out */
int stream_patch_buffered(stream_t *s, long long offset, const void *buf, size_t len)
{
    if (s->error || offset < s->flushed ||
	offset - s->flushed + (long long)len > (long long)str_len(s->wbuf))
	return -1;
    memcpy(str_data(s->wbuf) + (offset - s->flushed), buf, len);
    return 0;
}
