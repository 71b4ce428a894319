/*
 * local_keep.c - Maildir deliveries (and the .forward read before them)
 * in a child kept for one uid.
 *
 * local_user.c forks a child per delivery step, which drops to the
 * mailbox owner for good. For the common steps - reading a user's
 * .forward and delivering into a Maildir - each local process instead
 * keeps its last such child alive, already dropped to uid U (and gid G),
 * and sends it the next such step for the same U and G over a socket
 * pair. That saves the fork, the child's copy-on-write faults and its
 * exit, which were most of local's CPU per message once the file
 * system's own work is left aside (docs/benchmarks.md). A step for
 * another uid or gid, a child that died, or one idle for
 * local_child_idle_time gets a new child (the old one is killed and
 * reaped); 0 turns keeping off.
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
 * mail. A stopped child must not stop local: the answer is awaited at
 * most local_child_time_limit, then the child is killed and the step
 * deferred.
 *
 * Wire (SOCK_SEQPACKET; the child trusts its parent, the parent bounds
 * what comes back):
 *   parent -> child, one packet: local_keep_req_t, then three strings
 *   (lengths in the header, no NULs): for MAILDIR the directory, the
 *   recipient and the sender; for FORWARD the home directory and the
 *   address extension; for FLUSH nothing. A MAILDIR request carries the
 *   message's content as local read it (LOCAL_KEEP_TEXT: text_len bytes,
 *   the first up to LOCAL_KEEP_DATA_PIECE at the end of this packet, the
 *   rest in packets of that size), so the child reads no file; content
 *   beyond LOCAL_BODY_MAX comes instead as a read-only descriptor of the
 *   queue file (SCM_RIGHTS), opened afresh through /proc/self/fd so the
 *   child cannot write the file local marks recipients done in;
 *   child -> parent: local_keep_res_t, then data_len bytes (the .forward
 *   text, at most the max_data asked for) in packets of at most
 *   LOCAL_KEEP_DATA_PIECE.
 * A child that dies (or whose socket fails) after the request was sent
 * and before the whole answer came back makes the step a temporary
 * failure, as for a child per delivery: at worst the message was in new/
 * already and the retry makes a duplicate; never a loss. If the request
 * could not be sent at all, nothing was done and a new child is tried
 * once. That is also how a child that died between requests is found:
 * its socket refuses the request, so local makes no wait4 per delivery.
 *
 * Group commit (a batch of requests, local.c): a MAILDIR request with
 * LOCAL_KEEP_HOLD stops after the rename into new/ and the child keeps
 * new/ and tmp/ open (one pair per directory, at most LOCAL_KEEP_HELD_MAX;
 * beyond that it flushes early; the next message of the batch for the
 * same Maildir is written through them, without opening the Maildir
 * again). Such a request is not answered on its own: local sends it and
 * goes on with the next message of the batch while the child writes
 * this one (requests queue in the socket; each send waits at most
 * local_child_time_limit for room). FLUSH fsyncs every held new/, closes
 * them, and answers once for all: whether every fsync succeeded, and as
 * its data the outcome of each held request since the last FLUSH, in
 * their order. So a batch costs one wake-up of the child per message at
 * most and one answer, where each message had a request and an answer.
 * The parent counts the held requests of its child: before it retires
 * the child (another uid, idle, or local exits) it asks for a FLUSH, and
 * a child that dies, does not answer in time (local_child_time_limit for
 * each request it holds) or fails a FLUSH while it holds deliveries
 * marks them lost, so local_keep_flush says -1 and local defers every
 * held recipient. So a held delivery is reported sent only after its
 * name is durable, in whichever way the batch ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "global/mail_params.h"
#include "local.h"
#include "queue/qfile.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/privs.h"
#include "util/safe_open.h"

#define LOCAL_KEEP_FIELD_MAX 4096 /* bytes of each string field */
#define LOCAL_KEEP_LINE_PIECE (64 * 1024)
#define LOCAL_KEEP_DATA_PIECE (32 * 1024) /* bytes of data per packet */

