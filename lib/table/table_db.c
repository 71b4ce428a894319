/*
 * table_db.c - hash:PATH and btree:PATH tables: PATH.db, Berkeley DB.
 *
 * Opened read-only without an environment (no locking: the file is only
 * ever replaced by rename, never written in place). The cache is sized
 * to the file, up to berkeley_db_read_buffer_size, so that a large table
 * is not read from the page cache over and over. Keys with or without
 * their NUL: table_probe_forms (table.c), as for cdb.
 */
#include <db.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "global/config.h"
#include "table/table_priv.h"
#include "util/mymalloc.h"

typedef struct table_db {
    table_t t;
    DB *db;
    int forms; /* TABLE_KEY_* still in play */
    char *path;
} table_db_t;

/* table_db_get - one probe; 1, 0, -1 */
static int table_db_get(table_t *t, const char *key, size_t len, str_t *value, const char **error_r)
{
    table_db_t *d = (table_db_t *)t;
    DBT k, v;
    int r;

    memset(&k, 0, sizeof(k));
    memset(&v, 0, sizeof(v));
    k.data = (void *)key;
    k.size = (u_int32_t)len;
    if ((r = d->db->get(d->db, NULL, &k, &v, 0)) == DB_NOTFOUND)
	return 0;
    if (r != 0) {
	*error_r = table_error(&d->t, "%s: lookup error: %s", d->path, db_strerror(r));
	return -1;
    }
    table_set_stored_value(value, v.data, v.size);
    return 1;
}

/* table_db_lookup - probe the key forms still in play */
static int table_db_lookup(table_t *t, const char *key, size_t len, str_t *value,
			   const char **error_r)
{
    table_db_t *d = (table_db_t *)t;

    return table_probe_forms(t, &d->forms, table_db_get, key, len, value, error_r);
}

/* table_db_habit - the key form of the first record */
static int table_db_habit(DB *db)
{
    DBC *cur;
    DBT k, v;
    int forms = TABLE_KEY_EITHER;

    memset(&k, 0, sizeof(k));
    memset(&v, 0, sizeof(v));
    if (db->cursor(db, NULL, &cur, 0) != 0)
	return forms;
    if (cur->get(cur, &k, &v, DB_FIRST) == 0)
	forms = table_key_form(k.data, k.size);
    cur->close(cur);
    return forms;
}

/* table_db_close - close the database */
static void table_db_close(table_t *t)
{
    table_db_t *d = (table_db_t *)t;

    if (d->db)
	d->db->close(d->db, 0);
    mr_free(d->path);
}

static char table_db_last_error[256]; /* Berkeley DB's own words */

/* table_db_errcall - keep Berkeley DB's last message instead of printing it */
static void table_db_errcall(const DB_ENV *env, const char *prefix, const char *text)
{
    snprintf(table_db_last_error, sizeof(table_db_last_error), "%s", text);
}

/* table_db_cache - cache bytes for a file of size bytes */
static u_int32_t table_db_cache(long long size, const char *param)
{
    long long max = config_size(param);
    long long want = size + size / 4 + 256 * 1024;

    if (want > max)
	want = max;
    if (want > 1024LL * 1024 * 1024)
	want = 1024LL * 1024 * 1024;
    return (u_int32_t)want;
}

