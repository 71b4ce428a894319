/*
 * tls.c - OpenSSL glue: contexts, handshakes, and the TLS transport
 * that replaces the plain one under a stream_t.
 *
 * The socket is switched to non-blocking mode when TLS starts; every
 * OpenSSL call that wants to read or write more then waits in poll(2)
 * until the stream's deadline, so the stream timeouts keep their meaning
 * through TLS. The read side drains whatever OpenSSL already decrypted
 * (SSL_pending) before it returns, so a caller that polls the socket
 * for more input never waits for bytes that are already in user space.
 * Read-ahead stays off: OpenSSL takes from the socket only the records
 * it needs.
 *
 * Session tickets: with a ticket secret, the keys are derived per period
 * as HMAC-SHA256(secret, label || period number). Every process holding
 * the secret derives the same keys, so a client resumes on any of them;
 * a ticket of the previous period is accepted and renewed, an older one
 * means a full handshake. Weak spot: whoever reads the secret can decrypt
 * recorded sessions of the periods it covers (as with any ticket key),
 * so the secret file must stay readable by root only.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "msg.h"
#include "mymalloc.h"
#include "sock.h"
#include "tls.h"

#define TLS_SECRET_MAX 64

typedef struct tls_sni {
    char *name;
    tls_ctx_t *ctx;
} tls_sni_t;

struct tls_ctx {
    SSL_CTX *ssl_ctx;
    unsigned char secret[TLS_SECRET_MAX];
    size_t secret_len; /* 0: OpenSSL's own ticket keys */
    long period;
    tls_sni_t *sni;
    int sni_count;
    SSL_SESSION *client_session; /* client: last session, offered again */
};

struct tls_conn {
    SSL *ssl;
    int fd;
};

static char tls_errbuf[512];

/* tls_error - "what: OpenSSL's reason" in static storage */
static const char *tls_error(const char *what)
{
    unsigned long e = ERR_get_error(), last = e;
    char reason[256] = "";

    while (e != 0) { /* the last queued error is the cause */
	last = e;
	e = ERR_get_error();
    }
    if (last)
	ERR_error_string_n(last, reason, sizeof(reason));
    snprintf(tls_errbuf, sizeof(tls_errbuf), "%s%s%s", what, *reason ? ": " : "", reason);
    return tls_errbuf;
}

/* tls_proto_version - "TLSv1.2" -> TLS1_2_VERSION; 0 if unknown */
static int tls_proto_version(const char *name)
{
    static const struct {
	const char *name;
	int version;
    } versions[] = {
	{"TLSv1", TLS1_VERSION},
	{"TLSv1.1", TLS1_1_VERSION},
	{"TLSv1.2", TLS1_2_VERSION},
	{"TLSv1.3", TLS1_3_VERSION},
    };

    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
	if (strcasecmp(name, versions[i].name) == 0)
	    return versions[i].version;
    return 0;
}

