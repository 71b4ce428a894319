/*
 * pop3d_authd.c - the auth process of a POP3 connection: checks
 * passwords for the login process and names the user to the parent.
 *
 * It runs as mail_owner, not chrooted (the SASL backends read their
 * files and sockets at each check: the sasldb, saslauthd's socket), and
 * never sees the client's socket: the login process sends it SASL
 * requests over a socket pair, as attribute lists (util/attr.h, bounded):
 *
 *   request=mechs                         -> mechs=PLAIN LOGIN ...
 *   request=start mech=M [initial=B64]    -> status=... [challenge=B64]
 *   request=step response=B64             -> status=... [challenge=B64]
 *   request=reset                         -> status=ok
 *
 * Every request carries tls=BITS (0: no TLS): the mechanisms that send
 * the password in clear are allowed over TLS, or where
 * pop3d_cleartext_auth says (the client address comes from the parent,
 * not from the login process). status is one of ok, more, fail, nomech,
 * encrypt, badb64, error (auth/auth_sasl.h); reason= may say more.
 *
 * A wrong password is answered after pop3d_auth_failure_delay, and after
 * pop3d_error_limit of them the process exits (the login process then
 * answers [SYS/TEMP] to any further attempt).
 *
 * On success it writes user=NAME to the parent first, then answers the
 * login process, and exits: the parent learns who logged in from this
 * process only, so a login process that an attacker took over cannot
 * name a user it did not authenticate as.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "global/config.h"
#include "global/mail_params.h"
#include "pop3d.h"
#include "util/attr.h"
#include "util/msg.h"
#include "util/mymalloc.h"

typedef struct authd {
    const pop3d_conn_t *conn; /* the client's addresses */
    auth_sasl_t *sasl;        /* made for tls_bits */
    int tls_bits;
    int failures; /* wrong passwords so far */
} authd_t;

static const char *authd_status[] = {"ok", "more", "fail", "nomech", "encrypt", "badb64", "error"};

/* authd_status_name - the wire name of an AUTH_SASL_ result */
static const char *authd_status_name(int r)
{
    return r == AUTH_SASL_OK     ? authd_status[0]
	   : r == AUTH_SASL_MORE ? authd_status[1]
				 : authd_status[1 - r];
}

/* pop3d_sasl_status - see pop3d.h */
int pop3d_sasl_status(const char *name)
{
    for (int i = 0; name && i < 7; i++)
	if (strcmp(name, authd_status[i]) == 0)
	    return i == 0 ? AUTH_SASL_OK : i == 1 ? AUTH_SASL_MORE : 1 - i;
    return AUTH_SASL_ERROR;
}

/* pop3d_cleartext_allowed - see pop3d.h */
int pop3d_cleartext_allowed(const char *addr, int tls)
{
    const char *policy = config_str("pop3d_cleartext_auth");

    if (tls || strcasecmp(policy, "yes") == 0)
	return 1;
    if (strcasecmp(policy, "loopback") == 0)
	return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0 ||
	       strncmp(addr, "::ffff:127.", 11) == 0 || strcmp(addr, "local") == 0;
    if (strcasecmp(policy, "no") != 0)
	msg_fatal("pop3d_cleartext_auth: expected no, loopback or yes, not \"%s\"", policy);
    return 0;
}

/* authd_context - the SASL context for this TLS state */
static auth_sasl_t *authd_context(authd_t *a, int tls_bits)
{
    char local[80], remote[80];
    auth_sasl_args_t args = {0};
    const char *error;

    if (a->sasl && a->tls_bits == tls_bits)
	return a->sasl;
    auth_sasl_free(&a->sasl);
    snprintf(local, sizeof(local), "%s;%d", a->conn->laddr, a->conn->lport);
    snprintf(remote, sizeof(remote), "%s;%d", a->conn->addr, a->conn->port);
    args.service = "pop";
    args.server_name = config_str("myhostname");
    args.user_realm = config_str("pop3d_sasl_local_domain");
    args.local_addr = local;
    args.remote_addr = remote;
    args.security_options = pop3d_cleartext_allowed(a->conn->addr, tls_bits > 0)
				? "noanonymous"
				: "noanonymous, noplaintext";
    args.tls_bits = tls_bits;
    a->tls_bits = tls_bits;
    if ((a->sasl = auth_sasl_new(&args, &error)) == NULL)
	msg_warn("SASL initialization for %s failed: %s", a->conn->addr, error);
    return a->sasl;
}

