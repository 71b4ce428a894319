/*
 * pop3d_sasl.c - password checks of a POP3 session, through the SASL
 * layer (auth/auth_sasl.h, Cyrus libsasl2, configured by
 * pop3d_sasl_path.conf in cyrus_sasl_config_path, like smtpd's AUTH).
 *
 * USER/PASS and AUTH both end here, so every password backend Cyrus
 * knows (sasldb, saslauthd/PAM, ...) serves both, and the same users log
 * in over SMTP AUTH and POP3.
 *
 * Cleartext passwords (USER/PASS, PLAIN, LOGIN) are refused without TLS
 * unless pop3d_cleartext_auth says otherwise: "loopback" (the default)
 * also takes them from 127.0.0.0/8 and ::1, where nothing crosses a
 * network; "yes" everywhere; "no" only over TLS. The refusal of the
 * mechanisms is libsasl2's ("noplaintext" in the security options).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "global/config.h"
#include "pop3d.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/sock.h"

/* sasl_loopback - is the client on this host? */
static int sasl_loopback(const char *addr)
{
    return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
	   strncmp(addr, "::ffff:127.", 11) == 0 || strcmp(addr, "local") == 0;
}

/* pop3d_sasl_cleartext_ok - see pop3d.h */
int pop3d_sasl_cleartext_ok(const pop3d_session_t *s)
{
    const char *policy = config_str("pop3d_cleartext_auth");

    if (s->tls != NULL || strcasecmp(policy, "yes") == 0)
	return 1;
    if (strcasecmp(policy, "loopback") == 0)
	return sasl_loopback(s->addr);
    if (strcasecmp(policy, "no") != 0)
	msg_fatal("pop3d_cleartext_auth: expected no, loopback or yes, not \"%s\"", policy);
    return 0;
}

/* sasl_context - the session's SASL context, made when first needed */
static auth_sasl_t *sasl_context(pop3d_session_t *s)
{
    char local[80], remote[80], laddr[64];
    auth_sasl_args_t a = {0};
    const char *error;
    int lport = 0;

    if (s->sasl)
	return s->sasl;
    sock_local_addr(stream_fd(s->client), laddr, sizeof(laddr), &lport);
    snprintf(local, sizeof(local), "%s;%d", laddr, lport);
    snprintf(remote, sizeof(remote), "%s;%d", s->addr, s->port);
    a.service = "pop";
    a.server_name = config_str("myhostname");
    a.user_realm = config_str("pop3d_sasl_local_domain");
    a.local_addr = local;
    a.remote_addr = remote;
    a.security_options = pop3d_sasl_cleartext_ok(s) ? "noanonymous" : "noanonymous, noplaintext";
    a.tls_bits = s->tls ? tls_conn_bits(s->tls, NULL) : 0;
    if ((s->sasl = auth_sasl_new(&a, &error)) == NULL)
	msg_warn("SASL initialization for %s failed: %s", s->addr, error);
    return s->sasl;
}

/* pop3d_sasl_mechs - see pop3d.h */
const char *pop3d_sasl_mechs(pop3d_session_t *s)
{
    auth_sasl_t *a = sasl_context(s);

    return a ? auth_sasl_mechs(a) : "";
}

/* sasl_result - the user name after success */
static int sasl_result(pop3d_session_t *s, int r, char **user_r)
{
    if (r == AUTH_SASL_OK)
	*user_r = mr_strdup(auth_sasl_username(s->sasl));
    return r;
}

/* pop3d_sasl_start - see pop3d.h */
int pop3d_sasl_start(pop3d_session_t *s, const char *mech, const char *initial, str_t *out,
		     char **user_r, const char **reason_r)
{
    if (sasl_context(s) == NULL) {
	*reason_r = "SASL is unavailable";
	return AUTH_SASL_ERROR;
    }
    return sasl_result(s, auth_sasl_start(s->sasl, mech, initial, out, reason_r), user_r);
}

/* pop3d_sasl_step - see pop3d.h */
int pop3d_sasl_step(pop3d_session_t *s, const char *response, str_t *out, char **user_r,
		    const char **reason_r)
{
    if (s->sasl == NULL) {
	*reason_r = "no exchange";
	return AUTH_SASL_ERROR;
    }
    return sasl_result(s, auth_sasl_step(s->sasl, response, out, reason_r), user_r);
}

/* pop3d_sasl_free - see pop3d.h */
void pop3d_sasl_free(pop3d_session_t *s)
{
    auth_sasl_free(&s->sasl);
}
