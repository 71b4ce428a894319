/*
 * smtpd_auth.c - SMTP AUTH (RFC 4954) through lib/auth (Cyrus SASL), and
 * the sender-login check for authenticated clients.
 *
 * Offered (EHLO "AUTH mech ...") when smtpd_sasl_auth_enable = yes and,
 * with smtpd_tls_auth_only = yes (the default), only once TLS is on,
 * except for clients in smtpd_tls_auth_only_exceptions. Mechanisms are
 * those of the installed Cyrus modules that the Cyrus configuration and
 * the security options allow: smtpd_sasl_security_options in clear
 * (default noanonymous, noplaintext: no PLAIN or LOGIN without TLS),
 * smtpd_sasl_tls_security_options over TLS and for the exceptions.
 *
 * Failed attempts: each failure is logged in the shape fail2ban's
 * postfix filter matches ("warning: unknown[ADDR]: SASL PLAIN
 * authentication failed: authentication failure"), answered after a
 * delay that doubles with every failure in the session
 * (smtpd_sasl_failure_delay, at most 32 times it), and the session ends
 * after smtpd_sasl_failure_limit failures. That count is per session;
 * across sessions anvil counts the failures per client address, and
 * smtpd_anvil_auth refuses the AUTH of a client over
 * smtpd_client_auth_rate_limit (smtpd_anvil.c).
 *
 * Trust: the client's responses are bounded (AUTH_LINE_MAX) base64;
 * libsasl2 decides. The sender login table comes from root.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "auth/auth_sasl.h"
#include "global/net_list.h"
#include "global/config.h"
#include "table/table.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/sock.h"
#include "util/tls.h"
#include "smtpd.h"

#define AUTH_LINE_MAX 16384 /* one response line, CRLF included */

static int auth_enabled;
static table_list_t *auth_login_maps;

/* smtpd_auth_pre_init - load the modules and the sender login table */
void smtpd_auth_pre_init(void)
{
    const char *error;

    if (*config_str("smtpd_sender_login_maps") &&
	(auth_login_maps = table_list_open(config_str("smtpd_sender_login_maps"), &error)) == NULL)
	msg_fatal("smtpd_sender_login_maps: %s", error);
    if (!config_bool("smtpd_sasl_auth_enable"))
	return;
    if (auth_sasl_init(config_str("smtpd_sasl_path"), config_str("cyrus_sasl_config_path"),
		       &error) < 0) {
	msg_warn("SASL authentication is unavailable: %s", error);
	return;
    }
    auth_enabled = 1;
}

/* smtpd_auth_exempt - may this client authenticate without TLS? */
static int smtpd_auth_exempt(smtpd_state_t *st)
{
    return net_list_match(st->addr, config_str("smtpd_tls_auth_only_exceptions"));
}

/* smtpd_auth_context - the session's SASL context, made when first needed */
static auth_sasl_t *smtpd_auth_context(smtpd_state_t *st)
{
    char local[80], remote[80], laddr[64];
    int lport = 0, plain_ok = st->tls != NULL || smtpd_auth_exempt(st);
    auth_sasl_args_t a = {0};
    const char *error;

    if (st->sasl)
	return st->sasl;
    sock_local_addr(stream_fd(st->client), laddr, sizeof(laddr), &lport);
    snprintf(local, sizeof(local), "%s;%d", laddr, lport);
    snprintf(remote, sizeof(remote), "%s;%d", st->addr, st->port);
    a.service = "smtp";
    a.server_name = var_myhostname;
    a.user_realm = config_str("smtpd_sasl_local_domain");
    a.local_addr = local;
    a.remote_addr = remote;
    a.security_options =
	config_str(plain_ok ? "smtpd_sasl_tls_security_options" : "smtpd_sasl_security_options");
    a.tls_bits = st->tls ? tls_conn_bits(st->tls, NULL) : 0;
    if ((st->sasl = auth_sasl_new(&a, &error)) == NULL)
	msg_warn("SASL per-connection initialization failed: %s", error);
    return st->sasl;
}

/* smtpd_auth_allowed - AUTH possible in this state of the session? */
static int smtpd_auth_allowed(smtpd_state_t *st)
{
    return auth_enabled &&
	   (st->tls != NULL || !config_bool("smtpd_tls_auth_only") || smtpd_auth_exempt(st));
}

/* smtpd_auth_ehlo - "AUTH PLAIN LOGIN ..." or NULL */
const char *smtpd_auth_ehlo(smtpd_state_t *st)
{
    static char line[512];
    auth_sasl_t *s;

    if (!smtpd_auth_allowed(st) || st->sasl_username || (s = smtpd_auth_context(st)) == NULL ||
	*auth_sasl_mechs(s) == 0)
	return NULL;
    snprintf(line, sizeof(line), "AUTH %s", auth_sasl_mechs(s));
    return line;
}

