/*
 * sock.c - socket helpers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sock.h"
#include "str.h"

#define SOCK_MAX_FDS 4 /* descriptors sent at once, at most */

static char sock_errbuf[512];

/* sock_fail - format an error and return -1 */
static int sock_fail(const char **error_r, int fd, const char *what, const char *where)
{
    int saved = errno;

    snprintf(sock_errbuf, sizeof(sock_errbuf), "%s %s: %s", what, where, strerror(errno));
    if (fd >= 0)
	close(fd);
    errno = saved;
    if (error_r)
	*error_r = sock_errbuf;
    return -1;
}

/* sock_send_fds - see sock.h */
ssize_t sock_send_fds(int sock, const void *data, size_t len, const int *fds, int nfds,
		      int timeout_ms)
{
    char cbuf[CMSG_SPACE(SOCK_MAX_FDS * sizeof(int))];
    struct iovec iov = {.iov_base = (void *)data, .iov_len = len};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf};
    struct pollfd pfd = {.fd = sock, .events = POLLOUT};
    struct cmsghdr *cm;
    ssize_t n;

    if (nfds < 1 || nfds > SOCK_MAX_FDS || len == 0) {
	errno = EINVAL;
	return -1;
    }
    memset(cbuf, 0, sizeof(cbuf));
    mh.msg_controllen = CMSG_SPACE((size_t)nfds * sizeof(int));
    cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN((size_t)nfds * sizeof(int));
    memcpy(CMSG_DATA(cm), fds, (size_t)nfds * sizeof(int));
    while ((n = sendmsg(sock, &mh, MSG_NOSIGNAL)) < 0) {
	if (errno == EAGAIN && poll(&pfd, 1, timeout_ms) == 1)
	    continue;
	if (errno == EAGAIN)
	    errno = ETIMEDOUT;
	if (errno != EINTR)
	    return -1;
    }
    return n;
}

int sock_nonblock(int fd, int on)
{
    int flags = fcntl(fd, F_GETFL);

    if (flags < 0)
	return -1;
    fcntl(fd, F_SETFL, on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK);
    return (flags & O_NONBLOCK) != 0;
}

/*
 * sock_listen_queue - Linux reports a listening TCP socket's accept queue
 * in TCP_INFO: tcpi_unacked holds the connections ready for accept() (and
 * tcpi_sacked the backlog). Other sockets give -1.
 */
int sock_listen_queue(int fd)
{
    struct tcp_info info;
    socklen_t len = sizeof(info);

    memset(&info, 0, sizeof(info));
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) < 0 || info.tcpi_state != TCP_LISTEN)
	return -1;
    return (int)info.tcpi_unacked;
}

void sock_cloexec(int fd, int on)
{
    int flags = fcntl(fd, F_GETFD);

    if (flags >= 0)
	fcntl(fd, F_SETFD, on ? flags | FD_CLOEXEC : flags & ~FD_CLOEXEC);
}

/* sock_unix_addr - fill a sockaddr_un; -1 if the path is too long */
static int sock_unix_addr(struct sockaddr_un *sun, const char *path)
{
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun->sun_path)) {
	errno = ENAMETOOLONG;
	return -1;
    }
    mr_strlcpy(sun->sun_path, path, sizeof(sun->sun_path));
    return 0;
}

int sock_listen_unix(const char *path, int backlog, int mode, const char **error_r)
{
    struct sockaddr_un sun;
    mode_t old_mask;
    int fd, ret;

    if (sock_unix_addr(&sun, path) < 0)
	return sock_fail(error_r, -1, "bad socket path", path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
	return sock_fail(error_r, -1, "socket for", path);
    if (unlink(path) < 0 && errno != ENOENT)
	return sock_fail(error_r, fd, "remove old socket", path);
    /* The mode comes from the umask at bind time: no chmod by path
     * afterwards, which could follow a link swapped in after the bind. */
    old_mask = umask((mode_t)(~mode & 0777));
    ret = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old_mask);
    if (ret < 0)
	return sock_fail(error_r, fd, "bind", path);
    if (listen(fd, backlog) < 0)
	return sock_fail(error_r, fd, "listen", path);
    return fd;
}

