/*
 * params_tls.c - TLS parameters shared by every server and client, and
 * those of the SMTP client side. The per-server ones (smtpd_tls_*) live
 * with their server; docs/tls.md explains each.
 */

#include "config.h"

const param_def_t params_tls[] = {
    /* TLS 1.3 cipher suites (OpenSSL syntax); empty: OpenSSL's default */
    PARAM_STR("tls_ciphersuites", "", NULL),
    /* the server's cipher order wins over the client's */
    PARAM_BOOL("tls_preempt_cipherlist", "yes", NULL),
    /* 48-byte secret from which every server process derives the same
     * session-ticket keys (created at first use; empty: per process) */
    PARAM_STR("tls_session_ticket_key_file", "$data_directory/tls_ticket.key", NULL),
    /* texthash: table "server.name  cert.pem [key.pem]" for SNI */
    PARAM_TABLE("tls_server_sni_maps", "", NULL),
    /* SMTP client: none | may | encrypt | verify */
    PARAM_STR("smtp_tls_security_level", "none", NULL),
    /* SMTP client trust anchors; both empty: the system CA store */
    PARAM_STR("smtp_tls_CAfile", "", NULL),
    PARAM_STR("smtp_tls_CApath", "", NULL),
    PARAM_STR("smtp_tls_protocols", ">=TLSv1.2", NULL),
    PARAM_STR("smtp_tls_ciphers", "", NULL),
    PARAM_TIME("smtp_tls_session_cache_timeout", "3600s", 60, 7 * 86400, NULL),
    PARAM_END,
};
