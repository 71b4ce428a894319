/*
 * params_smtp.c - parameters of the smtp/lmtp delivery agent (the TLS
 * ones are in params_tls.c). Names follow Postfix where Postfix has the
 * same knob; docs/smtp.md explains each.
 */
#include "config.h"

const param_def_t params_smtp[] = {
    /* longest wait for a TCP or Unix-socket connection to a server */
    PARAM_TIME("smtp_connect_timeout", "30s", 1, 3600, NULL),
    /* longest wait for each read or write once connected */
    PARAM_TIME("smtp_reply_timeout", "300s", 1, 3600, NULL),
    /* yes: never convert 8-bit MIME parts to quoted-printable for a
     * server without 8BITMIME (send them as they are) */
    PARAM_BOOL("disable_mime_output_conversion", "no", NULL),
    /* the name sent with EHLO/HELO/LHLO */
    PARAM_STR("smtp_helo_name", "$myhostname", NULL),
    /* name servers for every DNS lookup (lib/global/dns): "addr[:port]",
     * IPv4, comma or space separated; empty: /etc/resolv.conf */
    PARAM_STR("dns_servers", "", NULL),
    PARAM_END,
};
