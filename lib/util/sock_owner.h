/*
 * sock_owner.h - which local user holds the other end of a connection.
 *
 * A server on the loopback interface (filterd's 10024) is reached by every
 * local user from the same address, so an address says nothing about who
 * is asking. For a connection between two sockets of this host the kernel
 * knows the uid that created the client's socket: SO_PEERCRED tells it on
 * a Unix socket, and the socket-diagnostics netlink interface (the one
 * ss(8) reads, open to every user) tells it for TCP.
 */
#ifndef MR_SOCK_OWNER_H
#define MR_SOCK_OWNER_H

#include <sys/types.h>

/* sock_peer_uid - the uid owning the peer's socket of the connected
 * socket fd: 1 (in *uid_r), 0 the peer is not a socket of this host (a
 * remote client) or the kernel cannot tell, -1 error (errno set) */
int sock_peer_uid(int fd, uid_t *uid_r);

#endif
