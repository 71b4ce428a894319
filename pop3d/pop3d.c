/*
 * pop3d.c - the POP3 server (RFC 1939, with RFC 2449 CAPA and response
 * codes).
 *
 * What it does: greets the client, takes USER/PASS, locks the user's
 * Maildir against a second POP3 session ([IN-USE]), lists and sends its
 * messages (RETR, TOP, LIST, UIDL, STAT), marks deletions (DELE, RSET),
 * and deletes the marked messages only at QUIT (the UPDATE state): a
 * session that ends any other way deletes nothing. UIDL comes from the
 * store's UIDs and UIDVALIDITY (lib/store), so it is stable across
 * sessions. One line of log per session gives the user, the client and
 * what it retrieved and deleted.
 *
 * Input it trusts: none from the client. Command lines are bounded
 * (pop3d_line.c: 255 octets with CRLF, as RFC 2449 says); a longer line
 * ends the session; pop3d_error_limit bad commands end it too; a client
 * idle for pop3d_timeout is disconnected. Message files come from the
 * user's own Maildir and are sent as they are, only with CRLF line ends
 * and byte-stuffing. Passwords are checked by libsasl2 (lib/auth).
 *
 * Privileges: master.conf runs it unprivileged (as mail_owner), without
 * chroot (it reads the mailboxes under virtual_mailbox_base). The login
 * phase (USER/PASS) and the mailbox phase run in the same process, with
 * the same ids: this serves the virtual mailboxes, which belong to
 * virtual_uid ($mail_owner). A mailbox owned by another uid is refused
 * with [SYS/PERM] rather than opened with rights that are not its
 * owner's (docs/pop3d.md, "Privileges"). Serving system users, which needs
 * a login process that hands the connection to one running as the user,
 * is not done yet.
 *
 * Parameters: pop3d_timeout, pop3d_error_limit, pop3d_auth_failure_delay,
 * pop3d_sasl_path, pop3d_sasl_local_domain, pop3d_login_domain,
 * cyrus_sasl_config_path, virtual_mailbox_maps, virtual_mailbox_base,
 * virtual_uid, virtual_gid, myhostname.
 */
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "global/config.h"
#include "global/mail_params.h"
#include "master/mail_server.h"
#include "pop3d.h"
#include "pop3d_line.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/sock.h"

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

/* session_log - the one line per session */
static void session_log(const pop3d_session_t *s)
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

/* session_input - feed what the client sent to the line reader and run
 * each complete command; returns when the buffer is used up or the
 * session is over */
static void session_input(pop3d_session_t *s, pop3d_line_t *lp, const char *buf, size_t len)
{
    size_t pos = 0, used;

    while (pos < len && !s->done && !s->starttls) {
	int r = pop3d_line_feed(lp, buf + pos, len - pos, &used);

	pos += used;
	if (r == POP3D_LINE_DONE && s->auth_mech) {
	    pop3d_login_auth_response(s, lp->text);
	} else if (r == POP3D_LINE_DONE) {
	    pop3d_command(s, lp->text);
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
}

/* session_end - release everything (deletions only at QUIT, done there) */
static void session_end(pop3d_session_t *s)
{
    const char *err;

    if (s->store)
	(void)pop3d_mailbox_close(s, 0, &err);
    session_log(s);
    pop3d_user_free(&s->login);
    pop3d_login_reset(s);
}

/* pop3d_service - one client, from greeting to hang-up */
static void pop3d_service(stream_t *client, const char *service)
{
    pop3d_session_t s = {.client = client, .state = POP3D_AUTHORIZATION, .lock_fd = -1};
    pop3d_line_t line;
    char buf[4096];
    ssize_t n;

    (void)service;
    s.addr = server_client_addr();
    s.line = &line;
    sock_peer_addr(stream_fd(client), buf, sizeof(buf), &s.port);
    msg_info("connect from %s", s.addr);
    stream_set_timeout(client, var_pop3d_timeout);
    pop3d_line_init(&line);
    if (pop3d_tls_wrapper(&s) == 0)
	pop3d_reply(&s, "+OK Mailroom POP3 server ready");
    while (!s.done) {
	if ((n = stream_read(client, buf, sizeof(buf))) <= 0) {
	    s.reason = n == 0 ? "disconnected" : stream_timedout(client) ? "timeout" : "read error";
	    if (n < 0 && stream_timedout(client)) {
		stream_clear_error(client); /* the timeout is sticky */
		pop3d_reply(&s, "-ERR Idle timeout, closing connection");
	    }
	    break;
	}
	session_input(&s, &line, buf, (size_t)n);
    }
    session_end(&s);
}

/* pop3d_pre_init - privileged: the tables */
static void pop3d_pre_init(const char *service)
{
    (void)service;
    pop3d_tls_pre_init();
    pop3d_auth_init();
}

int main(int argc, char **argv)
{
    static const server_params_t params = {
	.pre_init = pop3d_pre_init,
	.service = pop3d_service,
    };

    msg_init("pop3d");
    return single_server_main(argc, argv, &params);
}
