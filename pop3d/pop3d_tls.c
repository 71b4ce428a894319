/*
 * pop3d_tls.c - STLS (RFC 2595) and TLS from the first byte (port 995,
 * RFC 8314).
 *
 * The certificate and key are loaded before the privilege drop
 * (lib/tls/tls_mail.c, prefix "pop3d"; pop3d_tls_cert_file and the rest
 * default to smtpd's, so one certificate serves both). A problem there is
 * logged and TLS is then not offered, so a broken key does not stop
 * POP3 on the loopback interface; wrapper mode hangs up instead.
 *
 * pop3d_tls_security_level: none (no STLS), may (offered), encrypt (every
 * login needs TLS first). pop3d_tls_wrappermode = yes: the handshake
 * comes before the greeting, and STLS is not offered.
 *
 * After STLS the client forgets what CAPA said (RFC 2595 4) and so do
 * we: a USER given before is dropped. Input that came with the STLS
 * command, before the handshake, is discarded unread: it was sent in
 * clear and may have been injected by someone in the path.
 */
#include "global/config.h"
#include "pop3d.h"
#include "tls/tls_mail.h"
#include "util/msg.h"

static tls_ctx_t *pop3d_tls_ctx; /* NULL: TLS unavailable */
static int pop3d_tls_level;
static int pop3d_tls_wrappermode;

/* pop3d_tls_pre_init - load the keys before the privilege drop */
void pop3d_tls_pre_init(void)
{
    const char *error;

    pop3d_tls_level = tls_mail_level("pop3d_tls_security_level");
    pop3d_tls_wrappermode = config_bool("pop3d_tls_wrappermode");
    if (pop3d_tls_level == TLS_LEV_VERIFY)
	msg_fatal("pop3d_tls_security_level: verify is a client level; use encrypt");
    if (pop3d_tls_level == TLS_LEV_NONE && !pop3d_tls_wrappermode)
	return;
    if ((pop3d_tls_ctx = tls_mail_server_init("pop3d", &error)) == NULL)
	msg_warn("TLS is unavailable: %s", error);
}

/* pop3d_tls_handshake - run the server handshake */
int pop3d_tls_handshake(pop3d_session_t *s)
{
    const char *error;
    tls_conn_t *conn;
    str_t *info;

    if ((conn = tls_server_start(s->client, pop3d_tls_ctx, &error)) == NULL) {
	msg_info("TLS handshake with %s failed: %s", s->addr, error);
	s->done = 1, s->reason = "TLS handshake failed";
	return -1;
    }
    s->tls = conn;
    info = str_new(128);
    tls_conn_describe(conn, info);
    msg_info("TLS connection established from %s: %s%s", s->addr, str_data(info),
	     tls_conn_reused(conn) ? " (session reused)" : "");
    str_free(&info);
    return 0;
}

/* pop3d_tls_wrapper - implicit TLS from the first byte */
int pop3d_tls_wrapper(pop3d_session_t *s)
{
    if (!pop3d_tls_wrappermode)
	return 0;
    if (pop3d_tls_ctx == NULL) {
	msg_warn("%s: wrapper-mode TLS is unavailable; hanging up", s->addr);
	s->done = 1, s->reason = "TLS unavailable";
	return -1;
    }
    return pop3d_tls_handshake(s);
}

/* pop3d_tls_offer - STLS in CAPA? */
int pop3d_tls_offer(const pop3d_session_t *s)
{
    return pop3d_tls_ctx != NULL && s->tls == NULL && !pop3d_tls_wrappermode &&
	   pop3d_tls_level >= TLS_LEV_MAY;
}

/* pop3d_tls_required - enforce pop3d_tls_security_level = encrypt */
int pop3d_tls_required(pop3d_session_t *s)
{
    if (s->tls != NULL || pop3d_tls_level < TLS_LEV_ENCRYPT)
	return 0;
    pop3d_bad_command(s, "[AUTH] TLS is required first (STLS)");
    return 1;
}

/* pop3d_tls_stls - STLS: reply, the handshake comes next */
void pop3d_tls_stls(pop3d_session_t *s, char **argv, int argc)
{
    if (s->tls != NULL || pop3d_tls_wrappermode)
	pop3d_bad_command(s, "TLS is already active");
    else if (pop3d_tls_level == TLS_LEV_NONE)
	pop3d_bad_command(s, "Unknown command");
    else if (pop3d_tls_ctx == NULL)
	pop3d_reply(s, "-ERR [SYS/TEMP] TLS is not available due to a local problem");
    else {
	pop3d_reply(s, "+OK Begin TLS negotiation");
	pop3d_login_reset(s);
	s->starttls = 1;
    }
}
