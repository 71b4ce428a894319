/*
 * params_smtpd.c - parameters of the SMTP server (smtpd). Names follow
 * Postfix where Postfix has the same knob; docs/smtpd.md explains each.
 */
#include "config.h"

const param_def_t params_smtpd[] = {
    {"smtpd_banner", "$myhostname ESMTP Mailroom", 0, 0},
    /* largest message (bytes of content as received); 0 = no limit */
    {"message_size_limit", "10240000", 0, 0},
    /* most recipients per message */
    {"smtpd_recipient_limit", "1000", 0, 0},
    /* longest SMTP command line, terminator included */
    {"line_length_limit", "2048", 0, 0},
    /* how long to wait for the client per read or write */
    {"smtpd_timeout", "300s", 0, 0},
    /* error replies before we delay each reply, and before we hang up */
    {"smtpd_soft_error_limit", "10", 0, 0},
    {"smtpd_hard_error_limit", "20", 0, 0},
    {"smtpd_error_sleep_time", "1s", 0, 0},
    /* simultaneous sessions per client address (0 = no limit), and
     * the clients that are exempt */
    {"smtpd_client_connection_count_limit", "50", 0, 0},
    {"smtpd_client_event_limit_exceptions", "$mynetworks", 0, 0},
    /* no | normalize | yes: what a bare <LF> line ending means */
    {"smtpd_forbid_bare_newline", "normalize", 2, "no"},
    /* wait this long before the greeting and hang up on a client that
     * talks first (0 = do not wait) */
    {"smtpd_pregreet_wait", "0s", 0, 0},
    /* hang up on clients that pipeline where RFC 2920 forbids it */
    {"smtpd_reject_unauth_pipelining", "yes", 0, 0},
    /* domains whose every address must be in virtual_alias_maps (a
     * plain list of domain names) */
    {"virtual_alias_domains", "", 0, 0},
    /* answer VRFY at all (252 2.5.2 when enabled) */
    {"disable_vrfy_command", "no", 0, 0},
    {0, 0, 0, 0},
};
