/*
 * event_server.c - skeleton for daemons where one process serves many
 * clients at once from the event loop (util/event.h).
 *
 * Start-up is the one every skeleton shares (server_startup in
 * mail_server.c: options, configuration, log, pre_init, chroot and
 * privilege drop, post_init). Then the process tells master it is idle
 * and stays so while it serves: master therefore starts no second
 * process as long as this one accepts, and one process serves every
 * client of the service (tabled, anvil, qmgr).
 *
 * Connections. Each accepted client is an event_conn_t, non-blocking.
 * Readable input goes to the conn_input hook, which takes all of it and
 * keeps a partial request in its own resumable parser. Replies queue in
 * the connection (event_conn_write) and go out as the socket takes them;
 * while output waits, input from that client is not read, so a client
 * that does not read its replies only stalls itself, and at most
 * EVENT_CONN_MAX_OUTPUT bytes are kept for it. A client silent for its
 * timeout (ipc_timeout unless the daemon sets another) is closed, and so
 * is one whose output has made no progress for as long. Connections are
 * closed and freed from a zero-delay timer, never inside a hook, so a
 * hook may close any connection, its own included.
 *
 * Other descriptors and timers. A daemon may watch its own descriptors
 * (agents' sockets, a helper's pipe) with event_enable_read/write and
 * set timers with event_request_timer: the skeleton's loop runs them all.
 *
 * Trigger mode (no conn_input hook): the listening socket or FIFO
 * carries wake-ups, as in trigger_server.c, but without blocking: a
 * socket client has a second to send its bytes, then the trigger hook
 * gets them; with -w N the hook also gets a tick (len 0) at start and
 * every N seconds. Bytes up to a newline (a wake-up that names a
 * message, queue/mail_trigger.h) go to the hook as soon as they are
 * read, and such a client may keep its connection for the next
 * wake-ups (mail_trigger_keep: cleanup), silent for up to
 * ES_TRIGGER_KEPT_TIMEOUT, as long as fewer than ES_TRIGGER_KEPT_MAX
 * connections are kept; others still have their second.
 *
 * Life cycle. After max_use clients (or triggers) the process drains:
 * it stops accepting, tells master it is busy (master starts another)
 * and exits when its last client has gone. With no client for max_idle
 * seconds it exits (not with -w). When master goes away it drains too.
 * A long_lived daemon (anvil, qmgr: its state is in memory) ignores
 * max_use and max_idle and exits at once when master goes away. If
 * accept() runs out of descriptors, the process stops accepting for a
 * second and says busy meanwhile, so master can start a helper.
 *
 * -S (stand-alone): fd 0 is the one client; the process exits after it.
 *
 * Parameters: max_use, max_idle, ipc_timeout, plus server_startup's.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/config.h"
#include "global/mail_proto.h"
#include "server_int.h"
#include "util/event.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/sock.h"
#include "util/str.h"

#define ES_READ_SIZE 65536
#define ES_ACCEPT_BATCH 32         /* accepts per wake-up */
#define ES_TRIGGER_SIZE 1024       /* bytes of one wake-up */
#define ES_TRIGGER_TIMEOUT 1       /* seconds a trigger client has */
#define ES_TRIGGER_KEPT_TIMEOUT 60 /* seconds a kept trigger connection may be silent */
#define ES_TRIGGER_KEPT_MAX 128    /* kept trigger connections at once */
#define ES_PAUSE_MS 1000           /* after EMFILE */
#define ES_SWEEP_MS 1000           /* timeout checks */

struct event_conn {
    int fd;
    const server_params_t *hooks; /* the daemon's, or trigger mode's */
    void *context;
    str_t *out;              /* queued output */
    size_t out_off;          /* bytes of out already sent */
    long timeout_ms;         /* 0: none */
    long long last_progress; /* input read or output sent */
    int writing;             /* waiting for writability */
    int closing;             /* close once out is sent */
    int dead;                /* destruction pending */
    char addr[64];
    struct event_conn *prev, *next;
};

