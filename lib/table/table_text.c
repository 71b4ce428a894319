/*
 * table_text.c - texthash: and inline: tables, held in memory, and the
 * loader that table_build and texthash: share.
 *
 * texthash: reads the source text at open time. It accepts both
 * "key value" and the aliases form "name: value" (a first word ending in
 * ':' loses the colon), so an aliases file can be used as it is.
 */
#include <string.h>

#include "table/table_priv.h"
#include "util/msg.h"
#include "util/mymalloc.h"

typedef struct table_mem {
    table_t t;
    htable_t *hash;
} table_mem_t;

/* table_text_load - read a whole source into a new hash */
htable_t *table_text_load(const char *path, int flags, str_t *err)
{
    table_source_t *src;
    htable_t *h;
    const char *key, *value;
    int r, lineno;

    if ((src = table_source_open(path, flags, err)) == NULL)
	return NULL;
    h = htable_new();
    while ((r = table_source_next(src, &key, &value, &lineno, err)) > 0)
	if (htable_put(h, key, strlen(key), value, strlen(value)) != 0)
	    msg_warn("%s:%d: duplicate key \"%.100s\" ignored (the first one counts)", path, lineno,
		     key);
    table_source_close(&src);
    if (r < 0)
	htable_free(&h);
    return h;
}

/* table_mem_lookup - hash lookup */
static int table_mem_lookup(table_t *t, const char *key, size_t len, str_t *value,
			    const char **error_r)
{
    table_mem_t *m = (table_mem_t *)t;
    const char *v;
    size_t vlen;

    if ((v = htable_get(m->hash, key, len, &vlen)) == NULL)
	return 0;
    table_set_value(value, v, vlen);
    return 1;
}

/* table_mem_close - free the hash */
static void table_mem_close(table_t *t)
{
    htable_free(&((table_mem_t *)t)->hash);
}

/* table_mem_new - a table around a loaded hash */
static table_t *table_mem_new(const char *spec, htable_t *h)
{
    table_mem_t *m = (table_mem_t *)table_alloc(sizeof(*m), spec);

    m->hash = h;
    m->t.lookup = table_mem_lookup;
    m->t.close = table_mem_close;
    return &m->t;
}

table_t *table_texthash_open(const char *spec, const char *name, str_t *err)
{
    htable_t *h;
    table_t *t;

    if ((h = table_text_load(name, TABLE_SRC_AUTO, err)) == NULL)
	return NULL;
    t = table_mem_new(spec, h);
    table_watch(t, name, -1);
    return t;
}

/*
 * inline:{key=value, key2=value2} - elements are separated by commas;
 * white space around keys and values is dropped, so "k = two words"
 * works. A part made only of several "k=v" words ({a=1 b=2}) is split at
 * the white space too. An element wrapped in braces, { key = a, b },
 * may hold commas.
 */

/* table_inline_element - add one "k=v" element */
static int table_inline_element(htable_t *h, const char *elem, size_t len, const char *spec,
				str_t *err)
{
    char *copy = mr_strndup(elem, len), *key, *value;
    str_t *fkey = str_new(32);
    int ret = -1;

    if ((value = split_at(copy, '=')) == NULL) {
	str_printf(err, "table \"%s\": element \"%s\" has no '='", spec, trim_space(copy));
    } else if (*(key = trim_space(copy)) == 0) {
	str_printf(err, "table \"%s\": element with an empty key", spec);
    } else {
	value = trim_space(value);
	table_fold_key(fkey, key, strlen(key));
	if (htable_put(h, str_data(fkey), str_len(fkey), value, strlen(value)) != 0)
	    msg_warn("table \"%s\": duplicate key \"%s\" ignored", spec, key);
	ret = 0;
    }
    str_free(&fkey);
    mr_free(copy);
    return ret;
}

/* table_inline_words - "a=1 b=2": every word is an element of its own? */
static int table_inline_words(const char *part, size_t len)
{
    int words = 0;

    for (size_t i = 0; i < len;) {
	size_t start = i;
	int has_eq = 0;

	while (i < len && !strchr(" \t\r\n", part[i]))
	    has_eq |= (part[i++] == '=');
	if (i > start) {
	    if (!has_eq || part[start] == '=' || part[i - 1] == '=')
		return 0;
	    words++;
	}
	while (i < len && strchr(" \t\r\n", part[i]))
	    i++;
    }
    return words > 1;
}

/* table_inline_part - one comma-separated part, maybe several words */
static int table_inline_part(htable_t *h, const char *part, size_t len, const char *spec,
			     str_t *err)
{
    if (!table_inline_words(part, len))
	return table_inline_element(h, part, len, spec, err);
    for (size_t i = 0; i < len;) {
	size_t start = i;

	while (i < len && !strchr(" \t\r\n", part[i]))
	    i++;
	if (i > start && table_inline_element(h, part + start, i - start, spec, err) < 0)
	    return -1;
	while (i < len && strchr(" \t\r\n", part[i]))
	    i++;
    }
    return 0;
}

/* table_inline_parse - the elements between the outer braces */
static int table_inline_parse(htable_t *h, const char *cp, size_t len, const char *spec, str_t *err)
{
    const char *end = cp + len;

    while (cp < end) {
	const char *start;

	if (strchr(", \t\r\n", *cp)) {
	    cp++;
	    continue;
	}
	start = (*cp == '{') ? cp + 1 : cp;
	if (*cp == '{') {
	    while (++cp < end && *cp != '}' && *cp != '{')
		;
	    if (cp >= end || *cp != '}') {
		str_printf(err, "table \"%s\": unbalanced '{' in an element", spec);
		return -1;
	    }
	    if (table_inline_element(h, start, cp - start, spec, err) < 0)
		return -1;
	    cp++;
	    continue;
	}
	while (cp < end && !strchr(",{}", *cp))
	    cp++;
	if (cp < end && *cp != ',') {
	    str_printf(err, "table \"%s\": unexpected '%c'", spec, *cp);
	    return -1;
	}
	if (table_inline_part(h, start, cp - start, spec, err) < 0)
	    return -1;
    }
    return 0;
}

table_t *table_inline_open(const char *spec, const char *name, str_t *err)
{
    size_t len = strlen(name);
    htable_t *h;

    if (len < 2 || name[0] != '{' || name[len - 1] != '}') {
	str_printf(err, "table \"%s\": expected inline:{key=value, ...}", spec);
	return NULL;
    }
    h = htable_new();
    if (table_inline_parse(h, name + 1, len - 2, spec, err) < 0) {
	htable_free(&h);
	return NULL;
    }
    return table_mem_new(spec, h);
}
