/*
 * pop3d_session.c - the command loop of a POP3 session, shared by the
 * login process (AUTHORIZATION) and the mailbox process (TRANSACTION).
 *
 * Bytes from the client go through the bounded line reader
 * (pop3d_line.c) to the command table (pop3d_cmd.c), or, during an AUTH
 * exchange, to the exchange. Two events stop the loop before the input
 * at hand is used up: STLS (what follows the command, sent in clear, is
 * dropped and the handshake runs), and a successful login (what follows
 * is kept in s->rest for the mailbox process, which runs it first:
 * pipelined commands after PASS are answered as if nothing happened).
 */
#include <stdarg.h>
#include <string.h>

#include "global/mail_params.h"
#include "pop3d.h"
#include "util/msg.h"
#include "util/mymalloc.h"

/* pop3d_reply - send one reply line and flush */
void pop3d_reply(pop3d_session_t *s, const char *fmt, ...)
{
    str_t *line = str_new(128);
    va_list ap;

    va_start(ap, fmt);
    str_vappendf(line, fmt, ap);
    va_end(ap);
    str_appends(line, "\r\n");
    if (stream_write(s->client, str_data(line), str_len(line)) < 0 || stream_flush(s->client) < 0) {
	s->done = 1;
	s->reason = "write error";
    }
    str_free(&line);
}

/* pop3d_session_log - the one line per session */
void pop3d_session_log(const pop3d_session_t *s)
{
    msg_info("session end: user=<%s>, client=%s, retr=%ld/%lld, top=%ld/%lld, dele=%ld/%lld, "
	     "reason=%s",
	     s->login.name ? s->login.name : "", s->addr, s->retr_count, s->retr_bytes,
	     s->top_count, s->top_bytes, s->dele_count, s->dele_bytes,
	     s->reason ? s->reason : "disconnected");
}

/* session_starttls - the handshake after STLS; what the client sent
 * after the command, in clear, is dropped unread */
static void session_starttls(pop3d_session_t *s, size_t unread)
{
    size_t junk = unread + stream_discard_input(s->client);

    s->starttls = 0;
    if (junk > 0)
	msg_warn("%s: discarding %zu bytes of input sent with STLS", s->addr, junk);
    (void)pop3d_tls_handshake(s);
}

/* session_keep_rest - at the handoff: the unused input, buffered too */
static void session_keep_rest(pop3d_session_t *s, const char *buf, size_t len)
{
    char more[4096];
    ssize_t n;

    s->rest = str_new(len + 64);
    str_append(s->rest, buf, len);
    while (stream_pending(s->client) > 0 && (n = stream_read(s->client, more, sizeof(more))) > 0)
	str_append(s->rest, more, (size_t)n);
    s->done = 1;
}

/* session_input - feed what the client sent to the line reader and run
 * each complete command; returns when the buffer is used up or the
 * session stops */
static void session_input(pop3d_session_t *s, const char *buf, size_t len)
{
    size_t pos = 0, used;

    while (pos < len && !s->done && !s->starttls && !s->handoff) {
	int r = pop3d_line_feed(s->line, buf + pos, len - pos, &used);

	pos += used;
	if (r == POP3D_LINE_DONE && s->auth_mech) {
	    pop3d_login_auth_response(s, s->line->text);
	} else if (r == POP3D_LINE_DONE) {
	    pop3d_command(s, s->line->text);
	} else if (r == POP3D_LINE_BAD) {
	    pop3d_bad_command(s, "NUL byte in command");
	} else if (r == POP3D_LINE_TOOLONG) {
	    pop3d_reply(s, "-ERR Command line too long, closing connection");
	    msg_warn("command line too long from %s", s->addr);
	    s->done = 1, s->reason = "line too long";
	}
    }
    if (s->starttls)
	session_starttls(s, len - pos);
    else if (s->handoff)
	session_keep_rest(s, buf + pos, len - pos);
}

/* pop3d_session_run - see pop3d.h */
void pop3d_session_run(pop3d_session_t *s, const char *greeting, const char *input, size_t len)
{
    char buf[4096];
    ssize_t n;

    stream_set_timeout(s->client, var_pop3d_timeout);
    if (greeting)
	pop3d_reply(s, "%s", greeting);
    if (len > 0 && !s->done)
	session_input(s, input, len);
    while (!s->done) {
	if ((n = stream_read(s->client, buf, sizeof(buf))) <= 0) {
	    s->reason = n == 0                       ? "disconnected"
			: stream_timedout(s->client) ? "timeout"
						     : "read error";
	    if (n < 0 && stream_timedout(s->client)) {
		int login = stream_timeout_ms(s->client) == 0;

		if (login)
		    s->reason = "login timeout";
		stream_clear_error(s->client); /* the timeout is sticky */
		stream_set_deadline(s->client, 0);
		pop3d_reply(s, login ? "-ERR Login timeout, closing connection"
				     : "-ERR Idle timeout, closing connection");
	    }
	    break;
	}
	session_input(s, buf, (size_t)n);
    }
}