#define LOCAL_KEEP_MAILDIR 1 /* dir, rcpt, sender; the queue file */
#define LOCAL_KEEP_FORWARD 2 /* home, extension, unused */
#define LOCAL_KEEP_FLUSH 3   /* unused x3: fsync the held new/ */

#define LOCAL_KEEP_HOLD 1 /* MAILDIR: leave the fsync of new/ to FLUSH */
#define LOCAL_KEEP_TEXT 2 /* MAILDIR: the content follows, no queue file */

#define LOCAL_KEEP_HELD_MAX 32 /* new/ directories held open at once */

/* The request header; the three strings follow in the same packet. */
typedef struct local_keep_req {
    int64_t content_offset; /* MAILDIR: first content record */
    uint64_t text_len;      /* MAILDIR with LOCAL_KEEP_TEXT: content bytes */
    uint32_t text_here;     /* of which at the end of this packet */
    qfile_seal_t seal;      /* MAILDIR: checked at the content's end */
    uint32_t type;
    uint32_t flags;    /* MAILDIR: LOCAL_KEEP_HOLD */
    uint32_t max_data; /* FORWARD: most data bytes wanted */
    uint32_t len[3];
} local_keep_req_t;

/* The answer; data_len bytes follow in packets of at most
 * LOCAL_KEEP_DATA_PIECE. */
typedef struct local_keep_res {
    local_result_t r;
    uint32_t data_len;
} local_keep_res_t;

/* The parent's one kept child. */
static struct {
    pid_t pid; /* 0: none */
    int sock;
    uid_t uid;
    gid_t gid;
    time_t used;         /* end of its last delivery */
    size_t unflushed;    /* held requests it has not answered yet */
    unsigned long first; /* the number of the first of them */
} local_kept;

/* Parent: grouping on, held deliveries counted, and whether some held
 * deliveries may not be durable (a child died or failed to flush). */
static int local_keep_grouping;
static unsigned long local_keep_held_count;
static local_result_t *local_keep_outcomes; /* of held number n at n - 1 */
static size_t local_keep_outcomes_size;
static int local_keep_lost;
static char local_keep_lost_why[sizeof(((local_result_t *)0)->text)];

/* Child: the Maildirs written since the last FLUSH, their new/ and tmp/
 * open (the next message for the same Maildir in the batch uses them),
 * one entry per new/ directory, and the first fsync error met meanwhile. */
static struct {
    char *path; /* as the request named the Maildir */
    int fd;     /* new/ */
    int tmpfd;
    dev_t dev;
    ino_t ino;
} local_keep_dirs[LOCAL_KEEP_HELD_MAX];
static int local_keep_ndirs;
static local_result_t local_keep_sync_error;
/* Child: the outcomes of the held MAILDIR requests since the last FLUSH,
 * in their order (they are answered together, with the FLUSH). */
static str_t *local_keep_outcomes_out;

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

/* local_keep_recv - one request: its length, with *fd_r (-1: none; the
 * caller closes it); 0 on EOF or idle timeout; -1 when it is malformed */
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

    *fd_r = -1;
    /* a request already queued (a batch) is taken at once; else wait:
     * the parent stops using us after the idle time, a margin, then go */
    while ((n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT)) < 0 &&
	   (errno == EINTR || errno == EAGAIN)) {
	if (errno == EINTR)
	    continue;
	while ((ret = poll(&pfd, 1, idle_ms)) < 0 && errno == EINTR)
	    /* again */;
	if (ret == 0)
	    return 0;
    }
    if (n <= 0)
	return 0;
    if ((c = CMSG_FIRSTHDR(&mh)) != NULL && c->cmsg_level == SOL_SOCKET &&
	c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)))
	memcpy(fd_r, CMSG_DATA(c), sizeof(int));
    if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n >= size)
	return -1;
    return (int)n;
}

/* local_keep_fields - the content at the end of the packet to text;
 * split the strings after the header, each ended by a NUL (moved up in
 * place): 0, or -1 if the lengths do not add up */