/* smtpd_auth_reset - forget the user and the SASL context */
void smtpd_auth_reset(smtpd_state_t *st)
{
    auth_sasl_t *s = st->sasl;

    auth_sasl_free(&s);
    st->sasl = NULL;
    mr_free(st->sasl_username);
    mr_free(st->sasl_method);
    st->sasl_username = st->sasl_method = NULL;
}

/* smtpd_auth_fail - log, delay, reply 535, count towards the limit */
static void smtpd_auth_fail(smtpd_state_t *st, const char *mech, const char *reason)
{
    long delay = config_time("smtpd_sasl_failure_delay");
    int n = ++st->auth_failures;
    struct timespec ts;

    msg_warn("%s: SASL %s authentication failed: %s", st->namaddr, mech, reason);
    smtpd_anvil_auth_failed(st);
    if (delay > 0) {
	ts.tv_sec = delay << (n - 1 < 5 ? n - 1 : 5);
	ts.tv_nsec = 0;
	if (stream_flush(st->client) == 0)
	    nanosleep(&ts, NULL);
    }
    smtpd_count(st, "auth", 0);
    smtpd_reply(st, "535 5.7.8 Error: authentication failed: %s", reason);
    if (n >= (int)config_int("smtpd_sasl_failure_limit", 1, 1000)) {
	msg_info("too many failed authentications from %s", st->namaddr);
	smtpd_reply(st, "421 4.7.0 %s Error: too many failed authentications", var_myhostname);
	st->done = 1;
    }
}

/* smtpd_auth_response - read one response line (without CRLF) into
 * st->line; 0 ok, -1 after replying or losing the client */
static int smtpd_auth_response(smtpd_state_t *st)
{
    size_t len;

    str_reset(st->line);
    switch (stream_read_line(st->client, st->line, AUTH_LINE_MAX)) {
    case STREAM_LINE:
	break;
    case STREAM_PARTIAL:
	if (stream_skip_line(st->client) == 1) {
	    smtpd_count(st, "auth", 0);
	    smtpd_reply(st, "500 5.5.6 Authentication Exchange line is too long");
	    smtpd_error(st);
	    return -1;
	}
	/* FALLTHROUGH */
    default:
	smtpd_lost(st);
	return -1;
    }
    len = str_len(st->line);
    while (len > 0 && (str_data(st->line)[len - 1] == '\n' || str_data(st->line)[len - 1] == '\r'))
	len--;
    str_truncate(st->line, len);
    return 0;
}

/* smtpd_auth_exchange - challenges and responses until a result */
static int smtpd_auth_exchange(smtpd_state_t *st, auth_sasl_t *s, const char *mech,
			       const char *initial, const char **reason_r)
{
    str_t *out = str_new(128);
    int r = auth_sasl_start(s, mech, initial, out, reason_r);

    while (r == AUTH_SASL_MORE && !st->done) {
	smtpd_reply(st, "334 %s", str_data(out));
	if (smtpd_auth_response(st) < 0) {
	    r = AUTH_SASL_ERROR;
	    *reason_r = NULL;
	    break;
	}
	if (strcmp(str_data(st->line), "*") == 0) {
	    smtpd_count(st, "auth", 0);
	    smtpd_reply(st, "501 5.7.0 Authentication aborted");
	    smtpd_error(st);
	    r = AUTH_SASL_ERROR;
	    *reason_r = NULL;
	    break;
	}
	r = auth_sasl_step(s, str_data(st->line), out, reason_r);
    }
    str_free(&out);
    return r;
}

/* smtpd_auth_success - remember the user */
static void smtpd_auth_success(smtpd_state_t *st, auth_sasl_t *s, const char *mech)
{
    st->sasl_username = mr_strdup(auth_sasl_username(s));
    st->sasl_method = mr_strdup(mech);
    smtpd_set_protocol(st);
    smtpd_count(st, "auth", 1);
    smtpd_reply(st, "235 2.7.0 Authentication successful");
}

