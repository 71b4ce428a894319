/*
 * clamd_client.c - clamd client (INSTREAM and FILDES) and its reply
 * parser (see clamd_client.h).
 *
 * The parser collects bytes up to the NUL that ends a reply (the "z"
 * command prefix asks clamd for NUL-terminated replies), at most
 * CLAMD_REPLY_MAX of them, and only then judges the whole reply. A reply
 * that is neither "stream: OK" nor "stream: NAME FOUND" with a plain
 * signature name (for FILDES: "fd[N]: OK", "fd[N]: NAME FOUND") is an
 * error, whatever it says.
 *
 * Why FILDES: for INSTREAM clamd writes every stream into a temporary
 * file of its own (a file created, written and removed per message)
 * before it scans it; a passed descriptor is scanned where it is. The
 * weak spot: clamd must be allowed to read the file it is handed (a
 * mandatory access control profile may forbid it). Its "... ERROR" reply
 * then sends the message by INSTREAM after all, and every later one too.
 * clamd gets a read-only descriptor opened afresh (/proc/self/fd), never
 * the caller's: filterd's spool file is writable and reused by later
 * messages, and clamd parses hostile content.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/safe_open.h"
#include "util/sock.h"
#include "util/stream.h"
#include "clamd_client.h"

#define REPLY_PREFIX "stream: "
#define REPLY_FD "fd["
#define REPLY_FOUND " FOUND"
#define REPLY_ERROR " ERROR"

struct clamd_conn {
    stream_t *stream;   /* to and from clamd */
    char *addr;         /* clamd's address */
    int timeout;        /* seconds */
    int fildes;         /* the scan of a passed descriptor (FILDES) */
    int file;           /* with fildes: the file, for a fallback */
    long long max_size; /* 0: no limit */
    long long sent;     /* message bytes taken so far */
    int failed;         /* fail holds the verdict */
    clamd_result_t fail;
    size_t chunk_len; /* bytes waiting in chunk */
    char *chunk;      /* INSTREAM: CLAMD_CHUNK bytes (not cleared) */
};

/* result_set - a verdict with a printable text made of a prefix and raw
 * bytes (non-printable bytes become '?', the text is cut to fit) */
