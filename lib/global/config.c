/*
 * config.c - reading mailroom.conf and answering typed queries.
 *
 * All known parameters are gathered from the params_*.c tables into one
 * array sorted by name (binary search). A value set in the file or on the
 * command line overrides the default; expansion of $name happens on first
 * use and is cached. Expansion depth is bounded, so "a = $b, b = $a" is a
 * fatal configuration error, not a hang.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../util/msg.h"
#include "../util/mymalloc.h"
#include "../util/str.h"
#include "config.h"

extern const param_def_t *const params_all[];

typedef struct {
    const param_def_t *def;
    char   *value;			/* from file/override, or NULL */
    int     line;			/* line in the file, 0 if not there */
    char   *expanded;			/* cache */
} config_entry_t;

typedef struct {
    char   *name;
    int     line;
} config_unknown_t;

static config_entry_t *config_entries;
static size_t config_count;
static config_unknown_t *config_unknowns;
static size_t config_unknown_count;
static char *config_directory_path;
static char *config_file_path;

/* config_cmp - order entries by name */
static int config_cmp(const void *a, const void *b)
{
    return strcmp(((const config_entry_t *) a)->def->name,
		  ((const config_entry_t *) b)->def->name);
}

/* config_init - build the sorted table once */
static void config_init(void)
{
    size_t  n = 0;

    if (config_entries)
	return;
    for (int t = 0; params_all[t]; t++)
	for (const param_def_t *d = params_all[t]; d->name; d++)
	    n++;
    config_entries = mr_calloc(n, sizeof(*config_entries));
    for (int t = 0; params_all[t]; t++)
	for (const param_def_t *d = params_all[t]; d->name; d++)
	    config_entries[config_count++].def = d;
    qsort(config_entries, config_count, sizeof(*config_entries), config_cmp);
    for (size_t i = 1; i < config_count; i++)
	if (strcmp(config_entries[i].def->name, config_entries[i - 1].def->name) == 0)
	    msg_panic("parameter %s declared twice", config_entries[i].def->name);
}

/* config_entry - look up by name, or NULL */
static config_entry_t *config_entry(const char *name)
{
    param_def_t key_def = {name, 0, 0, 0};
    config_entry_t key = {&key_def, 0, 0, 0};

    config_init();
    return bsearch(&key, config_entries, config_count, sizeof(key), config_cmp);
}

const param_def_t *config_find(const char *name)
{
    config_entry_t *e = config_entry(name);

    return e ? e->def : NULL;
}

/* config_flush_cache - values changed: forget every expansion */
static void config_flush_cache(void)
{
    for (size_t i = 0; i < config_count; i++) {
	mr_free(config_entries[i].expanded);
	config_entries[i].expanded = NULL;
    }
}

/* config_store - remember a value for a name (known or not) */
static void config_store(const char *name, const char *value, int line)
{
    config_entry_t *e = config_entry(name);

    if (e == NULL) {
	config_unknowns = mr_reallocarray(config_unknowns, config_unknown_count + 1,
					  sizeof(*config_unknowns));
	config_unknowns[config_unknown_count++] = (config_unknown_t) {mr_strdup(name), line};
	return;
    }
    mr_free(e->value);
    e->value = mr_strdup(value);
    e->line = line;
    config_flush_cache();
}

void    config_override(const char *name, const char *value)
{
    config_store(name, value, 0);
}

int     config_parse_override(const char *assignment)
{
    char   *copy = mr_strdup(assignment), *value;
    int     ret = -1;

    if ((value = split_at(copy, '=')) != NULL) {
	char   *name = trim_space(copy);

	if (*name && config_find(name)) {
	    config_override(name, trim_space(value));
	    ret = 0;
	}
    }
    mr_free(copy);
    return ret;
}

/* config_commit_logical - store one "name = value" logical line */
static int config_commit_logical(str_t *logical, int line, const char **error_r)
{
    static char err[700];
    char   *name, *value;

    if (str_len(logical) == 0)
	return 0;
    name = str_data(logical);
    if ((value = split_at(name, '=')) == NULL) {
	snprintf(err, sizeof(err), "%s:%d: missing '=' after parameter name",
		 config_file_path, line);
	*error_r = err;
	return -1;
    }
    name = trim_space(name);
    if (*name == 0 || strpbrk(name, " \t$")) {
	snprintf(err, sizeof(err), "%s:%d: bad parameter name \"%.100s\"",
		 config_file_path, line, name);
	*error_r = err;
	return -1;
    }
    config_store(name, trim_space(value), line);
    str_reset(logical);
    return 0;
}

