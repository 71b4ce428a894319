/*
 * smtp - the SMTP and LMTP delivery agent (one program; master.conf runs
 * it as service "smtp" and as service "lmtp").
 *
 * qmgr connects to private/smtp (or private/lmtp) and sends one delivery
 * request (docs/delivery.md). The next hop says where the mail goes:
 *   [host]:port, [host]   that host, no MX lookup (relayhost, transport_maps)
 *   host:port, domain     the domain's MX hosts in preference order
 *                         (smtp_dest.c), or its address records
 *   unix:/path            an LMTP (or SMTP) server on a Unix socket
 * The agent tries each address in turn (smtp_connect_timeout), speaks
 * EHLO (LHLO for lmtp), STARTTLS per smtp_tls_security_level, then one
 * transaction through lib/global/smtp_client (PIPELINING, SIZE, 8BITMIME,
 * DSN when offered), and reports every recipient: 2xx sent, 4xx
 * deferred, 5xx bounced, through the delivery library, which marks it
 * done or writes the bounce/defer log before the reply to qmgr. Log:
 * "ID: to=<rcpt>, relay=host[addr]:port, delay=..., delays=..., dsn=2.0.0,
 * status=sent (250 2.0.0 Ok: queued as X)".
 *
 * A server without 8BITMIME gets 8-bit MIME parts as quoted-printable
 * (lib/global/smtp_client_8bit; docs/smtp.md). A message that needs
 * SMTPUTF8 (the sender asked for it: smtputf8=1 in the queue file, or an
 * envelope address is not ASCII) goes out with it, and bounces (5.6.7)
 * at a server that does not offer it, as RFC 6531 asks. A transaction where every
 * recipient failed temporarily moves on to the next address, like a
 * failed connection.
 *
 * Trust: the request comes from qmgr and is checked by the delivery
 * library. The remote server is untrusted: its replies are bounded and
 * checked by smtp_client, and only a well-formed 2xx counts as sent. The
 * message content is copied, never interpreted.
 *
 * Privileges: runs as mail_owner (master.conf: unprivileged y) and may be
 * chrooted into the queue directory; the TLS trust anchors are read
 * before the privilege drop.
 *
 * Parameters: smtp_connect_timeout, smtp_reply_timeout, smtp_helo_name,
 * disable_mime_output_conversion,
 * smtp_tls_security_level (and the smtp_tls_* of docs/tls.md),
 * dns_servers; see docs/smtp.md.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "global/config.h"
#include "global/smtp_client.h"
#include "master/mail_server.h"
#include "queue/deliver_request.h"
#include "smtp.h"
#include "tls/tls_mail.h"
#include "util/msg.h"
#include "util/mymalloc.h"

static tls_ctx_t *smtp_tls_ctx;
static int smtp_tls_level;

/* smtp_qf_line - content reader over the queue file */
static int smtp_qf_line(void *ctx, str_t *line, int *complete_r, const char **error_r)
{
    return qfile_line(ctx, line, SMTP_CLIENT_LINE_MAX * 32, complete_r, error_r);
}

/* smtp_qf_rewind - the content from its start again */
static void smtp_qf_rewind(void *ctx)
{
    qfile_rewind(ctx);
}

/* smtp_class - the outcome class (2, 4, 5) of a recipient's final reply */
static int smtp_class(const smtp_reply_t *r)
{
    return r->code ? r->code / 100 : r->dsn[0] - '0';
}

/* smtp_report - one recipient's outcome from its final reply */
static void smtp_report(deliver_request_t *req, size_t i, const smtp_dest_t *d,
			const smtp_rcpt_t *rc)
{
    const smtp_reply_t *r = &rc->reply;
    int class = smtp_class(r);
    str_t *why = str_new(256);

    if (r->code && class != 2)
	str_printf(why, "host %s said: %s (in reply to %s command)", d->relay, str_data(r->text),
		   rc->stage ? rc->stage : "end of DATA");
    else
	str_set(why, str_data(r->text));
    if (class == 2)
	deliver_sent(req, i, d->relay, r->dsn, "%s", str_data(why));
    else if (class == 5)
	deliver_bounced(req, i, d->relay, r->dsn, "%s", str_data(why));
    else
	deliver_deferred(req, i, d->relay, r->dsn[0] == '4' ? r->dsn : "4.0.0", "%s",
			 str_data(why));
    str_free(&why);
}

/* smtp_session_fail - the session with d failed before a transaction:
 * remember why (the last failure is what the recipients get) */
static void smtp_session_fail(smtp_state_t *st, const smtp_dest_t *d, const smtp_reply_t *r,
			      const char *stage)
{
    if (r->code)
	str_printf(st->why, "host %s said: %s (in reply to %s)", d->relay, str_data(r->text),
		   stage);
    else
	str_printf(st->why, "%s while talking to %s", str_data(r->text), d->relay);
    snprintf(st->dsn, sizeof(st->dsn), "%s", r->dsn[0] ? r->dsn : "4.4.2");
}

