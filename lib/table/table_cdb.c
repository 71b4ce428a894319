/*
 * table_cdb.c - cdb:PATH tables (tinycdb): PATH.cdb, mapped read-only.
 *
 * Keys and values are stored without a terminating NUL, unless the
 * table was built with mailroom-map -N; a lookup tries both forms until
 * one of them hits, then keeps to that one (as Postfix does), so tables
 * from either habit work. A file that is not a cdb file, or whose
 * internal offsets point outside it, is an error, never a miss.
 */
#include <cdb.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "table/table_priv.h"
#include "util/mymalloc.h"

#define CDB_TRY0	(1<<0)		/* try keys without a NUL */
#define CDB_TRY1	(1<<1)		/* try keys with a NUL */

typedef struct table_cdb {
    table_t t;
    struct cdb cdb;
    int     fd;
    int     try;
    char   *path;
    str_t  *key1;			/* key plus NUL */
} table_cdb_t;

/* table_cdb_find - one probe; 1, 0, -1 */
static int table_cdb_find(table_cdb_t *c, const char *key, size_t len, str_t *value,
			  const char **error_r)
{
    int     r = cdb_find(&c->cdb, key, (unsigned) len);
    unsigned vlen;
    const char *v;

    if (r == 0)
	return 0;
    if (r < 0 || (v = cdb_getdata(&c->cdb)) == NULL) {
	*error_r = table_error(&c->t, "%s: corrupt cdb file", c->path);
	return -1;
    }
    vlen = cdb_datalen(&c->cdb);
    if (vlen > 0 && v[vlen - 1] == 0)
	vlen--;
    str_setn(value, v, vlen);
    return 1;
}

/* table_cdb_lookup - try the key forms still in use */
static int table_cdb_lookup(table_t *t, const char *key, size_t len, str_t *value,
			    const char **error_r)
{
    table_cdb_t *c = (table_cdb_t *) t;
    int     r;

    if (c->try & CDB_TRY0) {
	if ((r = table_cdb_find(c, key, len, value, error_r)) != 0) {
	    if (r > 0)
		c->try = CDB_TRY0;
	    return r;
	}
    }
    if (c->try & CDB_TRY1) {
	str_setn(c->key1, key, len);
	str_appendc(c->key1, 0);
	if ((r = table_cdb_find(c, str_data(c->key1), len + 1, value, error_r)) != 0) {
	    if (r > 0)
		c->try = CDB_TRY1;
	    return r;
	}
    }
    return 0;
}

/* table_cdb_habit - learn from the first record whether keys end in NUL */
static int table_cdb_habit(struct cdb *cdb)
{
    unsigned pos;
    const char *key;

    cdb_seqinit(&pos, cdb);
    if (cdb_seqnext(&pos, cdb) <= 0 || cdb_keylen(cdb) == 0
	|| (key = cdb_getkey(cdb)) == NULL)
	return CDB_TRY0 | CDB_TRY1;
    return key[cdb_keylen(cdb) - 1] == 0 ? CDB_TRY1 : CDB_TRY0;
}

/* table_cdb_close - unmap and close */
static void table_cdb_close(table_t *t)
{
    table_cdb_t *c = (table_cdb_t *) t;

    cdb_free(&c->cdb);
    close(c->fd);
    mr_free(c->path);
    str_free(&c->key1);
}

table_t *table_cdb_open(const char *spec, const char *name, str_t *err)
{
    char   *path = mr_format("%s.cdb", name);
    struct stat st;
    table_cdb_t *c;
    int     fd;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
	str_printf(err, "open %s: %s", path, strerror(errno));
	goto fail;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
	str_printf(err, "open %s: not a regular file", path);
	goto fail_fd;
    }
    c = (table_cdb_t *) table_alloc(sizeof(*c), spec);
    if (cdb_init(&c->cdb, fd) < 0) {
	str_printf(err, "%s: not a valid cdb file (%s)", path,
		   errno == EPROTO ? "bad format" : strerror(errno));
	table_close((table_t **) &c);
	goto fail_fd;
    }
    c->fd = fd;
    c->path = path;
    c->try = table_cdb_habit(&c->cdb);
    c->key1 = str_new(64);
    c->t.lookup = table_cdb_lookup;
    c->t.close = table_cdb_close;
    table_watch(&c->t, path, fd);
    return &c->t;
fail_fd:
    close(fd);
fail:
    mr_free(path);
    return NULL;
}

/* table_cdb_write - write every entry with tinycdb's maker */
static int table_cdb_write(int fd, table_hash_t *h, int flags)
{
    struct cdb_make mk;
    int     nul = (flags & TABLE_BUILD_NUL) ? 1 : 0;

    if (cdb_make_start(&mk, fd) < 0)
	return -1;
    for (size_t i = 0; i < table_hash_count(h); i++) {
	const char *k, *v;
	size_t  klen, vlen;

	table_hash_item(h, i, &k, &klen, &v, &vlen);
	if (cdb_make_add(&mk, k, (unsigned) (klen + nul), v, (unsigned) (vlen + nul)) < 0) {
	    (void) cdb_make_finish(&mk);	/* frees its lists */
	    return -1;
	}
    }
    return cdb_make_finish(&mk);
}

int     table_cdb_build(const char *name, table_hash_t *h, int flags, str_t *err)
{
    char   *final = mr_format("%s.cdb", name);
    str_t  *tmp = str_new(100);
    int     fd, ret = -1;

    if ((fd = table_build_tmp(final, tmp, 1, err)) >= 0) {
	if (table_cdb_write(fd, h, flags) < 0) {
	    str_printf(err, "write %s: %s", str_data(tmp), strerror(errno));
	    close(fd);
	    (void) unlink(str_data(tmp));
	} else {
	    close(fd);
	    ret = table_build_commit(str_data(tmp), final, name, err);
	}
    }
    str_free(&tmp);
    mr_free(final);
    return ret;
}
