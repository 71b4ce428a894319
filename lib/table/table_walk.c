/*
 * table_walk.c - reading a whole texthash: table, entry by entry.
 *
 * For the few users that must load everything up front (TLS certificates
 * per server name are read before the privilege drop, so they cannot be
 * looked up on demand). Only texthash: can be listed: an indexed table
 * would need its own walker and no user wants one yet.
 */
#include <string.h>

#include "table/table_priv.h"
#include "util/mymalloc.h"

struct table_walk {
    table_source_t *src;
};

static str_t *walk_err; /* error text, valid after close */

/* table_walk_open - open the source text of a texthash: table */
table_walk_t *table_walk_open(const char *spec, const char **error_r)
{
    table_walk_t *w;
    table_source_t *src;

    if (walk_err == NULL)
	walk_err = str_new(128);
    if (strncmp(spec, "texthash:", 9) != 0) {
	str_printf(walk_err, "%s: only a texthash: table can be read whole", spec);
	*error_r = str_data(walk_err);
	return NULL;
    }
    if ((src = table_source_open(spec + 9, TABLE_SRC_AUTO, walk_err)) == NULL) {
	*error_r = str_data(walk_err);
	return NULL;
    }
    w = mr_calloc(1, sizeof(*w));
    w->src = src;
    return w;
}

/* table_walk_next - the next entry */
int table_walk_next(table_walk_t *w, const char **key_r, const char **value_r, const char **error_r)
{
    int lineno, r = table_source_next(w->src, key_r, value_r, &lineno, walk_err);

    if (r < 0)
	*error_r = str_data(walk_err);
    return r;
}

/* table_walk_close - release */
void table_walk_close(table_walk_t **wp)
{
    if (*wp == NULL)
	return;
    table_source_close(&(*wp)->src);
    mr_free(*wp);
    *wp = NULL;
}