/* smtp_tls_log - "Trusted/Untrusted TLS connection established to ..." */
static void smtp_tls_log(const smtp_state_t *st, const smtp_dest_t *d, const tls_conn_t *conn)
{
    str_t *desc = str_new(128);

    if (conn)
	tls_conn_describe(conn, desc);
    msg_info("%s: %s TLS connection established to %s: %s", st->req->queue_id,
	     conn && tls_conn_verified(conn) ? "Trusted" : "Untrusted", d->relay, str_data(desc));
    str_free(&desc);
}

/* smtp_tls - STARTTLS per the security level: 1 go on, 0 give up */
static int smtp_tls(smtp_state_t *st, smtp_client_t *c, const smtp_dest_t *d, smtp_reply_t *r)
{
    int offered = (smtp_client_ext(c) & SMTP_EXT_STARTTLS) != 0;

    if (smtp_tls_level == TLS_LEV_NONE ||
	(smtp_tls_level == TLS_LEV_MAY && (!offered || smtp_tls_ctx == NULL)))
	return 1;
    if (!offered || smtp_tls_ctx == NULL) {
	str_printf(st->why, "TLS is required, but %s host %s",
		   offered ? "the TLS client is not set up for" : "was not offered by", d->relay);
	snprintf(st->dsn, sizeof(st->dsn), "4.7.4");
	return 0;
    }
    if (smtp_client_starttls(c, smtp_tls_ctx, d->host, smtp_tls_level >= TLS_LEV_VERIFY, r) != 1 ||
	smtp_client_hello(c, st->helo, r) != 1) {
	smtp_session_fail(st, d, r, "STARTTLS");
	return 0;
    }
    smtp_tls_log(st, d, smtp_client_tls(c));
    return 1;
}

/* smtp_session_open - connect, greeting, hello, TLS: a client, or NULL
 * with the reason in st */
static smtp_client_t *smtp_session_open(smtp_state_t *st, const smtp_dest_t *d)
{
    smtp_client_t *c;
    smtp_reply_t r;
    const char *err;

    if ((c = smtp_client_connect(d->connect, st->lmtp, st->connect_timeout, st->reply_timeout,
				 &err)) == NULL) {
	const char *colon = strrchr(err, ':'); /* "connect to X: why" */

	str_printf(st->why, "connect to %s: %s", d->relay, colon ? colon + 2 : err);
	snprintf(st->dsn, sizeof(st->dsn), "4.4.1");
	msg_info("%s: %s", st->req->queue_id, str_data(st->why));
	return NULL;
    }
    smtp_client_set_name(c, d->relay);
    smtp_reply_init(&r);
    if (smtp_client_greeting(c, &r) != 1)
	smtp_session_fail(st, d, &r, "initial greeting");
    else if (smtp_client_hello(c, st->helo, &r) != 1)
	smtp_session_fail(st, d, &r, st->lmtp ? "LHLO" : "EHLO");
    else if (smtp_tls(st, c, d, &r)) {
	smtp_reply_free(&r);
	return c;
    }
    smtp_reply_free(&r);
    smtp_client_quit(c);
    smtp_client_free(&c);
    return NULL;
}

/* smtp_eightbit - 1 if the message was received as 8BITMIME */
static int smtp_eightbit(const deliver_request_t *req)
{
    const char *body = req->qf->attrs ? attr_get(req->qf->attrs, "body") : NULL;

    return body && strcasecmp(body, "8BITMIME") == 0;
}

/* smtp_utf8 - 1 if the sender asked for SMTPUTF8 (smtpd's smtputf8=1) */
static int smtp_utf8(const deliver_request_t *req)
{
    const char *utf8 = req->qf->attrs ? attr_get(req->qf->attrs, "smtputf8") : NULL;

    return utf8 && strcmp(utf8, "1") == 0;
}

/* smtp_all_temporary - 1 if every recipient failed temporarily */
static int smtp_all_temporary(const smtp_rcpt_t *rcpts, size_t count)
{
    for (size_t i = 0; i < count; i++)
	if (smtp_class(&rcpts[i].reply) != 4)
	    return 0;
    return 1;
}

/* smtp_next_host - every recipient failed temporarily at d and another
 * destination is left: remember why (what the recipients get if none
 * takes the mail) and try that one, as with a failed connection */
static void smtp_next_host(smtp_state_t *st, const smtp_dest_t *d, const smtp_rcpt_t *rc)
{
    char stage[64];

    snprintf(stage, sizeof(stage), "%s command", rc->stage ? rc->stage : "end of DATA");
    smtp_session_fail(st, d, &rc->reply, stage);
    msg_info("%s: %s", st->req->queue_id, str_data(st->why));
}