static struct {
    const server_params_t *params;
    server_args_t args;
    event_conn_t *conns;
    int clients;
    long max_use;
    long used;
    long max_idle;
    int accepting;
    int draining;
    int is_fifo;                         /* trigger mode on a FIFO */
    int taken;                           /* first client or wake-up seen */
    int kept_triggers;                   /* trigger connections kept open */
    const server_params_t *accept_hooks; /* params, or es_trigger_hooks */
} es;

/* A trigger client's bytes not yet handed to the trigger hook. */
typedef struct es_trigger {
    str_t *got;
    int kept; /* counted in es.kept_triggers */
} es_trigger_t;

static void es_conn_event(int fd, int event, void *context);
static void es_clients_changed(void);

/* es_conn_destroy - timer: run conn_close, close and free */
static void es_conn_destroy(int unused_fd, int event, void *context)
{
    event_conn_t *conn = context;

    if (conn->hooks->conn_close)
	conn->hooks->conn_close(conn);
    (void)close(conn->fd);
    if (conn->prev)
	conn->prev->next = conn->next;
    else
	es.conns = conn->next;
    if (conn->next)
	conn->next->prev = conn->prev;
    str_free(&conn->out);
    mr_free(conn);
    es.clients--;
    es_clients_changed();
}

/* es_conn_kill - stop all I/O on conn and destroy it soon */
static void es_conn_kill(event_conn_t *conn)
{
    if (conn->dead)
	return;
    conn->dead = 1;
    event_disable(conn->fd);
    event_request_timer(es_conn_destroy, conn, 0);
}

/* es_conn_flush - send queued output; switch interest as needed */
static void es_conn_flush(event_conn_t *conn)
{
    ssize_t n;

    while (conn->out_off < str_len(conn->out)) {
	n = write(conn->fd, str_data(conn->out) + conn->out_off,
		  str_len(conn->out) - conn->out_off);
	if (n < 0 && errno == EINTR)
	    continue;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
	    break;
	if (n <= 0) {
	    if (msg_verbose)
		msg_info("write to %s: %m", conn->addr);
	    es_conn_kill(conn);
	    return;
	}
	conn->out_off += (size_t)n;
	conn->last_progress = event_now_ms();
    }
    if (conn->out_off < str_len(conn->out)) {
	if (!conn->writing)
	    event_enable_write(conn->fd, es_conn_event, conn);
	conn->writing = 1;
	return;
    }
    str_reset(conn->out);
    conn->out_off = 0;
    if (conn->closing) {
	es_conn_kill(conn);
    } else if (conn->writing) {
	event_enable_read(conn->fd, es_conn_event, conn);
	conn->writing = 0;
    }
}

/* es_conn_read - one read; the bytes go to the conn_input hook */
static void es_conn_read(event_conn_t *conn)
{
    static char buf[ES_READ_SIZE];
    ssize_t n = read(conn->fd, buf, sizeof(buf));

    if (n > 0) {
	conn->last_progress = event_now_ms();
	conn->hooks->conn_input(conn, buf, (size_t)n);
    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
	if (n < 0 && msg_verbose)
	    msg_info("read from %s: %m", conn->addr);
	es_conn_kill(conn);
    }
}

/* es_conn_event - the client socket is readable or writable */
static void es_conn_event(int fd, int event, void *context)
{
    event_conn_t *conn = context;

    if (conn->dead)
	return;
    if (event & EVENT_WRITE)
	es_conn_flush(conn);
    else
	es_conn_read(conn);
}

int event_conn_write(event_conn_t *conn, const void *buf, size_t len)
{
    if (conn->dead || conn->closing)
	return -1;
    if (str_len(conn->out) - conn->out_off + len > EVENT_CONN_MAX_OUTPUT) {
	msg_warn("client %s does not read its replies: closing", conn->addr);
	es_conn_kill(conn);
	return -1;
    }
    str_append(conn->out, buf, len);
    if (!conn->writing)
	es_conn_flush(conn);
    return conn->dead ? -1 : 0;
}

