/*
 * tls_mail.c - TLS contexts from the mail parameters.
 *
 * A server named PREFIX reads PREFIX_tls_cert_file (certificate followed
 * by its chain, PEM), PREFIX_tls_key_file, PREFIX_tls_protocols (">=TLSv1.2"),
 * PREFIX_tls_ciphers (TLS 1.2 list), tls_ciphersuites (TLS 1.3),
 * tls_preempt_cipherlist, PREFIX_tls_session_cache_timeout, the SNI table
 * tls_server_sni_maps, and the ticket secret tls_session_ticket_key_file.
 * A client reads PREFIX_tls_CAfile, PREFIX_tls_CApath, PREFIX_tls_protocols
 * and PREFIX_tls_ciphers.
 *
 * The ticket secret: 48 random bytes in a file that the first server to
 * need it creates (under a temporary name, then link(2) to the real one,
 * so a concurrent reader sees no file or a whole one), owned by the user
 * the server starts as (root in production) and readable by it alone. It
 * is read in the privileged pre-init, so the unprivileged server never
 * needs the file. Keys rotate by themselves (lib/util/tls.c), so the file
 * never changes; removing it and restarting starts a new key chain. A
 * file that is not ours (wrong owner, a link) is refused with a warning,
 * and tickets are then sealed with per-process keys (no resumption
 * across processes).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "global/config.h"
#include "table/table.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/safe_open.h"
#include "tls_mail.h"

#define TLS_TICKET_SECRET_LEN 48

/* tls_param - the value of PREFIX_suffix */
static const char *tls_param(const char *prefix, const char *suffix)
{
    char name[128];

    snprintf(name, sizeof(name), "%s_%s", prefix, suffix);
    return config_str(name);
}

/* tls_mail_level - a security level by name */
int tls_mail_level(const char *name)
{
    static const char *levels[] = {"none", "may", "encrypt", "verify"};
    const char *v = config_str(name);

    if (*v == 0)
	return TLS_LEV_NONE;
    for (int i = 0; i < 4; i++)
	if (strcasecmp(v, levels[i]) == 0)
	    return i;
    msg_fatal("%s: expected none, may, encrypt or verify, not \"%s\"", name, v);
}

/* tls_min_protocol - ">=TLSv1.2" or "TLSv1.2" -> "TLSv1.2" */
static const char *tls_min_protocol(const char *value)
{
    while (*value == ' ' || *value == '>' || *value == '=')
	value++;
    return value;
}

/* tls_opts_fill - the options common to servers and clients */
static void tls_opts_fill(tls_opts_t *o, const char *prefix)
{
    memset(o, 0, sizeof(*o));
    o->min_protocol = tls_min_protocol(tls_param(prefix, "tls_protocols"));
    o->ciphers = tls_param(prefix, "tls_ciphers");
    o->ciphersuites = config_str("tls_ciphersuites");
}

/* tls_secret_create - make the secret file (temp name, then link) */
static void tls_secret_create(const char *path)
{
    unsigned char secret[TLS_TICKET_SECRET_LEN];
    char *tmp = mr_format("%s.%ld", path, (long)getpid());
    const char *error;
    int fd;

    if (RAND_bytes(secret, sizeof(secret)) != 1)
	msg_fatal("cannot get random bytes for %s", path);
    (void)unlink(tmp);
    if ((fd = safe_open(tmp, O_CREAT | O_WRONLY, 0600, (uid_t)-1, &error)) < 0) {
	msg_warn("cannot create %s: %s", tmp, error);
    } else {
	if (write_all(fd, secret, sizeof(secret)) < 0 || fsync(fd) < 0)
	    msg_warn("cannot write %s: %m", tmp);
	else if (link(tmp, path) < 0 && errno != EEXIST)
	    msg_warn("cannot link %s to %s: %m", tmp, path);
	close(fd);
	(void)unlink(tmp);
    }
    OPENSSL_cleanse(secret, sizeof(secret));
    mr_free(tmp);
}

/* tls_secret_read - read the secret; 0 ok, -1 (logged) */
static int tls_secret_read(const char *path, unsigned char *secret)
{
    const char *error;
    struct stat st;
    int fd;
    ssize_t n = -1;

    if ((fd = safe_open(path, O_RDONLY, 0, geteuid(), &error)) < 0) {
	msg_warn("%s: %s; TLS sessions resume only on the same process", path, error);
	return -1;
    }
    if (fstat(fd, &st) == 0 && (st.st_mode & 077) == 0)
	n = read(fd, secret, TLS_TICKET_SECRET_LEN);
    close(fd);
    if (n != TLS_TICKET_SECRET_LEN) {
	msg_warn("%s: not a %d-byte file readable only by its owner; "
		 "TLS sessions resume only on the same process",
		 path, TLS_TICKET_SECRET_LEN);
	return -1;
    }
    return 0;
}