static void result_set(clamd_result_t *res, int status, const char *prefix, const char *raw,
		       size_t len)
{
    size_t n = strlen(prefix), i;

    if (n >= sizeof(res->text))
	n = sizeof(res->text) - 1;
    memcpy(res->text, prefix, n);
    for (i = 0; i < len && n < sizeof(res->text) - 1; i++) {
	unsigned char ch = (unsigned char)raw[i];

	res->text[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    res->text[n] = 0;
    res->status = status;
    res->said = 0;
}

/* result_toolong - the verdict on a message over max_size */
static void result_toolong(clamd_result_t *res, long long max_size)
{
    char text[100];

    snprintf(text, sizeof(text), "message larger than %lld bytes, not scanned", max_size);
    result_set(res, CLAMD_TOOLONG, text, "", 0);
}

/* clamd_fildes_refused - clamd answered a passed descriptor with an
 * error: this process streams from now on */
static int clamd_fildes_refused;

/* ends_with - do the len bytes at p end with the string tail? */
static int ends_with(const char *p, size_t len, const char *tail)
{
    size_t n = strlen(tail);

    return len >= n && memcmp(p + len - n, tail, n) == 0;
}

/* signature_ok - is this a plausible signature name (printable, no
 * spaces, not empty)? */
static int signature_ok(const char *p, size_t len)
{
    if (len == 0)
	return 0;
    for (size_t i = 0; i < len; i++)
	if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
	    return 0;
    return 1;
}

/* reply_prefix - the length of the reply's "stream: " (INSTREAM) or
 * "fd[N]: " (FILDES), when something follows it; 0 without one */
static size_t reply_prefix(const clamd_reply_t *r)
{
    const char *p = r->buf;
    size_t i = strlen(REPLY_FD);

    if (!r->fildes)
	return r->len > strlen(REPLY_PREFIX) && memcmp(p, REPLY_PREFIX, strlen(REPLY_PREFIX)) == 0
		   ? strlen(REPLY_PREFIX)
		   : 0;
    if (r->len <= i || memcmp(p, REPLY_FD, i) != 0)
	return 0;
    while (i < r->len && i < strlen(REPLY_FD) + 10 && p[i] >= '0' && p[i] <= '9')
	i++;
    if (i == strlen(REPLY_FD) || r->len <= i + 3 || memcmp(p + i, "]: ", 3) != 0)
	return 0;
    return i + 3;
}

/* reply_judge - turn a complete reply (without its NUL) into a verdict */
static void reply_judge(clamd_reply_t *r)
{
    const char *p = r->buf;
    size_t len = r->len, pre = reply_prefix(r), found = strlen(REPLY_FOUND);

    r->done = 1;
    if (pre > 0) {
	if (len == pre + 2 && memcmp(p + pre, "OK", 2) == 0) {
	    result_set(&r->result, CLAMD_CLEAN, "OK", "", 0);
	    return;
	}
	if (len >= pre + found && ends_with(p, len, REPLY_FOUND) &&
	    signature_ok(p + pre, len - pre - found)) {
	    result_set(&r->result, CLAMD_INFECTED, "", p + pre, len - pre - found);
	    return;
	}
    }
    if (len == 0) {
	result_set(&r->result, CLAMD_ERROR, "empty reply from clamd", "", 0);
    } else if (ends_with(p, len, REPLY_ERROR)) {
	result_set(&r->result, CLAMD_ERROR, "clamd: ", p, len);
    } else {
	result_set(&r->result, CLAMD_ERROR, "unexpected reply from clamd: ", p, len);
    }
    r->result.said = r->result.status == CLAMD_ERROR;
}

/* clamd_reply_init - start reading a reply to INSTREAM */
void clamd_reply_init(clamd_reply_t *r)
{
    r->fildes = 0;
    r->done = 0;
    r->len = 0;
    result_set(&r->result, CLAMD_ERROR, "no reply from clamd", "", 0);
}

/* clamd_reply_init_fd - start reading a reply to FILDES */
void clamd_reply_init_fd(clamd_reply_t *r)
{
    clamd_reply_init(r);
    r->fildes = 1;
}

/* clamd_reply_feed - collect up to the NUL, bounded */
int clamd_reply_feed(clamd_reply_t *r, const char *data, size_t len, size_t *used_r)
{
    size_t i;

    for (i = 0; i < len && !r->done; i++) {
	if (data[i] == 0) {
	    reply_judge(r);
	} else if (r->len == CLAMD_REPLY_MAX) {
	    r->done = 1;
	    result_set(&r->result, CLAMD_ERROR, "reply from clamd too long: ", r->buf, 64);
	    break;
	} else {
	    r->buf[r->len++] = data[i];
	}
    }
    *used_r = i;
    return r->done ? CLAMD_REPLY_DONE : CLAMD_REPLY_MORE;
}

/* clamd_reply_eof - end of input: an unfinished reply is an error */
const clamd_result_t *clamd_reply_eof(clamd_reply_t *r)
{
    if (!r->done) {
	r->done = 1;
	if (r->len == 0)
	    result_set(&r->result, CLAMD_ERROR, "clamd closed the connection without a reply", "",
		       0);
	else
	    result_set(&r->result, CLAMD_ERROR, "clamd reply cut short: ", r->buf, r->len);
    }
    return &r->result;
}

/* conn_fail - remember the first failure of a scan */
static void conn_fail(clamd_conn_t *c, int status, const char *fmt, ...)
{
    char text[sizeof(c->fail.text)];
    va_list ap;

    if (c->failed)
	return;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    result_set(&c->fail, status, text, "", 0);
    c->failed = 1;
}

/* conn_read_reply - read and judge clamd's reply into res */
static void conn_read_reply(clamd_conn_t *c, clamd_result_t *res)
{
    clamd_reply_t r;
    char buf[256];
    ssize_t n;
    size_t used;

    if (c->fildes)
	clamd_reply_init_fd(&r);
    else
	clamd_reply_init(&r);
    while (!r.done) {
	n = stream_read(c->stream, buf, sizeof(buf));
	if (n < 0) {
	    const char *why = strerror(errno);

	    if (stream_timedout(c->stream))
		result_set(&r.result, CLAMD_ERROR, "timeout waiting for the clamd reply", "", 0);
	    else
		result_set(&r.result, CLAMD_ERROR, "cannot read the clamd reply: ", why,
			   strlen(why));
	    break;
	}
	if (n == 0) {
	    clamd_reply_eof(&r);
	    break;
	}
	clamd_reply_feed(&r, buf, (size_t)n, &used);
    }
    *res = r.result;
}

/* conn_write_failed - a write to clamd failed: clamd may have said why
 * before it hung up (its reply then counts); otherwise report the write
 * error */
static void conn_write_failed(clamd_conn_t *c)
{
    int err = errno;
    int timedout = stream_timedout(c->stream);
    clamd_result_t said;

    if (!timedout) {
	stream_clear_error(c->stream);
	conn_read_reply(c, &said);
	if (said.said) {
	    c->fail = said;
	    c->failed = 1;
	    return;
	}
    }
    conn_fail(c, CLAMD_ERROR, timedout ? "timeout sending to clamd" : "cannot send to clamd: %s",
	      strerror(err));
}

/* conn_put_chunk - send one chunk: length, then data (length 0 ends) */
static int conn_put_chunk(clamd_conn_t *c, const char *data, size_t len)
{
    unsigned char hdr[4];

    hdr[0] = (unsigned char)(len >> 24);
    hdr[1] = (unsigned char)(len >> 16);
    hdr[2] = (unsigned char)(len >> 8);
    hdr[3] = (unsigned char)len;
    if (stream_write(c->stream, hdr, 4) < 0 || stream_write(c->stream, data, len) < 0) {
	conn_write_failed(c);
	return -1;
    }
    return 0;
}

/* clamd_address_local - see clamd_client.h */
int clamd_address_local(const char *addr)
{
    return addr[0] == '/' || strncmp(addr, "unix:", 5) == 0;
}

/* conn_new - connect to clamd; NULL with res filled */
static clamd_conn_t *conn_new(const char *addr, int timeout, long long max_size,
			      clamd_result_t *res)
{
    const char *error;
    clamd_conn_t *c;
    int fd;

    static int sigpipe_ignored;

    if (!sigpipe_ignored) /* once: it stays ignored */
	sigpipe_ignored = signal(SIGPIPE, SIG_IGN) != SIG_ERR;
    if (!clamd_address_local(addr))
	fd = sock_connect_inet(addr, NULL, timeout, &error);
    else
	fd = sock_connect_unix(addr[0] == '/' ? addr : addr + 5, timeout, &error);
    if (fd < 0) {
	char prefix[300];

	snprintf(prefix, sizeof(prefix), "cannot connect to clamd at %.200s: ", addr);
	result_set(res, CLAMD_ERROR, prefix, error, strlen(error));
	return NULL;
    }
    c = mr_calloc(1, sizeof(*c));
    c->stream = stream_open(fd);
    stream_set_timeout(c->stream, timeout);
    c->addr = mr_strdup(addr);
    c->timeout = timeout;
    c->max_size = max_size;
    c->file = -1;
    return c;
}

/* clamd_open - connect and send the command */
clamd_conn_t *clamd_open(const char *addr, int timeout, long long max_size, clamd_result_t *res)
{
    clamd_conn_t *c = conn_new(addr, timeout, max_size, res);

    if (c == NULL)
	return NULL;
    c->chunk = mr_alloc(CLAMD_CHUNK);
    if (stream_write(c->stream, "zINSTREAM", 10) < 0)
	conn_write_failed(c);
    return c;
}

/* conn_stream_from - send what fd holds: from offset on with pread, or
 * (offset -1) from where it is with read, to its end */
static void conn_stream_from(clamd_conn_t *c, int fd, off_t offset)
{
    char *buf = mr_alloc(CLAMD_CHUNK);
    ssize_t n;

    for (;;) {
	n = offset < 0 ? read(fd, buf, CLAMD_CHUNK) : pread(fd, buf, CLAMD_CHUNK, offset);
	if (n < 0 && errno == EINTR)
	    continue;
	if (n < 0)
	    conn_fail(c, CLAMD_ERROR, "cannot read the message: %s", strerror(errno));
	if (n <= 0 || clamd_send(c, buf, (size_t)n) < 0)
	    break;
	if (offset >= 0)
	    offset += n;
    }
    mr_free(buf);
}

/* conn_stream_file - an INSTREAM scan of the whole file fd, sent now */
static clamd_conn_t *conn_stream_file(const char *addr, int timeout, long long max_size, int fd,
				      clamd_result_t *res)
{
    clamd_conn_t *c = clamd_open(addr, timeout, max_size, res);

    if (c)
	conn_stream_from(c, fd, 0);
    return c;
}

/* clamd_open_file - pass a read-only descriptor, or stream the file */
clamd_conn_t *clamd_open_file(const char *addr, int timeout, long long max_size, int fd, int fildes,
			      clamd_result_t *res)
{
    struct stat st;
    clamd_conn_t *c;
    int ro;

    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
	result_set(res, CLAMD_ERROR, "cannot scan the message: not a file", "", 0);
	return NULL;
    }
    if (max_size > 0 && st.st_size > max_size) {
	result_toolong(res, max_size);
	return NULL;
    }
    if (!fildes || clamd_fildes_refused || !clamd_address_local(addr) ||
	(ro = reopen_read_only(fd)) < 0)
	return conn_stream_file(addr, timeout, max_size, fd, res);
    if ((c = conn_new(addr, timeout, max_size, res)) == NULL) {
	close(ro);
	return NULL;
    }
    c->fildes = 1;
    c->file = fd;
    /* the command, then the descriptor on a byte of its own: clamd takes
     * a descriptor that arrives with the command as a protocol error */
    if (stream_write(c->stream, "zFILDES", 8) < 0 || stream_flush(c->stream) < 0)
	conn_write_failed(c);
    else if (sock_send_fds(stream_fd(c->stream), "", 1, &ro, 1, timeout * 1000) != 1)
	conn_write_failed(c);
    close(ro);
    return c;
}

/* clamd_send - buffer message bytes into chunks, within the maximum */
int clamd_send(clamd_conn_t *c, const void *data, size_t len)
{
    const char *p = data;
    size_t n;

    if (c->failed)
	return -1;
    if (c->max_size > 0 && (long long)len > c->max_size - c->sent) {
	result_toolong(&c->fail, c->max_size);
	c->failed = 1;
	return -1;
    }
    c->sent += (long long)len;
    while (len > 0) {
	n = CLAMD_CHUNK - c->chunk_len;
	if (n > len)
	    n = len;
	memcpy(c->chunk + c->chunk_len, p, n);
	c->chunk_len += n;
	p += n;
	len -= n;
	if (c->chunk_len == CLAMD_CHUNK) {
	    c->chunk_len = 0;
	    if (conn_put_chunk(c, c->chunk, CLAMD_CHUNK) < 0)
		return -1;
	}
    }
    return 0;
}

/* conn_fildes_refused - clamd could not scan the passed descriptor:
 * stream the file instead, and every later one */
static void conn_fildes_refused(clamd_conn_t *c, clamd_result_t *res)
{
    clamd_conn_t *s;

    if (!clamd_fildes_refused)
	msg_warn("clamd at %s cannot scan a passed file descriptor (%s): streaming instead",
		 c->addr, res->text);
    clamd_fildes_refused = 1;
    if ((s = conn_stream_file(c->addr, c->timeout, c->max_size, c->file, res)) != NULL)
	(void)clamd_finish(&s, res);
}

/* clamd_finish - last chunk, terminator, reply */
int clamd_finish(clamd_conn_t **cp, clamd_result_t *res)
{
    clamd_conn_t *c = *cp;

    if (!c->fildes && !c->failed && c->chunk_len > 0)
	conn_put_chunk(c, c->chunk, c->chunk_len);
    if (!c->fildes && !c->failed && conn_put_chunk(c, "", 0) == 0 && stream_flush(c->stream) < 0)
	conn_write_failed(c);
    if (c->failed)
	*res = c->fail;
    else
	conn_read_reply(c, res);
    stream_close(&c->stream);
    if (c->fildes && res->status == CLAMD_ERROR && res->said)
	conn_fildes_refused(c, res);
    mr_free(c->chunk);
    mr_free(c->addr);
    mr_free(c);
    *cp = NULL;
    return res->status;
}

/* clamd_scan_fd - a file as clamd_open_file does it, else streamed */
int clamd_scan_fd(const char *addr, int timeout, long long max_size, int fd, int fildes,
		  clamd_result_t *res)
{
    struct stat st;
    clamd_conn_t *c;

    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
	c = clamd_open_file(addr, timeout, max_size, fd, fildes, res);
    else if ((c = clamd_open(addr, timeout, max_size, res)) != NULL)
	conn_stream_from(c, fd, -1);
    return c ? clamd_finish(&c, res) : res->status;
}
