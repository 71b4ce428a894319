/*
 * tabled.c - the lookup table server behind proxy:TYPE:NAME tables.
 *
 * What it does: answers lookup requests from other daemons over the
 * private/tabled socket, so that a daemon that cannot open a table
 * itself (it is chrooted, or the file is readable only by root) can
 * still use it, and so that many processes share one open copy of a
 * large text or regexp table. Protocol (attribute lists, util/attr.h):
 *
 *   tabled: protocol=tabled
 *   client: request=lookup table=TYPE:NAME key=KEY
 *   tabled: status=0 value=VALUE | status=1 | status=2 reason=TEXT
 *
 * Many requests per connection, and requests may be pipelined; the
 * connection ends when the client closes it (or after ipc_timeout of
 * silence). One process serves every client at once on the event
 * skeleton (event_server_main): each connection has its own resumable
 * request parser, so a client that sends half a request holds up no one.
 *
 * Trust: requests come from other mailroom daemons over a socket in
 * private/, but are still checked: only tables listed in
 * proxy_read_maps are served (anything else gets status=2 and a logged
 * warning), so a compromised daemon cannot make tabled read arbitrary
 * files. Keys and table names are bounded by the attribute reader.
 *
 * Privileges: every allowed table is opened in pre_init, as root, before
 * the privilege drop; then tabled runs as mail_owner (master.conf: unpriv
 * y). It is not chrooted in the shipped master.conf (as Postfix's
 * proxymap is not): a table whose file is rebuilt (mailroom-map) is opened
 * again by its path at the next request, at most once a second; if that fails (the
 * new file is not readable by mail_owner), the old copy stays in use and
 * a warning is logged.
 *
 * Parameters: proxy_read_maps (default "*_maps": every proxy: entry of
 * every *_maps parameter), berkeley_db_* and those of the server
 * skeleton (max_use, max_idle, ipc_timeout).
 */
#include <string.h>
#include <time.h>

#include "global/config.h"
#include "global/mail_proto.h"
#include "master/event_attr.h"
#include "table/table.h"
#include "util/msg.h"
#include "util/mymalloc.h"

typedef struct tabled_entry {
    char *spec;     /* TYPE:NAME as clients name it */
    table_t *table; /* NULL if it could not be opened */
    time_t checked; /* last table_changed check */
} tabled_entry_t;

static tabled_entry_t *tabled_tables;
static size_t tabled_count;

/* tabled_add - allow spec (once) */
static void tabled_add(const char *spec)
{
    if (strncmp(spec, "proxy:", 6) == 0)
	spec += 6;
    for (size_t i = 0; i < tabled_count; i++)
	if (strcmp(tabled_tables[i].spec, spec) == 0)
	    return;
    tabled_tables = mr_reallocarray(tabled_tables, tabled_count + 1, sizeof(*tabled_tables));
    tabled_tables[tabled_count++] = (tabled_entry_t){mr_strdup(spec), NULL, 0};
}

/* tabled_add_proxied - the proxy: entries of one *_maps value */
static void tabled_add_proxied(const char *value)
{
    char *copy = mr_strdup(value);
    const char *cp = copy, *spec;

    while ((spec = table_split_specs(&cp)) != NULL)
	if (strncmp(spec, "proxy:", 6) == 0)
	    tabled_add(spec);
    mr_free(copy);
}

/* tabled_walk - config_walk callback for "*_maps" */
static void tabled_walk(const param_def_t *def, const char *value, int is_default, void *context)
{
    size_t len = strlen(def->name);

    if (len > 5 && strcmp(def->name + len - 5, "_maps") == 0 &&
	strncmp(def->name, "proxy_", 6) != 0)
	tabled_add_proxied(config_str(def->name));
}

/* tabled_allow_list - build the allowed tables from proxy_read_maps */
static void tabled_allow_list(void)
{
    char *copy = mr_strdup(config_str("proxy_read_maps"));
    const char *cp = copy, *spec;
    char **words = NULL;
    size_t n = 0;

    while ((spec = table_split_specs(&cp)) != NULL) {
	words = mr_reallocarray(words, n + 1, sizeof(*words));
	words[n++] = mr_strdup(spec);
    }
    for (size_t i = 0; i < n; i++) {
	if (strcmp(words[i], "*_maps") == 0)
	    config_walk(tabled_walk, NULL);
	else
	    tabled_add(words[i]);
	mr_free(words[i]);
    }
    mr_free(words);
    mr_free(copy);
}

/* tabled_open - (re)open one entry; logs a failure */
static void tabled_open(tabled_entry_t *e)
{
    const char *error;
    table_t *t;

    if ((t = table_open(e->spec, &error)) == NULL) {
	msg_warn("%s", error);
	return;
    }
    table_close(&e->table);
    e->table = t;
    e->checked = time(NULL);
}

/* tabled_find - the entry for spec, or NULL */
static tabled_entry_t *tabled_find(const char *spec)
{
    for (size_t i = 0; i < tabled_count; i++)
	if (strcmp(tabled_tables[i].spec, spec) == 0)
	    return tabled_tables + i;
    return NULL;
}

/* tabled_allowed - is spec in proxy_read_maps? */
static int tabled_allowed(const char *spec, void *context)
{
    return tabled_find(spec) != NULL;
}

/* tabled_get - the open table for spec, reopened if it was rebuilt */
static table_t *tabled_get(const char *spec, void *context, const char **error_r)
{
    static str_t *why;
    tabled_entry_t *e = tabled_find(spec);
    time_t now = time(NULL);

    if (e->table == NULL || (now != e->checked && table_changed(e->table))) {
	if (e->table != NULL)
	    msg_info("table %s changed: opening it again", spec);
	tabled_open(e);
    }
    e->checked = now;
    if (e->table == NULL) {
	if (why == NULL)
	    why = str_new(100);
	str_printf(why, "table %s cannot be opened (see the tabled log)", spec);
	*error_r = str_data(why);
    }
    return e->table;
}

/* tabled_pre_init - open every allowed table while still privileged */
static void tabled_pre_init(const char *service)
{
    tabled_allow_list();
    for (size_t i = 0; i < tabled_count; i++)
	tabled_open(tabled_tables + i);
    if (msg_verbose)
	msg_info("serving %zu tables", tabled_count);
}

/* tabled_conn_open - a new client: its parser, and the handshake */
static void tabled_conn_open(event_conn_t *conn, const char *service)
{
    event_attr_t *ea = mr_calloc(1, sizeof(*ea));

    event_attr_init(ea);
    event_conn_set_context(conn, ea);
    event_attr_greet(conn, MAIL_PROTO_TABLED);
}

/* tabled_answer - one lookup request */
static void tabled_answer(event_conn_t *conn, const attr_list_t *req, str_t *out)
{
    table_server_answer(req, out, tabled_allowed, tabled_get, NULL);
}

/* tabled_conn_input - answer every request that is complete */
static void tabled_conn_input(event_conn_t *conn, const char *buf, size_t len)
{
    event_attr_input(conn, event_conn_context(conn), buf, len, tabled_answer);
}

/* tabled_conn_close - forget a client */
static void tabled_conn_close(event_conn_t *conn)
{
    event_attr_t *ea = event_conn_context(conn);

    event_attr_done(ea);
    mr_free(ea);
}

int main(int argc, char **argv)
{
    static const server_params_t params = {
	.pre_init = tabled_pre_init,
	.conn_open = tabled_conn_open,
	.conn_input = tabled_conn_input,
	.conn_close = tabled_conn_close,
	.spin_us = TABLE_SPIN_US,
    };

    msg_init("tabled");
    return event_server_main(argc, argv, &params);
}
