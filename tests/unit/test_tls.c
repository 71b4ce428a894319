/*
 * test_tls.c - the TLS transport: both ends of our own code over a socket
 * pair (the server end in a child process), certificates made here with
 * the openssl command. Checks the handshake, data both ways through the
 * stream API, verification by name on the client side, key/certificate
 * mismatch, and resumption with a ticket sealed by another context that
 * holds the same secret (what two smtpd processes do).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "unit_helpers.h"
#include "util/str.h"
#include "util/stream.h"
#include "util/tls.h"

static char cert[512], key[512], key2[512];
static const unsigned char secret[48] = "0123456789abcdef0123456789abcdef0123456789abcde";

/* make_cert - a self-signed certificate for name, and a second key */
static int make_cert(void **state)
{
    char cmd[2048];

    (void)state;
    snprintf(cert, sizeof(cert), "%s/cert.pem", unit_tmpdir());
    snprintf(key, sizeof(key), "%s/key.pem", unit_tmpdir());
    snprintf(key2, sizeof(key2), "%s/key2.pem", unit_tmpdir());
    snprintf(cmd, sizeof(cmd),
	     "openssl req -x509 -newkey ec -pkeyopt "
	     "ec_paramgen_curve:prime256v1 -nodes -keyout %s -out %s -days 2 "
	     "-subj /CN=mx.test -addext subjectAltName=DNS:mx.test 2>/dev/null && "
	     "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 "
	     "-out %s 2>/dev/null",
	     key, cert, key2);
    return system(cmd) == 0 ? 0 : -1;
}

/* server_ctx - a server context for the test certificate */
static tls_ctx_t *server_ctx(const char *keyfile, const char **error_r)
{
    tls_opts_t o = {
	.cert_file = cert, .key_file = keyfile, .server_preference = 1, .session_timeout = 600};

    return tls_server_ctx_new(&o, error_r);
}

/* run_server - child: accept TLS on fd, echo one line with a prefix */
static void run_server(int fd)
{
    const char *error;
    tls_ctx_t *ctx = server_ctx(key, &error);
    stream_t *s = stream_open(fd);
    str_t *line = str_new(64);

    if (ctx == NULL)
	_exit(2);
    tls_ctx_set_ticket_secret(ctx, secret, sizeof(secret), 600);
    stream_set_timeout(s, 10);
    if (tls_server_start(s, ctx, &error) == NULL)
	_exit(3);
    if (stream_read_line(s, line, 100) == STREAM_LINE) {
	stream_printf(s, "echo %s", str_data(line));
	stream_flush(s);
    }
    (void)stream_read_line(s, line, 100); /* wait for the peer's EOF */
    stream_close(&s);
    _exit(0);
}

/* start_pair - fork a server on one end; the client stream on the other */
static stream_t *start_pair(pid_t *pid_r)
{
    int sv[2];
    stream_t *s;

    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    if ((*pid_r = fork()) == 0) {
	close(sv[0]);
	run_server(sv[1]);
    }
    close(sv[1]);
    s = stream_open(sv[0]);
    stream_set_timeout(s, 10);
    return s;
}

