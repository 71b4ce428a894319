/*
 * filterd_pool.c - filterd's long-lived workers: the session process
 * hands each complete message to an idle worker of its pool instead of
 * forking one per message.
 *
 * A worker is a child of the session process with one end of a Unix
 * socket pair (its channel). For a message the session process sends
 * the envelope (a length-prefixed record, below) with two descriptors
 * attached: the client's socket and the spool file. The worker runs
 * filter_work (filterd_work.c), writes the replies to the client as far
 * as its socket takes them at once, closes both descriptors and reports
 * back with a fixed-size status (whether the client was answered,
 * whether the worker is retiring, how many bytes of the replies follow)
 * and the bytes the socket did not take, which the session process
 * queues behind the client's other output. So a client that stops
 * reading after its dot holds its own session only, never a worker that
 * other clients' messages wait for (a worker used to wait for room in
 * the client's socket as long as the client read a little now and
 * then). Between
 * messages the worker keeps its session with the re-injection server
 * (filter_work_idle closes it after filterd_reinject_cache_time).
 *
 * Failures: a worker that dies (kill -9, a crash) closes its channel;
 * the session process sees end-of-file, reaps it, answers the client
 * 451 if the worker had not and forgets it; the next message starts a
 * new worker. A session process that dies closes the channels: each
 * worker finishes the message it has (it holds the client's socket, so
 * an accepted message is still answered: the worker then writes all of
 * the replies itself, for a minute at most) and exits at end-of-file.
 * A worker ends itself after FILTER_WORKER_USES messages so that no
 * slow leak grows without bound.
 *
 * A new worker closes every descriptor of the session process it does
 * not need (other workers' channels here, clients' sockets and spool
 * files through the caller's hook): a long-lived worker must not keep a
 * finished client's connection open.
 *
 * The envelope record: a 32-bit magic and a 32-bit length, then length
 * bytes of fields: lmtp, eightbit, smtputf8 (32 bits each), size (64 bits), the
 * transaction ID (fixed 32 bytes), the client's address, sender, RET,
 * ENVID, the recipient count, and per recipient its address, ORCPT,
 * NOTIFY and policy. A string is a 32-bit length (all ones: none) and
 * its bytes. Both ends are the same program; the reader still checks
 * every length against what is left.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "filterd.h"
#include "global/mail_proto.h"
#include "master/mail_server.h"
#include "util/event.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/safe_open.h"
#include "util/sock.h"
#include "util/str.h"

#define POOL_MAGIC 0x464a4f42u   /* "FJOB" */
#define POOL_JOB_MAX (64 << 20)  /* bytes of one envelope record */
#define POOL_NONE 0xffffffffu    /* a string that is not there */
#define FILTER_WORKER_USES 1000  /* messages before a worker retires */
#define POOL_REST_MAX (64 << 20) /* reply bytes handed back after a status */
#define POOL_HEAD_MAX 4096       /* bytes of a record taken with its descriptors */

/* What a worker says after a message */
typedef struct pool_status {
    int answered;  /* the client got its replies, or gets rest */
    int retiring;  /* the worker exits now */
    uint32_t rest; /* reply bytes that follow, for the session to send */
} pool_status_t;

/* One worker, seen from the session process */
typedef struct pool_worker {
    pid_t pid;
    int fd;   /* our end of the channel */
    int busy; /* it has a message */
    void (*done)(void *ctx, int answered, const char *rest, size_t len);
    void *ctx;
    struct pool_worker *next;
} pool_worker_t;

static pool_worker_t *pool_workers; /* every worker alive */

/* pool_put_u32, pool_put_u64, pool_put_str - append a field */
static void pool_put_u32(str_t *out, uint32_t v)
{
    str_append(out, (const char *)&v, sizeof(v));
}

static void pool_put_u64(str_t *out, uint64_t v)
{
    str_append(out, (const char *)&v, sizeof(v));
}

static void pool_put_str(str_t *out, const char *s)
{
    size_t len = s ? strlen(s) : 0;

    pool_put_u32(out, s ? (uint32_t)len : POOL_NONE);
    if (s)
	str_append(out, s, len);
}

