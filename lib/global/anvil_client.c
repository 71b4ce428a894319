/*
 * anvil_client.c - the client side of the anvil protocol (see
 * anvil_client.h and docs/anvil.md).
 *
 * One connection, opened at the first request and kept. anvil ties each
 * session to the connection that opened it and closes the sessions of a
 * connection that goes away, so a client that dies (even by kill -9)
 * leaks no count. A request that fails on a connection that had worked
 * (anvil was restarted) is tried once more on a fresh one; a second
 * failure is reported, and the caller goes on without counting.
 */
#include <stdio.h>
#include <string.h>

#include "global/anvil_client.h"
#include "global/config.h"
#include "global/mail_proto.h"
#include "util/attr.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/sock.h"
#include "util/str.h"
#include "util/stream.h"

struct anvil_client {
    char *path;
    stream_t *stream; /* NULL: not connected */
    attr_list_t *reply;
};

static char anvil_client_why[300];

/* anvil_client_fail - set the reason; returns -1 */
static int anvil_client_fail(const char **error_r, const char *what, const char *why)
{
    snprintf(anvil_client_why, sizeof(anvil_client_why), "%s: %s", what, why);
    *error_r = anvil_client_why;
    return -1;
}

anvil_client_t *anvil_client_new(const char *path)
{
    anvil_client_t *a = mr_calloc(1, sizeof(*a));

    a->path = mr_strdup(path);
    a->reply = attr_list_new();
    return a;
}

void anvil_client_free(anvil_client_t **ap)
{
    anvil_client_t *a = *ap;

    if (a == NULL)
	return;
    if (a->stream)
	stream_close(&a->stream);
    attr_list_free(&a->reply);
    mr_free(a->path);
    mr_free(a);
    *ap = NULL;
}

const char *anvil_client_ident(const char *service, const char *addr)
{
    static char ident[300];

    snprintf(ident, sizeof(ident), "%s:%s", service, addr);
    return ident;
}

/* anvil_client_open - connect and check the handshake */
static int anvil_client_open(anvil_client_t *a, const char **error_r)
{
    int timeout = (int)config_time("anvil_ipc_timeout");
    const char *why;
    int fd;

    if ((fd = sock_connect_unix(a->path, timeout, &why)) < 0)
	return anvil_client_fail(error_r, a->path, why);
    a->stream = stream_open(fd);
    stream_set_timeout(a->stream, timeout);
    if (attr_expect_protocol(a->stream, MAIL_PROTO_ANVIL, &why) < 0) {
	stream_close(&a->stream);
	return anvil_client_fail(error_r, a->path, why);
    }
    return 0;
}

/* anvil_client_once - one request and its reply on the open connection */
static int anvil_client_once(anvil_client_t *a, const char *request, const char *ident,
			     const char **error_r)
{
    const char *reason;
    int timedout;

    if (attr_send(a->stream, MAIL_ATTR_REQUEST, request, MAIL_ATTR_IDENT, ident, (char *)NULL) <
	    0 ||
	attr_read(a->stream, a->reply) != 1) {
	timedout = stream_timedout(a->stream);
	stream_close(&a->stream);
	return anvil_client_fail(error_r, a->path, timedout ? "timeout" : "lost connection");
    }
    if (attr_get_long(a->reply, MAIL_ATTR_STATUS, -1) != 0) {
	reason = attr_get(a->reply, MAIL_ATTR_REASON);
	return anvil_client_fail(error_r, a->path, reason ? reason : "request refused");
    }
    return 0;
}

/* anvil_client_ask - a request, retried once on a fresh connection */
static int anvil_client_ask(anvil_client_t *a, const char *request, const char *ident,
			    const char **error_r)
{
    int had = a->stream != NULL;

    if (!had && anvil_client_open(a, error_r) < 0)
	return -1;
    if (anvil_client_once(a, request, ident, error_r) == 0)
	return 0;
    if (!had || a->stream != NULL || anvil_client_open(a, error_r) < 0)
	return -1;
    return anvil_client_once(a, request, ident, error_r);
}

int anvil_client_connect(anvil_client_t *a, const char *ident, long *count_r, long *rate_r,
			 const char **error_r)
{
    if (anvil_client_ask(a, ANVIL_REQ_CONNECT, ident, error_r) < 0)
	return -1;
    *count_r = attr_get_long(a->reply, MAIL_ATTR_COUNT, 0);
    *rate_r = attr_get_long(a->reply, MAIL_ATTR_RATE, 0);
    return 0;
}

int anvil_client_disconnect(anvil_client_t *a, const char *ident, const char **error_r)
{
    return anvil_client_ask(a, ANVIL_REQ_DISCONNECT, ident, error_r);
}

int anvil_client_message(anvil_client_t *a, const char *ident, long *rate_r, const char **error_r)
{
    if (anvil_client_ask(a, ANVIL_REQ_MESSAGE, ident, error_r) < 0)
	return -1;
    *rate_r = attr_get_long(a->reply, MAIL_ATTR_MAIL_RATE, 0);
    return 0;
}

int anvil_client_auth_failure(anvil_client_t *a, const char *ident, long *rate_r,
			      const char **error_r)
{
    if (anvil_client_ask(a, ANVIL_REQ_AUTH_FAILURE, ident, error_r) < 0)
	return -1;
    *rate_r = attr_get_long(a->reply, MAIL_ATTR_AUTH_RATE, 0);
    return 0;
}

int anvil_client_auth_lookup(anvil_client_t *a, const char *ident, long *rate_r,
			     const char **error_r)
{
    if (anvil_client_ask(a, ANVIL_REQ_LOOKUP, ident, error_r) < 0)
	return -1;
    *rate_r = attr_get_long(a->reply, MAIL_ATTR_AUTH_RATE, 0);
    return 0;
}
