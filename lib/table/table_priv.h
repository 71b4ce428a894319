/*
 * table_priv.h - what the table types share behind table.h.
 *
 * Each type embeds table_t as its first member and fills in the lookup
 * and close methods. table.c folds the key (unless the type says not to)
 * before calling lookup, so the types see the key exactly as stored.
 */
#ifndef MR_TABLE_PRIV_H
#define MR_TABLE_PRIV_H

#include <string.h>
#include <sys/types.h>
#include <time.h>

#include "table/table.h"
#include "util/htable.h"
#include "util/str.h"

struct table {
    char *spec;  /* "type:name" as opened */
    int no_fold; /* keys are used as given (regexp) */
    /* lookup - 1 found, 0 not found, -1 error with *error_r; key[len]
     * is always a NUL (so a type may look up len + 1 bytes) */
    int (*lookup)(table_t *t, const char *key, size_t len, str_t *value, const char **error_r);
    /* close - release type-specific state (not the table_t itself) */
    void (*close)(table_t *t);
    str_t *error; /* text behind *error_r */
    str_t *fold;  /* folded key */
    char *file;   /* file watched by table_changed, or NULL */
    dev_t file_dev;
    ino_t file_ino;
    struct timespec file_mtime;
};

/* table_alloc - allocate a table of size bytes (>= sizeof(table_t)) */
table_t *table_alloc(size_t size, const char *spec);
/* table_watch - remember the identity of the file behind a table (by the
 * open fd, or by path when fd is -1) */
void table_watch(table_t *t, const char *path, int fd);
/* table_error - format the table's error text; returns it */
const char *table_error(table_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* table_fold_key - ASCII lower-case copy of key into buf (for the types;
 * bytes >= 0x80 are kept as they are) */
void table_fold_key(str_t *buf, const char *key, size_t len);

/* table_set_value - store a found value; the usual case (it fits) costs
 * no function call, as it runs once per hit */
static inline void table_set_value(str_t *value, const char *v, size_t len)
{
    if (len < value->cap) {
	memcpy(value->data, v, len);
	value->data[len] = 0;
	value->len = len;
    } else {
	str_setn(value, v, len);
    }
}

/*
 * Key forms of the indexed files (cdb:, hash:, btree:). A table built
 * with mailroom-map -N stores keys and values with their terminating
 * NUL (as Postfix and sendmail's makemap can), one built without does
 * not. The first record tells which at open time (table_key_form); an
 * empty table or an unreadable first record leaves both forms in play,
 * and the first hit settles it (table_probe_forms).
 */
#define TABLE_KEY_PLAIN (1 << 0) /* keys without a NUL */
#define TABLE_KEY_NUL (1 << 1)   /* keys with their NUL */
#define TABLE_KEY_EITHER (TABLE_KEY_PLAIN | TABLE_KEY_NUL)

/* table_probe_fn - look up exactly len bytes of key; 1, 0, -1 */
typedef int (*table_probe_fn)(table_t *t, const char *key, size_t len, str_t *value,
			      const char **error_r);
/* table_key_form - the form of a stored key (NULL or empty: either) */
int table_key_form(const char *stored, size_t len);
/* table_probe_forms - probe key in each form *forms allows (key[len]
 * is its NUL, so the NUL form needs no copy); a hit narrows *forms to
 * its form. Returns as table_probe_fn. */
int table_probe_forms(table_t *t, int *forms, table_probe_fn probe, const char *key, size_t len,
		      str_t *value, const char **error_r);

/* table_set_stored_value - a value as stored, without its NUL if it has one */
static inline void table_set_stored_value(str_t *value, const char *v, size_t len)
{
    if (len > 0 && v[len - 1] == 0)
	len--;
    table_set_value(value, v, len);
}

/* Openers, one per type: name is what follows "type:". NULL with
 * *error_r (static storage or the given err string) on error. */
typedef table_t *(*table_open_fn)(const char *spec, const char *name, str_t *err);
table_t *table_cdb_open(const char *spec, const char *name, str_t *err);
table_t *table_hash_open(const char *spec, const char *name, str_t *err);
table_t *table_btree_open(const char *spec, const char *name, str_t *err);
table_t *table_texthash_open(const char *spec, const char *name, str_t *err);
table_t *table_inline_open(const char *spec, const char *name, str_t *err);
table_t *table_regexp_open(const char *spec, const char *name, str_t *err);
table_t *table_pcre_open(const char *spec, const char *name, str_t *err);
table_t *table_proxy_open(const char *spec, const char *name, str_t *err);
table_t *table_unix_open(const char *spec, const char *name, str_t *err);

/*
 * The text source format (mailroom-map input, texthash:, regexp:).
 * A logical line is a physical line plus the lines after it that start
 * with white space; blank lines and lines whose first non-blank byte is
 * '#' are skipped. Lines are bounded by TABLE_MAX_LINE.
 */
#define TABLE_MAX_LINE (1024 * 1024)

#define TABLE_SRC_ALIAS (1 << 0)  /* "name: value" lines */
#define TABLE_SRC_AUTO (1 << 1)   /* accept "name: value" as well */
#define TABLE_SRC_NOFOLD (1 << 2) /* keep key case */

typedef struct table_source table_source_t;

/* table_source_open - open a text file; NULL with text in err */
table_source_t *table_source_open(const char *path, int flags, str_t *err);
/* table_source_line - next logical line (without the newline); 1 ok,
 * 0 end, -1 error (text "file:line: ..." in err). *lineno_r is the
 * line where it starts. */
int table_source_line(table_source_t *src, str_t *line, int *lineno_r, str_t *err);
/* table_source_next - next key and value; results as table_source_line.
 * The key is folded unless TABLE_SRC_NOFOLD. Pointers stay valid until
 * the next call. */
int table_source_next(table_source_t *src, const char **key_r, const char **value_r, int *lineno_r,
		      str_t *err);
/* table_source_path - the file name for messages */
const char *table_source_path(const table_source_t *src);
/* table_source_close - release and clear the pointer */
void table_source_close(table_source_t **srcp);

/* table_text_load - a whole text source read into a new hash (flags as
 * table_source_open); NULL with "file:line: ..." in err */
htable_t *table_text_load(const char *path, int flags, str_t *err);

/* Builders behind table_build (name is the source path). */
int table_cdb_build(const char *name, htable_t *h, int flags, str_t *err);
int table_db_build(const char *name, int btree, htable_t *h, int flags, str_t *err);
/* table_build_tmp - name a temporary file beside final in tmp (any stale
 * one is removed); with want_fd, create it (O_EXCL) and return the fd.
 * 0 (or fd) ok, -1 with err */
int table_build_tmp(const char *final, str_t *tmp, int want_fd, str_t *err);
/* table_build_commit - fsync tmp, give it the source file's mode (and
 * owner when root), rename it over final, fsync the folder; -1 with err
 * (tmp is removed on failure) */
int table_build_commit(const char *tmp, const char *final, const char *source, str_t *err);

/* Client side of the tabled protocol (proxy: and unix:). */
/* table_client_lookup - ask the server at path about key in table;
 * results as table_lookup; reason text in err */
int table_client_lookup(const char *path, const char *table, const char *key, str_t *value,
			str_t *err);

#endif
