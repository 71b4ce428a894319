/*
 * table.c - opening tables by "type:name", lookups, and table lists.
 *
 * The type before the first colon picks an opener; the rest is the
 * type's own name (a path, a socket, "{k=v, ...}", or for proxy: another
 * "type:name"). Keys are folded to lower case here, once, so that every
 * type stores and looks up the same form; regexp:/pcre: ask not to be
 * folded. A table that cannot be read is an error (-1), never a miss.
 */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

#include "table/table_priv.h"
#include "util/msg.h"
#include "util/mymalloc.h"

static const struct {
    const char *type;
    table_open_fn open;
} table_types[] = {
    {"cdb", table_cdb_open},           {"hash", table_hash_open},     {"btree", table_btree_open},
    {"texthash", table_texthash_open}, {"inline", table_inline_open}, {"regexp", table_regexp_open},
    {"pcre", table_pcre_open},         {"proxy", table_proxy_open},   {"unix", table_unix_open},
};

/* table_alloc - zeroed table of the given size with its spec */
table_t *table_alloc(size_t size, const char *spec)
{
    table_t *t = mr_calloc(1, size);

    t->spec = mr_strdup(spec);
    t->error = str_new(64);
    t->fold = str_new(64);
    return t;
}

/* table_watch - note the file identity for table_changed */
void table_watch(table_t *t, const char *path, int fd)
{
    struct stat st;

    if ((fd >= 0 ? fstat(fd, &st) : stat(path, &st)) < 0)
	return;
    mr_free(t->file);
    t->file = mr_strdup(path);
    t->file_dev = st.st_dev;
    t->file_ino = st.st_ino;
    t->file_mtime = st.st_mtim;
}

int table_changed(const table_t *t)
{
    struct stat st;

    if (t->file == NULL)
	return 0;
    if (stat(t->file, &st) < 0)
	return 1;
    return st.st_dev != t->file_dev || st.st_ino != t->file_ino ||
	   st.st_mtim.tv_sec != t->file_mtime.tv_sec || st.st_mtim.tv_nsec != t->file_mtime.tv_nsec;
}

/* table_error - set the error text */
const char *table_error(table_t *t, const char *fmt, ...)
{
    va_list ap;

    str_reset(t->error);
    va_start(ap, fmt);
    str_vappendf(t->error, fmt, ap);
    va_end(ap);
    return str_data(t->error);
}

/*
 * Case folding runs on every lookup, so it works on 8 bytes at a time.
 * table_upper_mask tests each byte on its own low 7 bits (no carry
 * crosses a byte): a byte is upper case when it is >= 'A', not > 'Z',
 * and has no high bit; the result has 0x80 set in those bytes. Bytes
 * >= 0x80 are left alone, as tolower() does in the C locale, so a key
 * folds the same way at build and at lookup time.
 */
static inline uint64_t table_upper_mask(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL;
    const uint64_t high = 0x8080808080808080ULL;
    uint64_t low7 = w & ~high;
    uint64_t ge_a = low7 + ones * (0x80 - 'A');
    uint64_t gt_z = low7 + ones * (0x80 - 'Z' - 1);

    return ge_a & ~gt_z & ~w & high;
}

/* table_fold_word - lower case of 8 bytes (0x80 >> 2 is the case bit) */
static inline uint64_t table_fold_word(uint64_t w)
{
    return w | (table_upper_mask(w) >> 2);
}

/* table_has_upper - does key hold an ASCII upper-case letter? A tail
 * shorter than a word is tested as the last whole word of the key. */
static int table_has_upper(const char *key, size_t len)
{
    uint64_t w, upper = 0;
    size_t i;

    if (len < 8) {
	for (i = 0; i < len; i++)
	    if (key[i] >= 'A' && key[i] <= 'Z')
		return 1;
	return 0;
    }
    for (i = 0; i + 8 <= len; i += 8) {
	memcpy(&w, key + i, 8);
	upper |= table_upper_mask(w);
    }
    if (i < len) {
	memcpy(&w, key + len - 8, 8);
	upper |= table_upper_mask(w);
    }
    return upper != 0;
}