/* pool_encode - the envelope record of a message */
static void pool_encode(str_t *out, const filter_msg_t *m, int lmtp, const char *client_addr)
{
    str_reset(out);
    pool_put_u32(out, POOL_MAGIC);
    pool_put_u32(out, 0); /* the length, set below */
    pool_put_u32(out, (uint32_t)lmtp);
    pool_put_u32(out, (uint32_t)m->eightbit);
    pool_put_u32(out, (uint32_t)m->smtputf8);
    pool_put_u64(out, (uint64_t)m->size);
    str_append(out, m->id, sizeof(m->id));
    pool_put_str(out, client_addr);
    pool_put_str(out, m->sender);
    pool_put_str(out, m->ret);
    pool_put_str(out, m->envid);
    pool_put_u32(out, (uint32_t)m->rcpt_count);
    for (size_t i = 0; i < m->rcpt_count; i++) {
	pool_put_str(out, m->rcpts[i].address);
	pool_put_str(out, m->rcpts[i].orcpt);
	pool_put_str(out, m->rcpts[i].notify);
	str_append(out, (const char *)&m->rcpts[i].policy, sizeof(m->rcpts[i].policy));
    }
    uint32_t len = (uint32_t)(str_len(out) - 8);
    memcpy(str_data(out) + 4, &len, sizeof(len));
}

/* Reading a record: a cursor that fails once anything is short */
typedef struct pool_cursor {
    const char *p;
    size_t left;
    int bad;
} pool_cursor_t;

/* pool_take - the next n bytes into out (zeros once the record is bad) */
static void pool_take(pool_cursor_t *c, void *out, size_t n)
{
    if (c->bad || c->left < n) {
	c->bad = 1;
	memset(out, 0, n);
	return;
    }
    memcpy(out, c->p, n);
    c->p += n;
    c->left -= n;
}

/* pool_get_u32 - a 32-bit field */
static uint32_t pool_get_u32(pool_cursor_t *c)
{
    uint32_t v;

    pool_take(c, &v, sizeof(v));
    return v;
}

/* pool_get_str - a string field, allocated, or NULL */
static char *pool_get_str(pool_cursor_t *c)
{
    uint32_t len = pool_get_u32(c);
    char *s;

    if (c->bad || len == POOL_NONE)
	return NULL;
    if (len > c->left) {
	c->bad = 1;
	return NULL;
    }
    s = mr_alloc((size_t)len + 1);
    pool_take(c, s, len);
    s[len] = 0;
    return s;
}

/* pool_decode - a record into m (fd not set) and *addr_r: 0, or -1
 * (whatever was read is in m for filter_msg_clear) */
static int pool_decode(const char *data, size_t len, filter_msg_t *m, int *lmtp_r, char **addr_r)
{
    pool_cursor_t c = {.p = data, .left = len};
    uint64_t size;
    uint32_t n;

    *lmtp_r = (int)pool_get_u32(&c);
    m->eightbit = (int)pool_get_u32(&c);
    m->smtputf8 = (int)pool_get_u32(&c);
    pool_take(&c, &size, sizeof(size));
    m->size = (long long)size;
    pool_take(&c, m->id, sizeof(m->id));
    m->id[sizeof(m->id) - 1] = 0;
    *addr_r = pool_get_str(&c);
    m->sender = pool_get_str(&c);
    m->ret = pool_get_str(&c);
    m->envid = pool_get_str(&c);
    n = pool_get_u32(&c);
    if (c.bad || n == 0 || n > c.left / 16 || m->sender == NULL)
	return -1;
    m->rcpts = mr_calloc(n, sizeof(*m->rcpts));
    for (m->rcpt_count = 0; m->rcpt_count < n && !c.bad; m->rcpt_count++) {
	filter_rcpt_t *r = &m->rcpts[m->rcpt_count];

	r->address = pool_get_str(&c);
	r->orcpt = pool_get_str(&c);
	r->notify = pool_get_str(&c);
	pool_take(&c, &r->policy, sizeof(r->policy));
	if (r->address == NULL)
	    c.bad = 1;
    }
    return c.bad || c.left != 0 ? -1 : 0;
}

/* filter_msg_clear - see filterd.h */
void filter_msg_clear(filter_msg_t *m)
{
    mr_free(m->sender);
    mr_free(m->ret);
    mr_free(m->envid);
    for (size_t i = 0; i < m->rcpt_count; i++) {
	mr_free(m->rcpts[i].address);
	mr_free(m->rcpts[i].orcpt);
	mr_free(m->rcpts[i].notify);
    }
    mr_free(m->rcpts);
}

/* pool_send_job - the record with the two descriptors, in one sendmsg
 * as far as the socket takes it, then the rest; 0 or -1 */
static int pool_send_job(int chan, const str_t *rec, int client_fd, int spool_fd)
{
    int fds[2] = {client_fd, spool_fd};
    ssize_t n = sock_send_fds(chan, str_data(rec), str_len(rec), fds, 2, -1);

    if (n <= 0)
	return -1;
    return write_all(chan, str_data(rec) + n, str_len(rec) - (size_t)n);
}