/* smtp_transaction - send the message over c and report each recipient,
 * unless every one failed temporarily and more is true (another
 * destination is left): then *retry_r is 1 and nothing is reported.
 * Returns what smtp_client_send returned. */
static int smtp_transaction(smtp_state_t *st, smtp_client_t *c, const smtp_dest_t *d, int more,
			    int *retry_r)
{
    deliver_request_t *req = st->req;
    smtp_rcpt_t *rcpts = mr_calloc(req->rcpt_count, sizeof(*rcpts));
    smtp_msg_t msg = {
	.sender = req->sender,
	.size = req->size,
	.eightbit = smtp_eightbit(req),
	.smtputf8 = smtp_utf8(req),
	.ret = req->ret,
	.envid = req->envid,
	.line = smtp_qf_line,
	.rewind = smtp_qf_rewind,
	.ctx = req->qf,
	.rcpt_only = (req->flags & DELIVER_FLAG_VERIFY) != 0,
	.no_downgrade = st->no_downgrade,
    };
    int ret;

    for (size_t i = 0; i < req->rcpt_count; i++) {
	rcpts[i].address = req->rcpts[i].address;
	rcpts[i].orcpt = req->rcpts[i].orcpt;
	rcpts[i].notify = req->rcpts[i].notify;
	smtp_reply_init(&rcpts[i].reply);
    }
    deliver_request_connected(req);
    qfile_rewind(req->qf);
    ret = smtp_client_send(c, &msg, rcpts, req->rcpt_count);
    *retry_r = more && req->rcpt_count > 0 && smtp_all_temporary(rcpts, req->rcpt_count);
    if (*retry_r)
	smtp_next_host(st, d, rcpts);
    for (size_t i = 0; i < req->rcpt_count; i++) {
	if (!*retry_r)
	    smtp_report(req, i, d, rcpts + i);
	smtp_reply_free(&rcpts[i].reply);
    }
    mr_free(rcpts);
    return ret;
}

/* smtp_deliver - try each destination until one takes the transaction
 * (or refuses it for good: a 2xx or 5xx for some recipient) */
static void smtp_deliver(smtp_state_t *st)
{
    smtp_dest_list_t *dl;
    const char *err = NULL;
    const char *dsn = "4.4.3";
    int retry;

    if ((dl = smtp_dest_resolve(st->req->nexthop, st->lmtp, &dsn, &err)) == NULL) {
	for (size_t i = 0; i < st->req->rcpt_count; i++)
	    (dsn[0] == '5' ? deliver_bounced : deliver_deferred)(st->req, i, "none", dsn, "%s",
								 err);
	return;
    }
    for (size_t n = 0; n < dl->count; n++) {
	smtp_client_t *c = smtp_session_open(st, dl->dests + n);

	if (c == NULL)
	    continue;
	if (smtp_transaction(st, c, dl->dests + n, n + 1 < dl->count, &retry) >= 0)
	    smtp_client_quit(c);
	smtp_client_free(&c);
	if (retry)
	    continue;
	smtp_dest_free(&dl);
	return;
    }
    for (size_t i = 0; i < st->req->rcpt_count; i++)
	(st->dsn[0] == '5' ? deliver_bounced : deliver_deferred)(st->req, i, "none", st->dsn, "%s",
								 str_data(st->why));
    smtp_dest_free(&dl);
}

/* smtp_service - one delivery request */
static void smtp_service(stream_t *client, const char *service)
{
    smtp_state_t st = {0};

    if (deliver_request_read(client, &st.req) != 1)
	return;
    st.lmtp = strcmp(service, "lmtp") == 0 || strcmp(st.req->transport, "lmtp") == 0;
    st.helo = config_str("smtp_helo_name");
    st.connect_timeout = (int)config_time("smtp_connect_timeout");
    st.reply_timeout = (int)config_time("smtp_reply_timeout");
    st.no_downgrade = config_bool("disable_mime_output_conversion");
    st.why = str_new(256);
    str_set(st.why, "no destination to try");
    snprintf(st.dsn, sizeof(st.dsn), "4.4.3");
    smtp_deliver(&st);
    str_free(&st.why);
    deliver_request_done(client, &st.req);
}

/* smtp_pre_init - the TLS client context, while the CA store is readable */
static void smtp_pre_init(const char *service)
{
    const char *err;

    smtp_tls_level = tls_mail_level("smtp_tls_security_level");
    if (smtp_tls_level != TLS_LEV_NONE &&
	(smtp_tls_ctx = tls_mail_client_init("smtp", &err)) == NULL)
	msg_warn("TLS client disabled: %s", err);
    smtp_dest_init();
}

int main(int argc, char **argv)
{
    static const server_params_t params = {
	.pre_init = smtp_pre_init,
	.service = smtp_service,
    };

    return single_server_main(argc, argv, &params);
}