/* tls_mail_tickets - seal tickets with the shared secret */
static void tls_mail_tickets(tls_ctx_t *ctx, long period)
{
    const char *path = config_str("tls_session_ticket_key_file");
    unsigned char secret[TLS_TICKET_SECRET_LEN];

    if (*path == 0)
	return;
    if (access(path, F_OK) < 0 && errno == ENOENT)
	tls_secret_create(path);
    if (tls_secret_read(path, secret) == 0)
	tls_ctx_set_ticket_secret(ctx, secret, sizeof(secret), period);
    OPENSSL_cleanse(secret, sizeof(secret));
}

/* tls_mail_sni_one - "name certfile [keyfile]" from the SNI table */
static int tls_mail_sni_one(tls_ctx_t *ctx, const tls_opts_t *base, const char *name,
			    const char *value, const char **error_r)
{
    char *copy = mr_strdup(value), *cp = copy;
    tls_opts_t o = *base;
    tls_ctx_t *alt;

    o.cert_file = next_token(&cp, " \t,");
    o.key_file = next_token(&cp, " \t,");
    if (o.cert_file == NULL) {
	*error_r = "empty value in tls_server_sni_maps";
	alt = NULL;
    } else if ((alt = tls_server_ctx_new(&o, error_r)) != NULL) {
	tls_ctx_add_sni(ctx, name, alt);
    }
    mr_free(copy);
    return alt ? 0 : -1;
}

/* tls_mail_sni - every entry of tls_server_sni_maps; 0 ok, -1 error */
static int tls_mail_sni(tls_ctx_t *ctx, const tls_opts_t *base, const char **error_r)
{
    const char *spec = config_str("tls_server_sni_maps");
    table_walk_t *w;
    const char *key, *value;
    int r;

    if (*spec == 0)
	return 0;
    if ((w = table_walk_open(spec, error_r)) == NULL)
	return -1;
    while ((r = table_walk_next(w, &key, &value, error_r)) > 0)
	if (tls_mail_sni_one(ctx, base, key, value, error_r) < 0) {
	    r = -1;
	    break;
	}
    table_walk_close(&w);
    return r;
}

/* tls_mail_server_init - a server context from PREFIX's parameters */
tls_ctx_t *tls_mail_server_init(const char *prefix, const char **error_r)
{
    char name[128];
    tls_opts_t o;
    tls_ctx_t *ctx;

    tls_opts_fill(&o, prefix);
    o.cert_file = tls_param(prefix, "tls_cert_file");
    o.key_file = tls_param(prefix, "tls_key_file");
    o.server_preference = config_bool("tls_preempt_cipherlist");
    snprintf(name, sizeof(name), "%s_tls_session_cache_timeout", prefix);
    o.session_timeout = config_time(name);
    if ((ctx = tls_server_ctx_new(&o, error_r)) == NULL)
	return NULL;
    if (tls_mail_sni(ctx, &o, error_r) < 0) {
	tls_ctx_free(&ctx);
	return NULL;
    }
    tls_mail_tickets(ctx, o.session_timeout > 0 ? o.session_timeout : 3600);
    return ctx;
}

/* tls_mail_client_init - a client context with PREFIX's trust anchors */
tls_ctx_t *tls_mail_client_init(const char *prefix, const char **error_r)
{
    tls_opts_t o;

    tls_opts_fill(&o, prefix);
    o.ca_file = tls_param(prefix, "tls_CAfile");
    o.ca_path = tls_param(prefix, "tls_CApath");
    return tls_client_ctx_new(&o, error_r);
}

/* tls_mail_check - can PREFIX's certificate and key be loaded? */
int tls_mail_check(const char *prefix, time_t *not_after_r, const char **error_r)
{
    tls_opts_t o;
    tls_ctx_t *ctx;

    if (*tls_param(prefix, "tls_cert_file") == 0)
	return 0;
    tls_opts_fill(&o, prefix);
    o.cert_file = tls_param(prefix, "tls_cert_file");
    o.key_file = tls_param(prefix, "tls_key_file");
    if ((ctx = tls_server_ctx_new(&o, error_r)) == NULL)
	return -1;
    *not_after_r = tls_ctx_not_after(ctx);
    tls_ctx_free(&ctx);
    return 1;
}
