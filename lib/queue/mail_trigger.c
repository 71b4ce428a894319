/*
 * mail_trigger.c - one-shot wake-ups over a Unix socket or FIFO.
 *
 * A FIFO is opened O_NONBLOCK (no reader: ENXIO, at once); a socket is
 * connected with a short timeout and the bytes written without waiting.
 * mail_trigger_keep keeps the socket connection for the next wake-up
 * (cleanup wakes qmgr once per message: no connect, accept and close
 * each time); a server that closed it meanwhile (restarted) gets a new
 * one at once, and the connection is renewed after 30 s without use, so
 * that the server's limit for silent kept clients (60 s) never cuts it
 * while bytes are on their way.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "global/mail_proto.h"
#include "global/mail_queue.h"
#include "queue/mail_trigger.h"
#include "util/sock.h"

#define MAIL_TRIGGER_TIMEOUT 2
#define MAIL_TRIGGER_KEEP_IDLE 30 /* s; below the event server's kept limit (60 s) */

static char mail_trigger_err[300];

/* mail_trigger_fail - error text with errno */
static int mail_trigger_fail(const char **error_r, const char *path)
{
    snprintf(mail_trigger_err, sizeof(mail_trigger_err), "%.250s: %s", path, strerror(errno));
    *error_r = mail_trigger_err;
    return -1;
}

/* mail_trigger - write the bytes, never wait long */
int mail_trigger(const char *relative, const char *buf, size_t len, const char **error_r)
{
    char path[4096];
    struct stat st;
    ssize_t n;
    int fd;

    snprintf(path, sizeof(path), "%s", mail_queue_path(relative));
    if (stat(path, &st) < 0)
	return mail_trigger_fail(error_r, path);
    if (S_ISFIFO(st.st_mode)) {
	if ((fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
	    return mail_trigger_fail(error_r, path);
    } else if ((fd = sock_connect_unix(path, MAIL_TRIGGER_TIMEOUT, error_r)) < 0) {
	return -1;
    }
    n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT); /* a FIFO is O_NONBLOCK */
    if (n < 0 && errno == ENOTSOCK)
	n = write(fd, buf, len);
    if (n != (ssize_t)len) {
	mail_trigger_fail(error_r, path);
	close(fd);
	return -1;
    }
    close(fd);
    return 0;
}

/* The connection mail_trigger_keep keeps, and for what. */
static int mail_trigger_kept_fd = -1;
static char mail_trigger_kept_path[4096];
static time_t mail_trigger_kept_used;

/* mail_trigger_kept_send - the bytes over the kept connection: 1 sent, 0
 * the server has closed it (send again over a new one), -1 not sent */
static int mail_trigger_kept_send(const char *buf, size_t len)
{
    ssize_t n = send(mail_trigger_kept_fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);

    if (n == (ssize_t)len)
	return 1;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
	return -1; /* the server is behind: this one is lost, the connection is fine */
    close(mail_trigger_kept_fd); /* a part sent: the server reads it as single bytes */
    mail_trigger_kept_fd = -1;
    return n < 0 && (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) ? 0 : -1;
}

/* mail_trigger_keep - as mail_trigger, over one connection kept from
 * call to call while it is used at least every MAIL_TRIGGER_KEEP_IDLE */
int mail_trigger_keep(const char *relative, const char *buf, size_t len, const char **error_r)
{
    char path[4096];
    time_t now = time(NULL);
    struct stat st;
    int sent;

    snprintf(path, sizeof(path), "%s", mail_queue_path(relative));
    if (mail_trigger_kept_fd >= 0 &&
	(strcmp(path, mail_trigger_kept_path) != 0 || now < mail_trigger_kept_used ||
	 now - mail_trigger_kept_used >= MAIL_TRIGGER_KEEP_IDLE)) {
	close(mail_trigger_kept_fd); /* before the server's own limit */
	mail_trigger_kept_fd = -1;
    }
    if (mail_trigger_kept_fd >= 0 && (sent = mail_trigger_kept_send(buf, len)) != 0) {
	mail_trigger_kept_used = now;
	return sent > 0 ? 0 : mail_trigger_fail(error_r, path);
    }
    if (stat(path, &st) < 0)
	return mail_trigger_fail(error_r, path);
    if (!S_ISSOCK(st.st_mode))
	return mail_trigger(relative, buf, len, error_r);
    if ((mail_trigger_kept_fd = sock_connect_unix(path, MAIL_TRIGGER_TIMEOUT, error_r)) < 0)
	return -1;
    snprintf(mail_trigger_kept_path, sizeof(mail_trigger_kept_path), "%s", path);
    mail_trigger_kept_used = now;
    return mail_trigger_kept_send(buf, len) > 0 ? 0 : mail_trigger_fail(error_r, path);
}

/* mail_trigger_named - "W" ID "\n" */
const char *mail_trigger_named(str_t *out, const char *id)
{
    str_printf(out, "%c%s\n", TRIGGER_WAKEUP, id);
    return str_data(out);
}

/* mail_trigger_next - one request: a named wake-up, or one byte */
int mail_trigger_next(const char *buf, size_t len, size_t *pos, char id_r[QID_BUFSIZE])
{
    size_t at = *pos;

    id_r[0] = 0;
    if (at >= len)
	return -1;
    if (buf[at] == TRIGGER_WAKEUP && len - at >= QID_LEN + 2 && buf[at + 1 + QID_LEN] == '\n') {
	memcpy(id_r, buf + at + 1, QID_LEN);
	id_r[QID_LEN] = 0;
	if (qid_valid(id_r)) {
	    *pos = at + QID_LEN + 2;
	    return TRIGGER_WAKEUP;
	}
	id_r[0] = 0;
    }
    *pos = at + 1;
    return (unsigned char)buf[at];
}