static int local_keep_fields(char *buf, size_t n, local_keep_req_t *h, char *f[3], str_t *text)
{
    size_t total = sizeof(*h);

    if (n < sizeof(*h))
	return -1;
    memcpy(h, buf, sizeof(*h));
    for (int i = 0; i < 3; i++) {
	if (h->len[i] > LOCAL_KEEP_FIELD_MAX)
	    return -1;
	total += h->len[i];
    }
    if (h->text_here > LOCAL_KEEP_DATA_PIECE || h->text_here > h->text_len ||
	total + h->text_here != n)
	return -1;
    str_setn(text, buf + total, h->text_here);
    /* last first, so nothing is overwritten before it moved */
    f[0] = buf + sizeof(*h);
    f[1] = f[0] + h->len[0] + 1;
    f[2] = f[1] + h->len[1] + 1;
    memmove(f[2], f[0] + h->len[0] + h->len[1], h->len[2]);
    f[2][h->len[2]] = 0;
    memmove(f[1], f[0] + h->len[0], h->len[1]);
    f[1][h->len[1]] = 0;
    f[0][h->len[0]] = 0;
    return 0;
}

/* local_keep_sync - fsync and close every held new/ (and tmp/); an
 * error is kept for the next FLUSH answer */
static void local_keep_sync(void)
{
    for (int i = 0; i < local_keep_ndirs; i++) {
	int err = fsync(local_keep_dirs[i].fd) < 0 ? errno : 0;

	if (err && local_keep_sync_error.status == LOCAL_SENT)
	    local_result_set(&local_keep_sync_error, LOCAL_DEFER,
			     err == ENOSPC || err == EDQUOT ? "4.2.2" : "4.2.0",
			     "maildir delivery failed: fsync new/: %s", strerror(err));
	close(local_keep_dirs[i].fd);
	close(local_keep_dirs[i].tmpfd);
	mr_free(local_keep_dirs[i].path);
    }
    local_keep_ndirs = 0;
}

/* local_keep_held_dirs - the held entry of Maildir dir: its index,
 * opened now when there is none (once per new/ directory: a second name
 * of one already held gets that one), or -1 with *r deferred */
static int local_keep_held_dirs(const char *dir, local_result_t *r)
{
    struct stat st;
    int tmpfd, newfd, i;

    for (i = 0; i < local_keep_ndirs; i++)
	if (strcmp(local_keep_dirs[i].path, dir) == 0)
	    return i;
    if (maildir_deliver_open(dir, &tmpfd, &newfd, r) < 0)
	return -1;
    if (fstat(newfd, &st) < 0)
	memset(&st, 0, sizeof(st)); /* kept apart: dev 0, ino 0 names no directory */
    for (i = 0; st.st_ino != 0 && i < local_keep_ndirs; i++)
	if (local_keep_dirs[i].dev == st.st_dev && local_keep_dirs[i].ino == st.st_ino) {
	    close(newfd);
	    close(tmpfd);
	    return i;
	}
    if (local_keep_ndirs == LOCAL_KEEP_HELD_MAX)
	local_keep_sync();
    i = local_keep_ndirs++;
    local_keep_dirs[i].path = mr_strdup(dir);
    local_keep_dirs[i].fd = newfd;
    local_keep_dirs[i].tmpfd = tmpfd;
    local_keep_dirs[i].dev = st.st_dev;
    local_keep_dirs[i].ino = st.st_ino;
    return i;
}

/* local_keep_flush_step - FLUSH: the held new/ made durable */
static void local_keep_flush_step(local_result_t *r)
{
    local_keep_sync();
    if (local_keep_sync_error.status != LOCAL_SENT)
	*r = local_keep_sync_error;
    else
	local_result_set(r, LOCAL_SENT, "2.0.0", "flushed");
    local_result_set(&local_keep_sync_error, LOCAL_SENT, "2.0.0", "flushed");
}

/* local_keep_maildir_step - dir, rcpt, sender; the content in text, or
 * else in the queue file fd */
