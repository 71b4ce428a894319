/*
 * local_keep.c - Maildir deliveries in a child kept for one uid.
 *
 * local_user.c forks a child per delivery step, which drops to the
 * mailbox owner for good. For the common step - a Maildir delivery -
 * each local process instead keeps its last such child alive, already
 * dropped to uid U (and gid G), and sends it the next Maildir delivery
 * for the same U and G over a socket pair. That saves the fork, the
 * child's copy-on-write faults and its exit, which were most of local's
 * CPU per message once the file system's own work is left aside
 * (docs/benchmarks.md). A delivery for another uid or
 * gid, a child that died, or one idle for local_child_idle_time gets a
 * new child (the old one is killed and reaped); 0 turns keeping off.
 *
 * Isolation is the fork's. The child calls setgroups/setgid/setuid once,
 * before it reads any request, and cannot regain root (privs_become). It
 * then closes every descriptor it inherited except its socket and the
 * log's, so it holds neither the client connection nor a queue file nor
 * master's sockets. It only ever handles mail for U: what a compromised
 * child could do to a later delivery (read it, change it, drop it) it
 * could also do as U to the Maildir the delivery lands in, or arrange
 * with U's .forward, so keeping it adds nothing the user's rights do not
 * already allow. Its kernel checks are U's as before. The user can kill
 * or stop it, as he can a child per delivery: that defers only his own
 * mail.
 *
 * Wire (SOCK_SEQPACKET, one packet each way per delivery):
 *   parent -> child: local_keep_req_t, then dir, rcpt and sender (the
 *   lengths in the header, no NULs), and a read-only descriptor of the
 *   queue file (SCM_RIGHTS), opened afresh through /proc/self/fd so the
 *   child cannot write the file local marks recipients done in;
 *   child -> parent: local_result_t.
 * A child that dies (or whose socket fails) after the request was sent
 * and before a whole result came back makes the delivery a temporary
 * failure, as for a child per delivery: at worst the message was in new/
 * already and the retry makes a duplicate; never a loss. If the request
 * could not be sent at all, nothing was delivered and a new child is
 * tried once.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "global/mail_params.h"
#include "local.h"
#include "queue/qfile.h"
#include "util/msg.h"
#include "util/privs.h"

#define LOCAL_KEEP_FIELD_MAX 4096 /* bytes of dir, rcpt, sender each */
#define LOCAL_KEEP_LINE_PIECE (64 * 1024)

/* The request header; the strings follow in the same packet. */
typedef struct local_keep_req {
    int64_t content_offset; /* first content record in the queue file */
    uint32_t dir_len, rcpt_len, sender_len;
} local_keep_req_t;

/* The parent's one kept child. */
static struct {
    pid_t pid; /* 0: none */
    int sock;
    uid_t uid;
    gid_t gid;
    time_t used; /* end of its last delivery */
} local_kept;

/* Child side */

/* local_keep_line - content reader over the received queue file */
static int local_keep_line(void *ctx, str_t *line, int *complete_r, const char **error_r)
{
    return qfile_line(ctx, line, LOCAL_KEEP_LINE_PIECE, complete_r, error_r);
}

/* local_keep_rewind - start the content again */
static void local_keep_rewind(void *ctx)
{
    qfile_rewind(ctx);
}

/* local_keep_recv - one request: 1 with *fd_r (the caller closes it), 0 on
 * EOF or idle timeout, -1 when it is malformed */