/* sock_wait_connect - finish a non-blocking connect */
static int sock_wait_connect(int fd, int timeout)
{
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int err = 0, n;
    socklen_t len = sizeof(err);

    do {
	n = poll(&pfd, 1, timeout > 0 ? timeout * 1000 : -1);
    } while (n < 0 && errno == EINTR);
    if (n == 0) {
	errno = ETIMEDOUT;
	return -1;
    }
    if (n < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
	return -1;
    if (err) {
	errno = err;
	return -1;
    }
    return 0;
}

/* sock_connect_fd - connect a fresh socket, made with SOCK_NONBLOCK and
 * no other status flag, with a timeout; it is blocking again after */
static int sock_connect_fd(int fd, const struct sockaddr *sa, socklen_t len, int timeout)
{
    if (connect(fd, sa, len) < 0) {
	if (errno != EINPROGRESS && errno != EAGAIN)
	    return -1;
	if (sock_wait_connect(fd, timeout) < 0)
	    return -1;
    }
    return fcntl(fd, F_SETFL, 0);
}

int sock_connect_unix(const char *path, int timeout, const char **error_r)
{
    struct sockaddr_un sun;
    int fd;

    if (sock_unix_addr(&sun, path) < 0)
	return sock_fail(error_r, -1, "bad socket path", path);
    if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
	return sock_fail(error_r, -1, "socket for", path);
    if (sock_connect_fd(fd, (struct sockaddr *)&sun, sizeof(sun), timeout) < 0)
	return sock_fail(error_r, fd, "connect to", path);
    return fd;
}

int sock_split_hostport(char *addr, char **host_r, char **port_r)
{
    char *colon;

    if (addr[0] == '[') {
	char *end = strchr(addr, ']');

	if (end == NULL || end[1] != ':')
	    return -1;
	*end = 0;
	*host_r = addr + 1;
	*port_r = end + 2;
	return 0;
    }
    if ((colon = strrchr(addr, ':')) == NULL) {
	*host_r = "";
	*port_r = addr;
	return 0;
    }
    *colon = 0;
    *host_r = addr;
    *port_r = colon + 1;
    return 0;
}

/* sock_resolve - numeric or name lookup of host:port */
static struct addrinfo *sock_resolve(const char *addr, int passive, const char **error_r)
{
    char copy[300], *host, *port;
    struct addrinfo hints, *res;
    int err;

    if (mr_strlcpy(copy, addr, sizeof(copy)) >= sizeof(copy) ||
	sock_split_hostport(copy, &host, &port) < 0 || *port == 0) {
	errno = EINVAL;
	sock_fail(error_r, -1, "bad address", addr);
	return NULL;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    if (*host == 0 || strcmp(host, "*") == 0)
	host = NULL;
    if ((err = getaddrinfo(host, port, &hints, &res)) != 0) {
	snprintf(sock_errbuf, sizeof(sock_errbuf), "resolve %s: %s", addr, gai_strerror(err));
	*error_r = sock_errbuf;
	return NULL;
    }
    return res;
}

int sock_listen_inet(const char *addr, int backlog, const char **error_r)
{
    struct addrinfo *res = sock_resolve(addr, 1, error_r);
    int fd, on = 1;

    if (res == NULL)
	return -1;
    fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
	freeaddrinfo(res);
	return sock_fail(error_r, -1, "socket for", addr);
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, backlog) < 0) {
	freeaddrinfo(res);
	return sock_fail(error_r, fd, "bind/listen", addr);
    }
    freeaddrinfo(res);
    return fd;
}

int sock_connect_inet(const char *addr, const char *source, int timeout, const char **error_r)
{
    struct addrinfo *res = sock_resolve(addr, 0, error_r), *ai;
    int fd = -1, on = 1;

    if (res == NULL)
	return -1;
    for (ai = res; ai; ai = ai->ai_next) {
	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0)
	    continue;
	if (source && *source) {
	    struct sockaddr_in sin = {.sin_family = AF_INET};

	    if (inet_pton(AF_INET, source, &sin.sin_addr) != 1 ||
		bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		close(fd);
		fd = -1;
		continue;
	    }
	}
	if (sock_connect_fd(fd, ai->ai_addr, ai->ai_addrlen, timeout) == 0)
	    break;
	close(fd);
	fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
	return sock_fail(error_r, -1, "connect to", addr);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    return fd;
}

/* sock_format_addr - numeric form of a sockaddr */
static const char *sock_format_addr(struct sockaddr_storage *ss, char *buf, size_t len, int *port_r)
{
    int port = 0;

    if (ss->ss_family == AF_INET) {
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;

	inet_ntop(AF_INET, &sin->sin_addr, buf, (socklen_t)len);
	port = ntohs(sin->sin_port);
    } else if (ss->ss_family == AF_INET6) {
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	inet_ntop(AF_INET6, &sin6->sin6_addr, buf, (socklen_t)len);
	if (strncmp(buf, "::ffff:", 7) == 0 && strchr(buf, '.'))
	    memmove(buf, buf + 7, strlen(buf + 7) + 1);
	port = ntohs(sin6->sin6_port);
    } else {
	mr_strlcpy(buf, ss->ss_family == AF_UNIX ? "local" : "unknown", len);
    }
    if (port_r)
	*port_r = port;
    return buf;
}

const char *sock_peer_addr(int fd, char *buf, size_t len, int *port_r)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);

    memset(&ss, 0, sizeof(ss));
    if (getpeername(fd, (struct sockaddr *)&ss, &sslen) < 0)
	ss.ss_family = AF_UNSPEC;
    return sock_format_addr(&ss, buf, len, port_r);
}

/* sock_local_addr - numeric local address and port (SASL wants both ends) */
const char *sock_local_addr(int fd, char *buf, size_t len, int *port_r)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);

    memset(&ss, 0, sizeof(ss));
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) < 0)
	ss.ss_family = AF_UNSPEC;
    return sock_format_addr(&ss, buf, len, port_r);
}