static void local_keep_maildir_step(char *f[3], const local_keep_req_t *h, int fd, str_t *text,
				    local_result_t *r)
{
    local_body_t body = {text, 0};
    local_msg_t msg;
    qfile_t qf;
    int i;

    /* a reader of the content only: the file's envelope stays with local */
    memset(&qf, 0, sizeof(qf));
    qf.fd = fd;
    qf.content_offset = (off_t)h->content_offset;
    qf.seal = h->seal;
    memset(&msg, 0, sizeof(msg));
    msg.sender = f[2];
    msg.line = fd < 0 ? local_body_line : local_keep_line;
    msg.rewind = fd < 0 ? local_body_rewind : local_keep_rewind;
    msg.ctx = fd < 0 ? (void *)&body : (void *)&qf;
    maildir_seq++;
    if (!(h->flags & LOCAL_KEEP_HOLD))
	maildir_deliver(f[0], &msg, f[1], r);
    else if ((i = local_keep_held_dirs(f[0], r)) >= 0)
	maildir_deliver_in(local_keep_dirs[i].tmpfd, local_keep_dirs[i].fd, f[0], &msg, f[1], r);
    if (fd >= 0)
	qfile_rewind(&qf);
}

/* local_keep_recv_text - the rest of the content of a MAILDIR request
 * (text holds its first bytes): up to len bytes in packets of at most
 * LOCAL_KEEP_DATA_PIECE: 0, -1 */
static int local_keep_recv_text(int sock, str_t *text, uint64_t len)
{
    static char piece[LOCAL_KEEP_DATA_PIECE + 1];
    int fd, n;

    if (len > LOCAL_BODY_MAX)
	return -1;
    while (str_len(text) < len) {
	if ((n = local_keep_recv(sock, piece, sizeof(piece), &fd)) <= 0 || fd >= 0 ||
	    str_len(text) + (size_t)n > len) {
	    if (fd >= 0)
		close(fd);
	    return -1;
	}
	str_append(text, piece, (size_t)n);
    }
    return 0;
}

/* local_keep_answer - the result, then the data in pieces: 0, -1 */
static int local_keep_answer(int sock, const local_result_t *r, const str_t *data)
{
    local_keep_res_t res;
    size_t len = str_len(data);

    memset(&res, 0, sizeof(res));
    res.r = *r;
    res.data_len = (uint32_t)len;
    if (send(sock, &res, sizeof(res), MSG_NOSIGNAL) != (ssize_t)sizeof(res))
	return -1;
    for (size_t off = 0; off < len; off += LOCAL_KEEP_DATA_PIECE) {
	size_t piece = len - off < LOCAL_KEEP_DATA_PIECE ? len - off : LOCAL_KEEP_DATA_PIECE;

	if (send(sock, str_data(data) + off, piece, MSG_NOSIGNAL) != (ssize_t)piece)
	    return -1;
    }
    return 0;
}

/* local_keep_serve - one request: 0 answered (a held MAILDIR request is
 * answered with the next FLUSH), -1 to exit */
static int local_keep_serve(int sock, const local_user_t *user, char *buf, size_t size, str_t *text)
{
    local_keep_req_t h;
    local_result_t r;
    char *f[3];
    int fd, n, ret = -1;
    str_t *data;

    if ((n = local_keep_recv(sock, buf, size, &fd)) <= 0 ||
	local_keep_fields(buf, (size_t)n, &h, f, text) < 0 ||
	(h.type == LOCAL_KEEP_MAILDIR) != (fd >= 0 || (h.flags & LOCAL_KEEP_TEXT)) ||
	(fd >= 0 && (h.flags & LOCAL_KEEP_TEXT)) ||
	(h.type != LOCAL_KEEP_MAILDIR && h.type != LOCAL_KEEP_FORWARD &&
	 h.type != LOCAL_KEEP_FLUSH) ||
	((h.flags & LOCAL_KEEP_TEXT) && local_keep_recv_text(sock, text, h.text_len) < 0)) {
	if (fd >= 0)
	    close(fd);
	return -1;
    }
    data = str_new(256);
    memset(&r, 0, sizeof(r));
    local_result_set(&r, LOCAL_DEFER, "4.3.0", "delivery step gave no result");
    if (h.type == LOCAL_KEEP_MAILDIR) {
	local_keep_maildir_step(f, &h, fd, text, &r);
	if (fd >= 0)
	    close(fd);
	if (h.flags & LOCAL_KEEP_HOLD) {
	    str_append(local_keep_outcomes_out, &r, sizeof(r));
	    str_free(&data);
	    return 0;
	}
    } else if (h.type == LOCAL_KEEP_FLUSH) {
	/* the held outcomes, then whether their names are durable */
	local_keep_flush_step(&r);
	str_append(data, str_data(local_keep_outcomes_out), str_len(local_keep_outcomes_out));
	str_reset(local_keep_outcomes_out);
    } else {
	forward_read(f[0], user->uid, f[1], data, &r);
	if (str_len(data) > h.max_data)
	    str_truncate(data, h.max_data);
    }
    ret = local_keep_answer(sock, &r, data);
    str_free(&data);
    return ret;
}

