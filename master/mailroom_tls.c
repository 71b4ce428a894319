/*
 * mailroom_tls.c - "mailroom check" for TLS: the server certificate and
 * key load and belong together, and the certificate is not about to
 * expire (a note 30 days ahead, a problem once expired). Run as the user
 * who can read the key (root in production), like the servers' pre-init.
 */
#include <time.h>

#include "global/config.h"
#include "mailroom.h"
#include "tls/tls_mail.h"

#define TLS_EXPIRY_NOTICE (30 * 86400)

/* mailroom_check_tls - one problem line per unusable certificate */
int mailroom_check_tls(str_t *problems, str_t *notes)
{
    const char *error;
    time_t not_after = 0, now = time(NULL);
    char when[64];
    struct tm tm;

    switch (tls_mail_check("smtpd", &not_after, &error)) {
    case 0:
	return 0;
    case -1:
	str_appendf(problems, "smtpd_tls_cert_file/smtpd_tls_key_file: %s\n", error);
	return 1;
    }
    gmtime_r(&not_after, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
    if (not_after <= now) {
	str_appendf(problems, "%s: certificate expired on %s\n", config_str("smtpd_tls_cert_file"),
		    when);
	return 1;
    }
    if (not_after - now < TLS_EXPIRY_NOTICE)
	str_appendf(notes, "%s: certificate expires on %s (in %ld days)\n",
		    config_str("smtpd_tls_cert_file"), when, (long)((not_after - now) / 86400));
    return 0;
}
