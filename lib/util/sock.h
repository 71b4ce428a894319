/*
 * sock.h - creating, binding and connecting sockets (Unix and TCP).
 *
 * All descriptors are created close-on-exec. Errors come back as -1 with
 * text in *error_r (static storage, valid until the next call).
 */
#ifndef MR_SOCK_H
#define MR_SOCK_H

#include <sys/socket.h>
#include <sys/types.h>

/* sock_listen_unix - bind and listen on a Unix socket path (an old socket
 * file is replaced); the socket file is created with mode (through the
 * umask, so no path is touched after the bind; the caller must be
 * single-threaded). Every path operation runs with the caller's ids: a
 * root caller in a directory another user can write switches its
 * effective ids first (privs_as_user). */
int sock_listen_unix(const char *path, int backlog, int mode, const char **error_r);
/* sock_connect_unix - connect to a Unix socket, waiting at most timeout s */
int sock_connect_unix(const char *path, int timeout, const char **error_r);
/* sock_listen_inet - bind "host:port", "[v6]:port" or ":port" (any) */
int sock_listen_inet(const char *addr, int backlog, const char **error_r);
/* sock_connect_inet - connect to host:port with a timeout; the optional
 * source address binds the local end (used to play other clients) */
int sock_connect_inet(const char *addr, const char *source, int timeout, const char **error_r);
/* sock_send_fds - one sendmsg of len bytes (at least one) carrying the
 * nfds descriptors (SCM_RIGHTS; Unix sockets only), waiting up to
 * timeout_ms for room on a non-blocking socket; returns the bytes sent
 * (the descriptors went with them), -1 on error */
ssize_t sock_send_fds(int sock, const void *data, size_t len, const int *fds, int nfds,
		      int timeout_ms);
/* sock_nonblock - set or clear O_NONBLOCK; returns previous state */
int sock_nonblock(int fd, int on);
/* sock_cloexec - set or clear FD_CLOEXEC */
void sock_cloexec(int fd, int on);
/* sock_listen_queue - connections waiting for accept() on a listening TCP
 * socket; -1 when the kernel cannot tell (Unix sockets, FIFOs) */
int sock_listen_queue(int fd);
/* sock_split_hostport - split "host:port" / "[v6]:port" into parts in
 * place; returns 0 or -1 */
int sock_split_hostport(char *addr, char **host_r, char **port_r);
/* sock_peer_addr - numeric address of the peer ("unknown" if none),
 * written to buf */
const char *sock_peer_addr(int fd, char *buf, size_t len, int *port_r);
/* sock_local_addr - numeric local address and port */
const char *sock_local_addr(int fd, char *buf, size_t len, int *port_r);

#endif
