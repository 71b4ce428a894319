/*
 * params_smtpd.c - parameters of the SMTP server (smtpd). Names follow
 * Postfix where Postfix has the same knob; docs/smtpd.md explains each.
 */
#include <limits.h>

#include "config.h"

const param_def_t params_smtpd[] = {
    PARAM_STR("smtpd_banner", "$myhostname ESMTP Mailroom", NULL),
    /* largest message (bytes of content as received); 0 = no limit */
    PARAM_SIZE("message_size_limit", "10240000", 0, LLONG_MAX, NULL),
    /* most recipients per message */
    PARAM_INT("smtpd_recipient_limit", "1000", 1, 1000000, NULL),
    /* longest SMTP command line, terminator included */
    PARAM_INT("line_length_limit", "2048", 512, 1 << 20, NULL),
    /* look up the client's name (PTR confirmed by A/AAAA, dns_servers)
     * for Received: and the logs; no: always "unknown" */
    PARAM_BOOL("smtpd_peername_lookup", "yes", NULL),
    /* the most both lookups together may take before the name is
     * "unknown" */
    PARAM_TIME("smtpd_peername_timeout", "5s", 1, 60, NULL),
    /* how long to wait for the client per read or write */
    PARAM_TIME("smtpd_timeout", "300s", 1, INT_MAX, NULL),
    /* error replies before we delay each reply, and before we hang up */
    PARAM_INT("smtpd_soft_error_limit", "10", 1, 100000, NULL),
    PARAM_INT("smtpd_hard_error_limit", "20", 1, 100000, NULL),
    PARAM_TIME("smtpd_error_sleep_time", "1s", 0, 3600, NULL),
    /* simultaneous sessions per client address (0 = no limit), and
     * the clients that are exempt */
    PARAM_INT("smtpd_client_connection_count_limit", "50", 0, 100000, NULL),
    /* connections per client address per anvil_rate_time_unit (0 = no
     * limit); counted by anvil */
    PARAM_INT("smtpd_client_connection_rate_limit", "0", 0, 1000000000, NULL),
    /* MAIL FROM commands per client address per anvil_rate_time_unit (0 =
     * no limit); counted by anvil */
    PARAM_INT("smtpd_client_message_rate_limit", "0", 0, 1000000000, NULL),
    /* failed AUTH commands per client address per anvil_rate_time_unit,
     * in all its sessions; 0 = no limit. On by default: without it a
     * guesser opens sessions in parallel, each with its own few tries */
    PARAM_INT("smtpd_client_auth_rate_limit", "10", 0, 1000000000, NULL),
    PARAM_LIST("smtpd_client_event_limit_exceptions", "$mynetworks", NULL),
    /* no | normalize | yes: what a bare <LF> line ending means */
    PARAM_STR("smtpd_forbid_bare_newline", "normalize", NULL, .compat_level = 2, .old_def = "no"),
    /* wait this long before the greeting and hang up on a client that
     * talks first (0 = do not wait) */
    PARAM_TIME("smtpd_pregreet_wait", "0s", 0, 3600, NULL),
    /* NOOP, VRFY, RSET, HELP and unknown commands allowed between two
     * queued messages (1 under stress) */
    PARAM_INT("smtpd_junk_command_limit", "100", 1, 1000000, NULL),
    /* the per-request deadline while the service is at its process
     * limit (instead of smtpd_timeout) */
    PARAM_TIME("smtpd_stress_timeout", "10s", 1, INT_MAX, NULL),
    /* content bytes per second that earn a DATA/BDAT request one more
     * second past its deadline */
    PARAM_INT("smtpd_min_data_rate", "500", 1, 1 << 30, NULL),
    /* free bytes the queue file system must keep for MAIL FROM to be
     * accepted (at least 1.5 x the message size) */
    PARAM_SIZE("queue_minfree", "0", 0, LLONG_MAX, NULL),
    /* hang up on clients that pipeline where RFC 2920 forbids it */
    PARAM_BOOL("smtpd_reject_unauth_pipelining", "yes", NULL),
    /* domains whose every address must be in virtual_alias_maps (a
     * plain list of domain names) */
    PARAM_LIST("virtual_alias_domains", "", NULL),
    /* answer VRFY at all (252 2.5.2 when enabled) */
    PARAM_BOOL("disable_vrfy_command", "no", NULL),
    /* TLS: none | may (offer STARTTLS) | encrypt (require it) */
    PARAM_STR("smtpd_tls_security_level", "none", NULL),
    /* TLS from the first byte (port 465, RFC 8314) instead of STARTTLS */
    PARAM_BOOL("smtpd_tls_wrappermode", "no", NULL),
    /* server certificate followed by its chain, and the key (PEM) */
    PARAM_STR("smtpd_tls_cert_file", "", NULL),
    PARAM_STR("smtpd_tls_key_file", "$smtpd_tls_cert_file", NULL),
    PARAM_STR("smtpd_tls_protocols", ">=TLSv1.2", NULL),
    /* TLS 1.2 ciphers (OpenSSL syntax): forward secrecy, AEAD only */
    PARAM_STR("smtpd_tls_ciphers", "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20", NULL),
    /* how long a TLS session may be resumed; also the ticket key period */
    PARAM_TIME("smtpd_tls_session_cache_timeout", "3600s", 60, 7 * 86400, NULL),
    /* protocol and cipher in the Received: header */
    PARAM_BOOL("smtpd_tls_received_header", "yes", NULL),
    /* SMTP AUTH (RFC 4954) with Cyrus SASL */
    PARAM_BOOL("smtpd_sasl_auth_enable", "no", NULL),
    /* Cyrus application name: its configuration is NAME.conf */
    PARAM_STR("smtpd_sasl_path", "smtpd", NULL),
    /* folders (colon-separated) searched for NAME.conf; empty: libsasl2's */
    PARAM_STR("cyrus_sasl_config_path", "", NULL),
    /* realm added to user names that have none (empty: none) */
    PARAM_STR("smtpd_sasl_local_domain", "", NULL),
    /* mechanism restrictions in clear, and over TLS */
    PARAM_LIST("smtpd_sasl_security_options", "noanonymous, noplaintext", NULL),
    PARAM_LIST("smtpd_sasl_tls_security_options", "noanonymous", NULL),
    /* AUTH only after STARTTLS, except from these networks */
    PARAM_BOOL("smtpd_tls_auth_only", "yes", NULL),
    PARAM_LIST("smtpd_tls_auth_only_exceptions", "", NULL),
    /* failed AUTH: the first delay (doubling with each failure, at most
     * 32 times it), and failures per session before hanging up */
    PARAM_TIME("smtpd_sasl_failure_delay", "1s", 0, 60, NULL),
    PARAM_INT("smtpd_sasl_failure_limit", "3", 1, 1000, NULL),
    /* sender address -> SASL login names that may use it */
    PARAM_TABLE("smtpd_sender_login_maps", "", NULL),
    /* checked at RCPT: who may send at all, and who may relay */
    PARAM_LIST("smtpd_client_restrictions", "", NULL),
    PARAM_LIST("smtpd_relay_restrictions",
	       "permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination", NULL),
    PARAM_END,
};
