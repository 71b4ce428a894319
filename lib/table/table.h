/*
 * table.h - lookup tables named "type:name".
 *
 *   cdb:/path        /path.cdb built by mailroom-map (cdb format)
 *   hash:/path       /path.db, Berkeley DB hash, built by mailroom-map
 *   btree:/path      /path.db, Berkeley DB btree
 *   texthash:/path   the text source itself, read into memory at open
 *   inline:{k=v, k2=v2}
 *   regexp:/path     /pattern/flags  result   (PCRE2; also pcre:)
 *   proxy:TYPE:NAME  through the tabled service (for chrooted daemons)
 *   unix:/socket     ask a server over a Unix socket (tabled protocol)
 *
 * Keys are folded to lower case (except regexp:, which matches as given).
 * A missing or corrupt table is an error the caller must treat as
 * temporary (451/4.3.0), never as "not found".
 */
#ifndef MR_TABLE_H
#define MR_TABLE_H

#include "util/attr.h"
#include "util/str.h"
#include "util/stream.h"

typedef struct table table_t;
typedef struct table_list table_list_t;

/* table_open - open one table. NULL with *error_r (names the file) on error. */
table_t *table_open(const char *spec, const char **error_r);
/* table_lookup - 1 found (value in *value), 0 not found, -1 error (*error_r) */
int table_lookup(table_t *t, const char *key, str_t *value, const char **error_r);
/* table_close - release and clear the caller's pointer */
void table_close(table_t **tp);
/* table_spec - the "type:name" it was opened with */
const char *table_spec(const table_t *t);

/* table_list_open - open a comma/space separated list of tables (the
 * value of a parameter such as virtual_alias_maps; may be empty) */
table_list_t *table_list_open(const char *specs, const char **error_r);
/* table_list_lookup - first table with the key wins; results as above */
int table_list_lookup(table_list_t *l, const char *key, str_t *value, const char **error_r);
/* table_list_lookup_addr - address lookup with the usual fall-backs, in
 * order: user+ext@domain, user@domain, user+ext, user, @domain
 * (the bare-local forms only when local_too is set, i.e. the domain is
 * one of ours); delim is recipient_delimiter. Results as above. */
int table_list_lookup_addr(table_list_t *l, const char *addr, const char *delim, int local_too,
			   str_t *value, const char **error_r);
/* table_list_changed - 1 if a file behind any table of the list was
 * replaced or modified since it was opened, else 0 */
int table_list_changed(const table_list_t *l);
/* table_list_empty - no tables configured */
int table_list_empty(const table_list_t *l);
/* table_list_close - release and clear the caller's pointer */
void table_list_close(table_list_t **lp);

/* Additions: building, change detection, the server side of proxy:. */

#define TABLE_BUILD_ALIAS (1 << 0) /* source is "name: value" (aliases) */
#define TABLE_BUILD_NUL (1 << 1)   /* store keys and values with a NUL */

/* table_build - build PATH.cdb (cdb:PATH) or PATH.db (hash:/btree:) from
 * the text file PATH, atomically: a temporary file in the same folder is
 * written, fsync'd and renamed over the old table, so a failure leaves
 * the old table intact. Returns the number of entries, or -1 with
 * *error_r ("file:line: problem" for a bad source line). Duplicate keys
 * are warned about; the first one wins. */
long table_build(const char *spec, int flags, const char **error_r);
/* table_changed - 1 if the file behind t was replaced or modified since
 * it was opened (a rebuilt table), 0 if not or not file-based */
int table_changed(const table_t *t);
/* table_split_specs - next "type:name" of a list, braces respected (so
 * inline:{a=b, c=d} stays whole); NULL at the end. *cp advances. The
 * result is static storage valid until the next call. */
const char *table_split_specs(const char **cp);

/* table_walk_open - list every entry of a texthash: table (the one
 * type that is a list an administrator edits and can be read whole);
 * NULL with *error_r for another type or an unreadable file */
typedef struct table_walk table_walk_t;
table_walk_t *table_walk_open(const char *spec, const char **error_r);
/* table_walk_next - next entry: 1 (key folded to lower case), 0 end,
 * -1 error ("file:line: ..."); pointers valid until the next call */
int table_walk_next(table_walk_t *w, const char **key_r, const char **value_r,
		    const char **error_r);
/* table_walk_close - release and clear the caller's pointer */
void table_walk_close(table_walk_t **wp);

/* How long a proxy client and tabled busy-wait for the other side before
 * they sleep (stream_spin_readable, event_set_spin): a round trip takes a
 * few microseconds, waking a sleeping process on an idle machine far more. */
#define TABLE_SPIN_US 50

/* The server side of the tabled protocol. allowed decides whether a
 * table may be served; get returns an open table for a spec (cached by
 * the caller) or NULL with *error_r. */
typedef int (*table_allow_fn)(const char *spec, void *context);
typedef table_t *(*table_get_fn)(const char *spec, void *context, const char **error_r);
/* table_server_answer - append the reply to one request list to out
 * (unknown or incomplete requests get status=2 and a reason) */
void table_server_answer(const attr_list_t *req, str_t *out, table_allow_fn allowed,
			 table_get_fn get, void *context);
/* table_server_serve - the protocol on one blocking stream: send the
 * handshake, then answer requests until EOF or an error. Returns the
 * number of requests answered, or -1 after an I/O or protocol error. */
long table_server_serve(stream_t *client, table_allow_fn allowed, table_get_fn get, void *context);

#endif