int table_key_form(const char *stored, size_t len)
{
    if (stored == NULL || len == 0)
	return TABLE_KEY_EITHER;
    return stored[len - 1] == 0 ? TABLE_KEY_NUL : TABLE_KEY_PLAIN;
}

int table_probe_forms(table_t *t, int *forms, table_probe_fn probe, const char *key, size_t len,
		      str_t *value, const char **error_r)
{
    static const int order[] = {TABLE_KEY_PLAIN, TABLE_KEY_NUL};
    int r;

    for (int i = 0; i < 2; i++) {
	if ((*forms & order[i]) == 0)
	    continue;
	if ((r = probe(t, key, len + (order[i] == TABLE_KEY_NUL), value, error_r)) != 0) {
	    if (r > 0)
		*forms = order[i];
	    return r;
	}
    }
    return 0;
}

/* table_fold_key - lower-case copy; a tail shorter than a word is done
 * as the last whole word of the key, overlapping what was already
 * copied (folding twice changes nothing) */
void table_fold_key(str_t *buf, const char *key, size_t len)
{
    char *out;
    uint64_t w;
    size_t i;

    buf->len = 0;
    if (len >= buf->cap)
	str_reserve(buf, len);
    out = buf->data;
    if (len < 8) {
	for (i = 0; i < len; i++) {
	    unsigned char c = (unsigned char)key[i];

	    out[i] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
	}
    } else {
	for (i = 0; i + 8 <= len; i += 8) {
	    memcpy(&w, key + i, 8);
	    w = table_fold_word(w);
	    memcpy(out + i, &w, 8);
	}
	if (i < len) {
	    memcpy(&w, key + len - 8, 8);
	    w = table_fold_word(w);
	    memcpy(out + len - 8, &w, 8);
	}
    }
    buf->len = len;
    out[len] = 0;
}

table_t *table_open(const char *spec, const char **error_r)
{
    static str_t *err;
    const char *colon = strchr(spec, ':');
    table_t *t;

    if (err == NULL)
	err = str_new(100);
    str_reset(err);
    if (colon == NULL || colon == spec) {
	str_printf(err, "table \"%s\": expected type:name", spec);
	*error_r = str_data(err);
	return NULL;
    }
    for (size_t i = 0; i < sizeof(table_types) / sizeof(table_types[0]); i++) {
	if (strlen(table_types[i].type) == (size_t)(colon - spec) &&
	    strncmp(spec, table_types[i].type, colon - spec) == 0) {
	    if ((t = table_types[i].open(spec, colon + 1, err)) == NULL)
		*error_r = str_data(err);
	    return t;
	}
    }
    str_printf(err, "table \"%s\": unsupported table type \"%.*s\"", spec, (int)(colon - spec),
	       spec);
    *error_r = str_data(err);
    return NULL;
}

/*
 * table_lookup - the hot path: a strlen, a scan for upper case (a copy
 * only when there is some: most keys arrive folded already), one call
 * into the type. Every instruction here counts: a lookup in a large
 * table waits on memory, and the fewer instructions lie between two
 * lookups, the more of that waiting the CPU overlaps. No system calls
 * (table_changed is separate; only the caller knows how often it is
 * worth asking).
 */
int table_lookup(table_t *t, const char *key, str_t *value, const char **error_r)
{
    size_t len = strlen(key);
    int ret;

    str_reset(value);
    if (!t->no_fold && table_has_upper(key, len)) {
	table_fold_key(t->fold, key, len);
	key = str_data(t->fold);
    }
    if ((ret = t->lookup(t, key, len, value, error_r)) != 1)
	str_reset(value);
    return ret;
}

void table_close(table_t **tp)
{
    table_t *t = *tp;

    if (t == NULL)
	return;
    if (t->close)
	t->close(t);
    str_free(&t->error);
    str_free(&t->fold);
    mr_free(t->file);
    mr_free(t->spec);
    mr_free(t);
    *tp = NULL;
}