/* pool_read_all - exactly len bytes: 1, 0 at end-of-file before any, -1 */
static int pool_read_all(int fd, char *buf, size_t len)
{
    size_t got = 0;
    ssize_t n;

    while (got < len) {
	if ((n = read(fd, buf + got, len - got)) > 0)
	    got += (size_t)n;
	else if (n < 0 && errno == EINTR)
	    continue;
	else
	    return n == 0 && got == 0 ? 0 : -1;
    }
    return 1;
}

/* pool_recv_head - the start of a record (at least its first 8 bytes,
 * at most len: the session process sends one record at a time, so
 * nothing of a next one can come with it) and its two descriptors: the
 * bytes received, 0 at end-of-file, -1 on anything else (descriptors
 * closed) */
static ssize_t pool_recv_head(int chan, char *head, size_t len, int fds_r[2])
{
    char cbuf[CMSG_SPACE(4 * sizeof(int))];
    struct iovec iov = {.iov_base = head, .iov_len = len};
    struct msghdr mh = {
	.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
    struct cmsghdr *cm;
    int got = 0, fds[4];
    ssize_t n;

    fds_r[0] = fds_r[1] = -1;
    while ((n = recvmsg(chan, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
	;
    if (n <= 0)
	return n == 0 ? 0 : -1;
    for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
	if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
	    continue;
	got = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
	memcpy(fds, CMSG_DATA(cm), (size_t)got * sizeof(int));
    }
    if (got == 2 && !(mh.msg_flags & MSG_CTRUNC)) {
	fds_r[0] = fds[0], fds_r[1] = fds[1];
	if (n >= 8 || pool_read_all(chan, head + n, (size_t)(8 - n)) == 1)
	    return n >= 8 ? n : 8;
    }
    for (int i = 0; i < got; i++)
	(void)close(fds[i]);
    return -1;
}

/* pool_worker_answer - the replies: what the client's socket takes at
 * once goes to it, the rest to the session process after the status st;
 * a worker whose session process has gone writes the rest itself. 0, or
 * -1 when the session process has gone */
static int pool_worker_answer(int chan, int client, const str_t *reply, pool_status_t *st)
{
    const char *data = str_data(reply);
    size_t len = str_len(reply);
    ssize_t n = 0;
    str_t *out;
    int ret;

    while (len > 0 && (n = send(client, data, len, MSG_DONTWAIT | MSG_NOSIGNAL)) < 0 &&
	   errno == EINTR)
	;
    if (n > 0) {
	data += n;
	len -= (size_t)n;
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
	len = 0; /* the client has gone */
	st->answered = 0;
    }
    st->rest = len < POOL_REST_MAX ? (uint32_t)len : 0;
    out = str_new(sizeof(*st) + st->rest);
    str_append(out, (const char *)st, sizeof(*st));
    str_append(out, data, st->rest);
    ret = write_all(chan, str_data(out), str_len(out));
    str_free(&out);
    if (len > st->rest || (ret < 0 && len > 0))
	st->answered = st->answered && filter_reply_write(client, data, len) == 0;
    return ret;
}

/* pool_worker_job - one message in the worker, its status sent: 1 done,
 * 0 the session process has gone (or the worker retires), -1 a record
 * that makes no sense */
static int pool_worker_job(int chan, int uses)
{
    char head[POOL_HEAD_MAX], *data = NULL, *addr = NULL;
    filter_msg_t m = {.fd = -1};
    pool_status_t st = {.answered = 1, .retiring = uses >= FILTER_WORKER_USES};
    uint32_t magic, len;
    int fds[2], lmtp = 0, r;
    ssize_t got;
    size_t have;
    str_t *reply;

    if ((got = pool_recv_head(chan, head, sizeof(head), fds)) <= 0)
	return (int)got;
    r = -1;
    memcpy(&magic, head, 4);
    memcpy(&len, head + 4, 4);
    have = (size_t)got - 8; /* bytes of the fields that came with the head */
    if (magic == POOL_MAGIC && len <= POOL_JOB_MAX && have <= len) {
	data = mr_alloc(len ? len : 1);
	memcpy(data, head + 8, have);
	if (pool_read_all(chan, data + have, len - have) == 1 &&
	    pool_decode(data, len, &m, &lmtp, &addr) == 0) {
	    m.fd = fds[1];
	    reply = str_new(512);
	    filter_work(&m, lmtp, addr, reply);
	    (void)close(fds[1]); /* before the status: the spool file is not ours */
	    fds[1] = -1;
	    r = pool_worker_answer(chan, fds[0], reply, &st) < 0 || st.retiring ? 0 : 1;
	    str_free(&reply);
	}
    }
    (void)close(fds[0]);
    if (fds[1] >= 0)
	(void)close(fds[1]);
    filter_msg_clear(&m);
    mr_free(addr);
    mr_free(data);
    return r;
}

/* pool_worker_main - the worker's life: messages until the session
 * process goes away or FILTER_WORKER_USES of them */
static void __attribute__((noreturn)) pool_worker_main(int chan)
{
    struct pollfd pfd = {.fd = chan, .events = POLLIN};
    int uses = 0, idle, r;

    (void)signal(SIGPIPE, SIG_IGN);
    for (;;) {
	idle = filter_work_idle_ms();
	if (idle >= 0 && poll(&pfd, 1, idle) == 0) {
	    filter_work_idle();
	    continue;
	}
	if ((r = pool_worker_job(chan, ++uses)) <= 0) {
	    if (r < 0)
		msg_warn("filterd worker: bad request from the session process");
	    break;
	}
    }
    filter_work_idle();
    _exit(0);
}

/* pool_forget - unlink and free a worker that has ended */
static void pool_forget(pool_worker_t *w)
{
    pool_worker_t **pp;
    int status;

    for (pp = &pool_workers; *pp && *pp != w; pp = &(*pp)->next)
	;
    if (*pp)
	*pp = w->next;
    event_disable(w->fd);
    (void)close(w->fd);
    while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR)
	;
    mr_free(w);
}

/* pool_status_event - a worker reports (with the replies its client's
 * socket did not take), or its channel closed */
static void pool_status_event(int fd, int event, void *context)
{
    pool_worker_t *w = context;
    pool_status_t st = {0};
    void (*done)(void *, int, const char *, size_t) = w->done;
    void *ctx = w->ctx;
    int ok = pool_read_all(fd, (char *)&st, sizeof(st)) == 1;
    char *rest = NULL;

    (void)event;
    if (ok && st.rest > 0) {
	rest = mr_alloc(st.rest <= POOL_REST_MAX ? st.rest : 1);
	ok = st.rest <= POOL_REST_MAX && pool_read_all(fd, rest, st.rest) == 1;
    }
    if (!ok && w->busy)
	msg_warn("filterd worker %ld ended in the middle of a message", (long)w->pid);
    w->busy = 0;
    w->done = NULL;
    if (!ok || st.retiring)
	pool_forget(w);
    if (done)
	done(ctx, ok && st.answered, rest, ok ? st.rest : 0);
    mr_free(rest);
}

/* pool_spawn - a new worker; NULL on failure (logged) */
static pool_worker_t *pool_spawn(void (*child_init)(void))
{
    pool_worker_t *w;
    int sp[2];
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) < 0) {
	msg_warn("cannot start a filterd worker: socketpair: %m");
	return NULL;
    }
    if ((pid = fork()) < 0) {
	msg_warn("cannot start a filterd worker: fork: %m");
	(void)close(sp[0]);
	(void)close(sp[1]);
	return NULL;
    }
    if (pid == 0) {
	(void)close(sp[0]);
	if (!server_stand_alone()) {
	    /* master's descriptors belong to the session process */
	    (void)close(MASTER_STATUS_FD);
	    (void)close(MASTER_LISTEN_FD);
	}
	for (w = pool_workers; w; w = w->next)
	    (void)close(w->fd);
	child_init();
	pool_worker_main(sp[1]);
    }
    (void)close(sp[1]);
    w = mr_calloc(1, sizeof(*w));
    w->pid = pid;
    w->fd = sp[0];
    w->next = pool_workers;
    pool_workers = w;
    event_enable_read(w->fd, pool_status_event, w);
    return w;
}

/* filter_pool_submit - see filterd.h */
int filter_pool_submit(const filter_msg_t *m, int lmtp, int client_fd, const char *client_addr,
		       void (*child_init)(void),
		       void (*done)(void *ctx, int answered, const char *rest, size_t len),
		       void *ctx)
{
    pool_worker_t *w;
    str_t *rec;
    int ret;

    for (w = pool_workers; w && w->busy; w = w->next)
	;
    if (w == NULL && (w = pool_spawn(child_init)) == NULL)
	return -1;
    rec = str_new(512);
    pool_encode(rec, m, lmtp, client_addr);
    if ((ret = pool_send_job(w->fd, rec, client_fd, m->fd)) < 0) {
	msg_warn("%s: cannot hand the message to filterd worker %ld: %m", m->id, (long)w->pid);
	(void)kill(w->pid, SIGKILL);
	pool_forget(w);
    } else {
	w->busy = 1;
	w->done = done;
	w->ctx = ctx;
    }
    str_free(&rec);
    return ret;
}