/* tls_ctx_common - protocols, ciphers, options shared by both sides */
static tls_ctx_t *tls_ctx_common(const SSL_METHOD *method, const tls_opts_t *opts,
				 const char **error_r)
{
    tls_ctx_t *ctx = mr_calloc(1, sizeof(*ctx));
    const char *minp = opts->min_protocol && *opts->min_protocol ? opts->min_protocol : "TLSv1.2";
    int version = tls_proto_version(minp);

    if ((ctx->ssl_ctx = SSL_CTX_new(method)) == NULL) {
	*error_r = tls_error("cannot create TLS context");
	mr_free(ctx);
	return NULL;
    }
    if (version == 0) {
	snprintf(tls_errbuf, sizeof(tls_errbuf), "unknown TLS protocol \"%s\"", minp);
	*error_r = tls_errbuf;
    } else if (!SSL_CTX_set_min_proto_version(ctx->ssl_ctx, version)) {
	*error_r = tls_error("cannot set the lowest TLS protocol");
    } else if (opts->ciphers && *opts->ciphers &&
	       !SSL_CTX_set_cipher_list(ctx->ssl_ctx, opts->ciphers)) {
	*error_r = tls_error("bad TLS cipher list");
    } else if (opts->ciphersuites && *opts->ciphersuites &&
	       !SSL_CTX_set_ciphersuites(ctx->ssl_ctx, opts->ciphersuites)) {
	*error_r = tls_error("bad TLS 1.3 cipher suites");
    } else {
	SSL_CTX_set_options(ctx->ssl_ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
					      SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx->ssl_ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return ctx;
    }
    tls_ctx_free(&ctx);
    return NULL;
}

/* tls_file_error - "file: OpenSSL's reason" in static storage */
static const char *tls_file_error(const char *file)
{
    char what[256];

    snprintf(what, sizeof(what), "%s", file);
    return tls_error(what);
}

/* tls_server_keys - certificate chain and key, and that they match */
static int tls_server_keys(SSL_CTX *sc, const tls_opts_t *opts, const char **error_r)
{
    const char *key = opts->key_file && *opts->key_file ? opts->key_file : opts->cert_file;

    if (opts->cert_file == NULL || *opts->cert_file == 0) {
	*error_r = "no server certificate file configured";
	return -1;
    }
    if (!SSL_CTX_use_certificate_chain_file(sc, opts->cert_file)) {
	*error_r = tls_file_error(opts->cert_file);
	return -1;
    }
    if (!SSL_CTX_use_PrivateKey_file(sc, key, SSL_FILETYPE_PEM) &&
	ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
	*error_r = tls_file_error(key);
	return -1;
    }
    if (!SSL_CTX_check_private_key(sc)) {
	ERR_clear_error();
	snprintf(tls_errbuf, sizeof(tls_errbuf), "private key %s does not match certificate %s",
		 key, opts->cert_file);
	*error_r = tls_errbuf;
	return -1;
    }
    return 0;
}

/* tls_server_ctx_new - server context from files and options */
tls_ctx_t *tls_server_ctx_new(const tls_opts_t *opts, const char **error_r)
{
    tls_ctx_t *ctx = tls_ctx_common(TLS_server_method(), opts, error_r);
    static const unsigned char sid_ctx[] = "mailroom";

    if (ctx == NULL)
	return NULL;
    if (tls_server_keys(ctx->ssl_ctx, opts, error_r) < 0) {
	tls_ctx_free(&ctx);
	return NULL;
    }
    if (opts->server_preference)
	SSL_CTX_set_options(ctx->ssl_ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_dh_auto(ctx->ssl_ctx, 1);
    SSL_CTX_set_session_id_context(ctx->ssl_ctx, sid_ctx, sizeof(sid_ctx) - 1);
    /* Resumption is by ticket only: a per-process cache would not help a
     * client that reconnects to another process. */
    SSL_CTX_set_session_cache_mode(ctx->ssl_ctx, SSL_SESS_CACHE_OFF);
    if (opts->session_timeout > 0)
	SSL_CTX_set_timeout(ctx->ssl_ctx, opts->session_timeout);
    SSL_CTX_set_app_data(ctx->ssl_ctx, ctx);
    return ctx;
}

/* tls_client_ctx_new - client context with the trust anchors */
tls_ctx_t *tls_client_ctx_new(const tls_opts_t *opts, const char **error_r)
{
    tls_ctx_t *ctx = tls_ctx_common(TLS_client_method(), opts, error_r);
    const char *file = opts->ca_file && *opts->ca_file ? opts->ca_file : NULL;
    const char *path = opts->ca_path && *opts->ca_path ? opts->ca_path : NULL;

    if (ctx == NULL)
	return NULL;
    if (file || path ? !SSL_CTX_load_verify_locations(ctx->ssl_ctx, file, path)
		     : !SSL_CTX_set_default_verify_paths(ctx->ssl_ctx)) {
	*error_r = tls_error("cannot load the trusted CA certificates");
	tls_ctx_free(&ctx);
	return NULL;
    }
    SSL_CTX_set_app_data(ctx->ssl_ctx, ctx);
    return ctx;
}

/* tls_ctx_free - release a context and its SNI contexts */
void tls_ctx_free(tls_ctx_t **ctxp)
{
    tls_ctx_t *ctx = *ctxp;

    if (ctx == NULL)
	return;
    for (int i = 0; i < ctx->sni_count; i++) {
	mr_free(ctx->sni[i].name);
	tls_ctx_free(&ctx->sni[i].ctx);
    }
    mr_free(ctx->sni);
    if (ctx->client_session)
	SSL_SESSION_free(ctx->client_session);
    SSL_CTX_free(ctx->ssl_ctx);
    OPENSSL_cleanse(ctx->secret, sizeof(ctx->secret));
    mr_free(ctx);
    *ctxp = NULL;
}

/* tls_new_session - client: keep the newest session (ticket) */
static int tls_new_session(SSL *ssl, SSL_SESSION *sess)
{
    tls_ctx_t *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

    if (ctx->client_session)
	SSL_SESSION_free(ctx->client_session);
    ctx->client_session = sess;
    return 1; /* we hold the reference now */
}

/* tls_ctx_keep_sessions - client: resume the last session next time */
void tls_ctx_keep_sessions(tls_ctx_t *ctx)
{
    SSL_CTX_set_session_cache_mode(ctx->ssl_ctx,
				   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx->ssl_ctx, tls_new_session);
}

/* tls_ctx_not_after - certificate expiry */
time_t tls_ctx_not_after(const tls_ctx_t *ctx)
{
    X509 *cert = SSL_CTX_get0_certificate(ctx->ssl_ctx);
    struct tm tm;

    if (cert == NULL || !ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm))
	return 0;
    return timegm(&tm);
}

/* tls_derive - HMAC-SHA256(secret, label || period) into out (32 bytes) */
static int tls_derive(const tls_ctx_t *ctx, const char *label, long period, unsigned char out[32])
{
    unsigned char data[64];
    size_t n = strlen(label), outlen = 0;

    memcpy(data, label, n);
    for (int i = 0; i < 8; i++)
	data[n + (size_t)i] = (unsigned char)((unsigned long long)period >> (56 - 8 * i));
    return EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, ctx->secret, ctx->secret_len, data, n + 8,
		     out, 32, &outlen) != NULL &&
		   outlen == 32
	       ? 0
	       : -1;
}

