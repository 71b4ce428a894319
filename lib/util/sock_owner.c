/*
 * sock_owner.c - the uid of a connection's other end (sock_owner.h).
 *
 * For TCP the kernel is asked for the one socket whose local end is our
 * peer's address and port and whose remote end is ours (an exact
 * SOCK_DIAG_BY_FAMILY request, no dump): on this host that is the
 * client's own socket, and its inet_diag_msg carries the uid that
 * created it. A remote peer has no such socket here: the answer is
 * ENOENT. An IPv4 client of an IPv6 socket (::ffff:a.b.c.d) is looked up
 * as the IPv4 socket it is.
 *
 * Known weak spot: the uid is the socket's creator's; a process that was
 * handed the socket by another user speaks with that user's uid, as with
 * SO_PEERCRED.
 */
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sock_owner.h"

/* One exact request, and room for the one answer (or an error) */
struct sock_owner_req {
    struct nlmsghdr nlh;
    struct inet_diag_req_v2 req;
};

/* sock_owner_v4 - an IPv4-mapped IPv6 address becomes IPv4 */
static void sock_owner_v4(struct sockaddr_storage *ss)
{
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
    struct sockaddr_in sin;

    if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
	return;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = sin6->sin6_port;
    memcpy(&sin.sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
    memset(ss, 0, sizeof(*ss));
    memcpy(ss, &sin, sizeof(sin));
}

/* sock_owner_ends - our end and the peer's, same family; 0 or -1 */
static int sock_owner_ends(int fd, struct sockaddr_storage *me, struct sockaddr_storage *peer)
{
    socklen_t len = sizeof(*me);

    memset(me, 0, sizeof(*me));
    memset(peer, 0, sizeof(*peer));
    if (getsockname(fd, (struct sockaddr *)me, &len) < 0)
	return -1;
    len = sizeof(*peer);
    if (getpeername(fd, (struct sockaddr *)peer, &len) < 0)
	return -1;
    sock_owner_v4(me);
    sock_owner_v4(peer);
    return 0;
}

/* sock_owner_id - fill an inet_diag_sockid: src the peer, dst us */
static void sock_owner_id(struct inet_diag_sockid *id, const struct sockaddr_storage *me,
			  const struct sockaddr_storage *peer)
{
    if (peer->ss_family == AF_INET) {
	const struct sockaddr_in *p = (const struct sockaddr_in *)peer;
	const struct sockaddr_in *m = (const struct sockaddr_in *)me;

	id->idiag_sport = p->sin_port;
	id->idiag_dport = m->sin_port;
	memcpy(id->idiag_src, &p->sin_addr, 4);
	memcpy(id->idiag_dst, &m->sin_addr, 4);
    } else {
	const struct sockaddr_in6 *p = (const struct sockaddr_in6 *)peer;
	const struct sockaddr_in6 *m = (const struct sockaddr_in6 *)me;

	id->idiag_sport = p->sin6_port;
	id->idiag_dport = m->sin6_port;
	memcpy(id->idiag_src, &p->sin6_addr, 16);
	memcpy(id->idiag_dst, &m->sin6_addr, 16);
    }
    id->idiag_cookie[0] = INET_DIAG_NOCOOKIE;
    id->idiag_cookie[1] = INET_DIAG_NOCOOKIE;
}

/* sock_owner_ask - one request on a netlink socket, its answer read;
 * 1 found, 0 no such socket, -1 error */
static int sock_owner_ask(int nl, struct sock_owner_req *rq, uid_t *uid_r)
{
    union {
	struct nlmsghdr nlh;
	char buf[1024];
    } ans;
    struct nlmsgerr *err;
    ssize_t n;

    if (send(nl, rq, sizeof(*rq), 0) != (ssize_t)sizeof(*rq))
	return -1;
    if ((n = recv(nl, &ans, sizeof(ans), 0)) < 0)
	return -1;
    if (!NLMSG_OK(&ans.nlh, (size_t)n))
	return errno = EPROTO, -1;
    if (ans.nlh.nlmsg_type == NLMSG_ERROR) {
	err = NLMSG_DATA(&ans.nlh);
	if (ans.nlh.nlmsg_len < NLMSG_LENGTH(sizeof(*err)))
	    return errno = EPROTO, -1;
	if (err->error == -ENOENT)
	    return 0;
	return errno = -err->error, -1;
    }
    if (ans.nlh.nlmsg_type != SOCK_DIAG_BY_FAMILY ||
	ans.nlh.nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
	return errno = EPROTO, -1;
    *uid_r = ((struct inet_diag_msg *)NLMSG_DATA(&ans.nlh))->idiag_uid;
    return 1;
}

/* sock_peer_uid_tcp - the exact socket-diagnostics lookup */
static int sock_peer_uid_tcp(const struct sockaddr_storage *me, const struct sockaddr_storage *peer,
			     uid_t *uid_r)
{
    struct sock_owner_req rq;
    int nl, ret, saved;

    memset(&rq, 0, sizeof(rq));
    rq.nlh.nlmsg_len = sizeof(rq);
    rq.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    rq.nlh.nlmsg_flags = NLM_F_REQUEST;
    rq.req.sdiag_family = (unsigned char)peer->ss_family;
    rq.req.sdiag_protocol = IPPROTO_TCP;
    rq.req.idiag_states = ~0U;
    sock_owner_id(&rq.req.id, me, peer);
    if ((nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG)) < 0)
	return -1;
    ret = sock_owner_ask(nl, &rq, uid_r);
    saved = errno;
    (void)close(nl);
    errno = saved;
    return ret;
}

int sock_peer_uid(int fd, uid_t *uid_r)
{
    struct sockaddr_storage me, peer;
    struct ucred cred;
    socklen_t len = sizeof(cred);

    if (sock_owner_ends(fd, &me, &peer) < 0)
	return -1;
    if (peer.ss_family == AF_UNIX) {
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
	    return -1;
	*uid_r = cred.uid;
	return 1;
    }
    if (peer.ss_family != AF_INET && peer.ss_family != AF_INET6)
	return 0;
    return sock_peer_uid_tcp(&me, &peer, uid_r);
}
