/*
 * pop3d_sasl.c - password checks of a POP3 session, as the login process
 * sees them: requests to the connection's auth process
 * (pop3d_authd.c), which holds libsasl2 and the password backends.
 *
 * USER/PASS and AUTH both end here, so every password backend Cyrus
 * knows (sasldb, saslauthd/PAM, ...) serves both, and the same users log
 * in over SMTP AUTH and POP3.
 *
 * Cleartext passwords (USER/PASS, PLAIN, LOGIN) are refused without TLS
 * unless pop3d_cleartext_auth says otherwise: "loopback" (the default)
 * also takes them from 127.0.0.0/8 and ::1, where nothing crosses a
 * network; "yes" everywhere; "no" only over TLS. The login process uses
 * the rule for what it offers; the auth process enforces it (libsasl2's
 * "noplaintext").
 */
#include <stdio.h>
#include <string.h>

#include "pop3d.h"
#include "util/attr.h"
#include "util/msg.h"
#include "util/mymalloc.h"

static stream_t *sasl_chan; /* to the auth process */

/* pop3d_sasl_channel - see pop3d.h */
void pop3d_sasl_channel(stream_t *chan)
{
    sasl_chan = chan;
}

/* pop3d_sasl_cleartext_ok - see pop3d.h */
int pop3d_sasl_cleartext_ok(const pop3d_session_t *s)
{
    return pop3d_cleartext_allowed(s->addr, s->tls != NULL);
}

/* sasl_call - one request and its answer; 0 ok, -1 the auth process is
 * gone */
static int sasl_call(pop3d_session_t *s, attr_list_t *req, attr_list_t *rep)
{
    attr_addf(req, "tls", "%d", s->tls ? tls_conn_bits(s->tls, NULL) : 0);
    if (sasl_chan && attr_write(sasl_chan, req) == 0 && attr_read(sasl_chan, rep) > 0)
	return 0;
    msg_warn("%s: the auth process does not answer", s->addr);
    return -1;
}

/* pop3d_sasl_mechs - see pop3d.h */
const char *pop3d_sasl_mechs(pop3d_session_t *s)
{
    attr_list_t *req = attr_list_new(), *rep = attr_list_new();
    const char *m;

    attr_add(req, "request", "mechs");
    mr_free(s->mechs);
    s->mechs = mr_strdup(sasl_call(s, req, rep) == 0 && (m = attr_get(rep, "mechs")) ? m : "");
    attr_list_free(&req);
    attr_list_free(&rep);
    return s->mechs;
}

/* sasl_exchange - start or step */
static int sasl_exchange(pop3d_session_t *s, attr_list_t *req, str_t *out, char **user_r,
			 const char **reason_r)
{
    static char reason[256];
    attr_list_t *rep = attr_list_new();
    int r = AUTH_SASL_ERROR;

    *reason_r = "the auth process does not answer";
    if (sasl_call(s, req, rep) == 0) {
	r = pop3d_sasl_status(attr_get(rep, "status"));
	snprintf(reason, sizeof(reason), "%s",
		 attr_get(rep, "reason") ? attr_get(rep, "reason") : "");
	*reason_r = reason[0] ? reason : NULL;
	if (r == AUTH_SASL_MORE)
	    str_set(out, attr_get(rep, "challenge") ? attr_get(rep, "challenge") : "");
	if (r == AUTH_SASL_OK) /* the auth process is done and gone */
	    *user_r = mr_strdup(attr_get(rep, "user") ? attr_get(rep, "user") : ""),
	    s->sasl_used = 0;
    }
    attr_list_free(&req);
    attr_list_free(&rep);
    return r;
}

/* pop3d_sasl_start - see pop3d.h */
int pop3d_sasl_start(pop3d_session_t *s, const char *mech, const char *initial, str_t *out,
		     char **user_r, const char **reason_r)
{
    attr_list_t *req = attr_list_new();

    s->sasl_used = 1;
    attr_add(req, "request", "start");
    attr_add(req, "mech", mech);
    if (initial)
	attr_add(req, "initial", initial);
    return sasl_exchange(s, req, out, user_r, reason_r);
}

/* pop3d_sasl_step - see pop3d.h */
int pop3d_sasl_step(pop3d_session_t *s, const char *response, str_t *out, char **user_r,
		    const char **reason_r)
{
    attr_list_t *req = attr_list_new();

    attr_add(req, "request", "step");
    attr_add(req, "response", response);
    return sasl_exchange(s, req, out, user_r, reason_r);
}

/* pop3d_sasl_free - see pop3d.h: a new exchange starts from scratch */
void pop3d_sasl_free(pop3d_session_t *s)
{
    attr_list_t *req, *rep;

    if (!s->sasl_used)
	return;
    req = attr_list_new(), rep = attr_list_new();
    attr_add(req, "request", "reset");
    (void)sasl_call(s, req, rep);
    attr_list_free(&req);
    attr_list_free(&rep);
    s->sasl_used = 0;
}