static int local_keep_recv(int sock, char *buf, size_t size, int *fd_r)
{
    struct pollfd pfd = {.fd = sock, .events = POLLIN};
    int idle_ms = (var_local_child_idle_time + 2) * 1000;
    union {
	struct cmsghdr h;
	char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct iovec iov = {.iov_base = buf, .iov_len = size};
    struct msghdr mh = {.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = ctl.buf,
			.msg_controllen = sizeof(ctl.buf)};
    struct cmsghdr *c;
    ssize_t n;
    int ret;

    /* the parent stops using us after the idle time: a margin, then go */
    while ((ret = poll(&pfd, 1, idle_ms)) < 0 && errno == EINTR)
	/* again */;
    if (ret == 0)
	return 0;
    while ((n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
	/* again */;
    if (n <= 0)
	return 0;
    *fd_r = -1;
    if ((c = CMSG_FIRSTHDR(&mh)) != NULL && c->cmsg_level == SOL_SOCKET &&
	c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
	memcpy(fd_r, CMSG_DATA(c), sizeof(int));
    if (*fd_r < 0 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n >= size)
	return -1;
    return (int)n;
}

/* local_keep_serve - one delivery: 0 done (result sent), -1 to exit */
static int local_keep_serve(int sock, char *buf, size_t size)
{
    local_keep_req_t h;
    local_result_t r;
    local_msg_t msg;
    qfile_t qf;
    int fd, n;

    if ((n = local_keep_recv(sock, buf, size, &fd)) <= 0) {
	if (n < 0 && fd >= 0)
	    close(fd);
	return -1;
    }
    if ((size_t)n < sizeof(h)) {
	close(fd);
	return -1;
    }
    memcpy(&h, buf, sizeof(h));
    if (h.dir_len > LOCAL_KEEP_FIELD_MAX || h.rcpt_len > LOCAL_KEEP_FIELD_MAX ||
	h.sender_len > LOCAL_KEEP_FIELD_MAX ||
	sizeof(h) + h.dir_len + h.rcpt_len + h.sender_len != (size_t)n) {
	close(fd);
	return -1;
    }
    /* the strings, NUL-terminated in place: move each one up by one */
    char *dir = buf + sizeof(h), *rcpt = dir + h.dir_len + 1, *sender = rcpt + h.rcpt_len + 1;

    memmove(sender, dir + h.dir_len + h.rcpt_len, h.sender_len);
    sender[h.sender_len] = 0;
    memmove(rcpt, dir + h.dir_len, h.rcpt_len);
    rcpt[h.rcpt_len] = 0;
    dir[h.dir_len] = 0;
    /* a reader of the content only: the file's envelope stays with local */
    memset(&qf, 0, sizeof(qf));
    qf.fd = fd;
    qf.content_offset = (off_t)h.content_offset;
    memset(&msg, 0, sizeof(msg));
    msg.sender = sender;
    msg.line = local_keep_line;
    msg.rewind = local_keep_rewind;
    msg.ctx = &qf;
    memset(&r, 0, sizeof(r));
    maildir_seq++;
    maildir_deliver(dir, &msg, rcpt, &r);
    qfile_rewind(&qf);
    close(fd);
    return send(sock, &r, sizeof(r), MSG_NOSIGNAL) == (ssize_t)sizeof(r) ? 0 : -1;
}

/* local_keep_child - drop for good, let go of the parent's descriptors,
 * serve until EOF or idle */
static void local_keep_child(int sock, const local_user_t *user)
{
    /* room for the header, three fields and the NULs the child adds */
    static char buf[sizeof(local_keep_req_t) + 3 * LOCAL_KEEP_FIELD_MAX + 4];

    if (privs_running_as_root())
	privs_become(user->uid, user->gid);
    msg_close_others(sock);
    while (local_keep_serve(sock, buf, sizeof(buf)) == 0)
	/* next */;
    _exit(0);
}

/* Parent side */

/* local_keep_retire - kill and reap the kept child, if any */
static void local_keep_retire(void)
{
    if (local_kept.pid <= 0)
	return;
    close(local_kept.sock);
    kill(local_kept.pid, SIGKILL);
    while (waitpid(local_kept.pid, NULL, 0) < 0 && errno == EINTR)
	/* again */;
    local_kept.pid = 0;
    local_kept.sock = -1;
}

/* local_keep_start - a new child for user: 0 ok, -1 (errno) */
static int local_keep_start(const local_user_t *user)
{
    int sv[2];
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
	return -1;
    if ((pid = fork()) < 0) {
	close(sv[0]);
	close(sv[1]);
	return -1;
    }
    if (pid == 0) {
	close(sv[0]);
	local_keep_child(sv[1], user);
    }
    close(sv[1]);
    local_kept.pid = pid;
    local_kept.sock = sv[0];
    local_kept.uid = user->uid;
    local_kept.gid = user->gid;
    local_kept.used = time(NULL);
    return 0;
}

/* local_keep_usable - is the kept child there, alive, for user and not
 * idle too long? When it is not, it is reaped or retired. */
static int local_keep_usable(const local_user_t *user, time_t now)
{
    if (local_kept.pid <= 0)
	return 0;
    if (waitpid(local_kept.pid, NULL, WNOHANG) != 0) { /* gone (reaped now) */
	close(local_kept.sock);
	local_kept.pid = 0;
	local_kept.sock = -1;
	return 0;
    }
    if (local_kept.uid != user->uid || local_kept.gid != user->gid || now < local_kept.used ||
	now - local_kept.used >= var_local_child_idle_time) {
	local_keep_retire();
	return 0;
    }
    return 1;
}

/* local_keep_send - the request: 0 sent, -1 not (errno) */
static int local_keep_send(int qfd, const char *dir, const local_msg_t *msg, const char *rcpt)
{
    local_keep_req_t h = {.content_offset = (int64_t)msg->qf->content_offset,
			  .dir_len = (uint32_t)strlen(dir),
			  .rcpt_len = (uint32_t)strlen(rcpt),
			  .sender_len = (uint32_t)strlen(msg->sender)};
    struct iovec iov[4] = {{&h, sizeof(h)},
			   {(void *)dir, h.dir_len},
			   {(void *)rcpt, h.rcpt_len},
			   {(void *)msg->sender, h.sender_len}};
    union {
	struct cmsghdr h;
	char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct msghdr mh = {
	.msg_iov = iov, .msg_iovlen = 4, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    ssize_t n;

    memset(&ctl, 0, sizeof(ctl));
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &qfd, sizeof(int));
    while ((n = sendmsg(local_kept.sock, &mh, MSG_NOSIGNAL)) < 0 && errno == EINTR)
	/* again */;
    return n < 0 ? -1 : 0;
}

/* local_keep_result - the child's answer: 0, or -1 when it died */
static int local_keep_result(local_result_t *r)
{
    ssize_t n;

    while ((n = recv(local_kept.sock, r, sizeof(*r), 0)) < 0 && errno == EINTR)
	/* again */;
    if (n != (ssize_t)sizeof(*r))
	return -1;
    r->dsn[sizeof(r->dsn) - 1] = 0;
    r->text[sizeof(r->text) - 1] = 0;
    return 0;
}

/* local_keep_maildir - see local.h */
int local_keep_maildir(const local_user_t *user, const char *dir, const local_msg_t *msg,
		       const char *rcpt, local_result_t *r)
{
    char proc[64];
    int qfd, sent = -1;

    if (var_local_child_idle_time <= 0 || msg->qf == NULL || strlen(dir) > LOCAL_KEEP_FIELD_MAX ||
	strlen(rcpt) > LOCAL_KEEP_FIELD_MAX || strlen(msg->sender) > LOCAL_KEEP_FIELD_MAX)
	return -1;
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", msg->qf->fd);
    if ((qfd = open(proc, O_RDONLY | O_CLOEXEC)) < 0)
	return -1;
    for (int attempt = 0; attempt < 2 && sent < 0; attempt++) {
	if (!local_keep_usable(user, time(NULL)) && local_keep_start(user) < 0)
	    break;
	if ((sent = local_keep_send(qfd, dir, msg, rcpt)) < 0)
	    local_keep_retire(); /* it never saw the request: try a new one */
    }
    close(qfd);
    if (sent < 0) {
	local_result_set(r, LOCAL_DEFER, "4.3.0", "cannot start a delivery process: %s",
			 strerror(errno));
	return 0;
    }
    if (local_keep_result(r) < 0) {
	local_result_set(r, LOCAL_DEFER, "4.3.0", "delivery process for uid %ld died",
			 (long)user->uid);
	local_keep_retire();
	return 0;
    }
    local_kept.used = time(NULL);
    return 0;
}