/* smtpd_auth_refuse - an AUTH that cannot start; 1 if refused */
static int smtpd_auth_refuse(smtpd_state_t *st, const char *mech)
{
    const char *reply = NULL;

    if (!auth_enabled)
	reply = "503 5.5.1 Error: authentication not enabled";
    else if (st->sasl_username)
	reply = "503 5.5.1 Error: already authenticated";
    else if (st->sender)
	reply = "503 5.5.1 Error: MAIL transaction in progress";
    else if (!smtpd_auth_allowed(st))
	reply = "530 5.7.0 Must issue a STARTTLS command first";
    else if (mech == NULL)
	reply = "501 5.5.4 Syntax: AUTH mechanism";
    if (reply == NULL)
	return 0;
    smtpd_count(st, "auth", 0);
    smtpd_reply(st, "%s", reply);
    smtpd_error(st);
    return 1;
}

/* smtpd_auth_finish - the reply to a finished exchange */
static void smtpd_auth_finish(smtpd_state_t *st, auth_sasl_t *s, const char *mech, int r,
			      const char *reason)
{
    if (r == AUTH_SASL_OK)
	smtpd_auth_success(st, s, mech);
    else if (r == AUTH_SASL_FAIL)
	smtpd_auth_fail(st, mech, reason);
    else if (r == AUTH_SASL_ERROR && reason == NULL)
	return; /* aborted or lost: replied */
    else {
	smtpd_count(st, "auth", 0);
	if (r == AUTH_SASL_NOMECH && st->tls == NULL &&
	    (strcmp(mech, "PLAIN") == 0 || strcmp(mech, "LOGIN") == 0))
	    smtpd_reply(st,
			"538 5.7.11 Encryption required for requested authentication mechanism");
	else if (r == AUTH_SASL_NOMECH)
	    smtpd_reply(st, "504 5.5.4 Unsupported authentication mechanism");
	else if (r == AUTH_SASL_BADB64)
	    smtpd_reply(st, "501 5.5.2 Cannot decode response");
	else
	    smtpd_reply(st, "454 4.7.0 Temporary authentication failure: %s", reason);
	if (r != AUTH_SASL_ERROR)
	    smtpd_error(st);
    }
}

/* smtpd_auth - AUTH mechanism [initial-response] */
void smtpd_auth(smtpd_state_t *st, char *args, int crlf)
{
    char *mech = next_token(&args, " \t"), *initial = next_token(&args, " \t");
    const char *reason = "";
    auth_sasl_t *s;
    int r;

    (void)crlf;
    if (smtpd_auth_refuse(st, mech))
	return;
    if (!smtpd_anvil_auth(st)) {
	smtpd_count(st, "auth", 0);
	return;
    }
    if ((s = smtpd_auth_context(st)) == NULL) {
	smtpd_count(st, "auth", 0);
	smtpd_reply(st, "454 4.7.0 Temporary authentication failure: server configuration");
	return;
    }
    mech = mr_strdup(mech); /* st->line is reused for responses */
    for (char *cp = mech; *cp; cp++)
	*cp = (char)toupper((unsigned char)*cp);
    r = smtpd_auth_exchange(st, s, mech, initial, &reason);
    smtpd_auth_finish(st, s, mech, r, reason);
    mr_free(mech);
}

/* smtpd_auth_owns - is login among the owners in value? */
static int smtpd_auth_owns(const char *value, const char *login)
{
    char *copy = mr_strdup(value), *cp = copy, *word;
    int found = 0;

    while (!found && (word = next_token(&cp, ", \t")) != NULL)
	found = strcasecmp(word, login) == 0;
    mr_free(copy);
    return found;
}

/* smtpd_auth_sender - an authenticated client sends only as its own */
int smtpd_auth_sender(smtpd_state_t *st, const char *sender)
{
    str_t *value;
    const char *error = "";
    int r;

    if (auth_login_maps == NULL || st->sasl_username == NULL || *sender == 0)
	return 0;
    value = str_new(64);
    r = table_list_lookup_addr(auth_login_maps, sender, config_str("recipient_delimiter"), 0, value,
			       &error);
    if (r < 0) {
	msg_warn("smtpd_sender_login_maps lookup for %s: %s", sender, error);
	smtpd_reply(st, "451 4.3.0 <%s>: Temporary lookup failure", sender);
    } else if (r == 0 || !smtpd_auth_owns(str_data(value), st->sasl_username)) {
	msg_info("NOQUEUE: reject: MAIL from %s: 553 5.7.1 <%s>: Sender address rejected: "
		 "not owned by user %s; proto=%s helo=<%s>",
		 st->namaddr, sender, st->sasl_username, st->protocol, st->helo);
	smtpd_reply(st, "553 5.7.1 <%s>: Sender address rejected: not owned by user %s", sender,
		    st->sasl_username);
	r = -1;
    }
    str_free(&value);
    if (r > 0)
	return 0;
    smtpd_count(st, "mail", 0);
    smtpd_error(st);
    return -1;
}