/* tls_ticket_keys - the cipher and MAC keys of one period */
static int tls_ticket_keys(const tls_ctx_t *ctx, long period, EVP_CIPHER_CTX *cctx,
			   EVP_MAC_CTX *hctx, const unsigned char *iv, int enc)
{
    unsigned char aes[32], mac[32];
    OSSL_PARAM params[3];
    int ok;

    if (tls_derive(ctx, "ticket-aes", period, aes) < 0 ||
	tls_derive(ctx, "ticket-mac", period, mac) < 0)
	return -1;
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, mac, sizeof(mac));
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();
    ok = EVP_CipherInit_ex(cctx, EVP_aes_256_cbc(), NULL, aes, iv, enc) &&
	 EVP_MAC_CTX_set_params(hctx, params);
    OPENSSL_cleanse(aes, sizeof(aes));
    OPENSSL_cleanse(mac, sizeof(mac));
    return ok ? 0 : -1;
}

/* tls_ticket_renew - should a resumed session get a new ticket? Always
 * in TLS 1.3: a client uses a ticket once (RFC 8446, C.4; OpenSSL's
 * client does not offer it again), so without a new one every other
 * connection would be a full handshake. In TLS 1.2 only when the ticket
 * is of the previous period. */
static int tls_ticket_renew(const SSL *ssl, int current_period)
{
    return SSL_version(ssl) == TLS1_3_VERSION || !current_period;
}

/* tls_ticket_cb - seal (enc) or open a session ticket; OpenSSL's
 * convention: 1 ok, 2 ok but renew, 0 unknown key, -1 error */
