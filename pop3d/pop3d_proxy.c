/*
 * pop3d_proxy.c - the login process as TLS proxy: after a login over TLS
 * the mailbox process speaks plain POP3 on a socket pair, and this loop
 * moves the bytes between it and the client's TLS stream, so the TLS
 * session and its keys stay in the login process.
 *
 * It ends when either side closes or fails; the mailbox process keeps
 * the session's idle timeout, and a client that stops reading is cut
 * off by the stream's write timeout (pop3d_timeout).
 */
#include <errno.h>
#include <poll.h>
#include <unistd.h>

#include "global/mail_params.h"
#include "pop3d.h"
#include "util/safe_open.h"

/* proxy_to_client - what the mailbox process wrote; 0 ok, -1 end */
static int proxy_to_client(stream_t *client, int fd, char *buf, size_t size)
{
    ssize_t n;

    while ((n = read(fd, buf, size)) < 0 && errno == EINTR)
	;
    if (n <= 0)
	return -1;
    return stream_write(client, buf, (size_t)n) < 0 || stream_flush(client) < 0 ? -1 : 0;
}

/* proxy_from_client - what the client sent; 0 ok, -1 end */
static int proxy_from_client(stream_t *client, int fd, char *buf, size_t size)
{
    ssize_t n = stream_read(client, buf, size);

    return n <= 0 || write_all(fd, buf, (size_t)n) < 0 ? -1 : 0;
}

/* pop3d_proxy - see pop3d.h */
void pop3d_proxy(stream_t *client, int fd)
{
    struct pollfd p[2] = {{.fd = stream_fd(client), .events = POLLIN},
			  {.fd = fd, .events = POLLIN}};
    char buf[16384];
    int n;

    stream_set_timeout(client, var_pop3d_timeout);
    for (;;) {
	/* input already decrypted and buffered does not show in poll */
	n = poll(p, 2, stream_pending(client) > 0 ? 0 : -1);
	if (n < 0 && errno == EINTR)
	    continue;
	if (n < 0)
	    break;
	if ((p[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
	    proxy_to_client(client, fd, buf, sizeof(buf)) < 0)
	    break;
	if ((stream_pending(client) > 0 || (p[0].revents & (POLLIN | POLLHUP | POLLERR))) &&
	    proxy_from_client(client, fd, buf, sizeof(buf)) < 0)
	    break;
    }
    close(fd);
}
