/*
 * mail_trigger.c - one-shot wake-ups over a Unix socket or FIFO.
 *
 * A FIFO is opened O_NONBLOCK (no reader: ENXIO, at once); a socket is
 * connected with a short timeout and the bytes written without waiting.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/mail_proto.h"
#include "global/mail_queue.h"
#include "queue/mail_trigger.h"
#include "util/sock.h"

#define MAIL_TRIGGER_TIMEOUT 2

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
