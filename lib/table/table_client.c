/*
 * table_client.c - proxy:TYPE:NAME and unix:/socket tables: lookups
 * asked of a server over a Unix socket (the tabled protocol).
 *
 *   server: protocol=tabled                            (on connect)
 *   client: request=lookup table=TYPE:NAME key=KEY
 *   server: status=0 value=VALUE | status=1 | status=2 reason=TEXT
 *
 * One connection per socket is kept open and shared by every table of
 * the process, for many lookups. tabled exits after a while (use and
 * idle limits), so a request that fails on a connection that had worked
 * before is retried once on a fresh one; a second failure is an error.
 * The key goes out as given: the server folds it for the table's type.
 */
#include <signal.h>
#include <string.h>

#include "global/config.h"
#include "global/mail_proto.h"
#include "global/mail_queue.h"
#include "table/table_priv.h"
#include "util/attr.h"
#include "util/msg.h"
#include "util/mymalloc.h"
#include "util/sock.h"

typedef struct table_conn {
    char *path;
    int timeout_ms; /* table_ipc_timeout */
    stream_t *stream;
    attr_list_t *reply;
    struct table_conn *next;
} table_conn_t;

static table_conn_t *table_conns;

typedef struct table_remote {
    table_t t;
    char *socket; /* server socket path */
    char *name;   /* table name sent to the server */
} table_remote_t;

/* table_conn_get - the connection record for a socket path */
static table_conn_t *table_conn_get(const char *path)
{
    table_conn_t *c;

    for (c = table_conns; c; c = c->next)
	if (strcmp(c->path, path) == 0)
	    return c;
    c = mr_calloc(1, sizeof(*c));
    c->path = mr_strdup(path);
    c->reply = attr_list_new();
    c->next = table_conns;
    table_conns = c;
    return c;
}

/* table_conn_open - connect and check the handshake; -1 with err */
static int table_conn_open(table_conn_t *c, str_t *err)
{
    int timeout = (int)config_time("table_ipc_timeout");
    const char *why;
    int fd;

    /* A server that went away must be a lookup error, not a dead client. */
    signal(SIGPIPE, SIG_IGN);
    if ((fd = sock_connect_unix(c->path, timeout, &why)) < 0) {
	str_printf(err, "connect to %s: %s", c->path, why);
	return -1;
    }
    c->stream = stream_open(fd);
    stream_set_timeout(c->stream, timeout);
    c->timeout_ms = timeout > 0 ? timeout * 1000 : -1;
    if (attr_expect_protocol(c->stream, MAIL_PROTO_TABLED, &why) < 0) {
	str_printf(err, "server at %s: %s", c->path, why);
	stream_close(&c->stream);
	return -1;
    }
    return 0;
}

/*
 * table_conn_ask - one request and its reply; -1 on I/O trouble (or no
 * reply within table_ipc_timeout). The request goes out in one write;
 * then the client waits for the reply before reading it: right after a
 * request the reply is never there yet, and a read tried first would
 * only fail (EAGAIN) before the wait. So: write, poll, read. The wait
 * spins for TABLE_SPIN_US first: tabled answers within microseconds, and
 * a client that went to sleep on an idle machine takes far longer than
 * that to be woken (measured: 12,600 lookups/s sleeping, over 100,000
 * spinning).
 */
static int table_conn_ask(table_conn_t *c, const char *table, const char *key)
{
    if (attr_send(c->stream, MAIL_ATTR_REQUEST, MAIL_REQ_LOOKUP, MAIL_ATTR_TABLE, table,
		  MAIL_ATTR_KEY, key, (char *)NULL) < 0 ||
	(stream_spin_readable(c->stream, TABLE_SPIN_US) != 1 &&
	 stream_wait_readable(c->stream, c->timeout_ms) != 1) ||
	attr_read(c->stream, c->reply) != 1) {
	stream_close(&c->stream);
	return -1;
    }
    return 0;
}

/* table_conn_reply - turn a reply into a lookup result */
static int table_conn_reply(table_conn_t *c, str_t *value, str_t *err)
{
    long status = attr_get_long(c->reply, MAIL_ATTR_STATUS, -1);
    const char *v = attr_get(c->reply, MAIL_ATTR_VALUE);
    const char *reason = attr_get(c->reply, MAIL_ATTR_REASON);

    if (status == 0 && v != NULL) {
	str_set(value, v);
	return 1;
    }
    if (status == 1)
	return 0;
    if (status == 2)
	str_printf(err, "%s", reason ? reason : "server error without a reason");
    else
	str_printf(err, "malformed reply from %s", c->path);
    return -1;
}

int table_client_lookup(const char *path, const char *table, const char *key, str_t *value,
			str_t *err)
{
    table_conn_t *c = table_conn_get(path);
    int reused = (c->stream != NULL);

    if (c->stream == NULL && table_conn_open(c, err) < 0)
	return -1;
    if (table_conn_ask(c, table, key) < 0) {
	if (!reused || table_conn_open(c, err) < 0 || table_conn_ask(c, table, key) < 0) {
	    if (str_len(err) == 0)
		str_printf(err, "lost connection to %s", path);
	    return -1;
	}
    }
    return table_conn_reply(c, value, err);
}

/* table_remote_lookup - a lookup through the server */
static int table_remote_lookup(table_t *t, const char *key, size_t len, str_t *value,
			       const char **error_r)
{
    table_remote_t *r = (table_remote_t *)t;
    int ret;

    str_reset(t->error);
    if (memchr(key, '\n', len) || memchr(key, '\r', len)) {
	*error_r = table_error(t, "%s: key contains a line break", t->spec);
	return -1;
    }
    if ((ret = table_client_lookup(r->socket, r->name, key, value, t->error)) < 0) {
	str_t *msg = str_new(100);

	str_printf(msg, "%s: %s", t->spec, str_data(t->error));
	str_setn(t->error, str_data(msg), str_len(msg));
	str_free(&msg);
	*error_r = str_data(t->error);
    }
    return ret;
}

/* table_remote_close - free the names (the connection stays shared) */
static void table_remote_close(table_t *t)
{
    table_remote_t *r = (table_remote_t *)t;

    mr_free(r->socket);
    mr_free(r->name);
}

/* table_remote_new - a table that asks socket about name */
static table_t *table_remote_new(const char *spec, const char *socket, const char *name)
{
    table_remote_t *r = (table_remote_t *)table_alloc(sizeof(*r), spec);

    r->t.no_fold = 1;
    r->t.lookup = table_remote_lookup;
    r->t.close = table_remote_close;
    r->socket = mr_strdup(socket);
    r->name = mr_strdup(name);
    return &r->t;
}

table_t *table_proxy_open(const char *spec, const char *name, str_t *err)
{
    const char *colon = strchr(name, ':');

    if (colon == NULL || colon == name || colon[1] == 0) {
	str_printf(err, "table \"%s\": expected proxy:type:name", spec);
	return NULL;
    }
    if (strncmp(name, "proxy:", 6) == 0) {
	str_printf(err, "table \"%s\": proxy: inside proxy:", spec);
	return NULL;
    }
    return table_remote_new(spec, mail_queue_path(MAIL_SOCK_TABLED), name);
}

table_t *table_unix_open(const char *spec, const char *name, str_t *err)
{
    if (*name != '/') {
	str_printf(err, "table \"%s\": expected unix:/absolute/socket/path", spec);
	return NULL;
    }
    return table_remote_new(spec, name, spec);
}
