/*
 * tls.h - TLS (OpenSSL) as a transport under a stream_t.
 *
 * The layer knows nothing about mail: it turns files and options into an
 * OpenSSL context, runs the handshake on an open stream and then slots
 * itself in as the stream's transport (stream_set_io), so the protocol
 * code above keeps calling stream_read_line and stream_printf. Input the
 * stream had buffered before the handshake is the caller's business (a
 * STARTTLS server must discard it: stream_discard_input).
 *
 * Server contexts hold a certificate chain and key, per-name contexts
 * for SNI, and optionally a ticket secret: session tickets are then
 * sealed with keys derived from that secret and the current period, so
 * every process that read the same secret resumes every other process's
 * sessions, and the keys rotate without anyone rewriting a file.
 *
 * Client contexts verify against the system CA store (or given files),
 * check the peer's name, and report whether the peer was verified.
 *
 * Returns follow the usual rule: -1 error (text in *error_r, static
 * storage valid until the next call), 0 no, 1 yes.
 */
#ifndef MR_TLS_H
#define MR_TLS_H

#include <time.h>

#include "str.h"
#include "stream.h"

typedef struct tls_ctx tls_ctx_t;
typedef struct tls_conn tls_conn_t;

typedef struct tls_opts {
    const char *cert_file;    /* server: PEM certificate + chain */
    const char *key_file;     /* server: PEM private key */
    const char *ca_file;      /* client: trust anchors; NULL/"": */
    const char *ca_path;      /* ... the system default store */
    const char *min_protocol; /* "TLSv1.2" (or TLSv1, TLSv1.1, TLSv1.3) */
    const char *ciphers;      /* TLS 1.2 and older; "" = OpenSSL's */
    const char *ciphersuites; /* TLS 1.3; "" = OpenSSL's */
    int server_preference;    /* server: our cipher order wins */
    long session_timeout;     /* seconds a session may be resumed */
} tls_opts_t;

/* tls_server_ctx_new - a server context; NULL with *error_r (names the
 * file, says what is wrong, including a key that does not match) */
tls_ctx_t *tls_server_ctx_new(const tls_opts_t *opts, const char **error_r);
/* tls_client_ctx_new - a client context; NULL with *error_r */
tls_ctx_t *tls_client_ctx_new(const tls_opts_t *opts, const char **error_r);
/* tls_ctx_free - release (with its SNI contexts); sets *ctxp to NULL */
void tls_ctx_free(tls_ctx_t **ctxp);

/* tls_ctx_set_ticket_secret - seal session tickets with keys derived
 * from secret (at least 32 bytes) and the period number time/period;
 * tickets of the previous period are still accepted (and renewed) */
void tls_ctx_set_ticket_secret(tls_ctx_t *ctx, const unsigned char *secret, size_t len,
			       long period);
/* tls_ctx_add_sni - serve alt (a server context) to clients asking for
 * name (case-insensitive; "*.example.com" matches one label). ctx takes
 * alt over, and alt gets ctx's ticket secret. */
void tls_ctx_add_sni(tls_ctx_t *ctx, const char *name, tls_ctx_t *alt);
/* tls_ctx_keep_sessions - client: remember the newest session (ticket)
 * and offer it at the next handshake with this context. One context per
 * thread: the context is not locked. */
void tls_ctx_keep_sessions(tls_ctx_t *ctx);
/* tls_ctx_not_after - expiry time of the server certificate, 0 if none */
time_t tls_ctx_not_after(const tls_ctx_t *ctx);

/* tls_server_start - handshake as server on s, within the stream's
 * timeout; on success the stream speaks TLS from now on and owns the
 * returned connection. NULL with *error_r on failure (the stream is then
 * unusable). */
tls_conn_t *tls_server_start(stream_t *s, tls_ctx_t *ctx, const char **error_r);
/* tls_client_start - handshake as client. servername (may be NULL) goes
 * out as SNI and is the name the certificate must match; with verify set
 * an unverified peer fails the handshake. */
tls_conn_t *tls_client_start(stream_t *s, tls_ctx_t *ctx, const char *servername, int verify,
			     const char **error_r);

/* tls_conn_protocol - "TLSv1.3" */
const char *tls_conn_protocol(const tls_conn_t *conn);
/* tls_conn_cipher - "TLS_AES_256_GCM_SHA384" */
const char *tls_conn_cipher(const tls_conn_t *conn);
/* tls_conn_bits - secret bits of the cipher; *alg_bits_r the algorithm's */
int tls_conn_bits(const tls_conn_t *conn, int *alg_bits_r);
/* tls_conn_reused - 1 if the session was resumed, else 0 */
int tls_conn_reused(const tls_conn_t *conn);
/* tls_conn_verified - client side: 1 chain and name verified, 0 not */
int tls_conn_verified(const tls_conn_t *conn);
/* tls_conn_describe - append "TLSv1.3 with cipher X (256/256 bits)" */
void tls_conn_describe(const tls_conn_t *conn, str_t *out);

#endif