/* config_parse - parse the whole file */
static int config_parse(FILE *fp, const char **error_r)
{
    str_t  *logical = str_new(256);
    char    buf[8192];
    int     lineno = 0, start_line = 0, ret = 0;

    while (ret == 0 && fgets(buf, sizeof(buf), fp)) {
	lineno++;
	buf[strcspn(buf, "\r\n")] = 0;
	if (buf[strspn(buf, " \t")] == '#' || *trim_space(buf) == 0)
	    continue;			/* comment (even indented) or blank */
	if (isspace((unsigned char) buf[0]) && str_len(logical) > 0) {
	    str_appendc(logical, ' ');
	    str_appends(logical, trim_space(buf));
	    continue;
	}
	ret = config_commit_logical(logical, start_line, error_r);
	start_line = lineno;
	str_appends(logical, buf);
    }
    if (ret == 0)
	ret = config_commit_logical(logical, start_line, error_r);
    str_free(&logical);
    return ret;
}

int     config_load(const char *dir, const char **error_r)
{
    static char err[700];
    FILE   *fp;
    int     ret;

    config_init();
    if (dir == NULL)
	dir = getenv("MAILROOM_CONFIG_DIR");
    if (dir == NULL || *dir == 0)
	dir = DEF_CONFIG_DIR;
    dir = mr_strdup(dir);			/* dir may be config_dir() itself */
    mr_free(config_directory_path);
    mr_free(config_file_path);
    config_directory_path = (char *) dir;
    config_file_path = mr_format("%s/%s", dir, CONFIG_FILE);
    if ((fp = fopen(config_file_path, "re")) == NULL) {
	snprintf(err, sizeof(err), "%s: %s", config_file_path, strerror(errno));
	*error_r = err;
	return -1;
    }
    ret = config_parse(fp, error_r);
    fclose(fp);
    config_store("config_directory", dir, 0);
    return ret;
}

void    config_reset(void)
{
    config_init();
    for (size_t i = 0; i < config_count; i++) {
	mr_free(config_entries[i].value);
	config_entries[i].value = NULL;
	config_entries[i].line = 0;
    }
    for (size_t i = 0; i < config_unknown_count; i++)
	mr_free(config_unknowns[i].name);
    mr_free(config_unknowns);
    config_unknowns = NULL;
    config_unknown_count = 0;
    config_flush_cache();
}

int     config_line(const char *name)
{
    config_entry_t *e = config_entry(name);

    return e ? e->line : 0;
}

const char *config_file(void)
{
    return config_file_path ? config_file_path : DEF_CONFIG_DIR "/" CONFIG_FILE;
}

const char *config_dir(void)
{
    return config_directory_path ? config_directory_path : DEF_CONFIG_DIR;
}

/* config_raw - the unexpanded value in force for an entry */
static const char *config_raw(config_entry_t *e)
{
    const param_def_t *d = e->def;

    if (e->value)
	return e->value;
    if (d->compat_level > 0 && d->old_def && config_compat_level() < d->compat_level)
	return d->old_def;
    return d->def;
}

/* config_expand - expand $name and ${name} references */
static void config_expand(str_t *out, const char *raw, int depth)
{
    if (depth > 20)
	msg_fatal("parameter expansion too deep (a loop?) near \"%.100s\"", raw);
    for (const char *cp = raw; *cp; cp++) {
	char    name[128];
	size_t  len;
	const char *start;
	config_entry_t *e;

	if (*cp != '$') {
	    str_appendc(out, *cp);
	    continue;
	}
	start = cp + 1 + (cp[1] == '{');
	len = strspn(start, "abcdefghijklmnopqrstuvwxyz0123456789_");
	if (len == 0 || len >= sizeof(name)) {
	    str_appendc(out, *cp);
	    continue;
	}
	memcpy(name, start, len);
	name[len] = 0;
	cp = start + len - 1;
	if (start[-1] == '{' && start[len] == '}')
	    cp++;
	if ((e = config_entry(name)) == NULL) {
	    msg_warn("unknown parameter $%s in a value", name);
	    continue;
	}
	config_expand(out, config_raw(e), depth + 1);
    }
}

