/*
 * pop3d_login.c - the AUTHORIZATION state: CAPA, USER/PASS, AUTH.
 *
 * USER/PASS (RFC 1939) runs as the SASL PLAIN mechanism; AUTH (RFC 5034)
 * offers whatever mechanisms libsasl2 allows this session, with an
 * initial response or without ("=" for an empty one), and a client "*"
 * cancels. Cleartext passwords need TLS unless pop3d_cleartext_auth
 * allows them (pop3d_sasl.c): then USER is not in CAPA, USER and PASS
 * are refused, and PLAIN and LOGIN are not offered.
 *
 * A failed login is answered "-ERR [AUTH]" after pop3d_auth_failure_delay
 * and counts as a bad command (pop3d_error_limit); a password backend in
 * trouble is "-ERR [SYS/TEMP]"; a user whose mailbox cannot be served
 * here is "-ERR [SYS/PERM]". The password never reaches the log.
 */
#include <openssl/evp.h>
#include <string.h>

#include "pop3d.h"
#include "util/msg.h"
#include "util/mymalloc.h"

/* pop3d_login_capa - RFC 2449 capabilities, as this state allows */
void pop3d_login_capa(pop3d_session_t *s, char **argv, int argc)
{
    str_t *out = str_new(256);
    const char *mechs;

    str_appends(out, "+OK Capability list follows\r\nTOP\r\nUIDL\r\nRESP-CODES\r\n"
		     "AUTH-RESP-CODE\r\nPIPELINING\r\nUTF8\r\n");
    if (s->state == POP3D_AUTHORIZATION) {
	if (pop3d_sasl_cleartext_ok(s))
	    str_appends(out, "USER\r\n");
	if (*(mechs = pop3d_sasl_mechs(s)))
	    str_appendf(out, "SASL %s\r\n", mechs);
	if (pop3d_tls_offer(s))
	    str_appends(out, "STLS\r\n");
    }
    str_appends(out, "IMPLEMENTATION Mailroom\r\n.");
    pop3d_reply(s, "%s", str_data(out));
    str_free(&out);
}

/* pop3d_login_reset - forget USER and any SASL exchange */
void pop3d_login_reset(pop3d_session_t *s)
{
    mr_free(s->user);
    s->user = NULL;
    mr_free(s->auth_mech);
    s->auth_mech = NULL;
    pop3d_sasl_free(s);
    mr_free(s->mechs);
    s->mechs = NULL;
    if (s->line)
	pop3d_line_set_max(s->line, POP3D_LINE_MAX);
}

/* login_success - the password is right: the mailbox process takes
 * over (the auth process has named the user to the parent) */
static void login_success(pop3d_session_t *s, char *user)
{
    s->handoff = 1;
    mr_free(user);
}

/* pop3d_login_ready - see pop3d.h */
void pop3d_login_ready(pop3d_session_t *s)
{
    msg_info("login: user=<%s>, client=%s, messages=%zu%s", s->login.name, s->addr, s->count,
	     s->tls_on ? ", tls" : "");
    s->state = POP3D_TRANSACTION;
    pop3d_reply(s, "+OK Logged in, %zu messages", s->count);
}

/* login_failed - wrong credentials (the auth process has already
 * waited pop3d_auth_failure_delay): log, answer, count */
static void login_failed(pop3d_session_t *s, const char *user, const char *mech)
{
    msg_warn("authentication failed: user=<%s>, client=%s, method=%s", user ? user : "", s->addr,
	     mech);
    pop3d_bad_command(s, "[AUTH] Authentication failed");
}

/* login_result - the end of a SASL exchange: the reply, the log */
static void login_result(pop3d_session_t *s, int r, char *user, const char *mech, const char *name,
			 const char *reason)
{
    if (r == AUTH_SASL_OK) {
	login_success(s, user);
    } else if (r == AUTH_SASL_FAIL || r == AUTH_SASL_BADB64) {
	login_failed(s, name, mech);
    } else if (r == AUTH_SASL_NOMECH) {
	pop3d_bad_command(s, "Unsupported authentication mechanism");
    } else if (r == AUTH_SASL_ENCRYPT) {
	pop3d_bad_command(s, "[AUTH] Cleartext authentication needs TLS first (STLS)");
    } else {
	msg_warn("login from %s: %s", s->addr, reason ? reason : "SASL error");
	pop3d_reply(s, "-ERR [SYS/TEMP] Temporary failure, try again later");
    }
}

/* login_cleartext - may USER/PASS go on? 1 yes, 0 refused (answered) */
static int login_cleartext(pop3d_session_t *s)
{
    if (pop3d_tls_required(s))
	return 0;
    if (pop3d_sasl_cleartext_ok(s))
	return 1;
    pop3d_bad_command(s, "[AUTH] Cleartext authentication needs TLS first (STLS)");
    return 0;
}