void event_conn_close(event_conn_t *conn)
{
    if (conn->dead || conn->closing)
	return;
    conn->closing = 1;
    if (!conn->writing)
	es_conn_flush(conn);
}

void event_conn_set_context(event_conn_t *conn, void *context)
{
    conn->context = context;
}

void *event_conn_context(const event_conn_t *conn)
{
    return conn->context;
}

const char *event_conn_addr(const event_conn_t *conn)
{
    return conn->addr;
}

int event_conn_fd(const event_conn_t *conn)
{
    return conn->fd;
}

void event_conn_set_timeout(event_conn_t *conn, long seconds)
{
    conn->timeout_ms = seconds > 0 ? seconds * 1000 : 0;
}

int event_server_clients(void)
{
    return es.clients;
}

/* es_sweep - timer: close connections silent or stalled for too long */
static void es_sweep(int unused_fd, int event, void *context)
{
    long long now = event_now_ms();

    for (event_conn_t *conn = es.conns; conn; conn = conn->next) {
	if (conn->dead || conn->timeout_ms == 0 || now - conn->last_progress < conn->timeout_ms)
	    continue;
	if (msg_verbose || conn->writing)
	    msg_info("timeout on %s client %s", es.args.service, conn->addr);
	es_conn_kill(conn);
    }
    if (es.clients > 0)
	event_request_timer(es_sweep, NULL, ES_SWEEP_MS);
}

/* es_conn_new - start serving a connected socket with the given hooks */
static event_conn_t *es_conn_new(int fd, const server_params_t *hooks)
{
    event_conn_t *conn = mr_calloc(1, sizeof(*conn));

    (void)sock_nonblock(fd, 1);
    server_client_nodelay(fd, &es.args);
    conn->fd = fd;
    conn->hooks = hooks;
    conn->out = str_new(256);
    conn->timeout_ms = config_time("ipc_timeout") * 1000;
    conn->last_progress = event_now_ms();
    sock_peer_addr(fd, conn->addr, sizeof(conn->addr), NULL);
    if ((conn->next = es.conns) != NULL)
	conn->next->prev = conn;
    es.conns = conn;
    if (es.clients++ == 0)
	event_request_timer(es_sweep, NULL, ES_SWEEP_MS);
    es_clients_changed();
    event_enable_read(fd, es_conn_event, conn);
    if (hooks->conn_open)
	hooks->conn_open(conn, es.args.service);
    return conn;
}

/* es_exit - leave, telling the daemon first */
static void es_exit(const char *why)
{
    if (msg_verbose)
	msg_info("%s: exiting", why);
    server_exit(es.params);
}

/* es_idle_timeout - timer: no client for max_idle seconds */
static void es_idle_timeout(int unused_fd, int event, void *context)
{
    es_exit("idle too long");
}

/* es_clients_changed - exit when drained; (re)arm the idle timer */
static void es_clients_changed(void)
{
    if (es.clients > 0) {
	event_cancel_timer(es_idle_timeout, NULL);
	return;
    }
    if (es.draining)
	es_exit("last client gone while draining");
    if (es.max_idle > 0)
	event_request_timer(es_idle_timeout, NULL, es.max_idle * 1000);
}

static void es_accept_event(int fd, int event, void *context);
static void es_fifo_event(int fd, int event, void *context);

/* es_listen - start or stop watching the listening socket or FIFO */
static void es_listen(int on)
{
    if (on && !es.accepting)
	event_enable_read(MASTER_LISTEN_FD, es.is_fifo ? es_fifo_event : es_accept_event, NULL);
    else if (!on && es.accepting)
	event_disable(MASTER_LISTEN_FD);
    es.accepting = on;
}