/* table_db_open - open name.db read-only as type */
static table_t *table_db_open(const char *spec, const char *name, DBTYPE type, str_t *err)
{
    table_db_t *d = (table_db_t *)table_alloc(sizeof(*d), spec);
    struct stat st;
    int r, fd;

    d->path = mr_format("%s.db", name);
    d->forms = TABLE_KEY_EITHER;
    d->t.lookup = table_db_lookup;
    d->t.close = table_db_close;
    if ((fd = open(d->path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
	str_printf(err, "open %s: %s", d->path, strerror(errno));
	goto fail;
    }
    table_watch(&d->t, d->path, fd);
    close(fd);
    if ((r = db_create(&d->db, NULL, 0)) != 0) {
	str_printf(err, "%s: db_create: %s", d->path, db_strerror(r));
	goto fail;
    }
    d->db->set_errcall(d->db, table_db_errcall);
    table_db_last_error[0] = 0;
    if ((r = d->db->set_cachesize(
	     d->db, 0, table_db_cache(st.st_size, "berkeley_db_read_buffer_size"), 1)) != 0 ||
	(r = d->db->open(d->db, NULL, d->path, NULL, type, DB_RDONLY, 0)) != 0) {
	str_printf(err, "open %s: %s", d->path,
		   r == EINVAL ? "not a Berkeley DB file of this type, or corrupt"
			       : db_strerror(r));
	if (table_db_last_error[0])
	    str_appendf(err, " (%s)", table_db_last_error);
	goto fail;
    }
    d->forms = table_db_habit(d->db);
    return &d->t;
fail:
    table_close((table_t **)&d);
    return NULL;
}

table_t *table_hash_open(const char *spec, const char *name, str_t *err)
{
    return table_db_open(spec, name, DB_HASH, err);
}

table_t *table_btree_open(const char *spec, const char *name, str_t *err)
{
    return table_db_open(spec, name, DB_BTREE, err);
}

/* table_db_write - put every entry into an open database */
static int table_db_write(DB *db, htable_t *h, int flags)
{
    int nul = (flags & TABLE_BUILD_NUL) ? 1 : 0;
    DBT k, v;
    int r;

    for (size_t i = 0; i < htable_count(h); i++) {
	const char *kp, *vp;
	size_t klen, vlen;

	htable_item(h, i, &kp, &klen, &vp, &vlen);
	memset(&k, 0, sizeof(k));
	memset(&v, 0, sizeof(v));
	k.data = (void *)kp;
	k.size = (u_int32_t)(klen + nul);
	v.data = (void *)vp;
	v.size = (u_int32_t)(vlen + nul);
	if ((r = db->put(db, NULL, &k, &v, 0)) != 0)
	    return r;
    }
    return 0;
}

/*
 * table_db_shape - page size and fill factor for a hash: file. A lookup
 * costs a binary search within one bucket page, each probe a likely
 * cache miss, plus a page read into the cache the first time a page is
 * touched. Measured with 1,000,000 short entries, Berkeley DB's own
 * choice (4 KB pages filled up, a third of the buckets with an overflow
 * page: about 80 entries per bucket) gave 0.65 million lookups a
 * second; 2 KB pages at about 15 entries per bucket (40% full, no
 * overflow pages) 0.8 million (first pass) to 0.95 million (all pages
 * cached); smaller pages or fuller ones were slower. So: the smallest
 * page from 2 KB up that holds 32 average entries, and a fill factor
 * (counted in keys plus values, hence twice the entries) for 40% of it.
 */
static void table_db_shape(htable_t *h, int nul, u_int32_t *pagesize_r, u_int32_t *ffactor_r)
{
    size_t n = htable_count(h), bytes = 0, per_entry, fit;
    u_int32_t pagesize = 2048;

    for (size_t i = 0; i < n; i++) {
	const char *k, *v;
	size_t klen, vlen;

	htable_item(h, i, &k, &klen, &v, &vlen);
	bytes += klen + vlen;
    }
    /* each key and value: a type byte, a 2-byte index slot (and a NUL) */
    per_entry = (n ? bytes / n : 0) + 2 * (3 + nul);
    while (pagesize < 65536 && (pagesize - 26) / per_entry < 32)
	pagesize *= 2;
    fit = (pagesize - 26) / per_entry;
    *pagesize_r = pagesize;
    *ffactor_r = (u_int32_t)(fit * 4 / 5 > 2 ? fit * 4 / 5 : 2);
}

int table_db_build(const char *name, int btree, htable_t *h, int flags, str_t *err)
{
    char *final = mr_format("%s.db", name);
    str_t *tmp = str_new(100);
    DB *db = NULL;
    u_int32_t pagesize, ffactor;
    int r, ret = -1;

    table_db_shape(h, (flags & TABLE_BUILD_NUL) ? 1 : 0, &pagesize, &ffactor);
    if (table_build_tmp(final, tmp, 0, err) < 0)
	goto done;
    if ((r = db_create(&db, NULL, 0)) != 0 || (db->set_errcall(db, table_db_errcall), 0) ||
	(r = db->set_cachesize(db, 0, table_db_cache(64LL << 30, "berkeley_db_create_buffer_size"),
			       1)) != 0 ||
	(!btree && (r = db->set_pagesize(db, pagesize)) != 0) ||
	(!btree && (r = db->set_h_ffactor(db, ffactor)) != 0) ||
	(!btree && (r = db->set_h_nelem(db, (u_int32_t)htable_count(h) + 1)) != 0) ||
	(r = db->open(db, NULL, str_data(tmp), NULL, btree ? DB_BTREE : DB_HASH,
		      DB_CREATE | DB_EXCL, 0600)) != 0 ||
	(r = table_db_write(db, h, flags)) != 0) {
	str_printf(err, "write %s: %s", str_data(tmp), db_strerror(r));
	goto fail;
    }
    r = db->close(db, 0);
    db = NULL;
    if (r != 0) {
	str_printf(err, "write %s: %s", str_data(tmp), db_strerror(r));
	goto fail;
    }
    ret = table_build_commit(str_data(tmp), final, name, err);
    goto done;
fail:
    if (db)
	db->close(db, DB_NOSYNC);
    (void)unlink(str_data(tmp));
done:
    str_free(&tmp);
    mr_free(final);
    return ret;
}