/* pop3d_login_user - remember the name for PASS */
void pop3d_login_user(pop3d_session_t *s, char **argv, int argc)
{
    if (!login_cleartext(s))
	return;
    mr_free(s->user);
    s->user = mr_strdup(argv[1]);
    pop3d_reply(s, "+OK");
}

/* plain_response - "\0user\0pass" in base64 */
static char *plain_response(const char *user, const char *pass)
{
    size_t ulen = strlen(user), plen = strlen(pass), len = ulen + plen + 2;
    unsigned char *raw = mr_alloc(len);
    char *b64 = mr_alloc(4 * ((len + 2) / 3) + 1);

    raw[0] = 0;
    memcpy(raw + 1, user, ulen);
    raw[1 + ulen] = 0;
    memcpy(raw + 2 + ulen, pass, plen);
    EVP_EncodeBlock((unsigned char *)b64, raw, (int)len);
    memset(raw, 0, len);
    mr_free(raw);
    return b64;
}

/* pop3d_login_pass - USER/PASS as SASL PLAIN */
void pop3d_login_pass(pop3d_session_t *s, char **argv, int argc)
{
    str_t *out = str_new(64);
    char *b64, *user = NULL;
    const char *reason = NULL;
    int r;

    if (s->user == 0) {
	pop3d_bad_command(s, "USER first");
	str_free(&out);
	return;
    }
    if (!login_cleartext(s)) {
	pop3d_login_reset(s);
	str_free(&out);
	return;
    }
    b64 = plain_response(s->user, argv[1]);
    r = pop3d_sasl_start(s, "PLAIN", b64, out, &user, &reason);
    memset(b64, 0, strlen(b64));
    mr_free(b64);
    if (r == AUTH_SASL_MORE || r == AUTH_SASL_NOMECH || r == AUTH_SASL_ENCRYPT)
	r = AUTH_SASL_ERROR, reason = "the SASL layer does not take PLAIN for USER/PASS";
    login_result(s, r, user, "USER", s->user, reason);
    pop3d_login_reset(s);
    str_free(&out);
}

/* auth_list - "AUTH" alone: the mechanisms, one per line */
static void auth_list(pop3d_session_t *s)
{
    char *mechs = mr_strdup(pop3d_sasl_mechs(s)), *cp = mechs, *m;
    str_t *out = str_new(128);

    str_appends(out, "+OK Mechanisms follow");
    while ((m = next_token(&cp, " ")) != NULL)
	str_appendf(out, "\r\n%s", m);
    str_appends(out, "\r\n.");
    pop3d_reply(s, "%s", str_data(out));
    str_free(&out);
    mr_free(mechs);
}

/* auth_next - after a start or a step: a challenge, or the end */
static void auth_next(pop3d_session_t *s, int r, str_t *out, char *user, const char *reason)
{
    char *mech;

    if (r == AUTH_SASL_MORE && !s->done) {
	pop3d_reply(s, "+ %s", str_data(out));
	pop3d_line_set_max(s->line, POP3D_LINE_AUTH_MAX);
	return;
    }
    mech = s->auth_mech;
    s->auth_mech = NULL;
    pop3d_login_reset(s);
    login_result(s, r, user, mech, NULL, reason);
    mr_free(mech);
}

/* pop3d_login_auth - AUTH [mechanism [initial-response]] */
void pop3d_login_auth(pop3d_session_t *s, char **argv, int argc)
{
    str_t *out;
    char *user = NULL;
    const char *reason = NULL;
    int r;

    if (argc < 2) {
	auth_list(s);
	return;
    }
    if (pop3d_tls_required(s))
	return;
    mr_free(s->user);
    s->user = NULL;
    out = str_new(128);
    s->auth_mech = mr_strdup(argv[1]);
    r = pop3d_sasl_start(s, argv[1], argc > 2 ? argv[2] : NULL, out, &user, &reason);
    auth_next(s, r, out, user, reason);
    str_free(&out);
}

/* pop3d_login_auth_response - one client line of the exchange */
void pop3d_login_auth_response(pop3d_session_t *s, const char *line)
{
    str_t *out;
    char *user = NULL;
    const char *reason = NULL;
    int r;

    if (strcmp(line, "*") == 0) {
	pop3d_login_reset(s);
	pop3d_bad_command(s, "Authentication cancelled");
	return;
    }
    out = str_new(128);
    r = pop3d_sasl_step(s, line, out, &user, &reason);
    auth_next(s, r, out, user, reason);
    str_free(&out);
}
