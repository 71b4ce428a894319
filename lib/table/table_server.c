/*
 * table_server.c - the server side of the tabled protocol, one
 * connection at a time (see table_client.c for the grammar).
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

#define TABLE_STATUS_FOUND	"0"
#define TABLE_STATUS_NOTFOUND	"1"
#define TABLE_STATUS_ERROR	"2"

/* table_server_error - send status=2 with a reason */
static int table_server_error(stream_t *client, const char *fmt, const char *arg)
{
    str_t  *reason = str_new(100);
    int     ret;

    str_printf(reason, fmt, arg);
    ret = attr_send(client, MAIL_ATTR_STATUS, TABLE_STATUS_ERROR,
		    MAIL_ATTR_REASON, str_data(reason), (char *) NULL);
    str_free(&reason);
    return ret;
}

/* table_server_lookup - answer one lookup request */
static int table_server_lookup(stream_t *client, const attr_list_t *req, str_t *value,
			       table_allow_fn allowed, table_get_fn get, void *context)
{
    const char *spec = attr_get(req, MAIL_ATTR_TABLE);
    const char *key = attr_get(req, MAIL_ATTR_KEY);
    const char *why;
    table_t *t;
    int     r;

    if (spec == NULL || key == NULL)
	return table_server_error(client, "%slookup request without table= or key=", "");
    if (!allowed(spec, context)) {
	msg_warn("request for table %.200s, which is not in proxy_read_maps", spec);
	return table_server_error(client, "table %.200s is not in proxy_read_maps", spec);
    }
    if ((t = get(spec, context, &why)) == NULL)
	return table_server_error(client, "%s", why);
    if ((r = table_lookup(t, key, value, &why)) < 0)
	return table_server_error(client, "%s", why);
    if (r == 0)
	return attr_send(client, MAIL_ATTR_STATUS, TABLE_STATUS_NOTFOUND, (char *) NULL);
    return attr_send(client, MAIL_ATTR_STATUS, TABLE_STATUS_FOUND,
		     MAIL_ATTR_VALUE, str_data(value), (char *) NULL);
}

/* table_server_next - wait for (spinning briefly, see TABLE_SPIN_US) and
 * read the next request; 1 got one, 0 end or error (*r_r set) */
static int table_server_next(stream_t *client, attr_list_t *req, int *r_r)
{
    (void) stream_spin_readable(client, TABLE_SPIN_US);
    *r_r = attr_read(client, req);
    return *r_r == 1;
}

long    table_server_serve(stream_t *client, table_allow_fn allowed, table_get_fn get,
			   void *context)
{
    attr_list_t *req = attr_list_new();
    str_t  *value = str_new(100);
    const char *name;
    long    count = 0;
    int     r = 0;

    if (attr_send_protocol(client, MAIL_PROTO_TABLED) < 0)
	r = -1;
    while (r == 0 && table_server_next(client, req, &r)) {
	if ((name = attr_get(req, MAIL_ATTR_REQUEST)) == NULL)
	    r = table_server_error(client, "%srequest without request=", "");
	else if (strcmp(name, "lookup") == 0)
	    r = table_server_lookup(client, req, value, allowed, get, context);
	else
	    r = table_server_error(client, "unknown request \"%.100s\"", name);
	if (r == 0)
	    count++;
    }
    if (r < 0 && !stream_eof(client))
	msg_warn("tabled client: %s after %ld requests",
		 stream_timedout(client) ? "timeout" : "I/O or protocol error", count);
    attr_list_free(&req);
    str_free(&value);
    return r < 0 ? -1 : count;
}
