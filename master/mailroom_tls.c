/*
 * mailroom_tls.c - "mailroom check" for TLS: the server certificate and
 * key files exist and can be read, load and belong together, and the
 * certificate is not about to expire (a note 30 days ahead, a problem
 * once expired). Run as the user who can read the key (root in
 * production), like the servers' pre-init.
 *
 * The files are checked as mailroom.conf sets them, and again for each
 * master.conf service that sets a PREFIX_tls_cert_file or
 * PREFIX_tls_key_file with -o: there with all the -o values of that
 * service applied (a key_file of $smtpd_tls_cert_file then follows the
 * service's certificate), and the problems named by master.conf file and
 * line. The overrides are undone after each service.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "global/config.h"
#include "mailroom.h"
#include "master_conf.h"
#include "tls/tls_mail.h"
#include "util/mymalloc.h"

#define TLS_EXPIRY_NOTICE (30 * 86400)
#define TLS_MAX_PREFIXES 8 /* distinct PREFIXes in one service's -o */

/* tls_check_param - the value of PREFIX_suffix */
static const char *tls_check_param(const char *prefix, const char *suffix)
{
    char *name = mr_format("%s_%s", prefix, suffix);
    const char *value = config_str(name);

    mr_free(name);
    return value;
}

/* tls_check_readable - can file be opened for reading? 0 yes, else 1
 * with a problem line */
static int tls_check_readable(const char *where, const char *file, str_t *problems)
{
    int fd;

    if (*file == 0)
	return 0;
    if ((fd = open(file, O_RDONLY | O_NONBLOCK)) >= 0) {
	char c;
	ssize_t n = read(fd, &c, 1);
	int err = errno;

	close(fd);
	if (n >= 0)
	    return 0;
	errno = err;
    }
    str_appendf(problems, "%s%s: %s\n", where, file, strerror(errno));
    return 1;
}

/* tls_check_expiry - a note or a problem for a certificate near or past
 * its end */
static int tls_check_expiry(const char *where, const char *cert, time_t not_after, str_t *problems,
			    str_t *notes)
{
    time_t now = time(NULL);
    char when[64];
    struct tm tm;

    gmtime_r(&not_after, &tm);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
    if (not_after <= now) {
	str_appendf(problems, "%s%s: certificate expired on %s\n", where, cert, when);
	return 1;
    }
    if (not_after - now < TLS_EXPIRY_NOTICE)
	str_appendf(notes, "%s%s: certificate expires on %s (in %ld days)\n", where, cert, when,
		    (long)((not_after - now) / 86400));
    return 0;
}

/* tls_check_prefix - PREFIX's certificate and key as configured now;
 * where starts each line ("" or "master.conf:12: ") */
static int tls_check_prefix(const char *where, const char *prefix, str_t *problems, str_t *notes)
{
    const char *cert = tls_check_param(prefix, "tls_cert_file");
    const char *key = tls_check_param(prefix, "tls_key_file");
    const char *error;
    time_t not_after = 0;
    int n;

    n = tls_check_readable(where, cert, problems);
    if (strcmp(key, cert) != 0)
	n += tls_check_readable(where, key, problems);
    if (n > 0)
	return n;
    switch (tls_mail_check(prefix, &not_after, &error)) {
    case 0:
	return 0;
    case -1:
	str_appendf(problems, "%s%s_tls_cert_file/%s_tls_key_file: %s\n", where, prefix, prefix,
		    error);
	return 1;
    }
    return tls_check_expiry(where, cert, not_after, problems, notes);
}

int mailroom_check_tls(str_t *problems, str_t *notes)
{
    return tls_check_prefix("", "smtpd", problems, notes);
}

/* tls_check_is_server - do name's PREFIX_tls_* server parameters exist? */
static int tls_check_is_server(const char *prefix)
{
    static const char *suffixes[] = {"tls_cert_file", "tls_key_file", "tls_protocols",
				     "tls_ciphers"};
    int ok = 1;

    for (size_t i = 0; ok && i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
	char *name = mr_format("%s_%s", prefix, suffixes[i]);

	ok = config_find(name) != NULL;
	mr_free(name);
    }
    return ok;
}