void event_server_drain(void)
{
    if (es.draining)
	return;
    es.draining = 1;
    es_listen(0);
    if (!es.args.stand_alone)
	(void)server_report(0);
    if (msg_verbose)
	msg_info("draining: %d clients left", es.clients);
    es_clients_changed();
}

/* es_note_taken - the first client or wake-up: tell master we work */
static void es_note_taken(void)
{
    static int said;

    if (said++ || es.args.stand_alone)
	return;
    server_took_client();
    (void)server_report(!es.draining);
}

/* es_took_client - the first client or wake-up: tell master we work, so
 * that our death is not counted as a failure to start */
static void es_took_client(void)
{
    if (es.taken)
	return;
    es.taken = 1;
    server_took_client();
    if (!es.args.stand_alone && !es.draining)
	(void)server_report(1);
}

/* es_count_use - one more client or trigger; drain at max_use */
static void es_count_use(void)
{
    es_took_client();
    if (es.max_use > 0 && ++es.used >= es.max_use)
	event_server_drain();
}

/* es_resume - timer: accept again after running out of descriptors */
static void es_resume(int unused_fd, int event, void *context)
{
    if (es.draining)
	return;
    es_listen(1);
    (void)server_report(1);
}

/* es_pause - no descriptors left: say busy, try again in a while */
static void es_pause(void)
{
    msg_warn("accept: %m: not accepting for %d ms", ES_PAUSE_MS);
    es_listen(0);
    (void)server_report(0);
    event_request_timer(es_resume, NULL, ES_PAUSE_MS);
}

/* es_accept_one - accept one client; 1 got one, 0 none waiting */
static int es_accept_one(void)
{
    int fd = accept4(MASTER_LISTEN_FD, NULL, NULL, SOCK_CLOEXEC);

    if (fd < 0) {
	if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
	    es_pause();
	else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
	    msg_warn("accept: %m");
	return errno == EINTR || errno == ECONNABORTED;
    }
    (void)es_conn_new(fd, es.accept_hooks);
    es_note_taken();
    es_count_use();
    return 1;
}

/* es_accept_event - clients are waiting on the listening socket */
static void es_accept_event(int fd, int event, void *context)
{
    for (int i = 0; i < ES_ACCEPT_BATCH && es.accepting && es_accept_one(); i++)
	/* void */;
}

/* es_trigger_call - run the trigger hook; a wake-up counts as use */
static void es_trigger_call(const char *buf, size_t len)
{
    es_note_taken();
    es.params->trigger(buf, len, es.args.service);
    if (len > 0) {
	es_clients_changed(); /* activity: idle timer again */
	es_count_use();
    }
}

/* es_trigger_open - a trigger client: collect its bytes for a second */
static void es_trigger_open(event_conn_t *conn, const char *service)
{
    es_trigger_t *t = mr_calloc(1, sizeof(*t));

    t->got = str_new(64);
    event_conn_set_context(conn, t);
    event_conn_set_timeout(conn, ES_TRIGGER_TIMEOUT);
}

/* es_trigger_lines - hand over the complete lines collected so far and
 * keep the rest; the first line makes the connection a kept one (while
 * fewer than ES_TRIGGER_KEPT_MAX are) */
static void es_trigger_lines(event_conn_t *conn, es_trigger_t *t)
{
    const char *nl = memrchr(str_data(t->got), '\n', str_len(t->got));
    size_t len;

    if (nl == NULL)
	return;
    len = (size_t)(nl - str_data(t->got)) + 1;
    es_trigger_call(str_data(t->got), len);
    memmove(str_data(t->got), str_data(t->got) + len, str_len(t->got) - len);
    str_truncate(t->got, str_len(t->got) - len);
    if (!t->kept && es.kept_triggers < ES_TRIGGER_KEPT_MAX) {
	t->kept = 1;
	es.kept_triggers++;
	event_conn_set_timeout(conn, ES_TRIGGER_KEPT_TIMEOUT);
    }
}

/* es_trigger_input - complete lines go to the hook at once; the rest is
 * kept, at most ES_TRIGGER_SIZE bytes (then the client is done) */