const char *config_str(const char *name)
{
    config_entry_t *e = config_entry(name);

    if (e == NULL)
	msg_panic("config_str: undeclared parameter \"%s\"", name);
    if (e->expanded == NULL) {
	str_t  *out = str_new(64);

	config_expand(out, config_raw(e), 0);
	e->expanded = str_steal(&out);
    }
    return e->expanded;
}

int     config_compat_level(void)
{
    config_entry_t *e = config_entry("compatibility_level");

    return e && e->value ? atoi(e->value) : 0;
}

long    config_int(const char *name, long min, long max)
{
    const char *v = config_str(name);
    char   *end;
    long    n;

    errno = 0;
    n = strtol(v, &end, 10);
    if (*v == 0 || *end || errno)
	msg_fatal("bad number for %s: \"%s\"", name, v);
    if (n < min || n > max)
	msg_fatal("%s = %ld is out of range [%ld..%ld]", name, n, min, max);
    return n;
}

long    config_time(const char *name)
{
    const char *v = config_str(name);
    char   *end;
    long    n, mult = 1;

    errno = 0;
    n = strtol(v, &end, 10);
    if (*v == 0 || errno || n < 0)
	msg_fatal("bad time for %s: \"%s\"", name, v);
    switch (*end) {
    case 0: case 's': mult = 1; break;
    case 'm': mult = 60; break;
    case 'h': mult = 3600; break;
    case 'd': mult = 86400; break;
    case 'w': mult = 604800; break;
    default: msg_fatal("bad time unit for %s: \"%s\"", name, v);
    }
    if (*end && end[1])
	msg_fatal("bad time for %s: \"%s\"", name, v);
    return n * mult;
}

long long config_size(const char *name)
{
    const char *v = config_str(name);
    char   *end;
    long long n, mult = 1;

    errno = 0;
    n = strtoll(v, &end, 10);
    if (*v == 0 || errno || n < 0)
	msg_fatal("bad size for %s: \"%s\"", name, v);
    switch (tolower((unsigned char) *end)) {
    case 0: break;
    case 'k': mult = 1024; break;
    case 'm': mult = 1024 * 1024; break;
    case 'g': mult = 1024LL * 1024 * 1024; break;
    default: msg_fatal("bad size unit for %s: \"%s\"", name, v);
    }
    if (*end && end[1] && !(tolower((unsigned char) end[1]) == 'b' && end[2] == 0))
	msg_fatal("bad size for %s: \"%s\"", name, v);
    return n * mult;
}

int     config_bool(const char *name)
{
    const char *v = config_str(name);

    if (mr_strcaseeq(v, "yes") || mr_strcaseeq(v, "true") || strcmp(v, "1") == 0)
	return 1;
    if (mr_strcaseeq(v, "no") || mr_strcaseeq(v, "false") || strcmp(v, "0") == 0)
	return 0;
    msg_fatal("bad boolean for %s: \"%s\" (use yes or no)", name, v);
}

int     config_list_has(const char *name, const char *word)
{
    char   *copy = mr_strdup(config_str(name)), *cp = copy, *tok;
    int     found = 0;

    while (!found && (tok = next_token(&cp, ", \t")) != NULL)
	found = mr_strcaseeq(tok, word);
    mr_free(copy);
    return found;
}

void    config_walk(config_walk_fn fn, void *context)
{
    config_init();
    for (size_t i = 0; i < config_count; i++) {
	config_entry_t *e = &config_entries[i];
	int     is_default = e->value == NULL
	    || strcmp(e->def->name, "config_directory") == 0;

	fn(e->def, config_str(e->def->name), is_default, context);
    }
}

int     config_problems(str_t *out, str_t *compat_notes)
{
    int     level = config_compat_level();

    for (size_t i = 0; i < config_unknown_count; i++)
	str_appendf(out, "%s:%d: unknown parameter \"%s\"\n", config_file_path,
		    config_unknowns[i].line, config_unknowns[i].name);
    for (size_t i = 0; compat_notes && i < config_count; i++) {
	config_entry_t *e = &config_entries[i];

	if (e->value == NULL && e->def->compat_level > level && e->def->old_def)
	    str_appendf(compat_notes, "%s: using backwards-compatible default "
			"\"%s\"; at compatibility_level %d or higher it becomes \"%s\" "
			"(set it explicitly to keep the current behaviour)\n",
			e->def->name, e->def->old_def, e->def->compat_level, e->def->def);
    }
    return (int) config_unknown_count;
}
