/*
 * auth_sasl.h - server-side SASL authentication over Cyrus SASL (libsasl2).
 *
 * One layer for every server that authenticates users (smtpd's AUTH now;
 * imapd's AUTHENTICATE, pop3d's AUTH and sieved's AUTHENTICATE later):
 * the protocol code passes base64 text in and out, and never sees
 * libsasl2. Mechanisms are whatever the installed Cyrus modules offer
 * (PLAIN, LOGIN, CRAM-MD5, DIGEST-MD5, SCRAM-*), narrowed by the
 * application's Cyrus configuration file (APPNAME.conf in
 * cyrus_sasl_config_path: mech_list, pwcheck_method, sasldb_path, ...)
 * and by the security options of the session: plain-text mechanisms
 * only over TLS unless allowed.
 *
 * Results: AUTH_SASL_OK (done; the user name is known), AUTH_SASL_MORE
 * (send the challenge, read another response), AUTH_SASL_FAIL (wrong
 * credentials: *reason_r), AUTH_SASL_NOMECH (mechanism not offered),
 * AUTH_SASL_ENCRYPT (mechanism needs TLS first), AUTH_SASL_BADB64
 * (response is not base64), AUTH_SASL_ERROR (local problem).
 */
#ifndef MR_AUTH_SASL_H
#define MR_AUTH_SASL_H

#include "util/str.h"

#define AUTH_SASL_OK 0
#define AUTH_SASL_MORE 1
#define AUTH_SASL_FAIL (-1)
#define AUTH_SASL_NOMECH (-2)
#define AUTH_SASL_ENCRYPT (-3)
#define AUTH_SASL_BADB64 (-4)
#define AUTH_SASL_ERROR (-5)

typedef struct auth_sasl auth_sasl_t;

/* auth_sasl_init - once per process, before the privilege drop (the
 * modules and the configuration are loaded here). app names the Cyrus
 * configuration file (app.conf), conf_path the folders searched for it
 * ("" for libsasl2's default). -1 with *error_r on failure. */
int auth_sasl_init(const char *app, const char *conf_path, const char **error_r);

typedef struct auth_sasl_args {
    const char *service;          /* "smtp", "imap", ... */
    const char *server_name;      /* our host name */
    const char *user_realm;       /* realm for user names without one, or "" */
    const char *local_addr;       /* "a.b.c.d;port" or NULL */
    const char *remote_addr;      /* "a.b.c.d;port" or NULL */
    const char *security_options; /* "noanonymous, noplaintext, ..." */
    int tls_bits;                 /* cipher strength when TLS is on, else 0 */
} auth_sasl_args_t;

/* auth_sasl_new - one authentication context for a session; NULL with
 * *error_r */
auth_sasl_t *auth_sasl_new(const auth_sasl_args_t *args, const char **error_r);
/* auth_sasl_free - release; sets *sp to NULL */
void auth_sasl_free(auth_sasl_t **sp);
/* auth_sasl_mechs - the mechanisms offered, space-separated ("" if none) */
const char *auth_sasl_mechs(auth_sasl_t *s);
/* auth_sasl_start - begin with mech; initial is the client's initial
 * response (base64, "=" for empty) or NULL. On AUTH_SASL_MORE the
 * challenge (base64) is in out. */
int auth_sasl_start(auth_sasl_t *s, const char *mech, const char *initial, str_t *out,
		    const char **reason_r);
/* auth_sasl_step - the client's next response (base64) */
int auth_sasl_step(auth_sasl_t *s, const char *response, str_t *out, const char **reason_r);
/* auth_sasl_username - the authenticated user after AUTH_SASL_OK */
const char *auth_sasl_username(auth_sasl_t *s);
/* auth_sasl_last_challenge - the last challenge sent (base64), for logs */
const char *auth_sasl_last_challenge(auth_sasl_t *s);

#endif