/* local_keep_child - drop for good, let go of the parent's descriptors,
 * serve until EOF or idle */
static void local_keep_child(int sock, const local_user_t *user)
{
    /* room for the header, three fields, the NULs the child adds, and a
     * piece of content */
    static char
	buf[sizeof(local_keep_req_t) + 3 * LOCAL_KEEP_FIELD_MAX + 4 + LOCAL_KEEP_DATA_PIECE];
    str_t *text = str_new(8192);

    if (privs_running_as_root())
	privs_become(user->uid, user->gid);
    msg_close_others(sock);
    maildir_pid = getpid(); /* the P of its file names, asked once */
    local_keep_outcomes_out = str_new(4096);
    local_result_set(&local_keep_sync_error, LOCAL_SENT, "2.0.0", "flushed");
    while (local_keep_serve(sock, user, buf, sizeof(buf), text) == 0)
	/* next */;
    _exit(0);
}

/* Parent side */

static int local_keep_flush_child(void);

/* local_keep_lose - held deliveries may not be durable: say why */
static void local_keep_lose(const char *why)
{
    if (!local_keep_lost)
	mr_strlcpy(local_keep_lost_why, why, sizeof(local_keep_lost_why));
    local_keep_lost = 1;
}

/* local_keep_kill - kill and reap the kept child */
static void local_keep_kill(void)
{
    close(local_kept.sock);
    kill(local_kept.pid, SIGKILL);
    while (waitpid(local_kept.pid, NULL, 0) < 0 && errno == EINTR)
	/* again */;
    local_kept.pid = 0;
    local_kept.sock = -1;
    local_kept.unflushed = 0;
}

/* local_keep_retire - kill and reap the kept child, if any, after it
 * flushed what it holds */
static void local_keep_retire(void)
{
    if (local_kept.pid > 0 && local_kept.unflushed > 0)
	(void)local_keep_flush_child();
    if (local_kept.pid > 0)
	local_keep_kill();
}

/* local_keep_end - the process ends: the kept child goes with it
 * (reaped, so it does not linger as an orphan and its CPU time is
 * counted with this process's) */
void local_keep_end(void)
{
    local_keep_retire();
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
    local_kept.unflushed = 0;
    local_kept.uid = user->uid;
    local_kept.gid = user->gid;
    local_kept.used = time(NULL);
    return 0;
}

/* local_keep_usable - is there a kept child for user, not idle too
 * long? When it is for another user or idle, it is retired. Whether it
 * is alive shows when a request is sent: a dead child's socket refuses
 * it (local_keep_call), so no wait4 is made per delivery. */
static int local_keep_usable(const local_user_t *user, time_t now)
{
    if (local_kept.pid <= 0)
	return 0;
    if (local_kept.uid != user->uid || local_kept.gid != user->gid || now < local_kept.used ||
	now - local_kept.used >= var_local_child_idle_time) {
	local_keep_retire();
	return 0;
    }
    return 1;
}

/* local_keep_sendmsg - one packet, sent before deadline (a stopped
 * child whose queue is full must not stop local): 0, -1 (errno) */