/* authd_failed - a wrong password: the pause is taken here, not in the
 * login process, so that even a login process under an attacker's
 * control guesses no faster; after pop3d_error_limit the process ends */
static void authd_failed(authd_t *a)
{
    if (var_pop3d_auth_failure_delay > 0)
	sleep((unsigned)var_pop3d_auth_failure_delay);
    if (++a->failures >= var_pop3d_error_limit) {
	msg_warn("too many failed logins from %s", a->conn->addr);
	_exit(0);
    }
}

/* authd_exchange - start or step; the reply list in out */
static int authd_exchange(authd_t *a, const attr_list_t *req, attr_list_t *out)
{
    const char *what = attr_get(req, "request"), *reason = NULL;
    auth_sasl_t *sasl = authd_context(a, (int)attr_get_long(req, "tls", 0));
    str_t *chal = str_new(128);
    int r;

    if (sasl == NULL)
	r = AUTH_SASL_ERROR, reason = "SASL is unavailable";
    else if (strcmp(what, "start") == 0 && attr_get(req, "mech"))
	r = auth_sasl_start(sasl, attr_get(req, "mech"), attr_get(req, "initial"), chal, &reason);
    else if (attr_get(req, "response"))
	r = auth_sasl_step(sasl, attr_get(req, "response"), chal, &reason);
    else
	r = AUTH_SASL_ERROR, reason = "malformed request";
    if (r == AUTH_SASL_FAIL || r == AUTH_SASL_BADB64)
	authd_failed(a);
    attr_add(out, "status", authd_status_name(r));
    if (r == AUTH_SASL_MORE)
	attr_add(out, "challenge", str_data(chal));
    if (reason)
	attr_add(out, "reason", reason);
    str_free(&chal);
    return r;
}

/* authd_request - one request; 1 go on, 0 the user is known, -1 stop */
static int authd_request(authd_t *a, const attr_list_t *req, stream_t *login, stream_t *parent)
{
    const char *what = attr_get(req, "request");
    attr_list_t *out = attr_list_new();
    int r = 1;

    if (what == NULL) {
	r = -1;
    } else if (strcmp(what, "mechs") == 0) {
	auth_sasl_t *sasl = authd_context(a, (int)attr_get_long(req, "tls", 0));

	attr_add(out, "mechs", sasl ? auth_sasl_mechs(sasl) : "");
    } else if (strcmp(what, "reset") == 0) {
	auth_sasl_free(&a->sasl);
	attr_add(out, "status", "ok");
    } else if (authd_exchange(a, req, out) == AUTH_SASL_OK) {
	attr_add(out, "user", auth_sasl_username(a->sasl));
	r = attr_send(parent, "user", auth_sasl_username(a->sasl), (char *)0) < 0 ? -1 : 0;
    }
    if (r >= 0 && attr_write(login, out) < 0)
	r = -1;
    attr_list_free(&out);
    return r;
}

/* pop3d_authd_serve - see pop3d.h */
void pop3d_authd_serve(const pop3d_conn_t *conn, stream_t *login, stream_t *parent)
{
    authd_t a = {.conn = conn};
    attr_list_t *req = attr_list_new();

    while (attr_read(login, req) > 0 && authd_request(&a, req, login, parent) > 0)
	;
    auth_sasl_free(&a.sasl);
    attr_list_free(&req);
}
