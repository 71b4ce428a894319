/*
 * params_pop3d.c - parameters of the POP3 server; docs/pop3d.md explains
 * each.
 */
#include <limits.h>

#include "config.h"
#include "mail_params.h"

int var_pop3d_timeout;
int var_pop3d_login_timeout;
int var_pop3d_error_limit;
int var_pop3d_auth_failure_delay;

const param_def_t params_pop3d[] = {
    /* idle time allowed between two commands (RFC 1939: at least 10 minutes) */
    PARAM_TIME("pop3d_timeout", "600s", 1, INT_MAX, &var_pop3d_timeout),
    /* time from connect to a completed login (TLS handshake included): a
     * client that sends a byte now and then cannot keep a login process */
    PARAM_TIME("pop3d_login_timeout", "120s", 1, INT_MAX, &var_pop3d_login_timeout),
    /* bad commands (unknown, wrong state, bad arguments) before a hang-up */
    PARAM_INT("pop3d_error_limit", "10", 1, 100000, &var_pop3d_error_limit),
    /* pause before answering a failed PASS */
    PARAM_TIME("pop3d_auth_failure_delay", "1s", 0, 60, &var_pop3d_auth_failure_delay),
    /* Cyrus SASL application name: NAME.conf in cyrus_sasl_config_path */
    PARAM_STR("pop3d_sasl_path", "pop3d", NULL),
    /* SASL realm for login names without one ("" : libsasl2's default) */
    PARAM_STR("pop3d_sasl_local_domain", "", NULL),
    /* domain added to a login name without "@" to find its mailbox */
    PARAM_STR("pop3d_login_domain", "$mydomain", NULL),
    /* none (no STLS) | may (STLS offered) | encrypt (a login needs TLS first) */
    PARAM_STR("pop3d_tls_security_level", "may", NULL),
    /* yes: TLS from the first byte (port 995, RFC 8314), no STLS */
    PARAM_BOOL("pop3d_tls_wrappermode", "no", NULL),
    /* certificate and key: those of smtpd unless set */
    PARAM_STR("pop3d_tls_cert_file", "$smtpd_tls_cert_file", NULL),
    PARAM_STR("pop3d_tls_key_file", "$smtpd_tls_key_file", NULL),
    PARAM_STR("pop3d_tls_protocols", "$smtpd_tls_protocols", NULL),
    PARAM_STR("pop3d_tls_ciphers", "$smtpd_tls_ciphers", NULL),
    PARAM_TIME("pop3d_tls_session_cache_timeout", "3600s", 60, 7 * 86400, NULL),
    /* USER/PASS and AUTH PLAIN/LOGIN without TLS: no | loopback | yes */
    PARAM_STR("pop3d_cleartext_auth", "loopback", NULL),
    /* the unprivileged user of the login processes (TLS, commands); an
     * account of its own, not root and not mail_owner */
    PARAM_STR("pop3d_login_user", "mailroom-login", NULL),
    PARAM_END,
};