const char *table_spec(const table_t *t)
{
    return t->spec;
}

const char *table_split_specs(const char **cp)
{
    static str_t *buf;
    const char *s = *cp;
    int depth = 0;

    if (buf == NULL)
	buf = str_new(100);
    str_reset(buf);
    while (*s && (strchr(", \t\r\n", *s) != NULL))
	s++;
    for (; *s; s++) {
	if (*s == '{')
	    depth++;
	else if (*s == '}' && depth > 0)
	    depth--;
	else if (depth == 0 && strchr(", \t\r\n", *s) != NULL)
	    break;
	str_appendc(buf, *s);
    }
    *cp = s;
    return str_len(buf) ? str_data(buf) : NULL;
}

/* Table lists. */

struct table_list {
    table_t **tables;
    size_t count;
};

table_list_t *table_list_open(const char *specs, const char **error_r)
{
    table_list_t *l = mr_calloc(1, sizeof(*l));
    const char *cp = specs ? specs : "";
    const char *spec;
    table_t *t;

    while ((spec = table_split_specs(&cp)) != NULL) {
	if ((t = table_open(spec, error_r)) == NULL) {
	    table_list_close(&l);
	    return NULL;
	}
	l->tables = mr_reallocarray(l->tables, l->count + 1, sizeof(*l->tables));
	l->tables[l->count++] = t;
    }
    return l;
}

int table_list_lookup(table_list_t *l, const char *key, str_t *value, const char **error_r)
{
    int ret;

    for (size_t i = 0; i < l->count; i++)
	if ((ret = table_lookup(l->tables[i], key, value, error_r)) != 0)
	    return ret;
    return 0;
}

/* table_list_try - one candidate key of an address lookup */
static int table_list_try(table_list_t *l, str_t *key, str_t *value, const char **error_r)
{
    return table_list_lookup(l, str_data(key), value, error_r);
}

/*
 * table_list_lookup_addr - the address fall-backs. The extension starts
 * at the first delimiter byte that is not the first byte of the local
 * part (so "+foo" and "-owner" style names stay whole). An address
 * without '@' is a bare local part and is looked up as such.
 */
int table_list_lookup_addr(table_list_t *l, const char *addr, const char *delim, int local_too,
			   str_t *value, const char **error_r)
{
    const char *at = strrchr(addr, '@');
    size_t local_len = at ? (size_t)(at - addr) : strlen(addr);
    size_t user_len = local_len;
    str_t *key = str_new(100);
    int ret;

    for (size_t i = 1; delim && *delim && i < local_len; i++) {
	if (strchr(delim, addr[i]) != NULL) {
	    user_len = i;
	    break;
	}
    }
#define TRY(...)                                                                                   \
    do {                                                                                           \
	str_printf(key, __VA_ARGS__);                                                              \
	if ((ret = table_list_try(l, key, value, error_r)) != 0)                                   \
	    goto done;                                                                             \
    } while (0)
    if (at) {
	TRY("%s", addr);
	if (user_len < local_len)
	    TRY("%.*s%s", (int)user_len, addr, at);
    }
    if (at == NULL || local_too) {
	TRY("%.*s", (int)local_len, addr);
	if (user_len < local_len)
	    TRY("%.*s", (int)user_len, addr);
    }
    if (at && at[1])
	TRY("%s", at);
#undef TRY
    ret = 0;
done:
    str_free(&key);
    return ret;
}

int table_list_changed(const table_list_t *l)
{
    for (size_t i = 0; l != NULL && i < l->count; i++)
	if (table_changed(l->tables[i]))
	    return 1;
    return 0;
}

int table_list_empty(const table_list_t *l)
{
    return l == NULL || l->count == 0;
}

void table_list_close(table_list_t **lp)
{
    table_list_t *l = *lp;

    if (l == NULL)
	return;
    for (size_t i = 0; i < l->count; i++)
	table_close(&l->tables[i]);
    mr_free(l->tables);
    mr_free(l);
    *lp = NULL;
}
