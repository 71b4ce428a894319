/*
 * table_source.c - reading the text form of a table.
 *
 *   # comment
 *   key      value
 *            continued value (the line starts with white space)
 *   name:    value          (aliases: TABLE_SRC_ALIAS)
 *
 * The line grammar (comments, continuation lines, bounds) is the one of
 * every configuration file, read by lib/util/lline.c; this file splits
 * each logical line into a key and a value. Every problem names the file
 * and the line where the entry starts, and every line is bounded
 * (TABLE_MAX_LINE): the input is not trusted to be well formed, only to
 * be the administrator's.
 */
#include <string.h>

#include "table/table_priv.h"
#include "util/lline.h"
#include "util/mymalloc.h"

struct table_source {
    lline_t *reader;
    int flags;
    str_t *logical;
    str_t *key;
};

/* table_source_new - wrap a line reader */
static table_source_t *table_source_new(lline_t *reader, int flags)
{
    table_source_t *src = mr_calloc(1, sizeof(*src));

    src->reader = reader;
    src->flags = flags;
    src->logical = str_new(256);
    src->key = str_new(64);
    return src;
}

table_source_t *table_source_open(const char *path, int flags, str_t *err)
{
    lline_t *reader = lline_open(path, TABLE_MAX_LINE, err);

    return reader ? table_source_new(reader, flags) : NULL;
}

const char *table_source_path(const table_source_t *src)
{
    return lline_path(src->reader);
}

void table_source_close(table_source_t **srcp)
{
    table_source_t *src = *srcp;

    if (src == NULL)
	return;
    lline_close(&src->reader);
    str_free(&src->logical);
    str_free(&src->key);
    mr_free(src);
    *srcp = NULL;
}

int table_source_line(table_source_t *src, str_t *line, int *lineno_r, str_t *err)
{
    return lline_next(src->reader, line, lineno_r, err);
}

/* table_source_split - key and value of one logical line */
static int table_source_split(table_source_t *src, int lineno, const char **key_r,
			      const char **value_r, str_t *err)
{
    char *cp = str_data(src->logical);
    char *key = cp, *value;
    size_t klen;

    if (src->flags & TABLE_SRC_ALIAS) {
	if ((value = strchr(cp, ':')) == NULL) {
	    str_printf(err, "%s:%d: expected \"name: value\"", table_source_path(src), lineno);
	    return -1;
	}
	klen = value - cp;
	while (klen > 0 && strchr(" \t", key[klen - 1]))
	    klen--;
	value++;
    } else {
	klen = strcspn(cp, " \t\f\v");
	value = cp + klen;
	if ((src->flags & TABLE_SRC_AUTO) && klen > 1 && key[klen - 1] == ':')
	    klen--;
    }
    value += strspn(value, " \t\f\v");
    if (klen == 0 || *value == 0) {
	str_printf(err, "%s:%d: expected \"%s\"", table_source_path(src), lineno,
		   (src->flags & TABLE_SRC_ALIAS) ? "name: value" : "key whitespace value");
	return -1;
    }
    if (src->flags & TABLE_SRC_NOFOLD)
	str_setn(src->key, key, klen);
    else
	table_fold_key(src->key, key, klen);
    *key_r = str_data(src->key);
    *value_r = value;
    return 1;
}

int table_source_next(table_source_t *src, const char **key_r, const char **value_r, int *lineno_r,
		      str_t *err)
{
    int r, lineno;

    if ((r = table_source_line(src, src->logical, &lineno, err)) <= 0)
	return r;
    *lineno_r = lineno;
    return table_source_split(src, lineno, key_r, value_r, err);
}