static int local_keep_sendmsg(const struct msghdr *mh, size_t len, time_t deadline)
{
    struct pollfd p = {.fd = local_kept.sock, .events = POLLOUT};
    time_t left;
    ssize_t n;

    while ((n = sendmsg(local_kept.sock, mh, MSG_NOSIGNAL | MSG_DONTWAIT)) < 0 &&
	   (errno == EINTR || errno == EAGAIN)) {
	if (errno == EINTR)
	    continue;
	if ((left = deadline - time(NULL)) <= 0)
	    return errno = ETIMEDOUT, -1;
	if (poll(&p, 1, left > 86400 ? 86400 * 1000 : (int)left * 1000) < 0 && errno != EINTR)
	    return -1;
    }
    return n == (ssize_t)len ? 0 : (errno = n < 0 ? errno : EPIPE, -1);
}

/* local_keep_send_text - the content after the request's piece, in
 * pieces, each sent before deadline: 0, -1 (the answer then tells what
 * happened) */
static int local_keep_send_text(const str_t *text, size_t off, time_t deadline)
{
    struct iovec iov;
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

    for (; off < str_len(text); off += iov.iov_len) {
	iov.iov_base = (void *)(str_data(text) + off);
	iov.iov_len = str_len(text) - off < LOCAL_KEEP_DATA_PIECE ? str_len(text) - off
								  : LOCAL_KEEP_DATA_PIECE;
	if (local_keep_sendmsg(&mh, iov.iov_len, deadline) < 0)
	    return -1;
    }
    return 0;
}

/* local_keep_send - the request (with qfd unless -1, and the first
 * h->text_here bytes of text), before deadline: 0 sent, -1 not */
static int local_keep_send(const local_keep_req_t *h, const char *f[3], int qfd, const str_t *text,
			   time_t deadline)
{
    struct iovec iov[5] = {{(void *)h, sizeof(*h)},
			   {(void *)f[0], h->len[0]},
			   {(void *)f[1], h->len[1]},
			   {(void *)f[2], h->len[2]},
			   {text ? (void *)str_data(text) : NULL, h->text_here}};
    union {
	struct cmsghdr h;
	char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 5};
    struct cmsghdr *c;

    if (qfd >= 0) {
	memset(&ctl, 0, sizeof(ctl));
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &qfd, sizeof(int));
    }
    return local_keep_sendmsg(&mh, sizeof(*h) + h->len[0] + h->len[1] + h->len[2] + h->text_here,
			      deadline);
}

/* local_keep_wait - until the child's socket is readable, at most until
 * deadline: 0, or -1 (errno ETIMEDOUT when the time is up) */
static int local_keep_wait(time_t deadline)
{
    return local_wait_readable(local_kept.sock, deadline);
}

/* local_keep_recv_all - one packet of exactly len bytes before deadline:
 * 0, -1 (errno ETIMEDOUT when the time is up) */
static int local_keep_recv_all(void *buf, size_t len, time_t deadline)
{
    ssize_t n;

    do {
	if (local_keep_wait(deadline) < 0)
	    return -1;
    } while ((n = recv(local_kept.sock, buf, len, MSG_DONTWAIT)) < 0 &&
	     (errno == EINTR || errno == EAGAIN));
    return n == (ssize_t)len ? 0 : (errno = n < 0 ? errno : EPIPE, -1);
}

/* local_keep_deadline - when the answer to the next request is due:
 * local_child_time_limit for it and for each held request before it */
static time_t local_keep_deadline(void)
{
    return time(NULL) + (time_t)var_local_child_time_limit * (time_t)(local_kept.unflushed + 1);
}

/* local_keep_result - the child's answer and data before deadline: 0,
 * or -1 when it died, did not answer in time (errno ETIMEDOUT) or sent
 * more than max_data */
static int local_keep_result(local_result_t *r, str_t *data, size_t max_data, time_t deadline)
{
    static char piece[LOCAL_KEEP_DATA_PIECE];
    local_keep_res_t res;

    if (local_keep_recv_all(&res, sizeof(res), deadline) < 0)
	return -1;
    if ((size_t)res.data_len > max_data)
	return errno = EPROTO, -1;
    for (size_t got = 0, want; got < res.data_len; got += want) {
	want = res.data_len - got < sizeof(piece) ? res.data_len - got : sizeof(piece);
	if (local_keep_recv_all(piece, want, deadline) < 0)
	    return -1;
	str_append(data, piece, want);
    }
    *r = res.r;
    r->dsn[sizeof(r->dsn) - 1] = 0;
    r->text[sizeof(r->text) - 1] = 0;
    return 0;
}