static void es_trigger_input(event_conn_t *conn, const char *buf, size_t len)
{
    es_trigger_t *t = event_conn_context(conn);

    while (len > 0 && str_len(t->got) < ES_TRIGGER_SIZE) {
	size_t room = ES_TRIGGER_SIZE - str_len(t->got);
	size_t take = len < room ? len : room;

	str_append(t->got, buf, take);
	buf += take;
	len -= take;
	es_trigger_lines(conn, t);
    }
    if (str_len(t->got) >= ES_TRIGGER_SIZE)
	event_conn_close(conn);
}

/* es_trigger_close - the client is done (EOF, full or timeout): what it
 * sent and nobody read yet (a kept connection timed out just as it sent
 * more) goes to the hook with the rest */
static void es_trigger_close(event_conn_t *conn)
{
    es_trigger_t *t = event_conn_context(conn);
    char buf[ES_TRIGGER_SIZE];
    ssize_t n;

    while (str_len(t->got) < ES_TRIGGER_SIZE &&
	   (n = recv(event_conn_fd(conn), buf, ES_TRIGGER_SIZE - str_len(t->got), MSG_DONTWAIT)) >
	       0)
	str_append(t->got, buf, (size_t)n);
    if (str_len(t->got) > 0)
	es_trigger_call(str_data(t->got), str_len(t->got));
    if (t->kept)
	es.kept_triggers--;
    str_free(&t->got);
    mr_free(t);
}

static const server_params_t es_trigger_hooks = {
    .conn_open = es_trigger_open,
    .conn_input = es_trigger_input,
    .conn_close = es_trigger_close,
};

/* es_fifo_event - bytes in the trigger FIFO */
static void es_fifo_event(int fd, int event, void *context)
{
    char buf[ES_TRIGGER_SIZE];
    ssize_t n = read(fd, buf, sizeof(buf));

    if (n > 0)
	es_trigger_call(buf, (size_t)n);
}

/* es_wakeup - timer: the -w tick, first at start (a start-up scan) */
static void es_wakeup(int unused_fd, int event, void *context)
{
    es_took_client();
    es.params->trigger("", 0, es.args.service);
    event_request_timer(es_wakeup, NULL, es.args.wakeup * 1000L);
}

/* es_status_event - the status pipe reports an error: master is gone */
static void es_status_event(int fd, int event, void *context)
{
    if (!server_master_gone())
	return;
    event_disable(MASTER_STATUS_FD);
    if (es.params->long_lived)
	es_exit("master went away");
    event_server_drain();
}

int event_server_main(int argc, char **argv, const server_params_t *params)
{
    struct stat st;

    if (params->conn_input == NULL && params->trigger == NULL)
	msg_panic("event_server_main: neither conn_input nor trigger hook");
    server_startup(argc, argv, params, &es.args);
    es.params = params;
    es.accept_hooks = params->conn_input ? params : &es_trigger_hooks;
    es.max_use =
	params->long_lived
	    ? 0
	    : config_int(params->max_use_param ? params->max_use_param : "max_use", 0, 1000000);
    es.max_idle = params->long_lived || es.args.wakeup > 0 ? 0 : config_time("max_idle");
    event_set_spin(params->spin_us);
    if (es.args.stand_alone) {
	es.draining = 1;
	(void)es_conn_new(0, es.accept_hooks);
    } else {
	es.is_fifo =
	    params->conn_input == NULL && fstat(MASTER_LISTEN_FD, &st) == 0 && S_ISFIFO(st.st_mode);
	if (server_report(1) < 0) /* "started fine" */
	    es_exit("master went away");
	event_enable_read(MASTER_STATUS_FD, es_status_event, NULL);
	es_listen(1);
	es_clients_changed();
    }
    if (es.args.wakeup > 0 && params->trigger)
	event_request_timer(es_wakeup, NULL, 0);
    for (;;)
	event_loop(-1);
}
