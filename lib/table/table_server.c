/*
 * table_server.c - the server side of the tabled protocol (see
 * table_client.c for the grammar): the answer to one request, used by
 * tabled on the event skeleton, and a blocking loop over one stream.
 *
 * The client is another daemon of ours but is still not trusted: every
 * request is checked against the caller's allow-list before a table is
 * touched, unknown requests get status=2 with a reason, and a malformed
 * list ends the connection. Lookups that fail are status=2, never a
 * "not found", so the asking daemon can answer with a temporary error.
 */
#include <string.h>

#include "global/mail_proto.h"
#include "table/table_priv.h"
#include "util/attr.h"
#include "util/msg.h"

#define TABLE_STATUS_FOUND "0"
#define TABLE_STATUS_NOTFOUND "1"
#define TABLE_STATUS_ERROR "2"

/* table_server_error - a status=2 reply with a reason */
static void table_server_error(str_t *out, const char *fmt, const char *arg)
{
    str_t *reason = str_new(100);

    str_printf(reason, fmt, arg);
    attr_format_args(out, MAIL_ATTR_STATUS, TABLE_STATUS_ERROR, MAIL_ATTR_REASON, str_data(reason),
		     (char *)NULL);
    str_free(&reason);
}

/* table_server_lookup - answer one lookup request */
static void table_server_lookup(const attr_list_t *req, str_t *out, str_t *value,
				table_allow_fn allowed, table_get_fn get, void *context)
{
    const char *spec = attr_get(req, MAIL_ATTR_TABLE);
    const char *key = attr_get(req, MAIL_ATTR_KEY);
    const char *why;
    table_t *t;
    int r;

    if (spec == NULL || key == NULL) {
	table_server_error(out, "%slookup request without table= or key=", "");
    } else if (!allowed(spec, context)) {
	msg_warn("request for table %.200s, which is not in proxy_read_maps", spec);
	table_server_error(out, "table %.200s is not in proxy_read_maps", spec);
    } else if ((t = get(spec, context, &why)) == NULL) {
	table_server_error(out, "%s", why);
    } else if ((r = table_lookup(t, key, value, &why)) < 0) {
	table_server_error(out, "%s", why);
    } else if (r == 0) {
	attr_format_args(out, MAIL_ATTR_STATUS, TABLE_STATUS_NOTFOUND, (char *)NULL);
    } else {
	attr_format_args(out, MAIL_ATTR_STATUS, TABLE_STATUS_FOUND, MAIL_ATTR_VALUE,
			 str_data(value), (char *)NULL);
    }
}

/* table_server_greeting - append the protocol handshake to out */
static void table_server_greeting(str_t *out)
{
    attr_format_args(out, MAIL_ATTR_PROTOCOL, MAIL_PROTO_TABLED, (char *)NULL);
}

void table_server_answer(const attr_list_t *req, str_t *out, table_allow_fn allowed,
			 table_get_fn get, void *context)
{
    static str_t *value;
    const char *name;

    if (value == NULL)
	value = str_new(100);
    if ((name = attr_get(req, MAIL_ATTR_REQUEST)) == NULL)
	table_server_error(out, "%srequest without request=", "");
    else if (strcmp(name, MAIL_REQ_LOOKUP) == 0)
	table_server_lookup(req, out, value, allowed, get, context);
    else
	table_server_error(out, "unknown request \"%.100s\"", name);
}

/* table_server_next - wait for (spinning briefly, see TABLE_SPIN_US) and
 * read the next request; 1 got one, 0 end or error (*r_r set) */
static int table_server_next(stream_t *client, attr_list_t *req, int *r_r)
{
    (void)stream_spin_readable(client, TABLE_SPIN_US);
    *r_r = attr_read(client, req);
    return *r_r == 1;
}

/* table_server_send - write and flush what out holds, then empty it */
static int table_server_send(stream_t *client, str_t *out)
{
    int r = stream_write(client, str_data(out), str_len(out));

    str_reset(out);
    return r == 0 ? stream_flush(client) : -1;
}

long table_server_serve(stream_t *client, table_allow_fn allowed, table_get_fn get, void *context)
{
    attr_list_t *req = attr_list_new();
    str_t *out = str_new(100);
    long count = 0;
    int r = 0;

    table_server_greeting(out);
    while ((r = table_server_send(client, out)) == 0 && table_server_next(client, req, &r)) {
	table_server_answer(req, out, allowed, get, context);
	count++;
    }
    if (r < 0 && !stream_eof(client))
	msg_warn("tabled client: %s after %ld requests",
		 stream_timedout(client) ? "timeout" : "I/O or protocol error", count);
    attr_list_free(&req);
    str_free(&out);
    return r < 0 ? -1 : count;
}
