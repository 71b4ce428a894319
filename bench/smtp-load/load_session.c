/*
 * load_session.c - one SMTP client session of smtp-load.
 *
 * A session is one thread with blocking streams (the lib/util stream_t
 * with its per-operation timeout): connect, read the 220, EHLO, then send
 * messages until per_conn of them went over this connection, QUIT, and
 * connect again, until the shared message counter runs out. Blocking I/O
 * per thread keeps the dialogue a straight line that is easy to check;
 * with at most a few dozen sessions the thread overhead does not matter
 * next to the server's fsync.
 *
 * Without -P every command waits for its reply. With -P (and when the
 * server's EHLO offers PIPELINING) MAIL, every RCPT and DATA go out in
 * one write and their replies are read afterwards, as RFC 2920 allows.
 *
 * Measured here: the time from just before the write that carries the
 * end-of-data dot until the reply to it has been read (the server's
 * commit latency plus one round trip), and the time from the start of
 * connect() until the 220 greeting has been read.
 *
 * Any unexpected reply ends the connection (with QUIT when the server is
 * in a state to take one); the message counts as failed, the reply code
 * is counted, and the session carries on with a new connection.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util/msg.h"
#include "util/sock.h"
#include "util/str.h"
#include "util/stream.h"
#include "util/tls.h"
#include "load.h"

#define LOAD_LINE_MAX 4096 /* longest reply line we keep */

typedef struct load_conn {
    stream_t *stream;      /* NULL when not connected */
    str_t *line;           /* last reply line */
    int offers_pipelining; /* EHLO said PIPELINING */
    long sent;             /* messages on this connection */
    tls_ctx_t *tls_ctx;    /* this thread's TLS client context */
} load_conn_t;

/* load_reply - read one (possibly multi-line) reply; returns its code,
 * or -1 on I/O error, timeout or a line that is not a reply */