/* finish - close the client, reap the server, return its exit status */
static int finish(stream_t **sp, pid_t pid)
{
    int status;

    stream_close(sp);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* client_ctx - trusts the test certificate */
static tls_ctx_t *client_ctx(void)
{
    tls_opts_t o = {.ca_file = cert};
    const char *error = NULL;
    tls_ctx_t *ctx = tls_client_ctx_new(&o, &error);

    assert_non_null(ctx);
    return ctx;
}

/* test_handshake_and_data - lines go both ways, verified by name */
static void test_handshake_and_data(void **state)
{
    tls_ctx_t *ctx = client_ctx();
    pid_t pid;
    stream_t *s = start_pair(&pid);
    const char *error = NULL;
    tls_conn_t *conn = tls_client_start(s, ctx, "mx.test", 1, &error);
    str_t *line = str_new(64), *desc = str_new(64);

    assert_non_null(conn);
    assert_string_equal(tls_conn_protocol(conn), "TLSv1.3");
    assert_int_equal(tls_conn_verified(conn), 1);
    assert_int_equal(tls_conn_reused(conn), 0);
    tls_conn_describe(conn, desc);
    assert_string_equal(str_data(desc),
			"TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)");
    stream_puts(s, "hello\n");
    assert_int_equal(stream_flush(s), 0);
    assert_int_equal(stream_read_line(s, line, 100), STREAM_LINE);
    assert_string_equal(str_data(line), "echo hello\n");
    assert_int_equal(finish(&s, pid), 0);
    str_free(&line);
    str_free(&desc);
    tls_ctx_free(&ctx);
}

/* test_wrong_name_fails_verification - the name must match */
static void test_wrong_name_fails_verification(void **state)
{
    tls_ctx_t *ctx = client_ctx();
    pid_t pid;
    stream_t *s = start_pair(&pid);
    const char *error = NULL;

    assert_null(tls_client_start(s, ctx, "other.test", 1, &error));
    assert_non_null(strstr(error, "mismatch"));
    finish(&s, pid);
    tls_ctx_free(&ctx);
}

/* test_unverified_may_go_on - without verify, the handshake succeeds
 * and says the peer is not verified */
static void test_unverified_may_go_on(void **state)
{
    tls_opts_t o = {.ca_file = key2}; /* no certificate in it: trusts nothing */
    const char *error = NULL;
    tls_ctx_t *ctx = tls_client_ctx_new(&o, &error);
    pid_t pid;
    stream_t *s;
    tls_conn_t *conn;

    if (ctx == NULL) { /* OpenSSL refuses a file without certs */
	o.ca_file = NULL;
	o.ca_path = unit_tmpdir();
	ctx = tls_client_ctx_new(&o, &error);
    }
    assert_non_null(ctx);
    s = start_pair(&pid);
    conn = tls_client_start(s, ctx, "mx.test", 0, &error);
    assert_non_null(conn);
    assert_int_equal(tls_conn_verified(conn), 0);
    assert_int_equal(finish(&s, pid), 0);
    tls_ctx_free(&ctx);
}

/* test_key_mismatch - a key that is not the certificate's is refused */
static void test_key_mismatch(void **state)
{
    const char *error = NULL;
    tls_ctx_t *ctx = server_ctx(key2, &error);

    assert_null(ctx);
    assert_non_null(strstr(error, "does not match"));
    ctx = server_ctx(key, &error);
    assert_non_null(ctx);
    assert_true(tls_ctx_not_after(ctx) > time(NULL) + 86400);
    tls_ctx_free(&ctx);
}

static SSL_SESSION *saved_session;

/* keep_session - client callback: remember the ticket */
static int keep_session(SSL *ssl, SSL_SESSION *sess)
{
    (void)ssl;
    if (saved_session)
	SSL_SESSION_free(saved_session);
    saved_session = sess;
    return 1;
}

/* test_resume_with_shared_secret - a ticket from one server process is
 * accepted by another (each child builds its own context) */
static void test_resume_with_shared_secret(void **state)
{
    (void)state;
    /* OpenSSL's client API is used directly here for the session reuse;
     * our client code does not cache sessions yet. */
    for (int round = 0; round < 2; round++) {
	int sv[2];
	pid_t pid;
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl;
	char buf[64];
	int status, n;

	SSL_CTX_set_session_cache_mode(cctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL);
	SSL_CTX_sess_set_new_cb(cctx, keep_session);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	if ((pid = fork()) == 0) {
	    close(sv[0]);
	    run_server(sv[1]);
	}
	close(sv[1]);
	ssl = SSL_new(cctx);
	SSL_set_fd(ssl, sv[0]);
	if (round == 1)
	    SSL_set_session(ssl, saved_session);
	assert_int_equal(SSL_connect(ssl), 1);
	assert_int_equal(SSL_write(ssl, "x\n", 2), 2);
	n = SSL_read(ssl, buf, sizeof(buf)); /* also takes the tickets */
	assert_int_equal(n, 7);
	assert_int_equal(SSL_session_reused(ssl), round);
	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(sv[0]);
	waitpid(pid, &status, 0);
	SSL_CTX_free(cctx);
    }
    SSL_SESSION_free(saved_session);
    saved_session = NULL;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_handshake_and_data),
	cmocka_unit_test(test_wrong_name_fails_verification),
	cmocka_unit_test(test_unverified_may_go_on),
	cmocka_unit_test(test_key_mismatch),
	cmocka_unit_test(test_resume_with_shared_secret),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, make_cert, NULL);
}
