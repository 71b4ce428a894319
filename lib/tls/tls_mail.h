/*
 * tls_mail.h - TLS as the mail programs configure it.
 *
 * lib/util/tls knows OpenSSL and nothing else; this layer reads the
 * parameters (PREFIX_tls_cert_file, PREFIX_tls_key_file, ... for a
 * server or client named PREFIX: "smtpd", "smtp", later "pop3d",
 * "imapd"), the shared session-ticket secret, and the SNI table, and
 * names the security levels.
 */
#ifndef MR_TLS_MAIL_H
#define MR_TLS_MAIL_H

#include "util/tls.h"

/* TLS security levels (smtpd_tls_security_level, smtp_tls_security_level) */
#define TLS_LEV_NONE 0    /* no TLS */
#define TLS_LEV_MAY 1     /* offer/use it when the peer can */
#define TLS_LEV_ENCRYPT 2 /* required, any certificate */
#define TLS_LEV_VERIFY 3  /* required, verified certificate (client) */

/* tls_mail_level - the level named by parameter name's value; fatal if
 * the value is not one of none, may, encrypt, verify */
int tls_mail_level(const char *name);

/* tls_mail_server_init - the server context of PREFIX from its
 * parameters, with the shared ticket secret and the SNI certificates.
 * Privileged (reads keys): call before the privilege drop. NULL with
 * *error_r when a file is missing, unreadable or does not match. */
tls_ctx_t *tls_mail_server_init(const char *prefix, const char **error_r);
/* tls_mail_client_init - the client context of PREFIX (CA store) */
tls_ctx_t *tls_mail_client_init(const char *prefix, const char **error_r);

/* tls_mail_check - for "mailroom check": load PREFIX's certificate and
 * key; 1 loaded (expiry in *not_after_r), 0 none configured, -1 problem
 * (*error_r) */
int tls_mail_check(const char *prefix, time_t *not_after_r, const char **error_r);

#endif
