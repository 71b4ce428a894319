/*
 * smtpd_tls.c - STARTTLS (RFC 3207) and wrapper mode (RFC 8314).
 *
 * The certificate, key and ticket secret are loaded in pre_init, as root
 * (lib/tls/tls_mail.c); a problem there is logged and TLS is then not
 * offered (and refused with 454 where it is required), so a broken key
 * does not stop plain mail.
 *
 * smtpd_tls_security_level: none (no STARTTLS), may (offered), encrypt
 * (MAIL, RCPT, DATA, BDAT, VRFY and AUTH need TLS first: 530 5.7.0).
 * smtpd_tls_wrappermode = yes: the handshake comes before the greeting,
 * and STARTTLS is not offered.
 *
 * After STARTTLS the session starts over (RFC 3207 4.2): the client's
 * EHLO name, any transaction and any authentication are forgotten, and
 * input that arrived together with the STARTTLS command, before the
 * handshake, is discarded unread (it was sent in clear and may have been
 * injected by someone in the path).
 */
#include <string.h>

#include "global/config.h"
#include "tls/tls_mail.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "smtpd.h"

static tls_ctx_t *smtpd_tls_ctx; /* NULL: TLS unavailable */
static int smtpd_tls_level;
static int smtpd_tls_wrappermode;
static int smtpd_tls_received_header;

/* smtpd_tls_pre_init - load the keys before the privilege drop */
void smtpd_tls_pre_init(void)
{
    const char *error;

    smtpd_tls_level = tls_mail_level("smtpd_tls_security_level");
    smtpd_tls_wrappermode = config_bool("smtpd_tls_wrappermode");
    if (smtpd_tls_level == TLS_LEV_VERIFY)
	msg_fatal("smtpd_tls_security_level: verify is a client level; use encrypt");
    if (smtpd_tls_level == TLS_LEV_NONE && !smtpd_tls_wrappermode)
	return;
    if ((smtpd_tls_ctx = tls_mail_server_init("smtpd", &error)) == NULL)
	msg_warn("TLS is unavailable: %s", error);
}

/* smtpd_tls_post_init - the parameters read once */
void smtpd_tls_post_init(void)
{
    smtpd_tls_received_header = config_bool("smtpd_tls_received_header");
}

/* smtpd_tls_handshake - run the server handshake; 0 ok, -1 logged */
static int smtpd_tls_handshake(smtpd_state_t *st)
{
    const char *error;
    tls_conn_t *conn;
    str_t *info;

    if ((conn = tls_server_start(st->client, smtpd_tls_ctx, &error)) == NULL) {
	msg_info("SSL_accept error from %s: %s", st->namaddr, error);
	return -1;
    }
    st->tls = conn;
    info = str_new(128);
    tls_conn_describe(conn, info);
    msg_info("Anonymous TLS connection established from %s: %s%s", st->namaddr, str_data(info),
	     tls_conn_reused(conn) ? " (session reused)" : "");
    str_free(&info);
    return 0;
}

/* smtpd_tls_wrapper - implicit TLS from the first byte */
int smtpd_tls_wrapper(smtpd_state_t *st)
{
    if (!smtpd_tls_wrappermode)
	return 0;
    if (smtpd_tls_ctx == NULL) {
	msg_warn("%s: wrapper-mode TLS is unavailable; hanging up", st->namaddr);
	return -1;
    }
    return smtpd_tls_handshake(st);
}

/* smtpd_tls_offer - STARTTLS in the EHLO reply? */
int smtpd_tls_offer(const smtpd_state_t *st)
{
    return smtpd_tls_ctx != NULL && st->tls == NULL && !smtpd_tls_wrappermode &&
	   smtpd_tls_level >= TLS_LEV_MAY;
}

/* smtpd_tls_required - enforce smtpd_tls_security_level = encrypt */
int smtpd_tls_required(smtpd_state_t *st, const char *cmd)
{
    if (st->tls != NULL || smtpd_tls_level < TLS_LEV_ENCRYPT)
	return 0;
    smtpd_count(st, cmd, 0);
    smtpd_reply(st, "530 5.7.0 Must issue a STARTTLS command first");
    smtpd_error(st);
    return 1;
}

/* smtpd_tls_forget - RFC 3207 4.2: start the session over */
static void smtpd_tls_forget(smtpd_state_t *st)
{
    smtpd_reset(st);
    mr_free(st->helo);
    st->helo = NULL;
    st->esmtp = 0;
    smtpd_auth_reset(st);
    smtpd_set_protocol(st);
}

/* smtpd_starttls - STARTTLS */
void smtpd_starttls(smtpd_state_t *st, char *args, int crlf)
{
    size_t junk;

    (void)crlf;
    if (*args) {
	smtpd_count(st, "starttls", 0);
	smtpd_reply(st, "501 5.5.4 Syntax: STARTTLS");
	smtpd_error(st);
    } else if (st->tls != NULL || smtpd_tls_wrappermode) {
	smtpd_count(st, "starttls", 0);
	smtpd_reply(st, "554 5.5.1 Error: TLS already active");
	smtpd_error(st);
    } else if (smtpd_tls_level == TLS_LEV_NONE) {
	smtpd_count(st, "starttls", 0);
	smtpd_reply(st, "502 5.5.1 Error: STARTTLS not offered: TLS is off on this service");
	smtpd_error(st);
    } else if (smtpd_tls_ctx == NULL) {
	smtpd_count(st, "starttls", 0);
	smtpd_reply(st, "454 4.7.0 TLS not available due to local problem");
    } else {
	smtpd_reply(st, "220 2.0.0 Ready to start TLS");
	if ((junk = stream_discard_input(st->client)) > 0)
	    msg_warn("%s: discarding %zu bytes of input sent with STARTTLS", st->namaddr, junk);
	if (stream_flush(st->client) < 0 || smtpd_tls_handshake(st) < 0) {
	    smtpd_count(st, "starttls", 0);
	    st->done = 1;
	    return;
	}
	smtpd_count(st, "starttls", 1);
	smtpd_tls_forget(st);
    }
}

/* smtpd_set_protocol - the protocol name for Received: and logs */
void smtpd_set_protocol(smtpd_state_t *st)
{
    static const char *names[] = {"ESMTP", "ESMTPS", "ESMTPA", "ESMTPSA"};

    if (!st->esmtp)
	st->protocol = "SMTP";
    else
	st->protocol = names[(st->tls != NULL) + 2 * (st->sasl_username != NULL)];
}

/* smtpd_tls_received - the TLS comment line of the Received: header
 * into h; 1 if there is one, 0 if not */
int smtpd_tls_received(smtpd_state_t *st, str_t *h)
{
    if (st->tls == NULL || !smtpd_tls_received_header)
	return 0;
    str_set(h, "\t(using ");
    tls_conn_describe(st->tls, h);
    str_appends(h, ")");
    return 1;
}