static int tls_ticket_cb(SSL *ssl, unsigned char key_name[16], unsigned char *iv,
			 EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    tls_ctx_t *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    long now = (long)(time(NULL) / ctx->period);
    unsigned char name[32];

    if (enc) {
	if (tls_derive(ctx, "ticket-name", now, name) < 0 || RAND_bytes(iv, 16) != 1)
	    return -1;
	memcpy(key_name, name, 16);
	return tls_ticket_keys(ctx, now, cctx, hctx, iv, 1) < 0 ? -1 : 1;
    }
    for (long p = now; p >= now - 1; p--) {
	if (tls_derive(ctx, "ticket-name", p, name) < 0)
	    return -1;
	if (CRYPTO_memcmp(key_name, name, 16) == 0)
	    return tls_ticket_keys(ctx, p, cctx, hctx, iv, 0) < 0 ? -1
		   : tls_ticket_renew(ssl, p == now)              ? 2
								  : 1;
    }
    return 0;
}

/* tls_ctx_set_ticket_secret - tickets sealed with derived keys */
void tls_ctx_set_ticket_secret(tls_ctx_t *ctx, const unsigned char *secret, size_t len, long period)
{
    if (len < 32 || len > TLS_SECRET_MAX)
	msg_panic("tls_ctx_set_ticket_secret: bad secret length %zu", len);
    memcpy(ctx->secret, secret, len);
    ctx->secret_len = len;
    ctx->period = period > 0 ? period : 3600;
    SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx->ssl_ctx, tls_ticket_cb);
    for (int i = 0; i < ctx->sni_count; i++)
	tls_ctx_set_ticket_secret(ctx->sni[i].ctx, secret, len, period);
}

/* tls_sni_match - does the requested name match an SNI entry? */
static int tls_sni_match(const char *pattern, const char *name)
{
    const char *dot;

    if (strcasecmp(pattern, name) == 0)
	return 1;
    if (pattern[0] != '*' || pattern[1] != '.' || (dot = strchr(name, '.')) == NULL)
	return 0;
    return dot > name && strcasecmp(pattern + 1, dot) == 0;
}

/* tls_sni_cb - switch to the context for the name the client asked for */
static int tls_sni_cb(SSL *ssl, int *alert, void *arg)
{
    tls_ctx_t *ctx = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);

    (void)alert;
    if (name == NULL)
	return SSL_TLSEXT_ERR_NOACK;
    for (int i = 0; i < ctx->sni_count; i++) {
	if (tls_sni_match(ctx->sni[i].name, name)) {
	    SSL_set_SSL_CTX(ssl, ctx->sni[i].ctx->ssl_ctx);
	    return SSL_TLSEXT_ERR_OK;
	}
    }
    return SSL_TLSEXT_ERR_OK; /* the default certificate */
}

/* tls_ctx_add_sni - a certificate for one server name */
void tls_ctx_add_sni(tls_ctx_t *ctx, const char *name, tls_ctx_t *alt)
{
    ctx->sni = mr_reallocarray(ctx->sni, (size_t)ctx->sni_count + 1, sizeof(*ctx->sni));
    ctx->sni[ctx->sni_count].name = mr_strdup(name);
    ctx->sni[ctx->sni_count].ctx = alt;
    ctx->sni_count++;
    if (ctx->secret_len)
	tls_ctx_set_ticket_secret(alt, ctx->secret, ctx->secret_len, ctx->period);
    SSL_CTX_set_tlsext_servername_callback(ctx->ssl_ctx, tls_sni_cb);
    SSL_CTX_set_tlsext_servername_arg(ctx->ssl_ctx, ctx);
}

/* tls_remaining - ms left until deadline (-1: no deadline) */
static int tls_remaining(const struct timespec *deadline)
{
    struct timespec now;
    long long left;

    if (deadline->tv_sec == 0)
	return -1;
    clock_gettime(CLOCK_MONOTONIC, &now);
    left = (long long)(deadline->tv_sec - now.tv_sec) * 1000 +
	   (deadline->tv_nsec - now.tv_nsec) / 1000000;
    return left > 0 ? (int)left : 0;
}