/* tls_check_prefix_of - PREFIX of "PREFIX_tls_cert_file=..." or
 * "PREFIX_tls_key_file=...", a new string; NULL for other names */
static char *tls_check_prefix_of(const char *assignment)
{
    const char *eq = strchr(assignment, '='), *tls;
    char *prefix;

    if (eq == NULL || (tls = strstr(assignment, "_tls_")) == NULL || tls > eq)
	return NULL;
    if (strncmp(tls, "_tls_cert_file=", 15) != 0 && strncmp(tls, "_tls_key_file=", 14) != 0)
	return NULL;
    prefix = mr_strndup(assignment, (size_t)(tls - assignment));
    if (tls_check_is_server(prefix))
	return prefix;
    mr_free(prefix);
    return NULL;
}

typedef struct {
    char *name;
    char *value; /* from mailroom.conf, or NULL: the default */
    int line;
} tls_saved_t;

/* tls_check_apply - apply the -o values of e; returns what they replaced */
static tls_saved_t *tls_check_apply(const master_ent_t *e, int *count_r)
{
    tls_saved_t *saved = mr_calloc((size_t)e->argc + 1, sizeof(*saved));
    int n = 0;

    for (int a = 1; a + 1 < e->argc; a++) {
	const char *arg = e->argv[a + 1], *eq = strchr(arg, '=');
	char *name;

	if (strcmp(e->argv[a], "-o") != 0 || eq == NULL)
	    continue;
	name = mr_strndup(arg, (size_t)(eq - arg));
	if (config_find(name) == NULL) {
	    mr_free(name);
	    continue;
	}
	saved[n].line = config_line(name);
	saved[n].value = saved[n].line > 0 ? mr_strdup(config_raw_value(name)) : NULL;
	saved[n++].name = name;
	(void)config_parse_override(arg);
    }
    *count_r = n;
    return saved;
}

/* tls_check_undo - put back what tls_check_apply replaced, last first */
static void tls_check_undo(tls_saved_t *saved, int count)
{
    for (int i = count - 1; i >= 0; i--) {
	config_restore(saved[i].name, saved[i].value, saved[i].line);
	mr_free(saved[i].name);
	mr_free(saved[i].value);
    }
    mr_free(saved);
}

/* tls_check_entry - the TLS servers one service overrides, checked with
 * its -o values */
static int tls_check_entry(const master_conf_t *conf, const master_ent_t *e, str_t *problems,
			   str_t *notes)
{
    char *prefixes[TLS_MAX_PREFIXES], *where;
    int np = 0, n = 0, nsaved;
    tls_saved_t *saved;

    for (int a = 1; a + 1 < e->argc && np < TLS_MAX_PREFIXES; a++) {
	char *p = strcmp(e->argv[a], "-o") == 0 ? tls_check_prefix_of(e->argv[a + 1]) : NULL;

	for (int i = 0; p != NULL && i < np; i++)
	    if (strcmp(prefixes[i], p) == 0) {
		mr_free(p);
		p = NULL;
	    }
	if (p != NULL)
	    prefixes[np++] = p;
    }
    if (np == 0)
	return 0;
    where = mr_format("%s:%d: ", conf->path, e->line);
    saved = tls_check_apply(e, &nsaved);
    for (int i = 0; i < np; i++) {
	n += tls_check_prefix(where, prefixes[i], problems, notes);
	mr_free(prefixes[i]);
    }
    tls_check_undo(saved, nsaved);
    mr_free(where);
    return n;
}

int mailroom_check_tls_services(const master_conf_t *conf, str_t *problems, str_t *notes)
{
    int n = 0;

    for (int i = 0; i < conf->count; i++)
	n += tls_check_entry(conf, &conf->ents[i], problems, notes);
    return n;
}