static int load_reply(load_conn_t *c)
{
    const char *p;
    int r;

    for (;;) {
	str_reset(c->line);
	r = stream_read_line(c->stream, c->line, LOAD_LINE_MAX);
	if (r == STREAM_PARTIAL && stream_skip_line(c->stream) != 1)
	    return -1;
	if (r != STREAM_LINE && r != STREAM_PARTIAL)
	    return -1;
	p = str_data(c->line);
	if (str_len(c->line) < 3 || p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '9' ||
	    p[2] < '0' || p[2] > '9')
	    return -1;
	if (str_len(c->line) > 4 && (p[3] == '-' || p[3] == ' ') &&
	    strncasecmp(p + 4, "PIPELINING", 10) == 0)
	    c->offers_pipelining = 1;
	if (str_len(c->line) < 4 || p[3] != '-')
	    return (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
    }
}

/* load_expect - 0 if code is one of the wanted ones, else count the
 * failure at this stage (an I/O failure if there was no reply) */
static int load_expect(load_stats_t *st, load_stage_t stage, int code, int want, int also)
{
    if (code == want || (also && code == also))
	return 0;
    load_stats_fail(st, code < 0 ? LOAD_IO : stage, code);
    return -1;
}

/* load_send_cmd - send one command line and wait for its reply code */
static int load_send_cmd(load_conn_t *c, const char *cmd, const char *arg)
{
    if (stream_printf(c->stream, "%s%s\r\n", cmd, arg) < 0 || stream_flush(c->stream) < 0)
	return -1;
    return load_reply(c);
}

/* load_disconnect - end the connection, politely if quit is set */
static void load_disconnect(load_conn_t *c, int quit)
{
    if (c->stream == NULL)
	return;
    if (quit)
	(void)load_send_cmd(c, "QUIT", "");
    (void)stream_close(&c->stream);
    c->sent = 0;
    c->offers_pipelining = 0;
}

/* load_timed_cmd - load_send_cmd, and the time it took as a sample of step */
static int load_timed_cmd(load_stats_t *st, load_step_t step, load_conn_t *c, const char *cmd,
			  const char *arg)
{
    double t0 = load_now_ms();
    int code = load_send_cmd(c, cmd, arg);

    if (code > 0)
	load_stats_add(st, step, load_now_ms() - t0);
    return code;
}

/* load_quit - QUIT (timed) and close, at the end of a connection's messages */
static void load_quit(load_stats_t *st, load_conn_t *c)
{
    (void)load_timed_cmd(st, LOAD_STEP_QUIT, c, "QUIT", "");
    load_disconnect(c, 0);
}

/* load_handshake - TLS client handshake (no verification: a benchmark) */
static int load_handshake(const load_conf_t *conf, load_stats_t *st, load_conn_t *c)
{
    tls_opts_t o = {.min_protocol = "TLSv1.2"};
    tls_conn_t *conn;
    const char *err;
    static int warned;

    if (c->tls_ctx == NULL) {
	if ((c->tls_ctx = tls_client_ctx_new(&o, &err)) == NULL)
	    msg_fatal("TLS: %s", err);
	if (conf->tls_resume)
	    tls_ctx_keep_sessions(c->tls_ctx);
    }
    if ((conn = tls_client_start(c->stream, c->tls_ctx, NULL, 0, &err)) == NULL) {
	if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
	    msg_warn("TLS handshake: %s", err);
	load_stats_fail(st, LOAD_TLS, 0);
	return -1;
    }
    if (tls_conn_reused(conn))
	st->tls_reused++;
    return 0;
}

/* load_starttls - with -S: STARTTLS, handshake, EHLO again; 0 or -1 */
static int load_starttls(const load_conf_t *conf, load_stats_t *st, load_conn_t *c)
{
    int code;

    if (conf->tls != LOAD_TLS_STARTTLS)
	return 0;
    code = load_send_cmd(c, "STARTTLS", "");
    if (load_expect(st, LOAD_TLS, code, 220, 0) < 0 || load_handshake(conf, st, c) < 0)
	return -1;
    code = load_send_cmd(c, "EHLO ", conf->helo);
    return load_expect(st, LOAD_EHLO, code, 250, 0);
}

/* load_auth - with -A: AUTH PLAIN with an initial response; 0 or -1 */
static int load_auth(const load_conf_t *conf, load_stats_t *st, load_conn_t *c)
{
    if (conf->auth_plain == NULL)
	return 0;
    return load_expect(st, LOAD_AUTH, load_send_cmd(c, conf->auth_plain, ""), 235, 0);
}

/* load_connect - connect, take the greeting, say EHLO; 0 or -1 */
static int load_connect(const load_conf_t *conf, load_stats_t *st, load_conn_t *c)
{
    static int warned;
    const char *err;
    double t0 = load_now_ms();
    int fd, code;

    if ((fd = sock_connect_inet(conf->server, NULL, conf->timeout, &err)) < 0) {
	if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
	    msg_warn("%s", err);
	load_stats_fail(st, LOAD_CONNECT, 0);
	return -1;
    }
    c->stream = stream_open(fd);
    stream_set_timeout(c->stream, conf->timeout);
    st->connections++;
    if (conf->tls == LOAD_TLS_WRAPPER && load_handshake(conf, st, c) < 0) {
	load_disconnect(c, 0);
	return -1;
    }
    code = load_reply(c);
    if (load_expect(st, LOAD_BANNER, code, 220, 0) < 0) {
	load_disconnect(c, code > 0);
	return -1;
    }
    load_stats_add(st, LOAD_STEP_CONNECT, load_now_ms() - t0);
    code = load_timed_cmd(st, LOAD_STEP_EHLO, c, "EHLO ", conf->helo);
    if (load_expect(st, LOAD_EHLO, code, 250, 0) < 0) {
	load_disconnect(c, code > 0);
	return -1;
    }
    if (load_starttls(conf, st, c) < 0 || load_auth(conf, st, c) < 0) {
	load_disconnect(c, 0);
	return -1;
    }
    return 0;
}

/* load_rcpt - the index-th recipient of message ticket (round robin) */
static const char *load_rcpt(const load_conf_t *conf, long ticket, int index)
{
    return conf->to[(ticket * conf->rcpts + index) % conf->to_count];
}

/* load_envelope_lockstep - MAIL, RCPTs, DATA, each waiting for its reply */
static int load_envelope_lockstep(const load_conf_t *conf, load_stats_t *st, load_conn_t *c,
				  long ticket)
{
    str_t *arg = str_new(256);
    int i, code;

    str_printf(arg, "<%s>", conf->from);
    code = load_timed_cmd(st, LOAD_STEP_MAIL, c, "MAIL FROM:", str_data(arg));
    if (load_expect(st, LOAD_MAIL, code, 250, 0) < 0)
	goto fail;
    for (i = 0; i < conf->rcpts; i++) {
	str_printf(arg, "<%s>", load_rcpt(conf, ticket, i));
	code = load_timed_cmd(st, LOAD_STEP_RCPT, c, "RCPT TO:", str_data(arg));
	if (load_expect(st, LOAD_RCPT, code, 250, 251) < 0)
	    goto fail;
    }
    code = load_timed_cmd(st, LOAD_STEP_DATA, c, "DATA", "");
    if (load_expect(st, LOAD_DATA, code, 354, 0) < 0)
	goto fail;
    str_free(&arg);
    return 0;

fail:
    str_free(&arg);
    load_disconnect(c, code > 0);
    return -1;
}

/* load_envelope_pipelined - MAIL, RCPTs and DATA in one write (RFC 2920) */
static int load_envelope_pipelined(const load_conf_t *conf, load_stats_t *st, load_conn_t *c,
				   long ticket)
{
    double t0 = load_now_ms();
    int i, code, bad = 0, in_data = 0;

    stream_printf(c->stream, "MAIL FROM:<%s>\r\n", conf->from);
    for (i = 0; i < conf->rcpts; i++)
	stream_printf(c->stream, "RCPT TO:<%s>\r\n", load_rcpt(conf, ticket, i));
    if (stream_puts(c->stream, "DATA\r\n") < 0 || stream_flush(c->stream) < 0) {
	load_stats_fail(st, LOAD_IO, 0);
	load_disconnect(c, 0);
	return -1;
    }
    code = load_reply(c);
    bad = load_expect(st, LOAD_MAIL, code, 250, 0) < 0;
    for (i = 0; i < conf->rcpts && code > 0; i++) {
	code = load_reply(c);
	if (!bad)
	    bad = load_expect(st, LOAD_RCPT, code, 250, 251) < 0;
    }
    if (code > 0) {
	code = load_reply(c);
	in_data = (code == 354);
	if (!bad)
	    bad = load_expect(st, LOAD_DATA, code, 354, 0) < 0;
    }
    if (bad || code < 0) {
	load_disconnect(c, code > 0 && !in_data);
	return -1;
    }
    load_stats_add(st, LOAD_STEP_MAIL, load_now_ms() - t0);
    return 0;
}

/* load_note_accept - one line of the -o file: which message, when
 * (wall clock) its 250 came; one fprintf, so threads do not mix lines */
static void load_note_accept(const load_conf_t *conf, long ticket)
{
    struct timespec now;

    clock_gettime(CLOCK_REALTIME, &now);
    fprintf(conf->accept_log, "%ld.%ld %lld.%06ld\n", conf->run_id, ticket, (long long)now.tv_sec,
	    now.tv_nsec / 1000);
}

/* load_content - headers, body, the dot; time the reply to the dot */
static int load_content(const load_conf_t *conf, load_stats_t *st, load_conn_t *c, long ticket)
{
    double t0;
    int code;

    stream_printf(c->stream,
		  "From: <%s>\r\nTo: <%s>\r\n"
		  "Subject: smtp-load test message %ld\r\nDate: %s\r\n"
		  "Message-ID: <%ld.%ld@smtp-load.invalid>\r\n\r\n",
		  conf->from, load_rcpt(conf, ticket, 0), ticket, conf->date, conf->run_id, ticket);
    if (conf->vary)
	stream_printf(c->stream, LOAD_VARY_LINE, ticket, conf->run_id);
    stream_write(c->stream, str_data(conf->body), str_len(conf->body));
    stream_puts(c->stream, ".\r\n");
    t0 = load_now_ms();
    if (stream_flush(c->stream) < 0)
	code = -1;
    else
	code = load_reply(c);
    if (load_expect(st, LOAD_EOD, code, 250, 0) < 0) {
	load_disconnect(c, code > 0);
	return -1;
    }
    load_stats_add(st, LOAD_STEP_EOD, load_now_ms() - t0);
    if (conf->accept_log)
	load_note_accept(conf, ticket);
    return 0;
}

/* load_message - one whole transaction on an open connection */
static int load_message(const load_conf_t *conf, load_stats_t *st, load_conn_t *c, long ticket)
{
    static int warned;
    int r;

    if (conf->pipelining && !c->offers_pipelining &&
	!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
	msg_warn("server does not offer PIPELINING; sending in lockstep");
    if (conf->pipelining && c->offers_pipelining)
	r = load_envelope_pipelined(conf, st, c, ticket);
    else
	r = load_envelope_lockstep(conf, st, c, ticket);
    if (r == 0)
	r = load_content(conf, st, c, ticket);
    return r;
}

/* load_session_run - send messages until the counter runs out */
void load_session_run(const load_conf_t *conf, load_stats_t *st, long (*take_ticket)(void))
{
    load_conn_t conn = {.line = str_new(LOAD_LINE_MAX)};
    long ticket;

    while ((ticket = take_ticket()) >= 0) {
	if (conn.stream == NULL && load_connect(conf, st, &conn) < 0) {
	    st->failed++;
	    continue;
	}
	if (load_message(conf, st, &conn, ticket) < 0) {
	    st->failed++;
	    continue;
	}
	st->accepted++;
	if (++conn.sent == conf->per_conn)
	    load_quit(st, &conn);
    }
    load_disconnect(&conn, 1);
    str_free(&conn.line);
    tls_ctx_free(&conn.tls_ctx);
}