/* local_keep_no_answer - the child did not answer (errno): kill it,
 * and say why in *r */
static void local_keep_no_answer(int err, uid_t uid, local_result_t *r)
{
    if (err == ETIMEDOUT) {
	msg_warn("delivery process %ld for uid %ld gave no answer within "
		 "local_child_time_limit (%ds): killed",
		 (long)local_kept.pid, (long)uid, var_local_child_time_limit);
	local_result_set(r, LOCAL_DEFER, "4.3.0",
			 "delivery process for uid %ld gave no answer in time", (long)uid);
    } else {
	local_result_set(r, LOCAL_DEFER, "4.3.0", "delivery process for uid %ld died", (long)uid);
    }
}

/* local_keep_held_one - a held request was handed over: its outcome
 * comes with the child's next FLUSH answer; *r says sent meanwhile */
static void local_keep_held_one(local_result_t *r)
{
    size_t n = local_keep_held_count++;

    if (n >= local_keep_outcomes_size) {
	local_keep_outcomes_size = local_keep_outcomes_size ? 2 * local_keep_outcomes_size : 64;
	local_keep_outcomes = mr_reallocarray(local_keep_outcomes, local_keep_outcomes_size,
					      sizeof(*local_keep_outcomes));
    }
    local_keep_outcomes[n].status = -1; /* not known yet */
    if (local_kept.unflushed++ == 0)
	local_kept.first = n;
    local_result_set(r, LOCAL_SENT, "2.0.0", "delivered to maildir");
}

/* local_keep_call - one request to the child kept for user (started as
 * needed; a request that could not be sent goes to one new child). A
 * held request is not answered before the FLUSH: *r says sent, and
 * local_keep_flush tells what it really came to. */
static void local_keep_call(const local_user_t *user, local_keep_req_t *h, const char *f[3],
			    int qfd, const str_t *text, str_t *data, local_result_t *r)
{
    int sent = -1, err = 0;

    for (int i = 0; i < 3; i++)
	h->len[i] = (uint32_t)strlen(f[i]);
    if (text)
	h->text_here = (uint32_t)(str_len(text) < LOCAL_KEEP_DATA_PIECE ? str_len(text)
									: LOCAL_KEEP_DATA_PIECE);
    for (int attempt = 0; attempt < 2 && sent < 0; attempt++) {
	if (!local_keep_usable(user, time(NULL)) && local_keep_start(user) < 0) {
	    err = errno;
	    break;
	}
	if ((sent = local_keep_send(h, f, qfd, text, local_keep_deadline())) < 0) {
	    err = errno;
	    local_keep_retire(); /* it never saw the request: try a new one */
	}
    }
    if (sent < 0) {
	local_result_set(r, LOCAL_DEFER, "4.3.0", "cannot reach a delivery process: %s",
			 strerror(err));
	return;
    }
    /* a child that takes no more of it does not answer either: below */
    if (text)
	(void)local_keep_send_text(text, h->text_here, local_keep_deadline());
    local_kept.used = time(NULL);
    if (h->flags & LOCAL_KEEP_HOLD) {
	local_keep_held_one(r);
	return;
    }
    if (local_keep_result(r, data, h->max_data, local_keep_deadline()) < 0) {
	local_keep_no_answer(errno, user->uid, r);
	str_reset(data);
	if (local_kept.unflushed > 0)
	    local_keep_lose("delivery process died before it flushed new/");
	local_keep_kill();
	return;
    }
    local_kept.used = time(NULL);
}

/* local_keep_flush_child - the kept child flushes what it holds and
 * answers for its held requests: 0, or -1 (noted in local_keep_lost; the
 * child is killed when it did not answer) */