/* tls_deadline - now + timeout_ms (a zero deadline if timeout_ms < 0) */
static void tls_deadline(struct timespec *deadline, int timeout_ms)
{
    deadline->tv_sec = deadline->tv_nsec = 0;
    if (timeout_ms < 0)
	return;
    clock_gettime(CLOCK_MONOTONIC, deadline);
    deadline->tv_sec += timeout_ms / 1000 + 1; /* never 0 */
    deadline->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    deadline->tv_sec -= 1;
    if (deadline->tv_nsec >= 1000000000L)
	deadline->tv_sec++, deadline->tv_nsec -= 1000000000L;
}

/*
 * tls_retry - after an OpenSSL call returned ret: 1 if it should be
 * called again (it waited for the socket), 0 at a clean EOF, -1 on error
 * (errno ETIMEDOUT when the deadline passed, EPROTO for a TLS error,
 * EINTR when a signal cut the wait short: the stream layer then calls
 * again with the time left, and OpenSSL resumes where it was).
 */
static int tls_retry(tls_conn_t *conn, int ret, const struct timespec *deadline)
{
    struct pollfd pfd = {.fd = conn->fd};
    int err = SSL_get_error(conn->ssl, ret), n;

    if (err == SSL_ERROR_WANT_READ)
	pfd.events = POLLIN;
    else if (err == SSL_ERROR_WANT_WRITE)
	pfd.events = POLLOUT;
    else if (err == SSL_ERROR_ZERO_RETURN)
	return 0;
    else {
	if (err != SSL_ERROR_SYSCALL || errno == 0)
	    errno = EPROTO;
	return -1;
    }
    n = poll(&pfd, 1, tls_remaining(deadline));
    if (n == 0)
	errno = ETIMEDOUT;
    return n > 0 ? 1 : -1; /* EINTR: the stream recomputes the time */
}

/* tls_read - the transport's read: one record, plus what is decrypted */
static ssize_t tls_read(void *arg, int fd, void *buf, size_t len, int timeout_ms)
{
    tls_conn_t *conn = arg;
    struct timespec deadline;
    size_t got = 0, n;
    int r;

    (void)fd;
    tls_deadline(&deadline, timeout_ms);
    ERR_clear_error();
    while ((r = SSL_read_ex(conn->ssl, buf, len, &got)) <= 0) {
	if ((r = tls_retry(conn, r, &deadline)) <= 0)
	    return r;
    }
    while (got < len && SSL_pending(conn->ssl) > 0 &&
	   SSL_read_ex(conn->ssl, (char *)buf + got, len - got, &n) > 0)
	got += n;
    return (ssize_t)got;
}

/* tls_write - the transport's write: all of buf, or an error */
static ssize_t tls_write(void *arg, int fd, const void *buf, size_t len, int timeout_ms)
{
    tls_conn_t *conn = arg;
    struct timespec deadline;
    size_t done = 0;
    int r;

    (void)fd;
    tls_deadline(&deadline, timeout_ms);
    ERR_clear_error();
    while ((r = SSL_write_ex(conn->ssl, buf, len, &done)) <= 0) {
	if ((r = tls_retry(conn, r, &deadline)) <= 0) {
	    if (r == 0)
		errno = EPIPE;
	    return -1;
	}
    }
    return (ssize_t)done;
}

/* tls_close - send close_notify (without waiting for the peer's), free */
static void tls_close(void *arg)
{
    tls_conn_t *conn = arg;

    ERR_clear_error();
    (void)SSL_shutdown(conn->ssl);
    SSL_free(conn->ssl);
    mr_free(conn);
}

static const stream_io_t tls_io = {tls_read, tls_write, tls_close};

