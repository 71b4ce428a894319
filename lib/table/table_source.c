/*
 * table_source.c - reading the text form of a table.
 *
 *   # comment
 *   key      value
 *            continued value (the line starts with white space)
 *   name:    value          (aliases: TABLE_SRC_ALIAS)
 *
 * A continuation line is joined to the previous one with a single space.
 * Every problem names the file and the line where the entry starts, and
 * every line is bounded (TABLE_MAX_LINE): the input is not trusted to be
 * well formed, only to be the administrator's.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "table/table_priv.h"
#include "util/mymalloc.h"
#include "util/stream.h"

struct table_source {
    stream_t *stream;
    char   *path;
    int     flags;
    int     lineno;			/* last physical line read */
    str_t  *phys;			/* look-ahead physical line */
    int     have_phys;			/* phys holds an unused line */
    str_t  *logical;
    str_t  *key;
};

table_source_t *table_source_fd(int fd, const char *path, int flags)
{
    table_source_t *src = mr_calloc(1, sizeof(*src));

    src->stream = stream_open(fd);
    src->path = mr_strdup(path);
    src->flags = flags;
    src->phys = str_new(256);
    src->logical = str_new(256);
    src->key = str_new(64);
    return src;
}

table_source_t *table_source_open(const char *path, int flags, str_t *err)
{
    struct stat st;
    int     fd;

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
	str_printf(err, "open %s: %s", path, strerror(errno));
	return NULL;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
	str_printf(err, "open %s: not a regular file", path);
	close(fd);
	return NULL;
    }
    return table_source_fd(fd, path, flags);
}

const char *table_source_path(const table_source_t *src)
{
    return src->path;
}

void    table_source_close(table_source_t **srcp)
{
    table_source_t *src = *srcp;

    if (src == NULL)
	return;
    stream_close(&src->stream);
    str_free(&src->phys);
    str_free(&src->logical);
    str_free(&src->key);
    mr_free(src->path);
    mr_free(src);
    *srcp = NULL;
}

/* table_source_phys - read one physical line into src->phys; 1, 0, -1 */
static int table_source_phys(table_source_t *src, str_t *err)
{
    int     r;

    str_reset(src->phys);
    r = stream_read_line(src->stream, src->phys, TABLE_MAX_LINE);
    if (r == STREAM_EOF)
	return 0;
    src->lineno++;
    if (r == STREAM_ERROR) {
	str_printf(err, "%s:%d: read error", src->path, src->lineno);
	return -1;
    }
    if (r == STREAM_PARTIAL) {
	str_printf(err, "%s:%d: line longer than %d bytes", src->path, src->lineno,
		   TABLE_MAX_LINE);
	return -1;
    }
    while (str_len(src->phys) > 0 && strchr("\r\n", src->phys->data[str_len(src->phys) - 1]))
	str_truncate(src->phys, str_len(src->phys) - 1);
    if (memchr(str_data(src->phys), 0, str_len(src->phys)) != NULL) {
	str_printf(err, "%s:%d: NUL byte in line", src->path, src->lineno);
	return -1;
    }
    return 1;
}

/* table_source_blank - blank or comment line */
static int table_source_blank(const char *cp)
{
    cp += strspn(cp, " \t\f\v");
    return *cp == 0 || *cp == '#';
}

int     table_source_line(table_source_t *src, str_t *line, int *lineno_r, str_t *err)
{
    int     r, start = 0;

    str_reset(line);
    for (;;) {
	if (!src->have_phys && (r = table_source_phys(src, err)) <= 0) {
	    if (r < 0)
		return -1;
	    break;
	}
	src->have_phys = 0;
	if (table_source_blank(str_data(src->phys)))
	    continue;
	if (strchr(" \t\f\v", src->phys->data[0]) != NULL) {
	    if (start == 0) {
		str_printf(err, "%s:%d: continuation line without a line to continue",
			   src->path, src->lineno);
		return -1;
	    }
	    if (str_len(line) + str_len(src->phys) > TABLE_MAX_LINE) {
		str_printf(err, "%s:%d: logical line longer than %d bytes", src->path,
			   start, TABLE_MAX_LINE);
		return -1;
	    }
	    str_appendc(line, ' ');
	    str_appends(line, str_data(src->phys) + strspn(str_data(src->phys), " \t\f\v"));
	    continue;
	}
	if (start != 0) {			/* the next entry: keep it */
	    src->have_phys = 1;
	    break;
	}
	start = src->lineno;
	str_setn(line, str_data(src->phys), str_len(src->phys));
    }
    if (start == 0)
	return 0;
    while (str_len(line) > 0 && strchr(" \t\f\v", line->data[str_len(line) - 1]))
	str_truncate(line, str_len(line) - 1);
    *lineno_r = start;
    return 1;
}

/* table_source_split - key and value of one logical line */
static int table_source_split(table_source_t *src, int lineno, const char **key_r,
			      const char **value_r, str_t *err)
{
    char   *cp = str_data(src->logical);
    char   *key = cp, *value;
    size_t  klen;

    if (src->flags & TABLE_SRC_ALIAS) {
	if ((value = strchr(cp, ':')) == NULL) {
	    str_printf(err, "%s:%d: expected \"name: value\"", src->path, lineno);
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
	str_printf(err, "%s:%d: expected \"%s\"", src->path, lineno,
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

int     table_source_next(table_source_t *src, const char **key_r, const char **value_r,
			  int *lineno_r, str_t *err)
{
    int     r, lineno;

    if ((r = table_source_line(src, src->logical, &lineno, err)) <= 0)
	return r;
    *lineno_r = lineno;
    return table_source_split(src, lineno, key_r, value_r, err);
}