static int local_keep_flush_child(void)
{
    local_keep_req_t h = {.type = LOCAL_KEEP_FLUSH};
    const char *f[3] = {"", "", ""};
    size_t n = local_kept.unflushed, want = n * sizeof(local_result_t);
    time_t deadline = local_keep_deadline();
    str_t *data = str_new(want + 16);
    local_result_t r;
    int ret = 0;

    if (local_keep_send(&h, f, -1, NULL, deadline) < 0 ||
	local_keep_result(&r, data, want, deadline) < 0 || str_len(data) != want) {
	if (errno == ETIMEDOUT)
	    local_keep_no_answer(errno, local_kept.uid, &r);
	local_keep_lose("delivery process died before it flushed new/");
	local_keep_kill();
	ret = -1;
    } else {
	memcpy(local_keep_outcomes + local_kept.first, str_data(data), want);
	for (size_t i = local_kept.first; i < local_kept.first + n; i++) {
	    local_keep_outcomes[i].dsn[sizeof(r.dsn) - 1] = 0;
	    local_keep_outcomes[i].text[sizeof(r.text) - 1] = 0;
	}
	if (r.status != LOCAL_SENT) {
	    local_keep_lose(r.text);
	    ret = -1;
	}
    }
    local_kept.unflushed = 0;
    str_free(&data);
    return ret;
}

/* local_keep_group - see local.h */
void local_keep_group(int on)
{
    local_keep_grouping = on;
    if (on)
	local_keep_held_count = 0;
}

/* local_keep_held - see local.h */
unsigned long local_keep_held(void)
{
    return local_keep_held_count;
}

/* local_keep_outcome - see local.h */
const local_result_t *local_keep_outcome(unsigned long n)
{
    if (n == 0 || n > local_keep_held_count || local_keep_outcomes[n - 1].status < 0)
	return NULL;
    return local_keep_outcomes + n - 1;
}

/* local_keep_flush - see local.h */
int local_keep_flush(const char **why_r)
{
    int ret;

    if (local_kept.pid > 0 && local_kept.unflushed > 0)
	(void)local_keep_flush_child();
    ret = local_keep_lost ? -1 : 0;
    *why_r = local_keep_lost_why;
    local_keep_lost = 0;
    return ret;
}

/* local_keep_fits - may these strings go in a request? */
static int local_keep_fits(const char *a, const char *b, const char *c)
{
    return var_local_child_idle_time > 0 && strlen(a) <= LOCAL_KEEP_FIELD_MAX &&
	   strlen(b) <= LOCAL_KEEP_FIELD_MAX && strlen(c) <= LOCAL_KEEP_FIELD_MAX;
}

/* local_keep_maildir - see local.h */
int local_keep_maildir(const local_user_t *user, const char *dir, const local_msg_t *msg,
		       const char *rcpt, int may_hold, local_result_t *r)
{
    local_keep_req_t h = {.type = LOCAL_KEEP_MAILDIR,
			  .flags = may_hold && local_keep_grouping ? LOCAL_KEEP_HOLD : 0};
    const char *f[3] = {dir, rcpt, msg->sender};
    str_t *data;
    int qfd = -1;

    if ((msg->qf == NULL && msg->text == NULL) || !local_keep_fits(dir, rcpt, msg->sender))
	return -1;
    if (msg->text) {
	/* the content local read: no queue file for the child */
	h.flags |= LOCAL_KEEP_TEXT;
	h.text_len = str_len(msg->text);
    } else if ((qfd = reopen_read_only(msg->qf->fd)) < 0) {
	return -1;
    } else {
	h.content_offset = (int64_t)msg->qf->content_offset;
	h.seal = msg->qf->seal;
    }
    data = str_new(16);
    local_keep_call(user, &h, f, qfd, msg->text, data, r);
    str_free(&data);
    if (qfd >= 0)
	close(qfd);
    return 0;
}

/* local_keep_forward - see local.h */
int local_keep_forward(const local_user_t *user, const char *home, const char *ext, str_t *data,
		       size_t max_data, local_result_t *r)
{
    local_keep_req_t h = {.type = LOCAL_KEEP_FORWARD};
    const char *f[3] = {home, ext, ""};

    if (!local_keep_fits(home, ext, "") || max_data > UINT32_MAX)
	return -1;
    h.max_data = (uint32_t)max_data;
    str_reset(data);
    local_keep_call(user, &h, f, -1, NULL, data, r);
    return 0;
}