/* tls_start - common handshake: new SSL, loop, switch the transport */
static tls_conn_t *tls_start(stream_t *s, tls_ctx_t *ctx, int server,
			     void (*setup)(SSL *ssl, void *arg), void *arg, const char **error_r)
{
    tls_conn_t *conn = mr_calloc(1, sizeof(*conn));
    struct timespec deadline;
    int r;

    conn->fd = stream_fd(s);
    tls_deadline(&deadline, stream_timeout_ms(s));
    ERR_clear_error();
    if ((conn->ssl = SSL_new(ctx->ssl_ctx)) == NULL || !SSL_set_fd(conn->ssl, conn->fd)) {
	*error_r = tls_error("cannot start TLS");
	goto fail;
    }
    if (setup)
	setup(conn->ssl, arg);
    sock_nonblock(conn->fd, 1);
    while ((r = server ? SSL_accept(conn->ssl) : SSL_connect(conn->ssl)) <= 0) {
	if ((r = tls_retry(conn, r, &deadline)) > 0 || (r < 0 && errno == EINTR))
	    continue;
	if (r == 0 || errno != EPROTO)
	    *error_r = r == 0 || errno != ETIMEDOUT ? "lost connection" : "timeout";
	else if (SSL_get_verify_result(conn->ssl) != X509_V_OK)
	    *error_r = X509_verify_cert_error_string(SSL_get_verify_result(conn->ssl));
	else
	    *error_r = tls_error("handshake failed");
	goto fail;
    }
    stream_set_io(s, &tls_io, conn);
    return conn;

fail:
    SSL_free(conn->ssl);
    mr_free(conn);
    return NULL;
}

/* tls_server_start - handshake as server */
tls_conn_t *tls_server_start(stream_t *s, tls_ctx_t *ctx, const char **error_r)
{
    return tls_start(s, ctx, 1, NULL, NULL, error_r);
}

typedef struct tls_client_args {
    const char *servername;
    int verify;
    SSL_SESSION *session; /* to resume, or NULL */
} tls_client_args_t;

/* tls_client_setup - SNI, expected name, verification mode */
static void tls_client_setup(SSL *ssl, void *arg)
{
    tls_client_args_t *a = arg;

    if (a->servername && *a->servername) {
	SSL_set_tlsext_host_name(ssl, a->servername);
	SSL_set1_host(ssl, a->servername);
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    }
    SSL_set_verify(ssl, a->verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    if (a->session)
	SSL_set_session(ssl, a->session);
}

/* tls_client_start - handshake as client */
tls_conn_t *tls_client_start(stream_t *s, tls_ctx_t *ctx, const char *servername, int verify,
			     const char **error_r)
{
    tls_client_args_t args = {servername, verify, ctx->client_session};

    return tls_start(s, ctx, 0, tls_client_setup, &args, error_r);
}

const char *tls_conn_protocol(const tls_conn_t *conn)
{
    return SSL_get_version(conn->ssl);
}

const char *tls_conn_cipher(const tls_conn_t *conn)
{
    return SSL_get_cipher_name(conn->ssl);
}

int tls_conn_bits(const tls_conn_t *conn, int *alg_bits_r)
{
    int alg = 0, bits = SSL_get_cipher_bits(conn->ssl, &alg);

    if (alg_bits_r)
	*alg_bits_r = alg;
    return bits;
}

int tls_conn_reused(const tls_conn_t *conn)
{
    return SSL_session_reused(conn->ssl) ? 1 : 0;
}

int tls_conn_verified(const tls_conn_t *conn)
{
    X509 *peer = SSL_get0_peer_certificate(conn->ssl);

    return peer != NULL && SSL_get_verify_result(conn->ssl) == X509_V_OK;
}

/* tls_conn_describe - the protocol and cipher, the way logs show them */
void tls_conn_describe(const tls_conn_t *conn, str_t *out)
{
    int alg, bits = tls_conn_bits(conn, &alg);

    str_appendf(out, "%s with cipher %s (%d/%d bits)", tls_conn_protocol(conn),
		tls_conn_cipher(conn), bits, alg);
}
